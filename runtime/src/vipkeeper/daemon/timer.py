"""The daemon's one timer, on a CLOCK_MONOTONIC timerfd watched by the event loop.

asyncio sleeps in epoll with its timeout rounded up to the next millisecond, so a `call_at`
fires up to a millisecond late: at a 10 ms advert interval that is a tenth of the skew. A
timerfd armed for the absolute deadline wakes the loop when the kernel's high-resolution
timer expires, as keepalived's scheduler does. The loop's clock (`time.monotonic`) is
CLOCK_MONOTONIC, so deadlines are passed through unchanged.

`os.timerfd_*` exists from Python 3.13; before it, libc is called through ctypes. Where
neither works the timer falls back to `loop.call_at`.
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import logging
import os
import time
from collections.abc import Callable

log = logging.getLogger("vipkeeper")

CLOCK_MONOTONIC = 1
TFD_NONBLOCK = os.O_NONBLOCK
TFD_CLOEXEC = os.O_CLOEXEC
TFD_TIMER_ABSTIME = 1
_EARLIEST = 1e-9  # an it_value of zero disarms: a deadline already past is armed at 1 ns


class _Timespec(ctypes.Structure):
    _fields_ = (("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long))


class _Itimerspec(ctypes.Structure):
    _fields_ = (("it_interval", _Timespec), ("it_value", _Timespec))


class _Libc:
    """timerfd_create and timerfd_settime through ctypes (Python before 3.13)."""

    def __init__(self) -> None:
        libc = ctypes.CDLL(None, use_errno=True)
        self._create = libc.timerfd_create
        self._create.argtypes = (ctypes.c_int, ctypes.c_int)
        self._create.restype = ctypes.c_int
        self._settime = libc.timerfd_settime
        self._settime.argtypes = (
            ctypes.c_int,
            ctypes.c_int,
            ctypes.POINTER(_Itimerspec),
            ctypes.c_void_p,
        )
        self._settime.restype = ctypes.c_int
        self._spec = _Itimerspec()

    def create(self) -> int:
        fd = int(self._create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC))
        if fd < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))
        return fd

    def settime_abs(self, fd: int, when: float) -> None:
        value = self._spec.it_value
        if when > 0:
            sec = int(when)
            value.tv_sec, value.tv_nsec = sec, int((when - sec) * 1e9)
        else:
            value.tv_sec, value.tv_nsec = 0, 0
        if self._settime(fd, TFD_TIMER_ABSTIME if when > 0 else 0, self._spec, None) < 0:
            code = ctypes.get_errno()
            raise OSError(code, os.strerror(code))


class _Os:
    """os.timerfd_* (Python 3.13 and later)."""

    def create(self) -> int:
        return int(os.timerfd_create(CLOCK_MONOTONIC, flags=TFD_NONBLOCK | TFD_CLOEXEC))  # type: ignore[attr-defined,unused-ignore]

    def settime_abs(self, fd: int, when: float) -> None:
        if when > 0:
            os.timerfd_settime(fd, flags=TFD_TIMER_ABSTIME, initial=when)  # type: ignore[attr-defined,unused-ignore]
        else:
            os.timerfd_settime(fd, initial=0)  # type: ignore[attr-defined,unused-ignore]


def _backend() -> _Os | _Libc:
    return _Os() if hasattr(os, "timerfd_create") else _Libc()


class OneTimer:
    """A one-shot timer for absolute loop times; re-arming replaces the deadline.

    The callback gets the deadline it fired for.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop, callback: Callable[[float], None]) -> None:
        self.loop = loop
        self.callback = callback
        self.at: float | None = None  # the armed deadline (loop time), None when disarmed
        self._fd: int | None = None
        self._sys: _Os | _Libc | None = None
        self._handle: asyncio.TimerHandle | None = None
        # The loop's clock must be CLOCK_MONOTONIC for the kernel to share its deadlines.
        if abs(loop.time() - time.monotonic()) < 0.5:
            try:
                self._sys = _backend()
                self._fd = self._sys.create()
                loop.add_reader(self._fd, self._expired)
            except (OSError, AttributeError, NotImplementedError) as exc:
                log.warning("no timerfd (%s): the timer uses the event loop's", exc)
                self._close_fd()

    @property
    def kernel_timer(self) -> bool:
        """True when the deadline is a timerfd's (False: the loop's call_at)."""
        return self._fd is not None

    def arm(self, at: float) -> None:
        """Fire once at loop time `at` (at once if it has passed)."""
        self.at = at
        if self._fd is not None and self._sys is not None:
            self._sys.settime_abs(self._fd, max(at, _EARLIEST))
            return
        if self._handle is not None:
            self._handle.cancel()
        self._handle = self.loop.call_at(at, self._fire)

    def cancel(self) -> None:
        """Disarm."""
        if self.at is None:
            return
        self.at = None
        if self._fd is not None and self._sys is not None:
            self._sys.settime_abs(self._fd, 0.0)
        if self._handle is not None:
            self._handle.cancel()
            self._handle = None

    def close(self) -> None:
        """Disarm and release the timerfd."""
        self.cancel()
        self._close_fd()

    def _close_fd(self) -> None:
        if self._fd is not None:
            self.loop.remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None

    def _expired(self) -> None:
        assert self._fd is not None
        try:
            os.read(self._fd, 8)
        except OSError as exc:  # EAGAIN: re-armed or disarmed after it became readable
            if exc.errno != errno.EAGAIN:
                raise
            return
        self._fire()

    def _fire(self) -> None:
        self._handle = None
        at = self.at
        if at is None:
            return
        self.at = None
        self.callback(at)
