"""Checker rules without a network: retry/delay logic, MISC exit codes, DNS and FILE judging."""

from __future__ import annotations

import asyncio
import struct
from ipaddress import ip_address
from pathlib import Path

from vipkeeper.checks.checkers import Target, run_check, unsupported_reason
from vipkeeper.checks.checkers.dns import encode_query, judge_reply
from vipkeeper.checks.checkers.file import judge_value
from vipkeeper.checks.checkers.misc import judge_exit
from vipkeeper.checks.checkers.result import CheckResult
from vipkeeper.checks.checkers.runner import CheckerLoop
from vipkeeper.checks.process import Script
from vipkeeper.config.model import FileCheck, MiscCheck, ScriptCommand, SmtpCheck, TcpCheck

T = Target(ip_address("10.213.1.11"), 80)
OK, FAIL = CheckResult(True), CheckResult(False, "refused")


def loop(**kw: object) -> CheckerLoop:
    check = TcpCheck(delay_loop=10, delay_before_retry=2, **kw)  # type: ignore[arg-type]
    return CheckerLoop(check, T, lambda _l: None)


def test_retry_then_down_then_delay_loop() -> None:
    lp = loop(retry=2)
    assert lp.up
    assert (lp.epilog(FAIL).delay, lp.up) == (2, True)
    assert (lp.epilog(FAIL).delay, lp.up) == (2, True)
    t = lp.epilog(FAIL)
    assert (t.delay, t.changed, lp.up) == (10, True, False)
    t = lp.epilog(FAIL)  # already down: no retries
    assert (t.delay, t.changed) == (10, False)
    t = lp.epilog(OK)
    assert (t.delay, t.changed, lp.up) == (10, True, True)


def test_success_resets_retry_count() -> None:
    lp = loop(retry=1)
    lp.epilog(FAIL)
    lp.epilog(OK)
    assert lp.epilog(FAIL).delay == 2 and lp.up


def test_alpha_starts_down_and_first_failure_is_final() -> None:
    lp = loop(retry=3, alpha=True)
    assert not lp.up
    t = lp.epilog(FAIL)
    assert t.delay == 2 and not lp.up  # has not run: retries apply
    lp2 = loop(retry=0, alpha=True)
    assert lp2.epilog(OK).changed and lp2.up


def test_misc_exit_codes() -> None:
    assert judge_exit(0, True) == CheckResult(True, "exit 0", None)
    assert not judge_exit(1, True).ok
    assert judge_exit(7, True) == CheckResult(True, "exit 7", 5)
    assert not judge_exit(7, False).ok
    assert not judge_exit(None, True).ok


def test_misc_check_runs_the_command() -> None:
    check = MiscCheck(
        misc_path=ScriptCommand(command="sh -c 'exit 12'", argv=("sh", "-c", "exit 12")),
        misc_dynamic=True,
    )
    result = asyncio.run(run_check(check, T, script=Script(("sh", "-c", "exit 12"))))
    assert result.ok and result.weight == 10
    slow = MiscCheck(
        misc_path=ScriptCommand(command="sleep 5", argv=("sleep", "5")), misc_timeout=0.2
    )
    result = asyncio.run(run_check(slow, T, script=Script(("sleep", "5"))))
    assert not result.ok and "timed out" in result.detail
    # Without a script vetted by script security nothing runs: the check fails.
    assert not asyncio.run(run_check(check, T)).ok


def test_dns_query_and_reply() -> None:
    q = encode_query(0x1234, "www.example.test", "A")
    assert q[:12] == struct.pack("!HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
    assert q[12:] == b"\x03www\x07example\x04test\x00\x00\x01\x00\x01"
    good = struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 1, 0, 0)
    assert judge_reply(0x1234, good).ok
    assert not judge_reply(0x4321, good).ok
    assert not judge_reply(0x1234, struct.pack("!HHHHHH", 0x1234, 0x8183, 1, 0, 0, 0)).ok
    assert not judge_reply(0x1234, struct.pack("!HHHHHH", 0x1234, 0x8180, 1, 0, 0, 0)).ok


def test_file_check_weights() -> None:
    assert judge_value(FileCheck(), 0, 5).ok
    assert not judge_value(FileCheck(), 1, 5).ok
    assert judge_value(FileCheck(weight=2), 3, 5).weight == 11
    assert judge_value(FileCheck(weight=2, reverse=True), 2, 5).weight == 1
    assert not judge_value(FileCheck(weight=1), -254, 5).ok


def test_smtp_is_reported_unsupported() -> None:
    reason = unsupported_reason(SmtpCheck())
    assert reason is not None and "not supported by vipkeeper" in reason
    assert unsupported_reason(TcpCheck()) is None


def test_file_check_is_read_often_and_counts_at_once(tmp_path: Path) -> None:
    from vipkeeper.checks.checkers.runner import FILE_POLL_INTERVAL

    path = tmp_path / "drain"
    path.write_text("0\n")
    lp = CheckerLoop(FileCheck(delay_loop=60), T, lambda _l: None, file_path=str(path))
    assert lp.epilog(OK).delay == FILE_POLL_INTERVAL  # not delay_loop
    t = lp.epilog(FAIL)  # no retries: the first failed read counts
    assert (t.delay, t.changed, lp.up) == (FILE_POLL_INTERVAL, True, False)

    async def follow() -> list[bool]:
        seen: list[bool] = []
        loop = CheckerLoop(
            FileCheck(delay_loop=60), T, lambda lp: seen.append(lp.up), file_path=str(path),
            bootstrap=0,
        )  # fmt: skip
        loop.start()
        try:
            await asyncio.sleep(3 * FILE_POLL_INTERVAL)
            path.write_text("1\n")
            await asyncio.sleep(3 * FILE_POLL_INTERVAL)
            path.write_text("0\n")
            await asyncio.sleep(3 * FILE_POLL_INTERVAL)
        finally:
            await loop.stop()
        return seen

    assert asyncio.run(follow()) == [False, True]
