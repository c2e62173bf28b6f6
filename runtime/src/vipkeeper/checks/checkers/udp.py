"""UDP_CHECK: send the payload; without require_reply, up unless an ICMP error comes back.

With `require_reply`, a reply must arrive within connect_timeout, be within
min/max_reply_length (0: no limit) and start with the `require_reply` bytes if given.
"""

from __future__ import annotations

from vipkeeper.checks.checkers.dgram import exchange
from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.config.model import UdpCheck


def judge_reply(check: UdpCheck, data: bytes) -> CheckResult:
    """Whether a reply satisfies the check."""
    if check.min_reply_length and len(data) < check.min_reply_length:
        return CheckResult(False, f"reply of {len(data)} bytes is too short")
    if check.max_reply_length and len(data) > check.max_reply_length:
        return CheckResult(False, f"reply of {len(data)} bytes is too long")
    if check.reply_data and not data.startswith(check.reply_data):
        return CheckResult(False, "reply does not match")
    return CheckResult(True, f"reply of {len(data)} bytes")


async def udp_check(check: UdpCheck, target: Target, timeout: float) -> CheckResult:
    """Send and (maybe) wait for a reply."""
    payload = check.payload if check.payload is not None else b"\x00"
    try:
        data = await exchange(target, payload, timeout)
    except TimeoutError:
        if check.require_reply:
            return CheckResult(False, f"UDP_CHECK {target.hostport}: no reply")
        return CheckResult(True, "no ICMP error")
    except OSError as exc:
        return CheckResult(False, f"UDP_CHECK {target.hostport}: {exc.strerror or exc}")
    return judge_reply(check, data)
