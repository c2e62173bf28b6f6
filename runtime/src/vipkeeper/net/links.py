"""Interface state from netlink link events (RTMGRP_LINK): no polling.

The config names interfaces; the kernel knows them by index, and a name can move from one
index to another (an interface deleted and created again, or renamed while another takes its
name). The monitor follows each index and reports by NAME: `on_change(old, new)` says what the
name stood for before and stands for now, where None means no interface by that name; `old`
and `new` are never two different interfaces. So a rename of index 7 from eth0 to old0 is
reported as eth0 gone, then old0 there; a name found on another index than the one recorded
(its deletion or rename was missed) as the name gone, then there again.

When the subscription lost events (ENOBUFS), or on request, the whole table is read again and
the differences are reported the same way (keepalived only logs the overrun).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.net.netlink import RTMGRP_LINK
from vipkeeper.net.subscription import Subscription

IFF_UP = 0x1
IFF_RUNNING = 0x40


@dataclass(frozen=True, **SLOTS)
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


class LinkTable:
    """Links by name and by index; reports each change by name (see the top); sans-IO."""

    def __init__(self, on_change: Callable[[Link | None, Link | None], None]) -> None:
        self.on_change = on_change
        self.links: dict[str, Link] = {}
        self._names: dict[int, str] = {}  # index -> the name it carries

    def load(self, link: Link) -> None:
        """Record a link of the initial table (no report)."""
        self.links[link.name] = link
        self._names[link.index] = link.name

    def seen(self, link: Link) -> None:
        """A link exists as `link` now (RTM_NEWLINK, or an entry of a fresh dump)."""
        before = self._names.get(link.index)
        if before is not None and before != link.name:
            self._drop(before)  # renamed: the old name is gone
        old = self.links.get(link.name)
        if old is not None and old.index != link.index:
            self._drop(link.name)  # the name is on another interface now: the old one went
            old = None
        self.links[link.name] = link
        self._names[link.index] = link.name
        if old != link:
            self.on_change(old, link)

    def deleted(self, index: int) -> None:
        """The link with `index` was deleted (RTM_DELLINK)."""
        name = self._names.get(index)
        if name is not None:
            self._drop(name)

    def _drop(self, name: str) -> None:
        old = self.links.pop(name, None)
        if old is None:
            return
        if self._names.get(old.index) == name:
            del self._names[old.index]
        self.on_change(old, None)

    def replace(self, fresh: list[Link]) -> None:
        """Take a whole fresh table over, reporting every difference."""
        present = {(link.index, link.name) for link in fresh}
        for link in list(self.links.values()):
            if (link.index, link.name) not in present:
                self._drop(link.name)
        for link in fresh:
            self.seen(link)


class LinkMonitor:
    """Keeps a LinkTable current from link events and calls `on_change(old, new)` by name."""

    def __init__(self, on_change: Callable[[Link | None, Link | None], None]) -> None:
        self.table = LinkTable(on_change)
        self._sub = Subscription("link monitor", RTMGRP_LINK, self._handle, self._replace)

    @property
    def links(self) -> dict[str, Link]:
        """The links by name."""
        return self.table.links

    @property
    def resyncs(self) -> int:
        """How often the whole table was read again (events lost, or on request)."""
        return self._sub.resyncs

    async def start(self) -> None:
        """Subscribe to link events, then load the current table."""
        await self._sub.start(lambda ipr: ipr.link("dump"), self._load)

    def _load(self, msg: Any) -> None:
        link = _link_from(msg)
        if link is not None:
            self.table.load(link)

    def get(self, name: str) -> Link | None:
        """The interface called `name`, if it exists."""
        return self.table.links.get(name)

    def by_index(self, index: int) -> Link | None:
        """The interface with index `index`."""
        return next((link for link in self.table.links.values() if link.index == index), None)

    def learn(self, msg: Any) -> None:
        """Take in a link message this daemon read itself (a vmac it just made), before the
        monitor's own event for it arrives."""
        self._handle(msg)

    def request_resync(self) -> None:
        """Read the whole table again soon and report what changed (a send found a socket
        whose interface is not what the table says: an event may have been missed)."""
        self._sub.request_resync()

    def _handle(self, msg: Any) -> None:
        event = msg.get("event")
        if event == "RTM_DELLINK":
            self.table.deleted(int(msg["index"]))
            return
        link = _link_from(msg)
        if link is not None:
            self.table.seen(link)

    def _replace(self, msgs: list[Any]) -> None:
        self.table.replace([link for link in map(_link_from, msgs) if link is not None])

    async def stop(self) -> None:
        """Stop watching."""
        await self._sub.stop()
