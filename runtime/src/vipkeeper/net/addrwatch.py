"""Which local addresses exist, from netlink address events (for ha_suspend): no polling.

keepalived counts an address once per interface that carries it, so a virtual server's
checkers are suspended only when the last copy goes.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any

from vipkeeper.net.subscription import Subscription

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100

Address = IPv4Address | IPv6Address


class AddressTable:
    """Local addresses and the interfaces carrying them; sans-IO."""

    def __init__(self) -> None:
        self._where: dict[Address, set[int]] = {}

    def __contains__(self, address: object) -> bool:
        return address in self._where

    def added(self, address: Address, index: int) -> bool:
        """Record `address` on interface `index`; True when it was absent before."""
        where = self._where.setdefault(address, set())
        fresh = not where
        where.add(index)
        return fresh

    def removed(self, address: Address, index: int) -> bool:
        """Forget `address` on interface `index`; True when no interface carries it now."""
        where = self._where.get(address)
        if where is None:
            return False
        where.discard(index)
        if where:
            return False
        del self._where[address]
        return True


def _decode(msg: Any) -> tuple[Address, int] | None:
    family = msg.get("family")
    if family not in (socket.AF_INET, socket.AF_INET6):
        return None
    text = msg.get("local") or msg.get("address")  # IFA_LOCAL is ours where a peer is set
    if text is None:
        return None
    try:
        return ip_address(text), int(msg.get("index"))
    except (ValueError, TypeError):
        return None


class AddressWatch:
    """Keeps an AddressTable current and calls `on_change(address, present)` on a change."""

    def __init__(self, on_change: Callable[[Address, bool], None]) -> None:
        self.on_change = on_change
        self.table = AddressTable()
        self._sub = Subscription(
            "address watch", RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, self._on_event
        )

    async def start(self) -> None:
        """Subscribe to address events, then load the addresses present now."""
        await self._sub.start(
            lambda ipr: ipr.addr("dump"), lambda msg: self._handle(msg, added=True)
        )

    def _on_event(self, msg: Any) -> None:
        event = msg.get("event")
        if event in ("RTM_NEWADDR", "RTM_DELADDR"):
            self._handle(msg, added=event == "RTM_NEWADDR")

    def _handle(self, msg: Any, *, added: bool) -> None:
        found = _decode(msg)
        if found is None:
            return
        address, index = found
        if added and self.table.added(address, index):
            self.on_change(address, True)
        elif not added and self.table.removed(address, index):
            self.on_change(address, False)

    async def stop(self) -> None:
        """Stop watching."""
        await self._sub.stop()
