# keepalived's vrrp_script: run every `interval`, kill after `timeout`; the result flips to
# failing after `fall` consecutive failures and back to OK after `rise` consecutive successes.
# `init_fail` starts the script failing. With enable_script_security, a script (or any
# directory above it) that a non-root user can write is refused and never run.
"""vrrp_script trackers: periodic commands with rise/fall counting, and script security."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vipkeeper.checks.process import ProcessResult, RunAs, run_command

log = logging.getLogger("vipkeeper.checks")


def insecure_reason(argv0: str, user: RunAs | None) -> str | None:
    """Why running `argv0` as root-owned daemon is unsafe, or None when it is safe."""
    path = shutil.which(argv0) if "/" not in argv0 else argv0
    if path is None:
        return f"{argv0}: not found or not executable"
    allowed_uids = {0} | ({user.uid} if user is not None and user.uid == 0 else set())
    current = Path(path).resolve()
    for item in (current, *current.parents):
        try:
            st = item.stat()
        except OSError as exc:
            return f"{item}: {exc.strerror}"
        if st.st_uid not in allowed_uids:
            return f"{item} is owned by uid {st.st_uid}, not root"
        if st.st_mode & stat.S_IWOTH and not (stat.S_ISDIR(st.st_mode) and st.st_mode & 0o1000):
            return f"{item} is writable by everyone"
        if st.st_mode & stat.S_IWGRP and st.st_gid != 0:
            return f"{item} is writable by group {st.st_gid}"
    return None


@dataclass(frozen=True, slots=True)
class ScriptSpec:
    """What a vrrp_script runs and how its result is counted."""

    name: str
    argv: tuple[str, ...]
    interval: float = 1.0
    timeout: float = 1.0
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    user: RunAs | None = None


class ScriptTracker:
    """Runs one vrrp_script forever and reports OK/failing flips to `on_change(name, ok)`."""

    def __init__(self, spec: ScriptSpec, on_change: Callable[[str, bool], None]) -> None:
        self.spec = spec
        self.on_change = on_change
        self.ok = not spec.init_fail
        self.runs = 0
        self.failures = 0
        self.last_rc: int | None = None
        self._streak = 0  # consecutive results against the current state
        self._task: asyncio.Task[None] | None = None
        self._running: asyncio.Future[ProcessResult] | None = None
        self._stopping = False

    def start(self) -> None:
        """Start the periodic runs."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        """Stop running; a run in flight is let finish (run_command kills it at its timeout)."""
        if self._task is None:
            return
        self._stopping = True
        running = self._running
        if running is not None and not running.done():
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(running), self.spec.timeout + 3.0)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    def record(self, success: bool) -> None:
        """Count one result and flip the state after rise/fall in a row."""
        self.runs += 1
        if not success:
            self.failures += 1
        if success == self.ok:
            self._streak = 0
            return
        self._streak += 1
        if self._streak >= (self.spec.rise if success else self.spec.fall):
            self._streak = 0
            self.ok = success
            self.on_change(self.spec.name, success)

    async def _loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            spec = self.spec
            self._running = asyncio.ensure_future(
                run_command(spec.argv, timeout=spec.timeout, user=spec.user)
            )
            result = await asyncio.shield(self._running)
            if self._stopping:
                return
            self.last_rc = result.returncode
            if result.timed_out:
                log.warning("vrrp_script %s timed out after %.1fs", self.spec.name, result.duration)
            elif result.error:
                log.warning("vrrp_script %s could not run: %s", self.spec.name, result.error)
            self.record(result.ok)
            await asyncio.sleep(max(0.0, started + self.spec.interval - loop.time()))


def resolve_user(user: str | None, group: str | None) -> RunAs | None:
    """The RunAs for a script_user setting (None: run as the daemon's user)."""
    if user is None:
        return None
    return RunAs.lookup(user, group)


def default_script_user() -> RunAs | None:
    """keepalived's default: `keepalived_script` when that user exists, else root."""
    try:
        return RunAs.lookup("keepalived_script")
    except KeyError:
        return None
