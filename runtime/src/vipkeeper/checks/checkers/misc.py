"""MISC_CHECK: run a command; exit 0 is up, anything else down.

With `misc_dynamic`, exit 1 is down and exit 2..255 is up with weight `code - 2`
(keepalived's rule); exit 0 restores the configured weight.
"""

from __future__ import annotations

from vipkeeper.checks.checkers.result import CheckResult
from vipkeeper.checks.process import RunAs, run_command
from vipkeeper.config.model import MiscCheck


def judge_exit(code: int | None, dynamic: bool) -> CheckResult:
    """The check result for an exit status (None: killed or could not start)."""
    if code is None:
        return CheckResult(False, "did not finish")
    if code == 0:
        return CheckResult(True, "exit 0", None)
    if dynamic and 2 <= code <= 255:
        return CheckResult(True, f"exit {code}", code - 2)
    return CheckResult(False, f"exit {code}")


async def misc_check(check: MiscCheck, timeout: float, user: RunAs | None = None) -> CheckResult:
    """Run misc_path and judge its exit status."""
    if check.misc_path is None:
        return CheckResult(False, "MISC_CHECK without misc_path")
    if check.misc_path.user:  # `user NAME [GROUP]` in the MISC_CHECK block wins
        try:
            user = RunAs.lookup(check.misc_path.user, check.misc_path.group)
        except KeyError as exc:
            return CheckResult(False, f"MISC_CHECK: unknown user or group {exc}")
    result = await run_command(check.misc_path.argv, timeout=timeout, user=user)
    if result.timed_out:
        return CheckResult(False, f"{check.misc_path.command!r} timed out after {timeout:g}s")
    if result.error:
        return CheckResult(False, f"{check.misc_path.command!r} could not run: {result.error}")
    return judge_exit(result.returncode, check.misc_dynamic)
