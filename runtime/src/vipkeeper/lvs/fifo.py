"""lvs_notify_fifo: keepalived's FIFO lines for virtual and real server state changes.

    VS [10.0.0.1]:tcp:80 UP
    RS [192.168.1.2]:tcp:80 [10.0.0.1]:tcp:80 DOWN

A group service is `[NAME]:PORT`, an fwmark service `FWM N`. The FIFO is created if missing
and opened read-write and non-blocking (as keepalived does), so writing never blocks and
never fails for want of a reader.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat

log = logging.getLogger(__name__)


def rs_line(rs: str, vs: str, up: bool) -> str:
    """The FIFO line for a real server."""
    return f"RS {rs} {vs} {'UP' if up else 'DOWN'}\n"


def vs_line(vs: str, up: bool) -> str:
    """The FIFO line for a virtual server's quorum."""
    return f"VS {vs} {'UP' if up else 'DOWN'}\n"


class NotifyFifo:
    """A FIFO that state-change lines are written to."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._fd: int | None = None

    def open(self) -> None:
        """Create (if needed) and open the FIFO."""
        try:
            if not os.path.exists(self.path):
                os.mkfifo(self.path, 0o600)
            elif not stat.S_ISFIFO(os.stat(self.path).st_mode):
                log.error("lvs_notify_fifo %s exists and is not a FIFO", self.path)
                return
            self._fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            log.warning("lvs_notify_fifo %s: %s", self.path, exc.strerror)

    def write(self, line: str) -> None:
        """Write one line (dropped, with a log, if the FIFO is full)."""
        if self._fd is None:
            return
        try:
            os.write(self._fd, line.encode())
        except OSError as exc:
            log.warning("lvs_notify_fifo %s: %s", self.path, exc.strerror)

    def close(self) -> None:
        """Close the FIFO (it is left in place)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
