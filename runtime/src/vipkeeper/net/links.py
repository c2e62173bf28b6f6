"""Interface state from netlink link events (RTMGRP_LINK): no polling."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vipkeeper.net.netlink import RTMGRP_LINK, AsyncIPRoute

IFF_UP = 0x1
IFF_RUNNING = 0x40

log = logging.getLogger("vipkeeper.net")


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
        self._events: AsyncIPRoute | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Subscribe to link events, then load the current table."""
        self._events = AsyncIPRoute()
        await self._events.bind(groups=RTMGRP_LINK)
        self._task = asyncio.get_running_loop().create_task(self._watch())
        dump = AsyncIPRoute()
        try:
            async for msg in await dump.link("dump"):
                link = _link_from(msg)
                if link is not None:
                    self.links[link.name] = link
        finally:
            dump.close()

    def get(self, name: str) -> Link | None:
        """The interface called `name`, if it exists."""
        return self.links.get(name)

    def by_index(self, index: int) -> Link | None:
        """The interface with index `index`."""
        return next((link for link in self.links.values() if link.index == index), None)

    async def _watch(self) -> None:
        assert self._events is not None
        while True:
            try:
                async for msg in self._events.get():
                    self._handle(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a netlink hiccup must not end monitoring
                log.warning("link monitor: %s", exc)
                await asyncio.sleep(0.1)

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
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._events is not None:
            self._events.close()
            self._events = None
