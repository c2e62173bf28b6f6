"""The command runner: exit codes, output, timeouts that kill the whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

from vipkeeper.checks.process import RunAs, run_command


def run(coro):  # type: ignore[no-untyped-def]
    return asyncio.run(coro)


def test_exit_codes_and_output() -> None:
    ok = run(run_command(["sh", "-c", "echo hi; exit 0"], timeout=5, capture=True))
    assert ok.ok and ok.returncode == 0 and ok.output == b"hi\n"
    bad = run(run_command(["sh", "-c", "exit 3"], timeout=5))
    assert not bad.ok and bad.returncode == 3 and not bad.timed_out


def test_missing_command_is_reported_not_raised() -> None:
    res = run(run_command(["/nonexistent/script"], timeout=5))
    assert not res.ok and res.returncode is None and res.error


def test_timeout_kills_the_process_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "child.pid"
    # The script forks a grandchild that would outlive a plain kill of the script.
    script = f"sleep 60 & echo $! > {pidfile}; wait"
    start = time.monotonic()
    res = run(run_command(["sh", "-c", script], timeout=0.5))
    assert res.timed_out and res.returncode is None
    assert time.monotonic() - start < 0.5 + 1.0 + 2.0  # timeout + grace + slack
    child = int(pidfile.read_text())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(child, 0)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    else:
        raise AssertionError(f"grandchild {child} survived the timeout")


def test_runs_as_another_user() -> None:
    if os.geteuid() != 0:
        raise AssertionError("this test needs root")
    nobody = RunAs.lookup("nobody")
    res = run(run_command(["id", "-u"], timeout=5, user=nobody, capture=True))
    assert res.output.strip() == str(nobody.uid).encode()


def test_output_is_bounded() -> None:
    res = run(
        run_command(
            ["sh", "-c", "yes | head -c 1000000"], timeout=10, capture=True, max_output=1000
        )
    )
    assert res.ok and len(res.output) == 1000


def test_cancelling_kills_the_process_group(tmp_path) -> None:  # type: ignore[no-untyped-def]
    pidfile = tmp_path / "pid"

    async def scenario() -> int:
        task = asyncio.create_task(
            run_command(["sh", "-c", f"echo $$ > {pidfile}; exec sleep 60"], timeout=60)
        )
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.01)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        return int(pidfile.read_text())

    pid = run(scenario())
    deadline = time.monotonic() + 2
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    raise AssertionError(f"command {pid} survived the cancellation")
