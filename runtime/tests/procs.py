"""Process helpers shared by the runtime tests."""

from __future__ import annotations

import time


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
