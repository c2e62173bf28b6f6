# keepalived's vrrp_script: run every `interval`, kill after `timeout`; the result flips to
# failing after `fall` consecutive failures and back to OK after `rise` consecutive successes.
# `init_fail` starts the script failing.
#
# Script security for every script the daemon runs (vrrp_script, notifies, FIFO readers,
# MISC_CHECK, notify_up/down, quorum_up/down) is decided here, by ScriptPolicy.prepare, with
# keepalived's rules (config/scripts.py): when a config is loaded each command is resolved
# to the user it runs as and the file that runs; a refused one is logged once (naming the
# block, the script and the path at fault) and never run, as keepalived frees it.
# checks/process.py runs what was prepared, and walks its path again before each run.
"""Script security and users for the daemon, and the vrrp_script trackers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.aio import cancel_and_wait
from vipkeeper.checks.process import ProcessResult, RunAs, Script, run_script
from vipkeeper.config.model import FifoOwner, GlobalDefs, ScriptCommand
from vipkeeper.config.scripts import (
    DefaultUser,
    Lookup,
    ScriptUser,
    assess,
    daemon_user,
    default_user,
    lookup_user,
    user_for,
)

log = logging.getLogger("vipkeeper.checks")


def _run_as(user: ScriptUser) -> RunAs | None:
    """The RunAs for a script user (None: the daemon's own user and group)."""
    me = daemon_user()
    if (user.uid, user.gid) == (me.uid, me.gid):
        return None
    return RunAs(user.uid, user.gid, user.name)


class ScriptPolicy:
    """keepalived's script users and script security for one loaded config."""

    def __init__(self, g: GlobalDefs, lookup: Lookup = lookup_user) -> None:
        self.security = g.enable_script_security
        self.lookup = lookup
        # When there is no default user, each script that needs it says so as it is refused.
        self.default: DefaultUser = default_user(
            g.script_user, g.script_group, self.security, lookup
        )

    @property
    def default_run_as(self) -> RunAs | None:
        """The default user as a RunAs (None: the daemon's user, or no default at all)."""
        return None if self.default.user is None else _run_as(self.default.user)

    def fifo_owner(self, owner: FifoOwner | None) -> tuple[int, int] | str:
        """The (uid, gid) a notify FIFO is given, or why it cannot be used.

        keepalived: the FIFO's own `USER [GROUP]`, else the default script user (root when
        there is none); an unknown user means the FIFO is not used.
        """
        if owner is None:
            user = self.default.user or daemon_user()
            return (user.uid, user.gid)
        found = self.lookup(owner.user, owner.group)
        if found is None:
            what = f"'{owner.user}'" + (f" (group '{owner.group}')" if owner.group else "")
            return f"user {what} does not exist"
        return (found.uid, found.gid)

    def prepare(self, cmd: ScriptCommand | None, what: str) -> Script | str | None:
        """The vetted Script for `cmd`, or why it is refused (logged); None without a command.

        `what` names the block and keyword, e.g. "vrrp_instance VI_1 notify_master".
        """
        if cmd is None or not cmd.argv:
            return None
        where = f"{what} ({cmd.location})" if cmd.location is not None else what
        user, why = user_for(cmd, self.default, self.lookup)
        if user is None:
            reason = f"{why}; the script is not run"
            log.error("%s: script %s not run: %s", where, cmd.argv[0], why)
            return reason
        verdict = assess(cmd.argv[0], user)
        refusal = verdict.refusal(self.security)
        if refusal is not None or verdict.path is None:
            reason = refusal or "not found"
            log.error("%s: script %s disabled: %s", where, cmd.argv[0], reason)
            return reason
        if verdict.unsafe is not None:  # enable_script_security is off: keepalived runs it
            log.warning(
                "%s: script %s runs with root's rights although %s (enable_script_security is off)",
                where,
                cmd.argv[0],
                verdict.unsafe,
            )
        # The vetted file is what runs; the program still sees the name it was given (a
        # multi-call binary such as pidof -> killall5 keeps working).
        recheck = verdict.walked if self.security else ()
        return Script(cmd.argv, _run_as(user), what, recheck, executable=verdict.path)


def insecure_reason(argv0: str, user: RunAs | None) -> str | None:
    """Why running `argv0` (as `user`, else the daemon's user) is refused, or None.

    keepalived's rule with enable_script_security on (config/scripts.py `assess`).
    """
    who = daemon_user() if user is None else ScriptUser(user.name, user.uid, user.gid)
    return assess(argv0, who).refusal(security=True)


@dataclass(frozen=True, **SLOTS)
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
    recheck: tuple[str, ...] = ()  # paths script security walks again before each run
    executable: str | None = None  # the vetted file to execute (argv[0] is its name)


class ScriptTracker:
    """Runs one vrrp_script forever and reports OK/failing flips to `on_change(name, ok)`."""

    def __init__(self, spec: ScriptSpec, on_change: Callable[[str, bool], None]) -> None:
        self.spec = spec
        self.on_change = on_change
        self.ok = not spec.init_fail
        self.runs = 0
        self.failures = 0
        self.timeouts = 0  # runs killed at `timeout` (counted in failures too)
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
                await wait_for(asyncio.shield(running), self.spec.timeout + 3.0)
        await cancel_and_wait(self._task)
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
            what = f"vrrp_script {spec.name}"
            script = Script(spec.argv, spec.user, what, spec.recheck, spec.executable)
            self._running = asyncio.ensure_future(run_script(script, timeout=spec.timeout))
            result = await asyncio.shield(self._running)
            if self._stopping:
                return
            self.last_rc = result.returncode
            if result.timed_out:
                self.timeouts += 1
                log.warning("vrrp_script %s timed out after %.1fs", self.spec.name, result.duration)
            elif result.error and not result.refused:
                log.warning("vrrp_script %s could not run: %s", self.spec.name, result.error)
            self.record(result.ok)
            await asyncio.sleep(max(0.0, started + self.spec.interval - loop.time()))
