"""Reload without a transition, reload of a broken config, SIGKILL then restart, dumps."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from daemon.vkd import (
    VIP,
    AddrWatch,
    config,
    holders,
    instance_conf,
    start_vipkeeper,
    stays,
)
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.1
VIP2 = "10.213.1.101"


def test_reload_keeps_unchanged_instances_without_a_transition(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    vi1 = instance_conf(priority=150, version=3, advert=ADV)
    va = start_vipkeeper(lab, a, config(vi1))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 2)
    assert vb.wait_state("BACKUP", 1) is not None
    before = va.instance()
    log_mark = len(va.log())
    lost: list[float] = []
    stop = threading.Event()

    def watch() -> None:  # the VIP must never leave a during the reloads
        while not stop.is_set():
            if not a.has_address(VIP):
                lost.append(time.time())
            time.sleep(0.01)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        # Same instance (moved down, comments added) plus a new one.
        vi2 = instance_conf(name="VI_2", vrid=52, priority=150, version=3, advert=ADV,
                            vips=(f"{VIP2}/24",))  # fmt: skip
        va.write_config(config(vi2, "# a comment\n! another\n" + vi1))
        va.signal(signal.SIGHUP)
        assert wait_for(lambda: "reload done: 2 instance(s)" in va.log(), 5), va.log()
        assert va.wait_state("MASTER", master_down_interval(3, 150, ADV) + 2, "VI_2") is not None
        assert wait_for(lambda: a.has_address(VIP2), 1) is not None
        after = va.instance()
        assert after["state"] == "MASTER"
        assert after["last_transition"] == before["last_transition"]
        assert after["counters"]["transitions"] == before["counters"]["transitions"]
        assert after["counters"]["adverts_sent"] > before["counters"]["adverts_sent"]
        # Removing VI_2 releases its VIP; VI_1 still does not move.
        va.write_config(config(vi1))
        va.signal(signal.SIGHUP)
        assert wait_for(lambda: not a.has_address(VIP2), 5) is not None, va.log()
        assert "(VI_2) removed from the config: stopping it" in va.log()
        assert va.instance()["last_transition"] == before["last_transition"]
    finally:
        stop.set()
        watcher.join()
    assert lost == [], "the VIP left the master during a reload"
    assert vb.state() == "BACKUP"
    assert va.status()["reloads"] == 2
    assert "(VI_1)" not in va.log()[log_mark:], "VI_1 logged nothing during the reloads"


def test_reload_with_a_broken_config_keeps_running(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    assert va.wait_state("MASTER", 2) is not None
    before = va.instance()
    va.write_config("vrrp_instance VI_1 {\n  priority banana\n  virtual_router_id 999\n")
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the running config" in va.log(), 5) is not None, va.log()
    assert "reload: (" in va.log(), "the errors are logged with file and line"
    assert stays(lambda: a.has_address(VIP) and va.alive(), 1)
    status = va.status()
    assert status["last_reload"]["ok"] is False
    assert status["counters"]["reload_failures"] == 1
    assert va.instance()["last_transition"] == before["last_transition"]


def test_a_reload_with_thousands_of_errors_logs_a_bounded_number(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    assert va.wait_state("MASTER", 2) is not None
    good = config(instance_conf(priority=150, version=3, advert=ADV))
    va.write_config(good + "".join(f"no_such_keyword_{i} 1\n" for i in range(3000)))
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the running config" in va.log(), 10) is not None, va.log()
    logged = [line for line in va.log().splitlines() if "reload: (" in line]
    assert len(logged) == 100, "the first hundred errors, with file and line"
    assert "reload: 2900 more error(s) not logged; `vipkeeper check -f" in va.log()
    assert va.status()["last_reload"]["errors"] == 3000
    assert a.has_address(VIP)


def test_sigkill_then_restart_removes_the_stale_vip(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 2)
    va.kill()
    assert wait_for(lambda: b.has_address(VIP), master_down_interval(3, 100, ADV) + 1)
    assert a.has_address(VIP), "a crash leaves the VIP behind"
    assert json.loads((va.workdir / "state" / "vips.json").read_text())["addresses"]
    # Restart with a lower priority: a must clean up at once and stay BACKUP.
    va.write_config(config(instance_conf(priority=50, version=3, advert=ADV)))
    va.start()
    assert not a.has_address(VIP), "the stale VIP is removed before the daemon answers"
    assert "removed stale VIP 10.213.1.100/24 from eth0" in va.log()
    assert stays(lambda: holders([a, b]) == ["b"], 1)
    assert va.state() == "BACKUP"
    assert vb.state() == "MASTER"


def test_dumps_status_command_and_demote(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 2)
    for sig, name in ((signal.SIGUSR1, "keepalived.data"), (signal.SIGUSR2, "keepalived.stats"),
                      (signal.SIGRTMIN + 2, "keepalived.json")):  # fmt: skip
        va.signal(sig)
        assert wait_for(lambda n=name: (va.workdir / n).exists(), 3) is not None, name
    assert "VRRP Instance = VI_1" in (va.workdir / "keepalived.data").read_text()
    assert "Advertisements:" in (va.workdir / "keepalived.stats").read_text()
    dumped = json.loads((va.workdir / "keepalived.json").read_text())
    assert dumped["instances"][0]["state"] == "MASTER"
    cli = [sys.executable, "-m", "vipkeeper.cli", "status", "--socket", va.sock]
    table = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    assert "VI_1" in table and "MASTER" in table and "150/150" in table
    as_json = json.loads(
        subprocess.run([*cli, "--json"], capture_output=True, text=True, check=True).stdout
    )
    inst = as_json["instances"][0]
    assert inst["base_priority"] == 150 and inst["master_address"] == "10.213.1.1"
    assert {"adverts_sent", "adverts_received", "drops"} <= set(inst["counters"])
    assert oct((va.workdir / "control.sock").stat().st_mode & 0o777) == "0o600"
    # A planned switchover: a resigns and holds BACKUP; b takes over at once.
    from vipkeeper.daemon.control import request

    answer = request(va.sock, {"command": "demote", "instance": "VI_1", "hold": 2})
    assert answer["ok"], answer
    assert wait_for(lambda: holders([a, b]) == ["b"], master_down_interval(3, 100, ADV))
    assert stays(lambda: holders([a, b]) == ["b"], 1.5)
    assert wait_for(lambda: holders([a, b]) == ["a"], 2 + master_down_interval(3, 150, ADV))


def test_a_starting_backup_removes_its_vips_found_on_the_interface(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=150, version=3, advert=ADV)))
    assert vb.wait_state("MASTER", 2) is not None
    a.add_address(f"{VIP}/24")  # left by keepalived, an admin, anything but our own record
    va = start_vipkeeper(lab, a, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: not a.has_address(VIP), 2) is not None, va.log()
    # The line follows the kernel's answer, so it may come a moment after the address is gone.
    removed = "(VI_1) removed VIP 10.213.1.100/24 from eth0"
    assert wait_for(lambda: removed in va.log(), 1) is not None, va.log()
    assert stays(lambda: holders([a, b]) == ["b"], 1)


def test_an_instance_that_cannot_start_is_reported(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    good = instance_conf(priority=150, version=3, advert=ADV)
    bad = instance_conf(name="VI_X", vrid=60, interface="nosuch0", version=3, advert=ADV)
    va = start_vipkeeper(lab, a, config(good, bad))
    assert va.wait_state("MASTER", 2) is not None
    status = va.status()
    assert status["not_started"] == {"VI_X": "interface nosuch0 does not exist"}
    assert "(VI_X) interface nosuch0 does not exist" in va.log()
    cli = [sys.executable, "-m", "vipkeeper.cli", "status", "--socket", va.sock]
    table = subprocess.run(cli, capture_output=True, text=True, check=True).stdout
    assert "VI_X: interface nosuch0 does not exist" in table


def test_reload_takes_over_a_new_notify_script_without_a_transition(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    work = Path(lab.workdir)
    for n in ("one", "two"):
        script = work / f"{n}.sh"
        script.write_text(f"#!/bin/sh\necho {n} >> {work / 'ran'}\n")
        script.chmod(0o755)

    def conf(n: str) -> str:
        extra = f'notify_backup "{work / n}.sh"'
        return config(instance_conf(priority=150, version=3, advert=ADV, extra=extra))

    va = start_vipkeeper(lab, a, conf("one"))
    assert va.wait_state("MASTER", 2) is not None
    before = va.instance()
    va.write_config(conf("two"))
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: "reload done" in va.log(), 5) is not None
    assert "(VI_1) changed settings taken over in place: notify" in va.log()
    assert va.instance()["last_transition"] == before["last_transition"]
    assert a.has_address(VIP)
    # The next transition runs the new script.
    start_vipkeeper(lab, b, config(instance_conf(priority=200, version=3, advert=ADV)))
    assert va.wait_state("BACKUP", 3) is not None
    assert wait_for(lambda: (work / "ran").exists() and "two" in (work / "ran").read_text(), 3)
    assert (work / "ran").read_text().split() == ["one", "two"]  # "one" ran at start (BACKUP)


@contextlib.contextmanager
def opening_held(path: Path) -> Iterator[Callable[[], bool]]:
    """Hold a write lease on `path`: whoever opens it waits until the block ends.

    The kernel (fcntl F_SETLEASE) holds another process's open(2) of a leased file until the
    lease holder lets go (or /proc/sys/fs/lease-break-time passes, 45 s by default). Yields a
    predicate that is true once someone is waiting to open the file. The lease break sends
    SIGIO, ignored meanwhile.
    """
    old = signal.signal(signal.SIGIO, signal.SIG_IGN)
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        yield lambda: fcntl.fcntl(fd, fcntl.F_GETLEASE) != fcntl.F_WRLCK
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
    finally:
        os.close(fd)
        signal.signal(signal.SIGIO, old)


def test_a_reload_that_finishes_after_sigterm_starts_nothing(lab: NetLab) -> None:
    # The new config includes a file the test holds a write lease on, so the loader's open of
    # it waits until the test lets go: after SIGTERM, while the daemon waits on its slow
    # notify_stop script. Were the reload applied then, VI_2 (state MASTER) would add VIP2
    # during the shutdown. (An included FIFO held the load before; a FIFO is now refused
    # without being opened, see test_an_included_fifo_fails_the_reload_at_once.)
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    mark = work / "stop-ran"
    script = work / "stop.sh"
    script.write_text(f"#!/bin/sh\ntouch {mark}\nsleep 2\n")
    script.chmod(0o755)
    more = work / "more.conf"
    vi2 = instance_conf(name="VI_2", vrid=52, priority=200, state="MASTER", version=3,
                        advert=ADV, vips=(f"{VIP2}/24",))  # fmt: skip
    more.write_text(vi2)
    vi1 = instance_conf(priority=150, version=3, advert=ADV, extra=f'notify_stop "{script}"')
    va = start_vipkeeper(lab, a, config(vi1))
    assert va.wait_state("MASTER", 2) is not None
    watch = AddrWatch(a)
    with opening_held(more) as opening:
        va.write_config(config(vi1, head=f"include {more}"))
        va.signal(signal.SIGHUP)
        assert wait_for(lambda: "reloading" in va.log(), 3) is not None, va.log()
        va.signal(signal.SIGTERM)
        assert wait_for(mark.exists, 5) is not None, va.log()
        assert wait_for(opening, 2) is not None, "the reload never opened the included file"
    assert va.proc is not None
    assert va.proc.wait(15) == 0
    log = va.log()
    assert "reload abandoned: stopping" in log, log
    assert "reload done" not in log
    assert "(VI_2)" not in log
    assert watch.added_after(0, VIP2, timeout=0.5) is None, "VIP2 was added during the stop"
    assert not a.has_address(VIP2) and not a.has_address(VIP)


def test_an_included_fifo_fails_the_reload_at_once(lab: NetLab) -> None:
    # A FIFO is refused without being opened (keepalived reads only regular files): the reload
    # fails, the running config stays, and the daemon still stops on SIGTERM. It used to wait
    # for a writer forever, and then could not stop.
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    fifo = Path(lab.workdir) / "more.conf"
    os.mkfifo(fifo)
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    assert va.wait_state("MASTER", 2) is not None
    before = va.instance()
    va.write_config(
        config(instance_conf(priority=150, version=3, advert=ADV), head=f"include {fifo}")
    )
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: "keeping the running config" in va.log(), 5) is not None, va.log()
    assert f"included file '{fifo}' is a FIFO, not a regular file; not read" in va.log()
    with pytest.raises(OSError) as nobody:  # no reader holds the FIFO open
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
    assert nobody.value.errno == errno.ENXIO
    assert va.instance()["last_transition"] == before["last_transition"] and a.has_address(VIP)
    assert va.stop(10) == 0
