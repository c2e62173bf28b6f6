# keepalived's track_file: the file holds an integer; the instance's priority moves by
# value x weight (reverse flips the sign), and a result below -253 means FAULT. A missing
# or unreadable file counts as 0; text that is not a number counts as 0 too.
"""track_file trackers: watch a file's number and report changes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import Callable
from pathlib import Path

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.aio import cancel_and_wait

log = logging.getLogger("vipkeeper.checks")
POLL_INTERVAL = 0.2  # seconds between stat() calls (cheap; only re-read on change)


@dataclass(frozen=True, **SLOTS)
class TrackFileSpec:
    """A track_file block."""

    name: str
    path: str
    init_file: bool = False
    init_value: int = 0
    init_overwrite: bool = False


def read_value(path: str) -> int:
    """The integer in `path` (0 when missing, unreadable or not a number)."""
    try:
        text = Path(path).read_text(errors="replace").strip().split()
    except OSError:
        return 0
    if not text:
        return 0
    try:
        return int(text[0])
    except ValueError:
        return 0


class FileTracker:
    """Watches one file and calls `on_change(name, value)` when its number changes."""

    def __init__(self, spec: TrackFileSpec, on_change: Callable[[str, int], None]) -> None:
        self.spec = spec
        self.on_change = on_change
        if spec.init_file and (spec.init_overwrite or not os.path.exists(spec.path)):
            with contextlib.suppress(OSError):
                Path(spec.path).write_text(f"{spec.init_value}\n")
        self.value = read_value(spec.path)
        self._stamp = self._stat()
        self._task: asyncio.Task[None] | None = None

    def _stat(self) -> tuple[int, int, int] | None:
        try:
            st = os.stat(self.spec.path)
        except OSError:
            return None
        return (st.st_ino, st.st_mtime_ns, st.st_size)

    def start(self) -> None:
        """Start watching."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop watching."""
        await cancel_and_wait(self._task)
        self._task = None

    def poll(self) -> None:
        """Re-read the file if it changed, and report a new value."""
        stamp = self._stat()
        if stamp == self._stamp:
            return
        self._stamp = stamp
        value = read_value(self.spec.path)
        if value != self.value:
            self.value = value
            self.on_change(self.spec.name, value)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(POLL_INTERVAL)
            self.poll()
