"""Interface state from netlink link events (RTMGRP_LINK): no polling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vipkeeper.net.netlink import RTMGRP_LINK
from vipkeeper.net.subscription import Subscription

IFF_UP = 0x1
IFF_RUNNING = 0x40


@dataclass(frozen=True, slots=True)
class Link:
    """What the daemon needs to know about one interface."""

    index: int
    name: str
    up: bool  # administratively up and carrier present (IFF_UP and IFF_RUNNING)
    mac: bytes


def _link_from(msg: Any) -> Link | None:
    name = msg.get("ifname")
    if name is None:
        return None
    flags = int(msg["flags"])
    mac_text = msg.get("address") or "00:00:00:00:00:00"
    try:
        mac = bytes(int(part, 16) for part in mac_text.split(":"))
    except ValueError:
        mac = b"\0" * 6
    up = bool(flags & IFF_UP) and bool(flags & IFF_RUNNING)
    return Link(int(msg["index"]), str(name), up, mac)


class LinkMonitor:
    """Keeps a table of links and calls `on_change(old, new)` when one changes."""

    def __init__(self, on_change: Callable[[Link | None, Link | None], None]) -> None:
        self.on_change = on_change
        self.links: dict[str, Link] = {}
        self._sub = Subscription("link monitor", RTMGRP_LINK, self._handle)

    async def start(self) -> None:
        """Subscribe to link events, then load the current table."""
        await self._sub.start(lambda ipr: ipr.link("dump"), self._load)

    def _load(self, msg: Any) -> None:
        link = _link_from(msg)
        if link is not None:
            self.links[link.name] = link

    def get(self, name: str) -> Link | None:
        """The interface called `name`, if it exists."""
        return self.links.get(name)

    def by_index(self, index: int) -> Link | None:
        """The interface with index `index`."""
        return next((link for link in self.links.values() if link.index == index), None)

    def _handle(self, msg: Any) -> None:
        event = msg.get("event")
        link = _link_from(msg)
        if link is None:
            return
        old = self.links.get(link.name) or self.by_index(link.index)
        if event == "RTM_DELLINK":
            if old is not None:
                self.links.pop(old.name, None)
                self.on_change(old, None)
            return
        if old is not None and old.name != link.name:
            self.links.pop(old.name, None)
        self.links[link.name] = link
        if old != link:
            self.on_change(old, link)

    async def stop(self) -> None:
        """Stop watching."""
        await self._sub.stop()
