"""The notify FIFOs (notify_fifo, vrrp_notify_fifo, lvs_notify_fifo): one implementation.

keepalived creates a missing FIFO, gives it to the FIFO's user (`notify_fifo PATH [USER
[GROUP]]`, else the default script user) so that the reader script, which runs as that user,
can open it, and opens it read-write and non-blocking: writing never blocks and never fails
for want of a reader. Because the path is often in a directory others can write (/tmp), it
never follows a symlink there and uses only a FIFO owned by root or by the FIFO's user; a
regular file or another user's FIFO planted under the name is refused, never written to.

vipkeeper does the same, with one difference: a FIFO it creates is 0640 (owner read-write,
group read), not 0644, so other local users cannot read the notifications.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import logging
import os
import stat
import struct
import termios

log = logging.getLogger("vipkeeper.notify")

FIFO_MODE = 0o640


class FifoError(OSError):
    """The FIFO cannot be used (the message says why and names it)."""


class NotifyFifo:
    """A FIFO that receives keepalived-format notify lines; created when missing.

    `owner`: the (uid, gid) a FIFO created here is given, and the user besides ours whose FIFO
    is accepted (None: ours). `what` names it in messages (`notify_fifo`, ...).
    """

    def __init__(
        self, path: str, owner: tuple[int, int] | None = None, what: str = "notify_fifo"
    ) -> None:
        self.path = path
        self.owner = owner
        self.what = what
        self._fd: int | None = None

    @property
    def is_open(self) -> bool:
        """Whether the FIFO is open for writing."""
        return self._fd is not None

    def open(self) -> None:
        """Create the FIFO if needed and open it; FifoError (naming it) when it cannot be used."""
        if self._fd is not None:
            return
        created = False
        try:
            os.mkfifo(self.path, 0o600)
            created = True
        except FileExistsError:
            pass
        except OSError as exc:
            raise FifoError(f"{self.what} {self.path}: cannot create: {exc.strerror}") from None
        try:
            fd = os.open(self.path, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC | os.O_NOFOLLOW)
        except OSError as exc:
            if created:
                with contextlib.suppress(OSError):
                    os.unlink(self.path)
            why = "a symlink (not followed)" if exc.errno == errno.ELOOP else exc.strerror
            raise FifoError(f"{self.what} {self.path}: cannot open: {why}") from None
        try:
            self._check(fd, created)
        except FifoError:
            os.close(fd)
            raise
        self._fd = fd

    def _check(self, fd: int, created: bool) -> None:
        st = os.fstat(fd)
        ours = os.geteuid()
        owners = {ours} if self.owner is None else {ours, self.owner[0]}
        if not stat.S_ISFIFO(st.st_mode) or st.st_uid not in owners:
            kind = "a FIFO" if stat.S_ISFIFO(st.st_mode) else "not a FIFO"
            raise FifoError(
                f"{self.what} {self.path} is {kind} owned by uid {st.st_uid}: not a FIFO "
                "we own, not used",
            )
        if created:
            if self.owner is not None and (st.st_uid, st.st_gid) != self.owner:
                os.fchown(fd, *self.owner)
            os.fchmod(fd, FIFO_MODE)  # whatever the umask

    def write(self, line: str) -> None:
        """Write one line; a full FIFO (no reader keeping up) drops it with a log line."""
        if self._fd is None:
            return
        data = line.encode() if line.endswith("\n") else line.encode() + b"\n"
        try:
            os.write(self._fd, data)
        except BlockingIOError:
            log.warning("%s %s is full; dropped: %s", self.what, self.path, line.rstrip("\n"))
        except OSError as exc:
            log.warning("%s %s: %s", self.what, self.path, exc.strerror)

    def pending(self) -> int:
        """Bytes written but not read yet."""
        if self._fd is None:
            return 0
        try:
            raw = fcntl.ioctl(self._fd, termios.FIONREAD, b"\0\0\0\0")
        except OSError:
            return 0
        return int(struct.unpack("i", raw)[0])

    def close(self) -> None:
        """Close the FIFO (it is left in place)."""
        if self._fd is not None:
            with contextlib.suppress(OSError):
                os.close(self._fd)
            self._fd = None
