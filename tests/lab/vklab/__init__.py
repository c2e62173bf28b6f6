"""vipkeeper lab: Debian hosts as systemd-nspawn containers on a private bridge (stdlib only)."""
