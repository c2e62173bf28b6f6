"""A reload, start or stop that meets a fault: all or nothing, logged, and systemd told.

The faults are real: the state directory (the VIP record) on a small tmpfs filled to the last
block, and a file descriptor limit lowered on the running daemon with prlimit.
"""

from __future__ import annotations

import os
import resource
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon.vkd import VIP, StateFs, Vipkeeper, config, instance_conf, start_vipkeeper, stays
from netlab import NetLab, Node, wait_for

from vipkeeper.daemon.kernel import RECORD_NAME

pytestmark = pytest.mark.netns
VIP2 = "10.213.1.102"
VIP3 = "10.213.1.103"
VIP4 = "10.213.1.104"
LOST = "Task exception was never retrieved"


@pytest.fixture
def statefs(lab: NetLab) -> Iterator[StateFs]:
    """A small tmpfs for the state directory, always unmounted (after the daemons end)."""
    fs = StateFs()
    try:
        yield fs
    finally:
        for node in lab.nodes.values():
            node.stop_procs()
        fs.unmount()


class NotifyListener:
    """A NOTIFY_SOCKET for the daemon: the sd_notify messages it sent, in order."""

    def __init__(self, lab: NetLab) -> None:
        self.path = str(Path(lab.workdir) / "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.messages: list[str] = []  # the first field of each

    def drain(self) -> list[str]:
        """Read what came; every first field so far."""
        while True:
            try:
                self.messages.append(self.sock.recv(4096).decode().split("\n")[0])
            except socket.timeout:  # TimeoutError from Python 3.10 on, not in 3.9
                return self.messages

    def ready_after_reloading(self) -> bool:
        """Whether every RELOADING=1 so far was followed by a READY=1."""
        got = self.drain()
        last = max((i for i, m in enumerate(got) if m == "RELOADING=1"), default=None)
        return last is not None and "READY=1" in got[last:]

    def close(self) -> None:
        """Stop listening."""
        self.sock.close()


@pytest.fixture
def notify(lab: NetLab) -> Iterator[NotifyListener]:
    """The daemon's NOTIFY_SOCKET."""
    listener = NotifyListener(lab)
    try:
        yield listener
    finally:
        listener.close()


def _sighup_and_wait(vk: Vipkeeper, text: str) -> None:
    """SIGHUP, then wait until the log has one more line containing `text`."""
    seen = vk.log().count(text)
    vk.signal(signal.SIGHUP)
    assert wait_for(lambda: vk.log().count(text) > seen, 10) is not None, vk.log()


def _no_lost_errors(vk: Vipkeeper) -> None:
    log = vk.log()
    assert LOST not in log, log
    assert "Traceback" not in log, log


OLD = config(instance_conf(priority=150, version=3, advert=0.1))


def _new_config(extra: str = "") -> str:
    """VI_1 with a new priority and a second VIP, and a new VI_2 with its own VIP."""
    return config(
        instance_conf(priority=200, version=3, advert=0.1, vips=(f"{VIP}/24", f"{VIP2}/24")),
        instance_conf(name="VI_2", vrid=52, priority=150, version=3, advert=0.1,
                      vips=(f"{VIP3}/24",)),
        extra,
    )  # fmt: skip


def _runs_the_old_config(vk: Vipkeeper, node: Node) -> None:
    status = vk.status()
    assert [i["name"] for i in status["instances"]] == ["VI_1"], status
    vi1 = status["instances"][0]
    assert vi1["base_priority"] == 150 and vi1["vips"] == [f"{VIP}/24"], vi1
    assert vi1["state"] == "MASTER"
    assert status["last_reload"]["ok"] is False
    assert stays(
        lambda: node.has_address(VIP) and not node.has_address(VIP2) and not node.has_address(VIP3),
        1.0,
    ), "the old config's VIP stays, the new config's VIPs never come"


def test_reload_on_a_full_state_dir_keeps_the_running_config(
    lab: NetLab, statefs: StateFs, notify: NotifyListener
) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    env = {"NOTIFY_SOCKET": notify.path}
    va = start_vipkeeper(lab, a, OLD, "--state-dir", str(statefs.path), env=env)
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert wait_for(lambda: a.has_address(VIP), 2) is not None
    assert statefs.recorded() == {VIP}
    statefs.fill()
    va.write_config(_new_config())
    _sighup_and_wait(va, "keeping the running config")
    log = va.log()
    assert "cannot write the VIP record" in log and "[ENOSPC] No space left on device" in log, log
    assert str(statefs.path / RECORD_NAME) in log
    assert wait_for(notify.ready_after_reloading, 2) is not None, notify.messages
    _runs_the_old_config(va, a)
    status = va.status()
    assert status["counters"]["reload_failures"] == 1
    assert "ENOSPC" in status["last_reload"]["error"]
    assert statefs.recorded() == {VIP}, "the record is as it was"
    assert not list(statefs.path.glob("*.tmp")), "no partial file left behind"
    assert "changed settings taken over" not in log and "new instance" not in log
    _no_lost_errors(va)
    # The fault clears: the next SIGHUP applies the whole new config.
    statefs.free()
    _sighup_and_wait(va, "reload done")
    assert wait_for(notify.ready_after_reloading, 2) is not None, notify.messages
    assert va.instance()["base_priority"] == 200
    assert va.wait_state("MASTER", 3, name="VI_2") is not None, va.log()
    assert wait_for(lambda: a.has_address(VIP2) and a.has_address(VIP3), 3) is not None
    assert a.has_address(VIP)
    assert statefs.recorded() == {VIP, VIP2, VIP3}
    assert va.status()["last_reload"]["ok"] is True
    _no_lost_errors(va)
    assert va.stop() == 0


def _answers(vk: Vipkeeper) -> bool:
    try:
        return bool(vk.status().get("ok"))
    except (OSError, ValueError):
        return False


def _fds(pid: int) -> set[int]:
    return {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}


def test_reload_that_cannot_open_its_sockets_keeps_the_running_config(
    lab: NetLab, notify: NotifyListener
) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    for n, ifname in ((2, "vk1"), (3, "vk2"), (4, "vk3")):
        a.add_dummy(ifname)
        a.add_address(f"10.213.{n}.1/24", ifname)
    env = {"NOTIFY_SOCKET": notify.path}
    va = start_vipkeeper(lab, a, OLD, env=env)
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert va.proc is not None
    pid = va.proc.pid  # `ip netns exec` execs the daemon: the same process
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    new = config(
        instance_conf(priority=150, version=3, advert=0.1),
        instance_conf(name="VI_2", vrid=52, version=3, advert=0.1, interface="vk1",
                      vips=(f"{VIP2}/24",)),
        instance_conf(name="VI_3", vrid=53, version=3, advert=0.1, interface="vk2",
                      vips=(f"{VIP3}/24",)),
        instance_conf(name="VI_4", vrid=54, version=3, advert=0.1, interface="vk3",
                      vips=(f"{VIP4}/24",)),
    )  # fmt: skip
    va.write_config(new)
    # Two descriptors left: enough to read the config file (the loader holds its O_PATH
    # descriptor while it reopens the file), not for three new VRRP sockets.
    held = _fds(pid)
    free = [n for n in range(max(held) + 4) if n not in held]
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (free[2], limits[1]))
    try:
        _sighup_and_wait(va, "keeping the running config")
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    log = va.log()
    assert "cannot open a VRRP socket on vk3: [Errno 24] Too many open files" in log, log
    assert wait_for(notify.ready_after_reloading, 2) is not None, notify.messages
    # The control socket answers again (asyncio pauses accept() a second after an EMFILE).
    assert wait_for(lambda: _answers(va), 5) is not None
    status = va.status()
    assert [i["name"] for i in status["instances"]] == ["VI_1"], status
    assert status["last_reload"]["ok"] is False
    assert stays(
        lambda: (
            VIP2 not in a.addresses("vk1")
            and VIP3 not in a.addresses("vk2")
            and VIP4 not in a.addresses("vk3")
        ),
        1.0,
    )
    assert wait_for(lambda: _fds(pid) == held, 2) is not None, "the failed reload's are closed"
    _no_lost_errors(va)
    _sighup_and_wait(va, "reload done")
    assert va.wait_state("MASTER", 3, name="VI_2") is not None, va.log()
    assert va.wait_state("MASTER", 3, name="VI_3") is not None, va.log()
    assert va.wait_state("MASTER", 3, name="VI_4") is not None, va.log()
    assert wait_for(
        lambda: (
            VIP2 in a.addresses("vk1") and VIP3 in a.addresses("vk2") and VIP4 in a.addresses("vk3")
        ),
        3,
    )
    _no_lost_errors(va)


