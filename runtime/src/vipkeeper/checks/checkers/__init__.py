"""keepalived's real-server health checkers, all asyncio: one attempt is `run_check`."""

from __future__ import annotations

import asyncio

from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.checks.process import Script
from vipkeeper.config.model import (
    BfdCheck,
    Checker,
    DnsCheck,
    FileCheck,
    HttpCheck,
    MiscCheck,
    PingCheck,
    SmtpCheck,
    TcpCheck,
    UdpCheck,
)

__all__ = ["CheckResult", "Target", "attempt_timeout", "run_check", "unsupported_reason"]


def unsupported_reason(checker: Checker) -> str | None:
    """Why vipkeeper cannot run this checker (None: it can)."""
    if isinstance(checker, (SmtpCheck, BfdCheck)):
        return f"{checker.kind} is not supported by vipkeeper; the checker is ignored"
    return None


def attempt_timeout(checker: Checker) -> float:
    """How long one attempt may take."""
    if isinstance(checker, MiscCheck):
        return checker.misc_timeout or checker.delay_loop
    return checker.connect_timeout


async def run_check(
    checker: Checker,
    target: Target,
    *,
    base_weight: int = 1,
    file_path: str | None = None,
    script: Script | None = None,
) -> CheckResult:
    """One attempt of `checker` against `target` (`script`: MISC_CHECK's vetted command)."""
    timeout = attempt_timeout(checker)
    if isinstance(checker, TcpCheck):
        from vipkeeper.checks.checkers.tcp import tcp_check

        return await tcp_check(target, timeout)
    if isinstance(checker, HttpCheck):
        from vipkeeper.checks.checkers.http import http_check

        return await http_check(checker, target, timeout)
    if isinstance(checker, MiscCheck):
        from vipkeeper.checks.checkers.misc import misc_check

        return await misc_check(checker, timeout, script)
    if isinstance(checker, DnsCheck):
        from vipkeeper.checks.checkers.dns import dns_check

        return await dns_check(checker, target, timeout)
    if isinstance(checker, UdpCheck):
        from vipkeeper.checks.checkers.udp import udp_check

        return await udp_check(checker, target, timeout)
    if isinstance(checker, PingCheck):
        from vipkeeper.checks.checkers.ping import ping_check

        return await ping_check(target, timeout)
    if isinstance(checker, FileCheck):
        from vipkeeper.checks.checkers.file import file_check

        return await file_check(checker, file_path or checker.track_file, base_weight)
    await asyncio.sleep(0)
    return CheckResult(False, unsupported_reason(checker) or f"unknown checker {checker.kind}")
