"""vipkeeper: a keepalived-compatible VRRP/LVS runtime."""

__version__ = "0.1.0"