def _run_once(
    node: Node, workdir: Path, conf: str, state: Path
) -> subprocess.CompletedProcess[str]:
    path = workdir / "keepalived.conf"
    path.write_text(conf)
    argv = [
        sys.executable, "-m", "vipkeeper.cli", "run", "-f", str(path),
        "--control-socket", str(workdir / "control.sock"), "--state-dir", str(state),
    ]  # fmt: skip
    return node.run(argv, check=False, timeout=20)


def test_start_on_a_full_state_dir_is_a_clear_error(lab: NetLab, statefs: StateFs) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    statefs.fill()
    done = _run_once(a, Path(lab.workdir), OLD, statefs.path)
    assert done.returncode == 1, done.stderr
    assert "cannot write the VIP record" in done.stderr, done.stderr
    assert "[ENOSPC] No space left on device; not starting" in done.stderr
    assert "Traceback" not in done.stderr and LOST not in done.stderr
    assert not a.has_address(VIP)


def test_stop_on_a_full_state_dir_still_stops_cleanly(lab: NetLab, statefs: StateFs) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, OLD, "--state-dir", str(statefs.path))
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert wait_for(lambda: a.has_address(VIP), 2) is not None
    statefs.fill()
    assert va.stop() == 0, va.log()
    log = va.log()
    assert "cannot write the VIP record" in log and "ENOSPC" in log, log
    assert log.rstrip().endswith("stopped"), "every step of the stop ran"
    assert not a.has_address(VIP)
    assert statefs.recorded() == {VIP}, "the record could not be emptied: it lists the VIP"
    _no_lost_errors(va)


VIRTUAL_SERVER = """
virtual_server 10.213.1.200 80 {
  lb_algo rr
  lb_kind NAT
  protocol TCP
  real_server 10.213.1.50 80 {
    weight 1
  }
}
"""


def test_reload_that_brings_lvs_in_starts_it_on_the_dataplane_it_prepared(lab: NetLab) -> None:
    # The LVS dataplane is opened before anything is applied (a failure would keep the old
    # config); this checks the prepared manager is the one that starts and serves.
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, OLD)
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert va.status()["lvs"] is None
    va.write_config(OLD + VIRTUAL_SERVER)
    _sighup_and_wait(va, "reload done")
    lvs = va.status()["lvs"]
    assert lvs is not None and lvs["backend"] in ("ipvs", "nftables"), va.log()
    assert [len(v["real_servers"]) for v in lvs["virtual_servers"]] == [1], lvs
    assert lvs["errors"] == [], lvs
    _no_lost_errors(va)
    assert va.stop() == 0
