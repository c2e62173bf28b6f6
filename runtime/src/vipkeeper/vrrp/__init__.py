"""VRRP protocol core (sans-IO): packets, state machine, timers, tracking, sync groups."""
