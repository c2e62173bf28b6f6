"""Unit tests of the daemon's small parts: rise/fall, script security, track_file, sd_notify."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import time
from pathlib import Path

import pytest
from procs import wait_gone

from vipkeeper.checks.process import Script, end_process
from vipkeeper.checks.script import ScriptSpec, ScriptTracker, insecure_reason
from vipkeeper.checks.trackfile import FileTracker, TrackFileSpec, read_value
from vipkeeper.daemon.metrics import parse_listen
from vipkeeper.daemon.notify import NotifyQueue
from vipkeeper.daemon.sdnotify import SdNotify
from vipkeeper.net.vrrpsock import parse_ipv4


def _tracker(rise: int, fall: int, init_fail: bool = False) -> tuple[ScriptTracker, list[bool]]:
    flips: list[bool] = []
    spec = ScriptSpec("chk", ("true",), rise=rise, fall=fall, init_fail=init_fail)
    return ScriptTracker(spec, lambda _n, ok: flips.append(ok)), flips


def test_fall_needs_consecutive_failures() -> None:
    tracker, flips = _tracker(rise=2, fall=3)
    for result in (False, False, True, False, False):
        tracker.record(result)
    assert flips == [] and tracker.ok
    tracker.record(False)
    assert flips == [False] and not tracker.ok


def test_rise_needs_consecutive_successes() -> None:
    tracker, flips = _tracker(rise=2, fall=1, init_fail=True)
    assert not tracker.ok
    tracker.record(True)
    tracker.record(False)
    tracker.record(True)
    assert flips == []
    tracker.record(True)
    assert flips == [True] and tracker.ok
    assert tracker.runs == 4 and tracker.failures == 1 and tracker.timeouts == 0


def test_script_timeout_counts_as_failure() -> None:
    flips: list[bool] = []
    spec = ScriptSpec("slow", ("sleep", "5"), interval=0.1, timeout=0.2, fall=1)
    tracker = ScriptTracker(spec, lambda _n, ok: flips.append(ok))

    async def run() -> None:
        tracker.start()
        for _ in range(50):
            await asyncio.sleep(0.1)
            if flips:
                break
        await tracker.stop()

    asyncio.run(run())
    assert flips == [False]
    assert tracker.timeouts >= 1 and tracker.failures == tracker.timeouts == tracker.runs


@pytest.mark.root  # a root-owned tree, a file given to nobody
def test_script_security(tmp_path: Path) -> None:
    script = tmp_path / "check.sh"
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    os.chmod(tmp_path, 0o755)
    if os.geteuid() == 0:
        assert insecure_reason(str(script), None) is None
    script.chmod(0o777)
    assert "writable by everyone" in (insecure_reason(str(script), None) or "")
    script.chmod(0o755)
    if os.geteuid() == 0:  # only root can give the file away
        os.chown(script, 65534, 65534)
        assert "owned by uid 65534" in (insecure_reason(str(script), None) or "")
    assert "not found" in (insecure_reason("no-such-command-xyz", None) or "")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755


def test_track_file_values(tmp_path: Path) -> None:
    path = tmp_path / "w"
    assert read_value(str(path)) == 0
    path.write_text(" -42 \n")
    assert read_value(str(path)) == -42
    path.write_text("banana")
    assert read_value(str(path)) == 0
    seen: list[int] = []
    made = tmp_path / "init"
    tracker = FileTracker(
        TrackFileSpec("tf", str(made), init_file=True, init_value=7), lambda _n, v: seen.append(v)
    )
    assert made.read_text().strip() == "7" and tracker.value == 7
    made.write_text("8\n")
    os.utime(made, ns=(1, 1))
    tracker.poll()
    assert seen == [8]


def test_sd_notify_messages(tmp_path: Path) -> None:
    path = str(tmp_path / "n.sock")
    rx = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    rx.bind(path)
    try:
        sd = SdNotify({"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "3000000"})
        assert sd.watchdog_interval == 1.5
        assert sd.ready("x")
        assert rx.recv(100) == b"READY=1\nSTATUS=x"
        assert sd.stopping()
        assert rx.recv(100) == b"STOPPING=1"
    finally:
        rx.close()
    off = SdNotify({})
    assert not off.enabled and not off.ready() and off.watchdog_interval is None
    other = SdNotify({"NOTIFY_SOCKET": "@abc", "WATCHDOG_USEC": "5", "WATCHDOG_PID": "1"})
    assert other.address == "\0abc" and other.watchdog_interval is None


def test_notify_queue_runs_in_order_and_kills_a_hung_one(tmp_path: Path) -> None:
    out = tmp_path / "out"

    async def run() -> NotifyQueue:
        q = NotifyQueue(timeout=0.3)
        q.start()
        q.put("t", Script(("sh", "-c", f"echo one >> {out}")))
        q.put("t", Script(("sleep", "30")))
        q.put("t", Script(("sh", "-c", f"echo two >> {out}")))
        await q.drain(5)
        await q.stop()
        return q

    q = asyncio.run(run())
    assert out.read_text().split() == ["one", "two"]
    assert q.killed == 1 and q.ran == 3


def test_parse_listen_and_ipv4_parsing() -> None:
    assert parse_listen("127.0.0.1:9650") == ("127.0.0.1", 9650)
    assert parse_listen(":9650") == ("127.0.0.1", 9650)  # no address: loopback, not 0.0.0.0
    assert parse_listen("9650") == ("127.0.0.1", 9650)
    assert parse_listen("0.0.0.0:9650") == ("0.0.0.0", 9650)
    assert parse_listen("[::]:9650") == ("::", 9650)
    for bad in ("[::1:9650", ":0", ":65536", "host:port"):
        with pytest.raises(ValueError):
            parse_listen(bad)
    assert parse_listen("[::1]:80") == ("::1", 80)
    with pytest.raises(ValueError):
        parse_listen("nope")
    assert parse_ipv4(b"\x45" + b"\0" * 10) is None
    header = bytes([0x45, 0, 0, 24, 0, 0, 0, 0, 255, 112, 0, 0, 10, 0, 0, 1, 224, 0, 0, 18])
    dgram = parse_ipv4(header + b"abcd" + b"pad")
    assert dgram is not None
    assert dgram.data == b"abcd" and dgram.ttl == 255 and str(dgram.dst) == "224.0.0.18"


def test_stopping_a_tracker_never_orphans_its_script(tmp_path: Path) -> None:
    pidfile = tmp_path / "pid"
    spec = ScriptSpec("hang", ("sh", "-c", f"echo $$ > {pidfile}; exec sleep 30"), timeout=0.5)
    tracker = ScriptTracker(spec, lambda _n, _ok: None)

    async def run() -> None:
        tracker.start()
        for _ in range(100):
            await asyncio.sleep(0.02)
            if pidfile.exists() and pidfile.read_text().strip():
                break
        await tracker.stop()

    asyncio.run(run())
    pid = int(pidfile.read_text())
    assert wait_gone(pid, 2), f"the script {pid} outlived its tracker"


@pytest.mark.parametrize("ignores_term", [False, True])
def test_end_process_ends_the_whole_group(tmp_path: Path, ignores_term: bool) -> None:
    """The daemon ends its notify FIFO readers so: SIGTERM, then SIGKILL after the grace."""
    pidfile = tmp_path / "child"
    trap = "trap '' TERM; " if ignores_term else ""  # an ignored signal stays ignored in `sleep`
    script = f"{trap}sleep 60 & echo $! > {pidfile}; wait"

    async def run() -> tuple[float, int | None]:
        proc = await asyncio.create_subprocess_exec("sh", "-c", script, start_new_session=True)
        while not pidfile.exists() or not pidfile.read_text().strip():
            await asyncio.sleep(0.01)
        began = time.monotonic()
        await end_process(proc, grace=0.3)
        return time.monotonic() - began, proc.returncode

    took, returncode = asyncio.run(run())
    child = int(pidfile.read_text())
    assert returncode == (-signal.SIGKILL if ignores_term else -signal.SIGTERM)
    assert (took >= 0.3) == ignores_term
    assert took < 2.0
    # The grandchild goes with its group.
    assert wait_gone(child, 2), f"grandchild {child} outlived end_process"


def test_the_daemon_never_loads_pyroute2s_whole_package() -> None:
    """pyroute2's package __init__ (NDB, IPDB, nftables...) costs about 6 MB of RSS.

    vipkeeper.net.netlink registers the package lazily; any module importing pyroute2 before
    it (as net/addrreq.py once did) loads it all and pushes the daemon towards the 40 MB goal.
    """
    import subprocess
    import sys

    code = (
        "import sys, vipkeeper.cli, vipkeeper.daemon.daemon, vipkeeper.lvs.manager\n"
        "print(sorted(m for m in sys.modules if m.startswith(('pyroute2.ndb', 'pyroute2.ipdb'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
