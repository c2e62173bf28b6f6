"""MISC_CHECK: run a command; exit 0 is up, anything else down.

With `misc_dynamic`, exit 1 is down and exit 2..255 is up with weight `code - 2`
(keepalived's rule); exit 0 restores the configured weight. What runs is the Script that
script security vetted when the config was loaded (its `user`, else the default script
user: lvs/manager.py); without one the check fails and nothing runs.
"""

from __future__ import annotations

from vipkeeper.checks.checkers.result import CheckResult
from vipkeeper.checks.process import Script, run_script
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


async def misc_check(check: MiscCheck, timeout: float, script: Script | None) -> CheckResult:
    """Run the vetted misc_path script and judge its exit status."""
    if check.misc_path is None:
        return CheckResult(False, "MISC_CHECK without misc_path")
    if script is None:
        return CheckResult(False, f"{check.misc_path.command!r} was not vetted by script security")
    result = await run_script(script, timeout=timeout)
    if result.timed_out:
        return CheckResult(False, f"{check.misc_path.command!r} timed out after {timeout:g}s")
    if result.error:
        return CheckResult(False, f"{check.misc_path.command!r} could not run: {result.error}")
    return judge_exit(result.returncode, check.misc_dynamic)
