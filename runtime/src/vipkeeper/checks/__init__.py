"""Health checkers and trackers (vrrp_script, track_file, track_interface, LVS checkers)."""
