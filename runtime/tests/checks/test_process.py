"""The command runner: exit codes, output, timeouts that kill the whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import os
import time

import pytest
from procs import wait_gone

from vipkeeper.checks.process import RunAs, Script, child_env, run_command, run_script
from vipkeeper.checks.script import ScriptPolicy
from vipkeeper.config.model import GlobalDefs, ScriptCommand


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
    assert wait_gone(child, 2), f"grandchild {child} survived the timeout"


@pytest.mark.root  # runs as or gives files to nobody
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
    assert wait_gone(pid, 2), f"command {pid} survived the cancellation"


def test_children_do_not_get_the_daemons_own_variables() -> None:
    base = {
        "PATH": "/usr/bin:/bin",
        "INVOCATION_ID": "abc",
        "NOTIFY_SOCKET": "/run/systemd/notify",
        "WATCHDOG_USEC": "1000",
        "WATCHDOG_PID": "1",
        "LISTEN_PID": "1",
        "LISTEN_FDS": "1",
        "LISTEN_FDNAMES": "x",
        "LD_PRELOAD": "/tmp/evil.so",
        "LD_LIBRARY_PATH": "/tmp",
        "IFS": "x",
    }
    assert child_env(base=base) == {"PATH": "/usr/bin:/bin", "INVOCATION_ID": "abc"}
    assert child_env({"EXTRA": "1"}, base={"PATH": "/bin"}) == {"PATH": "/bin", "EXTRA": "1"}


@pytest.mark.root  # runs as or gives files to nobody
def test_a_vetted_script_is_refused_once_its_path_becomes_unsafe(tmp_path) -> None:  # type: ignore[no-untyped-def]
    if os.geteuid() != 0:
        raise AssertionError("this test needs root")
    tmp_path.chmod(0o755)
    marker = tmp_path / "ran"
    path = tmp_path / "s.sh"
    path.write_text(f"#!/bin/sh\necho ran >> {marker}\n")
    path.chmod(0o755)
    script = Script((str(path),), what="vrrp_instance VI_1 notify_master", recheck=(str(path),))
    assert run(run_script(script, timeout=5)).ok
    os.chown(path, 65534, 0)  # nobody may now rewrite it: the next run is refused
    res = run(run_script(script, timeout=5))
    assert res.refused and not res.ok
    assert f"'{path}' is owned by uid 65534, not root" in (res.error or "")
    assert marker.read_text() == "ran\n"


@pytest.mark.root  # runs as or gives files to nobody
def test_the_vetted_file_runs_under_the_name_it_was_given(tmp_path) -> None:  # type: ignore[no-untyped-def]
    # keepalived resolves a symlinked command and runs the target; the name a multi-call
    # program sees (pidof -> killall5) is kept, so it behaves as configured. The shell
    # stands in for such a program here: `sh -c 'echo "$0"'` prints the name it was run as.
    if os.geteuid() != 0:
        raise AssertionError("this test needs root")
    tmp_path.chmod(0o755)
    shell = os.path.realpath("/bin/sh")
    alias = tmp_path / "alias"
    alias.symlink_to(shell)
    policy = ScriptPolicy(GlobalDefs(script_user="root", enable_script_security=True))
    cmd = ScriptCommand(command="alias", argv=(str(alias), "-c", 'echo "$0"'))
    script = policy.prepare(cmd, "test")
    assert isinstance(script, Script)
    assert script.executable == shell and script.argv[0] == str(alias)
    res = run(run_script(script, timeout=5, capture=True))
    assert res.output.decode().strip() == str(alias)
