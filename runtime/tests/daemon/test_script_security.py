"""Script security in the running daemon: every script kind, as keepalived, and the environment.

Issue #15: with `script_user root` and `enable_script_security`, a notify_master owned by
nobody (in a root-owned directory) ran as root when the instance became MASTER; keepalived
refuses it at load and never runs it. The scripts here live in a root-owned 0755 directory
of the lab's work tree; the insecure ones are owned by nobody and would write a marker file.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from netlab import NetLab, wait_for

pytestmark = pytest.mark.netns
ADV = 0.1
NOBODY = 65534
SECURE = "script_user root\n  enable_script_security"


def _script_dir(lab: NetLab) -> Path:
    """A root-owned directory only root may write, every directory above it too."""
    work = Path(lab.workdir)
    path = work / "scripts"
    path.mkdir(mode=0o755)
    for part in (path, *path.parents):
        st = part.stat()
        assert st.st_uid == 0 and (not st.st_mode & 0o022 or st.st_mode & 0o1000), part
    return path


def _script(path: Path, body: str, *, uid: int = 0) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    os.chown(path, uid, 0)
    return path


def test_nobody_owned_notify_master_never_runs_as_root(lab: NetLab) -> None:
    """The issue's reproduction: becoming MASTER must not run the nobody-owned script."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    scripts, work = _script_dir(lab), Path(lab.workdir)
    marker, seen = work / "evil.ran", work / "generic.out"
    evil = _script(scripts / "evil.sh", f'id -u > {marker}\necho "$*" >> {marker}\n', uid=NOBODY)
    generic = _script(scripts / "generic.sh", f'echo "$*" >> {seen}\n')
    notify = f'notify_master "{evil} master"\n  notify "{generic}"'
    conf = config(instance_conf(priority=150, version=3, advert=ADV, extra=notify), globals_=SECURE)
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", 3) is not None, va.log()
    # The queue runs notify_master before the generic notify of the same transition: once
    # the generic one has seen MASTER, notify_master has had its turn.
    ran = wait_for(lambda: seen.exists() and "INSTANCE VI_1 MASTER" in seen.read_text(), 5)
    assert ran is not None, va.log()
    assert va.stop() == 0
    assert not marker.exists(), f"the insecure notify_master ran: {marker.read_text()}"
    log = va.log()
    assert "vrrp_instance VI_1 notify_master" in log and str(evil) in log, log
    assert f"'{evil}' is owned by uid {NOBODY}, not root" in log, log
    assert "INSTANCE VI_1 STOP" in seen.read_text()  # the secure notifies still run


def test_insecure_fifo_scripts_and_sync_group_notify_never_run(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    scripts, work = _script_dir(lab), Path(lab.workdir)
    markers = {name: work / f"{name}.ran" for name in ("fifo", "vrrpfifo", "group")}
    evil = {
        name: _script(scripts / f"{name}.sh", f'touch {marker}\nexec cat "$1"\n', uid=NOBODY)
        for name, marker in markers.items()
    }
    seen = work / "group.out"
    generic = _script(scripts / "generic.sh", f'echo "$*" >> {seen}\n')
    globals_ = (
        f"{SECURE}\n  notify_fifo {work / 'n.fifo'}\n  notify_fifo_script {evil['fifo']}\n"
        f"  vrrp_notify_fifo {work / 'v.fifo'}\n  vrrp_notify_fifo_script {evil['vrrpfifo']}"
    )
    group = (
        "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n"
        f'  notify_master "{evil["group"]}"\n  notify "{generic}"\n}}\n'
    )
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV),
        instance_conf(name="VI_2", vrid=52, priority=150, version=3, advert=ADV,
                      vips=("10.213.1.101/24",)),
        globals_=globals_,
        head=group,
    )  # fmt: skip
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", 3, "VI_2") is not None, va.log()
    assert wait_for(lambda: seen.exists() and "GROUP G MASTER" in seen.read_text(), 5), va.log()
    assert va.stop() == 0
    assert [name for name, marker in markers.items() if marker.exists()] == []
    log = va.log()
    for what in (
        "global_defs notify_fifo_script",
        "global_defs vrrp_notify_fifo_script",
        "vrrp_sync_group G notify_master",
    ):
        assert what in log, log
    assert log.count(f"is owned by uid {NOBODY}, not root") >= 3, log


def _dump(out: str) -> str:
    """Shell lines that record the script's environment, std fds and ids under `out`.*."""
    return (
        f'env > "{out}.env"\n'
        f'fds="$(readlink /proc/$$/fd/0 /proc/$$/fd/1 /proc/$$/fd/2)"\n'
        f'echo "$fds" > "{out}.fds"\n'
        f"cut -d' ' -f1,5,6 /proc/$$/stat > \"{out}.ids.tmp\"\n"
        f'mv "{out}.ids.tmp" "{out}.ids"\n'
    )


def test_scripts_get_a_defined_environment(lab: NetLab) -> None:
    """The daemon's own systemd variables stay out of every script's environment."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    scripts, work = _script_dir(lab), Path(lab.workdir)
    notify = _script(scripts / "dump.sh", _dump("$1"))  # run_command: a notify
    reader = _script(scripts / "reader.sh", _dump(f"{work}/fifo") + 'exec cat "$1"\n')  # spawn
    sock_path = work / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(sock_path))
    sock.settimeout(5)
    env = {
        "NOTIFY_SOCKET": str(sock_path),
        "WATCHDOG_USEC": "60000000",
        "WATCHDOG_PID": "1",  # not the daemon: its watchdog stays off
        "LISTEN_PID": "1",
        "LISTEN_FDS": "0",
        "LISTEN_FDNAMES": "none",
        "INVOCATION_ID": "0123456789abcdef0123456789abcdef",
        "VK_SCRIPT_ENV_MARK": "kept",
    }
    globals_ = f"{SECURE}\n  vrrp_notify_fifo {work / 'v.fifo'}\n  vrrp_notify_fifo_script {reader}"
    extra = f'notify_master "{notify} {work}/notify"'
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV, extra=extra), globals_=globals_
    )
    try:
        va = start_vipkeeper(lab, a, conf, env=env)
        assert va.wait_state("MASTER", 3) is not None, va.log()
        for out in ("notify", "fifo"):
            assert wait_for((work / f"{out}.ids").exists, 5) is not None, (out, va.log())
        assert sock.recv(4096).startswith(b"READY=1")  # the daemon itself still notifies
        assert va.stop() == 0
    finally:
        sock.close()
    for out in ("notify", "fifo"):
        lines = (work / f"{out}.env").read_text().splitlines()
        seen = dict(line.split("=", 1) for line in lines if "=" in line)
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_PID",
                     "LISTEN_FDS", "LISTEN_FDNAMES"):  # fmt: skip
            assert name not in seen, f"{out}: {name} leaked into the script's environment"
        assert seen.get("VK_SCRIPT_ENV_MARK") == "kept"
        assert seen.get("INVOCATION_ID") == env["INVOCATION_ID"]
        assert "PATH" in seen
        assert (work / f"{out}.fds").read_text().split() == ["/dev/null"] * 3, out
        pid, pgid, sid = (work / f"{out}.ids").read_text().split()
        assert pid == pgid == sid, f"{out}: a script runs in its own session"
