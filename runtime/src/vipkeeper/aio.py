"""asyncio helpers the daemon's stops rely on."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

CANCEL_AGAIN_AFTER = 0.1  # seconds a cancelled task gets before it is cancelled again


async def cancel_and_wait(task: asyncio.Task[Any] | None) -> None:
    """Cancel `task` and return once it has ended (its own error, if any, is raised).

    One `cancel()` is not always enough: on Python before 3.12, `asyncio.wait_for` drops a
    cancellation that arrives as the awaitable it waits on completes (CPython gh-86296), and
    a task that loops (a checker, a watcher, a queue worker) then runs on, so `await task`
    never returns and a stop or a reload hangs. The task is cancelled again until it ends.
    """
    if task is None:
        return
    while not task.done():
        task.cancel()
        await asyncio.wait({task}, timeout=CANCEL_AGAIN_AFTER)
    with contextlib.suppress(asyncio.CancelledError):
        await task
