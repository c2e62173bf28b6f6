"""Process and waiting helpers shared by the tests: the runtime's, the lab VM's and the
collection's integration tests (which put runtime/tests on sys.path). One copy of each."""

from __future__ import annotations

import os
import time
from typing import Any


def pid_exists(pid: int) -> bool:
    """Whether a process with this pid exists (a zombie counts; see `running`)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, owned by another user
    return True


def wait_for(predicate: Any, timeout: float, interval: float = 0.01) -> float | None:
    """Poll `predicate()` until true; return the seconds it took, or None on timeout."""
    start = time.monotonic()
    while True:
        if predicate():
            return time.monotonic() - start
        if time.monotonic() - start > timeout:
            return None
        time.sleep(interval)


def running(pid: int) -> bool:
    """Whether `pid` is a live process: a zombie has ended, it only waits to be reaped.

    A grandchild orphaned by a killed script is reaped by PID 1 of the test's namespace, which
    may take its time on a loaded machine: `os.kill(pid, 0)` still succeeds until then.
    """
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except (FileNotFoundError, ProcessLookupError):
        return False
    # The state follows the command name, which is in parentheses and may contain spaces.
    return stat[stat.rindex(")") + 2] not in "ZX"


def wait_gone(pid: int, timeout: float) -> bool:
    """Wait up to `timeout` seconds for `pid` to end; whether it did."""
    deadline = time.monotonic() + timeout
    while running(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True
