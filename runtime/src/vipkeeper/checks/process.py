"""Run external commands (scripts, checks, notifies) without ever blocking the event loop.

Every command runs in its own session, so a timeout kills the whole process group: a hung
script and anything it forked are ended with SIGTERM, then SIGKILL after a grace period.
Commands may run as another user (keepalived's `script_user`).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pwd
import signal
import time
from collections.abc import Sequence
from dataclasses import dataclass

KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL of a timed-out command


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended."""

    returncode: int | None  # None when it was killed for timing out or could not start
    timed_out: bool
    duration: float
    output: bytes = b""
    error: str | None = None  # why it could not start

    @property
    def ok(self) -> bool:
        """Exit status 0, within the time limit."""
        return self.returncode == 0 and not self.timed_out


@dataclass(frozen=True)
class RunAs:
    """A user (and group) to run commands as."""

    uid: int
    gid: int
    name: str

    @classmethod
    def lookup(cls, user: str, group: str | None = None) -> RunAs:
        """Resolve a user name (and optional group name) to ids; KeyError if unknown."""
        import grp

        entry = pwd.getpwnam(user)
        gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
        return cls(entry.pw_uid, gid, entry.pw_name)


def _kill_group(pid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)


async def end_process(proc: asyncio.subprocess.Process, grace: float = KILL_GRACE) -> None:
    """End a process started in its own session: SIGTERM its group, SIGKILL after `grace` s."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if proc.returncode is not None:
            return
        _kill_group(proc.pid, sig)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), grace)


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    user: RunAs | None = None,
    env: dict[str, str] | None = None,
    capture: bool = False,
    max_output: int = 65536,
) -> ProcessResult:
    """Run `argv`, wait at most `timeout` seconds, and kill its process group if it overruns."""
    start = time.monotonic()
    kwargs: dict[str, object] = {}
    if user is not None and os.geteuid() == 0:
        kwargs = {"user": user.uid, "group": user.gid, "extra_groups": []}
    try:
        proc = await asyncio.create_subprocess_exec(
            *argv,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.STDOUT if capture else asyncio.subprocess.DEVNULL,
            start_new_session=True,
            env=env,
            **kwargs,  # type: ignore[arg-type]
        )
    except (OSError, ValueError) as exc:
        return ProcessResult(None, False, time.monotonic() - start, error=str(exc))

    async def _collect() -> bytes:
        if proc.stdout is None:
            await proc.wait()
            return b""
        data = await proc.stdout.read(max_output)
        # Drain and discard the rest, so a chatty command cannot block on a full pipe.
        while await proc.stdout.read(65536):
            pass
        await proc.wait()
        return data

    try:
        output = await asyncio.wait_for(_collect(), timeout)
    except asyncio.CancelledError:
        # The caller gave up on the command (reload, shutdown): it must not outlive us.
        _kill_group(proc.pid, signal.SIGKILL)
        raise
    except TimeoutError:
        await end_process(proc)
        return ProcessResult(None, True, time.monotonic() - start)
    return ProcessResult(proc.returncode, False, time.monotonic() - start, output)
