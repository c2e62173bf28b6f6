"""The daemon's one timer: a timerfd for absolute deadlines, with the loop's call_at as fallback."""

from __future__ import annotations

import asyncio
import os
import sys
import time

import pytest

from vipkeeper.daemon import timer as timer_mod
from vipkeeper.daemon.timer import OneTimer


def _run(kernel: bool, body: object) -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        fired: list[tuple[float, float]] = []
        t = OneTimer(loop, lambda at: fired.append((at, loop.time())))
        try:
            assert t.kernel_timer is kernel
            await body(t, fired)  # type: ignore[operator]
        finally:
            t.close()

    asyncio.run(main())


@pytest.fixture(params=["timerfd", "call_at"])
def kernel(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> bool:
    if request.param == "call_at":

        def broken() -> object:
            raise OSError(38, "timerfd_create: not implemented")

        monkeypatch.setattr(timer_mod, "_backend", broken)
        return False
    return True


def test_fires_once_not_before_its_deadline(kernel: bool) -> None:
    async def body(t: OneTimer, fired: list[tuple[float, float]]) -> None:
        at = t.loop.time() + 0.03
        t.arm(at)
        assert t.at == at
        await asyncio.sleep(0.15)
        assert len(fired) == 1
        deadline, when = fired[0]
        assert deadline == at
        assert when >= at
        assert t.at is None

    _run(kernel, body)


def test_rearm_replaces_the_deadline(kernel: bool) -> None:
    async def body(t: OneTimer, fired: list[tuple[float, float]]) -> None:
        # Each fire is checked by the loop time it ran at, not by when this task looked: under
        # load the loop may wake this task late, after a later deadline has already fired.
        now = t.loop.time()
        t.arm(now + 0.02)
        t.arm(now + 0.12)  # later: the first deadline must not fire
        await asyncio.sleep(0.07)
        assert all(when >= now + 0.12 for _, when in fired)  # nothing at the first deadline
        await asyncio.sleep(0.15)
        assert [d for d, _ in fired] == [now + 0.12]  # once, for the deadline that replaced it
        assert fired[0][1] >= now + 0.12
        late, early = t.loop.time() + 0.2, t.loop.time() + 0.01
        t.arm(late)
        t.arm(early)  # earlier: fires at the new one, once
        await asyncio.sleep(0.08)
        assert [d for d, _ in fired] == [now + 0.12, early]
        assert fired[1][1] >= early

    _run(kernel, body)


def test_cancel_and_a_past_deadline(kernel: bool) -> None:
    async def body(t: OneTimer, fired: list[tuple[float, float]]) -> None:
        t.arm(t.loop.time() + 0.02)
        t.cancel()
        assert t.at is None
        await asyncio.sleep(0.08)
        assert fired == []
        past = t.loop.time() - 5.0
        t.arm(past)  # already due: fires at once, with its deadline
        await asyncio.sleep(0.02)
        assert [d for d, _ in fired] == [past]

    _run(kernel, body)


def test_the_ctypes_and_os_backends_agree() -> None:
    """On this Python, the ctypes path works (and os.timerfd_* when the Python has it)."""
    backends: list[timer_mod._Os | timer_mod._Libc] = [timer_mod._Libc()]
    if hasattr(os, "timerfd_create"):
        backends.append(timer_mod._Os())
    for b in backends:
        fd = b.create()
        try:
            b.settime_abs(fd, 1e-9)  # long past: expires at once
            assert os.read(fd, 8) == (1).to_bytes(8, sys.byteorder)
            b.settime_abs(fd, 0.0)  # disarm: nothing to read
            with pytest.raises(BlockingIOError):
                os.read(fd, 8)
        finally:
            os.close(fd)


def test_a_datagram_counts_from_the_kernels_stamp_only_near_the_wake_up() -> None:
    from vipkeeper.daemon.evloop import RX_STAMP_TRUST, received_at

    woke, offset = 100.0, 1.7e9  # loop time of the wake-up; realtime minus loop time
    assert received_at(woke, 0.0, offset) == woke  # no stamp
    assert received_at(woke, offset + 99.9996, offset) == pytest.approx(99.9996)
    assert received_at(woke, offset + woke, offset) == woke
    # A stamp after the wake-up, or further back than the trust: a clock step, not a receive.
    assert received_at(woke, offset + woke + 0.0001, offset) == woke
    assert received_at(woke, offset + woke - 2 * RX_STAMP_TRUST, offset) == woke


def test_the_stamped_selector_notes_when_each_wait_returns() -> None:
    from vipkeeper.daemon.evloop import new_event_loop

    loop, selector = new_event_loop()
    try:
        r, w = os.pipe()
        seen: list[float] = []
        loop.add_reader(r, lambda: (seen.append(selector.woke), os.read(r, 1), loop.stop()))
        before = time.monotonic()
        loop.call_later(0.05, os.write, w, b"x")
        loop.run_forever()
        assert len(seen) == 1 and before + 0.05 <= seen[0] <= time.monotonic()
        os.close(r)
        os.close(w)
    finally:
        loop.close()
