"""Run external commands (scripts, checks, notifies) without ever blocking the event loop.

This is the one place child processes are started (`run_command`, `spawn`), so every one
gets the same environment:
- its own session and process group, so a timeout kills the whole group: a hung script and
  anything it forked are ended with SIGTERM, then SIGKILL after a grace period;
- stdin, stdout and stderr on /dev/null (as keepalived run with --dont-fork), unless the
  caller captures the output;
- the daemon's environment without the variables that belong to the daemon alone
  (DAEMON_ONLY_ENV: systemd's notify socket, watchdog and socket-activation variables, which
  systemd's own sd_notify/sd_watchdog_enabled/sd_listen_fds unset for children, and the
  loader and IFS overrides keepalived drops before exec);
- the user and group it runs as, with no supplementary groups (keepalived's `script_user`).
A `Script` is a command that script security has passed (checks/script.py): `run_script`
and `spawn_script` walk its path again just before it starts and refuse it if it has become
writable by someone other than root since.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import signal
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vipkeeper._aiocompat import wait_for
from vipkeeper.config.scripts import unsafe_component

log = logging.getLogger("vipkeeper.scripts")
KILL_GRACE = 1.0  # seconds between SIGTERM and SIGKILL of a timed-out command
DAEMON_ONLY_ENV = frozenset(
    {
        "NOTIFY_SOCKET",
        "WATCHDOG_USEC",
        "WATCHDOG_PID",
        "LISTEN_PID",
        "LISTEN_FDS",
        "LISTEN_FDNAMES",
        "IFS",
        "LD_PRELOAD",
        "LD_LIBRARY_PATH",
    }
)


@dataclass(frozen=True)
class ProcessResult:
    """How a command ended."""

    returncode: int | None  # None when it was killed for timing out or could not start
    timed_out: bool
    duration: float
    output: bytes = b""
    error: str | None = None  # why it could not start
    refused: bool = False  # script security refused to start it (already logged)

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
            await wait_for(proc.wait(), grace)


def child_env(
    extra: Mapping[str, str] | None = None, base: Mapping[str, str] | None = None
) -> dict[str, str]:
    """A child's environment: `base` (the daemon's) without DAEMON_ONLY_ENV, plus `extra`."""
    env = dict(os.environ if base is None else base)
    for name in DAEMON_ONLY_ENV:
        env.pop(name, None)
    if extra:
        env.update(extra)
    return env


def _user_kwargs(user: RunAs | None) -> dict[str, Any]:
    if user is not None and os.geteuid() == 0:
        return {"user": user.uid, "group": user.gid, "extra_groups": []}
    return {}


async def _exec(
    argv: Sequence[str],
    user: RunAs | None,
    env: Mapping[str, str] | None,
    *,
    capture: bool = False,
    executable: str | None = None,
) -> asyncio.subprocess.Process:
    """Start `argv` as every child is started (see the module docstring).

    `executable` is the file to execute (argv[0] is then only the name the program sees).
    """
    return await asyncio.create_subprocess_exec(
        *argv,
        executable=executable,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE if capture else asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.STDOUT if capture else asyncio.subprocess.DEVNULL,
        start_new_session=True,
        env=child_env(env),
        **_user_kwargs(user),
    )


async def run_command(
    argv: Sequence[str],
    *,
    timeout: float,
    user: RunAs | None = None,
    env: dict[str, str] | None = None,
    capture: bool = False,
    max_output: int = 65536,
    executable: str | None = None,
) -> ProcessResult:
    """Run `argv`, wait at most `timeout` seconds, and kill its process group if it overruns.

    `env` adds variables to the child's environment (see `child_env`); `executable` is the
    file to execute when it is not argv[0].
    """
    start = time.monotonic()
    try:
        proc = await _exec(argv, user, env, capture=capture, executable=executable)
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
        output = await wait_for(_collect(), timeout)
    except asyncio.CancelledError:
        # The caller gave up on the command (reload, shutdown): it must not outlive us.
        _kill_group(proc.pid, signal.SIGKILL)
        raise
    except TimeoutError:
        await end_process(proc)
        return ProcessResult(None, True, time.monotonic() - start)
    return ProcessResult(proc.returncode, False, time.monotonic() - start, output)


@dataclass(frozen=True)
class Script:
    """A command script security has passed: what runs, as whom, and what to walk again."""

    argv: tuple[str, ...]  # as configured (argv[0] is the name the program sees)
    user: RunAs | None = None  # None: the daemon's own user
    what: str = ""  # where it is configured, e.g. "vrrp_instance VI_1 notify_master"
    recheck: tuple[str, ...] = ()  # paths that must still be safe to run as root, per run
    executable: str | None = None  # the vetted, resolved file; None: argv[0] (PATH lookup)

    def with_args(self, extra: Sequence[str]) -> Script:
        """The same script with arguments appended."""
        return Script((*self.argv, *extra), self.user, self.what, self.recheck, self.executable)

    def refusal(self) -> str | None:
        """Why it must not start now (its path became unsafe since it was checked), or None."""
        for path in self.recheck:
            unsafe = unsafe_component(path)
            if unsafe is not None:
                return f"refused by script security: {unsafe[0]}"
        return None


def _refused(script: Script) -> str | None:
    why = script.refusal()
    if why is not None:
        log.error("%s: script %s not run: %s", script.what, script.argv[0], why)
    return why


async def run_script(
    script: Script, *, timeout: float, env: dict[str, str] | None = None, capture: bool = False
) -> ProcessResult:
    """`run_command` for a vetted script: refused (and logged) if its path became unsafe."""
    why = _refused(script)
    if why is not None:
        return ProcessResult(None, False, 0.0, error=why, refused=True)
    return await run_command(
        script.argv,
        timeout=timeout,
        user=script.user,
        env=env,
        capture=capture,
        executable=script.executable,
    )


async def spawn_script(script: Script) -> asyncio.subprocess.Process | None:
    """Start a long-running vetted script (a FIFO reader); None when refused or on error."""
    if _refused(script) is not None:
        return None
    try:
        return await _exec(script.argv, script.user, None, executable=script.executable)
    except (OSError, ValueError) as exc:
        log.error("%s: %s could not start: %s", script.what, script.argv[0], exc)
        return None
