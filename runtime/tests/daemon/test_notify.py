"""Notify scripts and their arguments, the notify FIFO, a hung notify, track_file, sync groups."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from daemon.vkd import config, holders, instance_conf, start_vipkeeper
from netlab import NetLab, wait_for
from procs import wait_gone

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.1
VIP2 = "10.213.1.101"


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _fifo_reader(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_NONBLOCK)


def _read_fifo(fd: int) -> list[str]:
    try:
        return os.read(fd, 65536).decode().splitlines()
    except BlockingIOError:
        return []


def test_notify_scripts_fifo_and_order(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    out = work / "notify.out"
    rec = _script(work / "rec.sh", f'echo "$*" >> {out}\n')
    fifo = work / "notify.fifo"
    notify = (
        f'notify_master "{rec} master-cmd"\n  notify_backup "{rec} backup-cmd"\n'
        f'  notify_stop "{rec} stop-cmd"\n  notify "{rec}"'
    )
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV, extra=notify),
        globals_=f"notify_fifo {fifo}",
    )
    va = start_vipkeeper(lab, a, conf)
    # The control socket answers before the FIFO is made (start-up goes on after it listens).
    assert wait_for(fifo.exists, 2) is not None, va.log()
    fd = _fifo_reader(fifo)
    try:
        assert va.wait_state("MASTER", 2) is not None
        va.stop()
        lines: list[str] = []
        assert wait_for(lambda: lines.extend(_read_fifo(fd)) or len(lines) >= 3, 3) is not None
    finally:
        os.close(fd)
    # keepalived's FIFO lines (the first, BACKUP, may predate our reader: it is buffered).
    assert lines == [
        'INSTANCE "VI_1" BACKUP 150',
        'INSTANCE "VI_1" MASTER 150',
        'INSTANCE "VI_1" STOP 150',
    ]
    # Specific then generic, in transition order, with keepalived's arguments.
    assert out.read_text().splitlines() == [
        "backup-cmd",
        "INSTANCE VI_1 BACKUP 150",
        "master-cmd",
        "INSTANCE VI_1 MASTER 150",
        "stop-cmd",
        "INSTANCE VI_1 STOP 150",
    ]


def test_a_hung_notify_is_killed_and_the_next_still_runs(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    pidfile, done = work / "hung.pid", work / "stop.done"
    hung = _script(work / "hung.sh", f"echo $$ > {pidfile}\nexec sleep 600\n")
    stop = _script(work / "stop.sh", f"touch {done}\n")
    extra = f'notify_master "{hung}"\n  notify_stop "{stop}"'
    va = start_vipkeeper(
        lab, a, config(instance_conf(priority=150, version=3, advert=ADV, extra=extra))
    )
    assert va.wait_state("MASTER", 2) is not None
    # The advert timer does not wait for the hung notify.
    sent = va.instance()["counters"]["adverts_sent"]
    time.sleep(1)
    assert va.instance()["counters"]["adverts_sent"] >= sent + 8
    assert wait_for(pidfile.exists, 2) is not None
    pid = int(pidfile.read_text())
    assert va.stop(timeout=20) == 0
    assert done.exists(), "the stop notify ran after the hung one was killed"
    assert "hung; killed after" in va.log()
    assert wait_gone(pid, 2), f"the hung notify {pid} outlived the stop"


def test_track_file_weight_moves_the_master(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    weightfile = Path(lab.workdir) / "weight"
    weightfile.write_text("0\n")
    head = f'track_file tf {{\n  file "{weightfile}"\n  weight -1\n}}'
    inst = instance_conf(priority=150, version=3, advert=ADV, extra="track_file {\n    tf\n  }")
    va = start_vipkeeper(lab, a, config(inst, head=head))
    start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 2)
    weightfile.write_text("100\n")
    assert wait_for(lambda: holders([a, b]) == ["b"], 1 + master_down_interval(3, 100, ADV))
    assert va.instance()["effective_priority"] == 50
    weightfile.write_text("300\n")  # 300 x -1 < -253: FAULT
    assert va.wait_state("FAULT", 2) is not None
    weightfile.write_text("0\n")
    assert wait_for(lambda: holders([a, b]) == ["a"], 2 + master_down_interval(3, 150, ADV))


def test_sync_group_members_move_together(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    flag = Path(lab.workdir) / "ok"
    flag.write_text("1")
    group = "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
    script = f'vrrp_script chk {{\n  script "/usr/bin/test -f {flag}"\n  interval 1\n}}\n'

    def conf(prio: int, track: bool) -> str:
        return config(
            instance_conf(priority=prio, version=3, advert=ADV),
            instance_conf(
                name="VI_2",
                vrid=52,
                priority=prio,
                version=3,
                advert=ADV,
                vips=(f"{VIP2}/24",),
                extra="track_script {\n    chk\n  }" if track else "",
            ),
            head=group + script,
        )

    va = start_vipkeeper(lab, a, conf(150, True))
    vb = start_vipkeeper(lab, b, conf(100, False))
    bound = master_down_interval(3, 150, ADV) + 2
    assert wait_for(lambda: holders([a, b]) == ["a"] and holders([a, b], VIP2) == ["a"], bound)
    flag.unlink()  # only VI_2 tracks the script; the group takes VI_1 along
    assert wait_for(lambda: holders([a, b]) == ["b"] and holders([a, b], VIP2) == ["b"], 4)
    assert va.state("VI_1") == "FAULT" and va.state("VI_2") == "FAULT"
    assert vb.status()["sync_groups"] == {"G": "MASTER"}
    assert va.status()["sync_groups"] == {"G": "FAULT"}
    flag.write_text("1")
    assert wait_for(lambda: holders([a, b]) == ["a"] and holders([a, b], VIP2) == ["a"], 4)


def test_static_addresses_routes_and_fifo_script(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    out, pidfile = work / "fifo.out", work / "reader.pid"
    reader = _script(
        work / "reader.sh",
        f'echo $$ > {pidfile}\nwhile read -r line; do echo "$line" >> {out}; done < "$1"\n',
    )
    fifo = work / "vrrp.fifo"
    head = (
        "static_ipaddress {\n  10.213.7.7/24 dev eth0\n}\n"
        "static_routes {\n  10.213.60.0/24 via 10.213.1.254 dev eth0\n}\n"
    )
    globals_ = f"vrrp_notify_fifo {fifo}\n  vrrp_notify_fifo_script {reader}"
    inst = instance_conf(priority=150, version=3, advert=ADV)
    va = start_vipkeeper(lab, a, config(inst, head=head, globals_=globals_))
    assert va.wait_state("MASTER", 2) is not None
    assert wait_for(lambda: a.has_address("10.213.7.7"), 2) is not None
    assert "10.213.60.0/24 via 10.213.1.254" in a.run(["ip", "route"]).stdout
    assert wait_for(lambda: out.exists() and 'INSTANCE "VI_1" MASTER 150' in out.read_text(), 3)
    # A reload without the static entries removes them; VI_1 does not move.
    va.write_config(config(inst, globals_=globals_))
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: not a.has_address("10.213.7.7"), 3) is not None, va.log()
    assert "10.213.60.0/24" not in a.run(["ip", "route"]).stdout
    assert va.state() == "MASTER" and a.has_address("10.213.1.100")
    pid = int(pidfile.read_text())
    assert va.stop() == 0
    assert wait_for(lambda: not Path(f"/proc/{pid}").exists(), 3) is not None, "reader ended"
    assert 'INSTANCE "VI_1" STOP 150' in out.read_text()
