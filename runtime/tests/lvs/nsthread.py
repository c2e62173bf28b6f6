"""Run code inside a lab namespace from the test process: a thread that entered the netns.

Sockets keep the namespace they were created in, so a socket made through `call()` can be
used from the main thread afterwards; coroutines run on the thread's own event loop.
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import threading
from collections.abc import Callable, Coroutine
from concurrent.futures import Future
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _enter(ns: str) -> None:
    fd = os.open(f"/run/netns/{ns}", os.O_RDONLY)
    try:
        if _libc.setns(fd, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), f"setns {ns}")
    finally:
        os.close(fd)


class NsThread:
    """An asyncio event loop on a thread inside network namespace `ns`."""

    def __init__(self, ns: str) -> None:
        self.loop = asyncio.new_event_loop()
        ready: Future[None] = Future()

        def main() -> None:
            try:
                _enter(ns)
            except OSError as exc:
                ready.set_exception(exc)
                return
            asyncio.set_event_loop(self.loop)
            ready.set_result(None)
            self.loop.run_forever()
            self.loop.run_until_complete(self.loop.shutdown_asyncgens())
            self.loop.close()

        self.thread = threading.Thread(target=main, name=f"ns-{ns}", daemon=True)
        self.thread.start()
        ready.result(10)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the namespace's loop and wait for its result."""
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def call(self, fn: Callable[[], T], timeout: float = 60) -> T:
        """Call a plain function on the namespace thread."""

        async def wrapper() -> T:
            return fn()

        return self.run(wrapper(), timeout)

    def close(self) -> None:
        """Stop the loop and the thread."""
        if self.thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(10)
