"""A netlink event subscription: bind to multicast groups, then hand every event to a handler.

The one mechanism behind the link monitor and the address watch: subscribe first, then dump
the current table, so no change between the two is missed; no polling.

When the socket reports an error (ENOBUFS: the kernel dropped events because the daemon did
not read them in time, for example while it was stopped or starved), the events since are
unknown, and the kernel keeps dropping new ones until everything queued before the overrun
has been read. So the subscription starts over as at start-up: a new socket is bound (the old
one, with its stale queue, is closed), then the table is dumped and handed to `on_table`,
which reports the differences. keepalived only logs the overrun (keepalived_netlink.c
netlink_parse_info); a missed deleted or renamed interface would leave a VRRP socket bound to
an interface that is gone.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from vipkeeper.aio import cancel_and_wait
from vipkeeper.net.netlink import AsyncIPRoute, event_socket, route_socket

log = logging.getLogger("vipkeeper.net")

# Dumps the table to start from, e.g. `lambda ipr: ipr.link("dump")`.
Dump = Callable[[AsyncIPRoute], Awaitable[Any]]
RETRY_AFTER = 0.1  # seconds before reading again after a dump failed


class Subscription:
    """Netlink events of `groups`, each passed to `on_event` until stop().

    With `on_table`, a socket error (lost events) or `request_resync()` starts over: a new
    socket, then the table dumped again and passed as a whole list of entries to `on_table`.
    """

    def __init__(
        self,
        what: str,
        groups: int,
        on_event: Callable[[Any], None],
        on_table: Callable[[list[Any]], None] | None = None,
    ) -> None:
        self.what = what
        self.groups = groups
        self.on_event = on_event
        self.on_table = on_table
        self.resyncs = 0  # tables read again after a lost event or on request
        self._dump: Dump | None = None
        self._events: AsyncIPRoute | None = None
        self._task: asyncio.Task[None] | None = None
        self._resync_task: asyncio.Task[None] | None = None

    async def start(self, dump: Dump, on_dumped: Callable[[Any], None]) -> None:
        """Subscribe, then pass each entry of the current table to `on_dumped`."""
        self._dump = dump
        self._events = await self._subscribe()
        self._task = asyncio.get_running_loop().create_task(self._watch())
        for msg in await self._read_table():
            on_dumped(msg)

    async def _subscribe(self) -> AsyncIPRoute:
        return await event_socket(self.groups)

    async def _read_table(self) -> list[Any]:
        assert self._dump is not None
        table = route_socket()
        try:
            return [msg async for msg in await self._dump(table)]
        finally:
            table.close()

    async def _watch(self) -> None:
        while True:
            events = self._events
            assert events is not None
            try:
                async for msg in events.get():
                    try:
                        self.on_event(msg)
                    except Exception:  # the handler's fault: the events themselves are fine
                        log.exception("%s: handling an event", self.what)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # a netlink hiccup must not end watching
                if self.on_table is None:
                    log.warning("%s: %s", self.what, exc)
                    await asyncio.sleep(RETRY_AFTER)
                    continue
                log.warning(
                    "%s: %s; events may be lost: subscribing again and reading the whole table",
                    self.what,
                    exc,
                )
                await self._start_over()

    async def _start_over(self) -> None:
        """A new socket first (so nothing after it is lost), then the table as it is now."""
        while True:
            try:
                fresh = await self._subscribe()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: subscribing again: %s", self.what, exc)
                await asyncio.sleep(RETRY_AFTER)
                continue
            if self._events is not None:
                self._events.close()
            self._events = fresh
            break
        while not await self.resync():
            await asyncio.sleep(RETRY_AFTER)

    async def resync(self) -> bool:
        """Dump the table and pass it to `on_table`; False when it could not be read."""
        if self.on_table is None or self._dump is None:
            return True
        try:
            msgs = await self._read_table()
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.warning("%s: reading the table again: %s", self.what, exc)
            return False
        self.resyncs += 1
        try:
            self.on_table(msgs)
        except Exception:  # the handler's fault, not netlink's: reading again cannot help
            log.exception("%s: applying the table read again", self.what)
        return True

    def request_resync(self) -> None:
        """Start over soon, as after lost events (once, however often this is called before
        it runs): events still queued on the old socket are older than the new table, and
        would only replay changes it already holds."""
        if self._dump is None or self.on_table is None:
            return
        if self._resync_task is not None and not self._resync_task.done():
            return
        self._resync_task = asyncio.get_running_loop().create_task(self._restart())

    async def _restart(self) -> None:
        await cancel_and_wait(self._task)
        await self._start_over()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        """Stop watching and close the socket."""
        for task in (self._resync_task, self._task):
            await cancel_and_wait(task)
        self._task = self._resync_task = None
        if self._events is not None:
            self._events.close()
            self._events = None
