"""cancel_and_wait: a stop never hangs on a task that lost its cancellation.

On Python before 3.12, asyncio.wait_for drops a cancellation that arrives as the awaitable it
waits on completes (CPython gh-86296). That race cannot be timed from a test, so the tasks
here drop one cancellation on purpose, as such a wait_for does, and then run on.
"""

from __future__ import annotations

import asyncio
from ipaddress import ip_address
from typing import Any

import pytest

from vipkeeper.aio import cancel_and_wait
from vipkeeper.checks.checkers import runner
from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.config.model import TcpCheck


async def _loop_that_drops_one_cancel(dropped: list[int]) -> None:
    while True:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if dropped:
                raise
            dropped.append(1)  # the first cancellation is lost, the loop goes on


def test_a_single_cancel_is_not_enough_for_such_a_task() -> None:
    """The failure cancel_and_wait exists for: cancel once and await, and it never ends."""

    async def main() -> None:
        dropped: list[int] = []
        task = asyncio.ensure_future(_loop_that_drops_one_cancel(dropped))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), 0.5)
        assert dropped == [1] and not task.done()
        await cancel_and_wait(task)

    asyncio.run(main())


def test_cancel_and_wait_ends_a_task_that_dropped_a_cancel() -> None:
    async def main() -> None:
        dropped: list[int] = []
        task = asyncio.ensure_future(_loop_that_drops_one_cancel(dropped))
        await asyncio.sleep(0.01)
        await asyncio.wait_for(cancel_and_wait(task), 2)
        assert task.cancelled() and dropped == [1]

    asyncio.run(main())


def test_the_tasks_own_error_is_raised_and_none_is_nothing() -> None:
    async def boom() -> None:
        raise ValueError("its own error")

    async def main() -> None:
        await cancel_and_wait(None)
        task = asyncio.ensure_future(boom())
        await asyncio.sleep(0)
        with pytest.raises(ValueError, match="its own error"):
            await cancel_and_wait(task)
        done = asyncio.ensure_future(asyncio.sleep(0))
        await done
        await cancel_and_wait(done)  # already ended: returns at once

    asyncio.run(main())


def test_a_checker_loop_stops_even_when_its_check_drops_the_cancel(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The LVS manager stops checker loops on reload and at stop: that must not hang."""
    dropped: list[int] = []

    async def check(*_args: Any, **_kw: Any) -> CheckResult:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            if dropped:
                raise
            dropped.append(1)
        return CheckResult(True, "ok")

    monkeypatch.setattr(runner, "run_check", check)

    async def main() -> None:
        loop = runner.CheckerLoop(
            TcpCheck(delay_loop=0.01),
            Target(ip_address("10.213.0.1"), 80),
            lambda _l: None,
            bootstrap=0,
        )
        loop.start()
        while not loop.attempts:
            await asyncio.sleep(0.01)
        started = asyncio.get_running_loop().time()
        # (wait_for's own timeout would cancel stop() and so the loop a second time: the
        # bound is on how long stop() took, well below that timeout.)
        await asyncio.wait_for(loop.stop(), 5)
        assert asyncio.get_running_loop().time() - started < 1.0
        assert dropped == [1]

    asyncio.run(main())
