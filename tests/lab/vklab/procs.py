"""Process identity for the lab: only ever signal a process that is provably the one we started.

A process is named by (pid, start time in clock ticks since boot) - a pid alone can be reused -
and must also carry the lab's marker (`VIPKEEPER_LAB=<name>` in its environment) before any
signal is sent. Zombies count as gone.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

MARKER = "VIPKEEPER_LAB"


@dataclass(frozen=True)
class Proc:
    """A process as recorded when it was started."""

    pid: int
    start: int

    def to_json(self) -> dict[str, int]:
        """JSON form for the lab state file."""
        return {"pid": self.pid, "start": self.start}

    @classmethod
    def from_json(cls, data: dict[str, int]) -> Proc:
        """Inverse of to_json."""
        return cls(pid=int(data["pid"]), start=int(data["start"]))


def _stat_fields(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # comm may hold spaces or parentheses: split after the last ')'.
    return raw[raw.rindex(")") + 2 :].split()


def start_time(pid: int) -> int | None:
    """Start time of PID in clock ticks, or None when it does not exist."""
    fields = _stat_fields(pid)
    return int(fields[19]) if fields else None


def ppid_of(pid: int) -> int | None:
    """Parent pid, or None when PID does not exist."""
    fields = _stat_fields(pid)
    return int(fields[1]) if fields else None


def proc_of(pid: int) -> Proc | None:
    """Identity of a running PID."""
    st = start_time(pid)
    return Proc(pid, st) if st is not None else None


def environ(pid: int) -> dict[str, str]:
    """Initial environment of PID (empty when unreadable)."""
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        key, sep, value = item.partition(b"=")
        if sep:
            env[key.decode(errors="replace")] = value.decode(errors="replace")
    return env


def cmdline(pid: int) -> list[str]:
    """Argument vector of PID (empty when gone)."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def alive(proc: Proc) -> bool:
    """True while the very process we recorded runs (not a zombie, not a reused pid)."""
    fields = _stat_fields(proc.pid)
    if fields is None or fields[0] in ("Z", "X"):
        return False
    return int(fields[19]) == proc.start


def is_ours(proc: Proc, lab: str) -> bool:
    """Recorded process still alive and carrying this lab's marker."""
    return alive(proc) and environ(proc.pid).get(MARKER) == lab


def all_pids() -> list[int]:
    """Every pid visible in /proc."""
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()]


def descendants(root: int) -> list[int]:
    """All live descendants of ROOT, nearest first."""
    children: dict[int, list[int]] = {}
    for pid in all_pids():
        parent = ppid_of(pid)
        if parent is not None:
            children.setdefault(parent, []).append(pid)
    out: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop(0)
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def container_init(nspawn_pid: int) -> int | None:
    """PID (in our namespace) of the container's PID 1 below an nspawn process."""
    for pid in descendants(nspawn_pid):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in status.splitlines():
            if line.startswith("NSpid:"):
                ids = line.split()[1:]
                if len(ids) > 1 and ids[-1] == "1":
                    return pid
    return None


def marked(lab: str | None = None) -> list[Proc]:
    """Live processes carrying the lab marker (any lab when LAB is None), zombies excluded."""
    found = []
    for pid in all_pids():
        value = environ(pid).get(MARKER)
        if value is not None and (lab is None or value == lab):
            proc = proc_of(pid)
            if proc is not None and alive(proc):
                found.append(proc)
    return found


def _reap(proc: Proc) -> None:
    """Collect PROC if it is our own child, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(proc.pid, os.WNOHANG)


def signal_verified(proc: Proc, lab: str, sig: int) -> bool:
    """Send SIG to PROC only if it is still the process we recorded for LAB."""
    if not is_ours(proc, lab):
        return False
    try:
        os.kill(proc.pid, sig)
    except ProcessLookupError:
        return False
    return True


def wait_gone(procs: Iterable[Proc], timeout: float) -> list[Proc]:
    """Wait until every process has exited; return those still alive at TIMEOUT."""
    pending = list(procs)
    deadline = time.monotonic() + timeout
    while True:
        for p in pending:
            _reap(p)
        pending = [p for p in pending if alive(p)]
        if not pending or time.monotonic() >= deadline:
            return pending
        time.sleep(0.1)


def stop(procs: Iterable[Proc], lab: str, grace: float) -> list[Proc]:
    """SIGTERM, wait GRACE seconds, then SIGKILL what is left; return survivors (normally none)."""
    targets = [p for p in procs if is_ours(p, lab)]
    for p in targets:
        signal_verified(p, lab, signal.SIGTERM)
    left = wait_gone(targets, grace)
    for p in left:
        signal_verified(p, lab, signal.SIGKILL)
    return wait_gone(left, 10)
