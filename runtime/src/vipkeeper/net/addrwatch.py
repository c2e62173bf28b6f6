"""Which local addresses exist, from netlink address events (for ha_suspend): no polling.

keepalived counts an address once per interface that carries it, so a virtual server's
checkers are suspended only when the last copy goes. Addresses are held by interface index:
a rename changes nothing here, and a deleted interface's addresses leave with their own
RTM_DELADDR events. When events were lost (ENOBUFS), the whole table is read again and the
differences are reported as if they had been events.
"""

from __future__ import annotations

import socket
from collections.abc import Callable
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Union

from vipkeeper.net.subscription import Subscription

RTMGRP_IPV4_IFADDR = 0x10
RTMGRP_IPV6_IFADDR = 0x100

Address = Union[IPv4Address, IPv6Address]


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

    def replace(self, entries: list[tuple[Address, int]]) -> tuple[list[Address], list[Address]]:
        """Take a fresh table over; the addresses that appeared and those that went."""
        fresh: dict[Address, set[int]] = {}
        for address, index in entries:
            fresh.setdefault(address, set()).add(index)
        appeared = [a for a in fresh if a not in self._where]
        gone = [a for a in self._where if a not in fresh]
        self._where = fresh
        return appeared, gone


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
            "address watch", RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR, self._on_event, self._replace
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

    def _replace(self, msgs: list[Any]) -> None:
        entries = [found for found in map(_decode, msgs) if found is not None]
        appeared, gone = self.table.replace(entries)
        for address in gone:
            self.on_change(address, False)
        for address in appeared:
            self.on_change(address, True)

    async def stop(self) -> None:
        """Stop watching."""
        await self._sub.stop()
