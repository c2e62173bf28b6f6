"""VRRP timer formulas (RFC 3768 / RFC 5798 section 6.1, as keepalived computes them).

- v2 skew: (256 - priority) / 256 seconds.
- v3 skew: ((256 - priority) x master_adv_interval) / 256.
- master_down_interval = down_timer_adverts x master_adv_interval + skew.
A priority-0 advert makes a backup wait for the skew alone.
"""

from __future__ import annotations


def skew_time(version: int, priority: int, master_adv_int: float) -> float:
    """Skew of a backup with this (effective) priority."""
    if version == 2:
        return (256 - priority) / 256.0
    return ((256 - priority) * master_adv_int) / 256.0


def master_down_interval(
    version: int, priority: int, master_adv_int: float, down_timer_adverts: int = 3
) -> float:
    """How long a backup waits without adverts before it becomes master."""
    return down_timer_adverts * master_adv_int + skew_time(version, priority, master_adv_int)
