"""The daemon's event loop: asyncio's selector loop, noting when each wait for events returns.

An advert is received when the loop learns of it, which is when epoll returns, not when its
callback reads the socket after the event loop's own work (tens of microseconds later in
Python). A backup's down timer counts from the earlier time, as keepalived's does (its
scheduler reads the clock once each time epoll returns).
"""

from __future__ import annotations

import asyncio
import selectors
import time


class StampedSelector(selectors.DefaultSelector):
    """The default selector (epoll on Linux); `woke` is the clock time its last wait returned."""

    def __init__(self) -> None:
        super().__init__()
        self.woke = time.monotonic()

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        """Wait for events as the default selector does, and note when the wait returned."""
        ready: list[tuple[selectors.SelectorKey, int]] = super().select(timeout)
        self.woke = time.monotonic()
        return ready


def new_event_loop() -> tuple[asyncio.AbstractEventLoop, StampedSelector]:
    """A new event loop over a StampedSelector, and the selector."""
    selector = StampedSelector()
    return asyncio.SelectorEventLoop(selector), selector


# A kernel receive stamp counts only this far before the loop's wake-up: further back, or after
# it, the realtime clock was stepped between the two, and the wake-up time is used instead.
RX_STAMP_TRUST = 0.001


def received_at(woke: float, stamp: float, realtime_offset: float) -> float:
    """When a datagram that was waiting at `woke` (loop time) was received, in loop time.

    `stamp` is the kernel's receive time (CLOCK_REALTIME; 0 when unknown) and
    `realtime_offset` the realtime clock minus the loop's clock, read now. The stamp is taken
    within RX_STAMP_TRUST before the wake-up; otherwise the wake-up time stands.
    """
    if stamp <= 0.0:
        return woke
    at = stamp - realtime_offset
    if woke - RX_STAMP_TRUST <= at <= woke:
        return at
    return woke
