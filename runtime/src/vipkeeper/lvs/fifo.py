"""lvs_notify_fifo: keepalived's FIFO lines for virtual and real server state changes.

    VS [10.0.0.1]:tcp:80 UP
    RS [192.168.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN

A group service is `[NAME]:PORT`, an fwmark service `FWM N`. The FIFO itself is
vipkeeper.fifo.NotifyFifo, shared with the VRRP side's notify FIFOs.
"""

from __future__ import annotations


def rs_line(rs: str, vs: str, up: bool) -> str:
    """The FIFO line for a real server."""
    return f"RS {rs} {vs} {'UP' if up else 'DOWN'}\n"


def vs_line(vs: str, up: bool) -> str:
    """The FIFO line for a virtual server's quorum."""
    return f"VS {vs} {'UP' if up else 'DOWN'}\n"
