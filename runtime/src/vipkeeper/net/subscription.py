"""A netlink event subscription: bind to multicast groups, then hand every event to a handler.

The one mechanism behind the link monitor and the address watch: subscribe first, then dump
the current table, so no change between the two is missed; a netlink hiccup is logged and the
watch goes on. No polling.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vipkeeper.net.netlink import AsyncIPRoute

log = logging.getLogger("vipkeeper.net")

# Dumps the table to start from, e.g. `lambda ipr: ipr.link("dump")`.
Dump = Callable[[AsyncIPRoute], Awaitable[Any]]


class Subscription:
    """Netlink events of `groups`, each passed to `on_event` until stop()."""

    def __init__(self, what: str, groups: int, on_event: Callable[[Any], None]) -> None:
        self.what = what
        self.groups = groups
        self.on_event = on_event
        self._events: AsyncIPRoute | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self, dump: Dump, on_dumped: Callable[[Any], None]) -> None:
        """Subscribe, then pass each entry of the current table to `on_dumped`."""
        self._events = AsyncIPRoute()
        await self._events.bind(groups=self.groups)
        self._task = asyncio.get_running_loop().create_task(self._watch(self._events))
        table = AsyncIPRoute()
        try:
            async for msg in await dump(table):
                on_dumped(msg)
        finally:
            table.close()

    async def _watch(self, events: AsyncIPRoute) -> None:
        while True:
            try:
                async for msg in events.get():
                    self.on_event(msg)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a netlink hiccup must not end watching
                log.warning("%s: %s", self.what, exc)
                await asyncio.sleep(0.1)

    async def stop(self) -> None:
        """Stop watching and close the socket."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._events is not None:
            self._events.close()
            self._events = None
