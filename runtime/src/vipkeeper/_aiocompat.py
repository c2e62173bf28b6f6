"""The asyncio the runtime needs from Python newer than 3.9, with a fallback for older ones.

The half of `vipkeeper._compat` that imports asyncio, kept apart so that `vipkeeper check` (which
imports `_compat` through the config model) never loads asyncio. As there, every name is the
standard library's own where the running interpreter has it.

- `timeout`: `asyncio.timeout` (3.11), raising the builtin TimeoutError.
- `wait_for`: `asyncio.wait_for`, raising the builtin TimeoutError (before 3.11 asyncio raised its
  own `asyncio.TimeoutError`, which `except TimeoutError` does not catch).
- `run_with_loop`: `asyncio.Runner(loop_factory=...)` (3.11).
"""

from __future__ import annotations

import asyncio
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from types import TracebackType
from typing import Any, TypeVar

_T = TypeVar("_T")

__all__ = ["run_with_loop", "timeout", "wait_for"]


# -- asyncio.timeout, asyncio.wait_for ------------------------------------------------------------

if sys.version_info >= (3, 11):
    from asyncio import timeout
else:

    class timeout:  # asyncio's name
        """asyncio.timeout(delay): cancel the block after `delay` s and raise TimeoutError.

        `None` never expires. A cancellation that did not come from this timeout passes through.
        """

        def __init__(self, delay: float | None) -> None:
            self._delay = delay
            self._task: asyncio.Task[Any] | None = None
            self._handle: asyncio.Handle | None = None
            self._expired = False

        async def __aenter__(self) -> timeout:
            task = asyncio.current_task()
            if task is None:
                raise RuntimeError("Timeout should be used inside a task")
            self._task = task
            if self._delay is not None:
                loop = asyncio.get_running_loop()
                self._handle = loop.call_at(loop.time() + self._delay, self._on_timeout)
            return self

        def _on_timeout(self) -> None:
            assert self._task is not None
            self._task.cancel()
            self._expired = True
            self._handle = None

        async def __aexit__(
            self,
            exc_type: type[BaseException] | None,
            exc: BaseException | None,
            tb: TracebackType | None,
        ) -> None:
            if self._handle is not None:
                self._handle.cancel()
                self._handle = None
            if self._expired and exc_type is asyncio.CancelledError:
                raise TimeoutError from exc

        def expired(self) -> bool:
            """True once the deadline cancelled the block."""
            return self._expired


if sys.version_info >= (3, 11):
    from asyncio import wait_for
else:

    async def wait_for(aw: Awaitable[_T], timeout: float | None) -> _T:
        """asyncio.wait_for, raising the builtin TimeoutError on timeout."""
        try:
            return await asyncio.wait_for(aw, timeout)
        except asyncio.TimeoutError as exc:
            raise TimeoutError from exc


# -- asyncio.Runner(loop_factory=...) -------------------------------------------------------------


def run_with_loop(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _T]) -> _T:
    """Run `main` to completion on `loop`, then close the loop, as asyncio.Runner does.

    A first SIGINT (while nobody else handles it) cancels `main` and raises KeyboardInterrupt;
    the tasks left are cancelled and the loop is closed in every case.
    """
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=lambda: loop) as runner:
            return runner.run(main)
    try:
        return _run_on(loop, main)
    finally:
        try:
            _cancel_all_tasks(loop)
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
        finally:
            loop.close()


def _run_on(loop: asyncio.AbstractEventLoop, main: Coroutine[Any, Any, _T]) -> _T:
    task = loop.create_task(main)
    interrupts = 0

    def on_sigint(_signum: int, _frame: object) -> None:
        nonlocal interrupts
        interrupts += 1
        if interrupts == 1 and not task.done():
            task.cancel()
            loop.call_soon_threadsafe(lambda: None)  # wake a loop blocked in select()
            return
        raise KeyboardInterrupt

    handler: Callable[[int, Any], None] | None = None
    if (
        threading.current_thread() is threading.main_thread()
        and signal.getsignal(signal.SIGINT) is signal.default_int_handler
    ):
        handler = on_sigint
        try:
            signal.signal(signal.SIGINT, handler)
        except ValueError:
            handler = None
    try:
        return loop.run_until_complete(task)
    except asyncio.CancelledError:
        if interrupts > 0:
            raise KeyboardInterrupt from None
        raise
    finally:
        if handler is not None and signal.getsignal(signal.SIGINT) is handler:
            signal.signal(signal.SIGINT, signal.default_int_handler)


def _cancel_all_tasks(loop: asyncio.AbstractEventLoop) -> None:
    to_cancel = asyncio.all_tasks(loop)
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    loop.run_until_complete(asyncio.gather(*to_cancel, return_exceptions=True))
    for task in to_cancel:
        if task.cancelled():
            continue
        if task.exception() is not None:
            loop.call_exception_handler(
                {
                    "message": "unhandled exception during asyncio.run() shutdown",
                    "exception": task.exception(),
                    "task": task,
                }
            )
