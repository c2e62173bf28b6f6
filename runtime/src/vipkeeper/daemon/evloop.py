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
