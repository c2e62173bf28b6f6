"""TCP_CHECK: the real server accepts a TCP connection within connect_timeout."""

from __future__ import annotations

from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.checks.checkers.sock import open_tcp


async def tcp_check(target: Target, timeout: float) -> CheckResult:
    """Connect, then close at once."""
    try:
        sock = await open_tcp(target, timeout)
    except TimeoutError:
        return CheckResult(False, f"TCP connection to {target.hostport} timed out")
    except OSError as exc:
        return CheckResult(False, f"TCP connection to {target.hostport} failed: {exc.strerror}")
    sock.close()
    return CheckResult(True, "connected")
