"""SMTP alerts and the event notifies from a real `vipkeeper run` in namespaces (issue 18).

A node `m` runs the SMTP server (aiosmtpd, tests/daemon/smtpsink.py), or one that accepts
connections and never answers, or nothing at all (a refused port). The daemons change state,
and the mails are read back with their envelope and headers. The adverts keep their schedule
whatever the mail server does. notify_deleted and notify_master_rx_lower_pri are tried here
too, with their scripts and FIFO lines.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from netlab import NetLab, Node, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.1
MAIL_NODE = "10.213.1.9"
PORT = 2525
SINK = Path(__file__).with_name("smtpsink.py")
VIP2 = "10.213.1.101"


@contextmanager
def sink(lab: NetLab, node: Node, mode: str) -> Iterator[Path]:
    """The SMTP server of `mode` in `node`; yields the directory its mails land in."""
    out = Path(lab.workdir) / f"mail-{mode}"
    proc = node.popen([sys.executable, str(SINK), mode, MAIL_NODE, str(PORT), str(out)])
    try:
        assert wait_for(lambda: (out / "ready").exists() or proc.poll() is not None, 10)
        assert proc.poll() is None, f"the {mode} server did not start"
        yield out
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(5)


def mails(out: Path) -> list[dict[str, Any]]:
    """The mails received so far, in order."""
    return [json.loads(p.read_text()) for p in sorted(out.glob("[0-9]*.json"))]


def header(mail: dict[str, Any], name: str) -> str:
    """One header of a received mail."""
    head = mail["data"].split("\r\n\r\n", 1)[0]
    for line in head.split("\r\n"):
        if line.startswith(f"{name}: "):
            return line[len(name) + 2 :]
    raise AssertionError(f"no {name} in {head!r}")


def body(mail: dict[str, Any]) -> str:
    """The body of a received mail."""
    return str(mail["data"].split("\r\n\r\n", 1)[1].strip())


def subjects(out: Path) -> list[str]:
    """The Subject of every mail received so far."""
    return [header(m, "Subject") for m in mails(out)]


def mail_globals(extra: str = "", port: int = PORT) -> str:
    """global_defs lines that mail to node m."""
    return (
        "router_id lb-a\n  notification_email {\n    ops@example.org\n"
        '    "Ops Team <team@example.org>"\n  }\n  notification_email_from vk@example.org\n'
        f"  smtp_server {MAIL_NODE} {port}\n  smtp_helo_name lb-a.example.org\n  {extra}"
    )


def _script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def test_transitions_are_mailed_with_keepalived_headers(lab: NetLab) -> None:
    m = lab.add_node("m", addrs=[f"{MAIL_NODE}/24"])
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    with sink(lab, m, "smtp") as out:
        conf = config(
            instance_conf(priority=150, version=3, advert=ADV, extra="smtp_alert"),
            globals_=mail_globals(),
        )
        va = start_vipkeeper(lab, a, conf)
        assert va.wait_state("MASTER", 3) is not None, va.log()
        assert wait_for(lambda: len(mails(out)) >= 2, 5) is not None, va.log()
        assert va.stop() == 0
        # the stop's alert goes out before the daemon exits
        assert len(mails(out)) == 3, va.log()
        got = mails(out)
    assert subjects(out) == [
        "[lb-a] VRRP Instance VI_1 - Entering BACKUP state",
        "[lb-a] VRRP Instance VI_1 - Entering MASTER state",
        "[lb-a] VRRP Instance VI_1 - Stopping",
    ]
    assert [body(x) for x in got] == [
        "=> VRRP Instance is no longer owning VRRP VIPs <=",
        "=> VRRP Instance is now owning VRRP VIPs <=",
        "=> VRRP Instance stopping <=",
    ]
    for mail in got:
        assert mail["helo"] == "lb-a.example.org"
        assert mail["mail_from"] == "vk@example.org"
        assert mail["rcpt_tos"] == ["ops@example.org", "team@example.org"]
        assert header(mail, "From") == "vk@example.org"
        assert header(mail, "X-Mailer") == "Keepalived"
        assert "To: ops@example.org,\r\n Ops Team <team@example.org>\r\n" in mail["data"]
        assert time.strptime(header(mail, "Date"), "%a, %d %b %Y %H:%M:%S %z")


def test_sync_group_and_global_flags(lab: NetLab) -> None:
    """smtp_alert_vrrp mails the group and its members; no_email_faults leaves out FAULT."""
    m = lab.add_node("m", addrs=[f"{MAIL_NODE}/24"])
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    flag = Path(lab.workdir) / "ok"
    flag.write_text("1")
    head = (
        "vrrp_sync_group G {\n  group {\n    VI_1\n    VI_2\n  }\n}\n"
        f'vrrp_script chk {{\n  script "/usr/bin/test -f {flag}"\n  interval 1\n  fall 1\n}}\n'
    )
    track = "track_script {\n    chk\n  }"
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV, extra=track),
        instance_conf(name="VI_2", vrid=52, priority=150, version=3, advert=ADV,
                      vips=(f"{VIP2}/24",), extra="smtp_alert off"),
        globals_=mail_globals("smtp_alert_vrrp\n  no_email_faults"),
        head=head,
    )  # fmt: skip
    with sink(lab, m, "smtp") as out:
        va = start_vipkeeper(lab, a, conf)
        assert va.wait_state("MASTER", 3) is not None, va.log()
        want = {
            "[lb-a] VRRP Instance VI_1 - Entering BACKUP state",
            "[lb-a] VRRP Group G - Entering BACKUP state",
            "[lb-a] VRRP Instance VI_1 - Entering MASTER state",
            "[lb-a] VRRP Group G - Entering MASTER state",
        }
        assert wait_for(lambda: set(subjects(out)) >= want, 5) is not None, subjects(out)
        flag.unlink()
        assert va.wait_state("FAULT", 4) is not None, va.log()
        assert va.wait_state("FAULT", 2, name="VI_2") is not None
        time.sleep(1)  # a FAULT mail would have come by now
        assert va.stop() == 0
        assert wait_for(lambda: len(subjects(out)) >= 6, 3) is not None, subjects(out)
        got = subjects(out)
    # VI_2 says smtp_alert off; FAULT is never mailed (no_email_faults)
    assert not any("VI_2" in s or "FAULT" in s for s in got), got
    assert set(got) == want | {
        "[lb-a] VRRP Instance VI_1 - Stopping",
        "[lb-a] VRRP Group G - Stopping",
    }
    group_mail = next(x for x in mails(out) if header(x, "Subject").endswith("G - Stopping"))
    assert body(group_mail) == "=> All VRRP group instances are now stopping <="


def test_a_dead_mail_server_never_delays_the_adverts(lab: NetLab) -> None:
    """A server that accepts and never answers, then a refused port: every failure is counted
    and logged, and the master's adverts keep their 100 ms schedule."""
    m = lab.add_node("m", addrs=[f"{MAIL_NODE}/24"])
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    inst = instance_conf(priority=150, version=3, advert=ADV, extra="smtp_alert")
    with sink(lab, m, "silent") as out:
        conf = config(inst, globals_=mail_globals("smtp_connect_timeout 2"))
        va = start_vipkeeper(lab, a, conf)
        assert va.wait_state("MASTER", 3) is not None, va.log()
        # The BACKUP mail waits for a greeting that never comes (2 s), the MASTER one queues.
        assert wait_for((out / "accepted").exists, 3) is not None, va.log()
        sent = va.instance()["counters"]["adverts_sent"]
        started = time.monotonic()
        time.sleep(1.5)
        rate = (va.instance()["counters"]["adverts_sent"] - sent) / (time.monotonic() - started)
        assert rate >= 8, f"{rate:.1f} adverts/s while the mail server hangs"
        assert wait_for(lambda: va.status()["counters"]["smtp_failed"] >= 2, 6) is not None
        assert va.status()["counters"]["smtp_sent"] == 0
        assert "SMTP alert to 10.213.1.9:2525 not sent: timeout reading the reply" in va.log()
        assert va.instance()["state"] == "MASTER"
        assert va.stop() == 0
    # nothing listens now: refused at once
    va.write_config(config(inst, globals_=mail_globals()))
    va.start()
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert wait_for(lambda: va.status()["counters"]["smtp_failed"] >= 2, 3) is not None
    assert "Connect call failed" in va.log() or "Connection refused" in va.log()
    sent = va.instance()["counters"]["adverts_sent"]
    time.sleep(1)
    assert va.instance()["counters"]["adverts_sent"] >= sent + 8
    assert va.stop() == 0


def test_notify_deleted_at_reload(lab: NetLab) -> None:
    """A reload that removes an instance notifies DELETED with notify_deleted (its command,
    the generic notify, the FIFO line, the mail), and FAULT without it (keepalived's
    clear_diff_vrrp)."""
    m = lab.add_node("m", addrs=[f"{MAIL_NODE}/24"])
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    out_file = work / "notify.out"
    rec = _script(work / "rec.sh", f'echo "$*" >> {out_file}\n')
    fifo = work / "notify.fifo"

    def inst(name: str, vrid: int, vip: str, extra: str) -> str:
        notify = f'notify "{rec}"\n  notify_fault "{rec} fault-cmd {name}"\n  smtp_alert'
        return instance_conf(name=name, vrid=vrid, priority=150, version=3, advert=ADV,
                             vips=(f"{vip}/24",), extra=f"{notify}\n  {extra}")  # fmt: skip

    keep = inst("VI_1", 51, "10.213.1.100", "")
    deleted = inst("VI_2", 52, VIP2, f'notify_deleted "{rec} deleted-cmd"')
    faulted = inst("VI_3", 53, "10.213.1.102", "")
    globals_ = mail_globals(f"notify_fifo {fifo}")
    with sink(lab, m, "smtp") as out:
        va = start_vipkeeper(lab, a, config(keep, deleted, faulted, globals_=globals_))
        assert wait_for(fifo.exists, 3) is not None, va.log()
        fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
        try:
            for name in ("VI_1", "VI_2", "VI_3"):
                assert va.wait_state("MASTER", 3, name=name) is not None, va.log()
            assert wait_for(lambda: len(mails(out)) >= 6, 5) is not None, subjects(out)
            os.read(fd, 65536)  # what came before the reload
            out_file.write_text("")
            va.write_config(config(keep, globals_=globals_))
            va.signal(signal.SIGHUP)
            assert wait_for(lambda: len(va.status()["instances"]) == 1, 5) is not None
            want = {
                "[lb-a] VRRP Instance VI_2 - Deleted",
                "[lb-a] VRRP Instance VI_3 - Entering FAULT state",
            }
            assert wait_for(lambda: set(subjects(out)[6:]) == want, 5) is not None, subjects(out)
            lines: list[str] = []
            assert wait_for(lambda: lines.extend(os.read(fd, 65536).decode().splitlines())
                            or len(lines) >= 2, 3) is not None  # fmt: skip
        finally:
            os.close(fd)
        assert wait_for(lambda: len(out_file.read_text().splitlines()) >= 4, 3) is not None
        ran = sorted(out_file.read_text().splitlines())
        deleted_mail = next(x for x in mails(out) if header(x, "Subject").endswith("Deleted"))
        assert body(deleted_mail) == "=> VRRP Deleted at reload <="
        assert va.stop() == 0
    assert sorted(lines) == ['INSTANCE "VI_2" DELETED 150', 'INSTANCE "VI_3" FAULT 150']
    assert ran == [
        "INSTANCE VI_2 DELETED 150",
        "INSTANCE VI_3 FAULT 150",
        "deleted-cmd",
        "fault-cmd VI_3",
    ]


def test_notify_master_rx_lower_pri(lab: NetLab) -> None:
    """Two masters after a partition: when it heals, the higher one hears the lower one's
    advert and runs notify_master_rx_lower_pri, and writes MASTER_RX_LOWER_PRI to the FIFO."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    work = Path(lab.workdir)
    out_file = work / "rx.out"
    rec = _script(work / "rec.sh", f'echo "$*" >> {out_file}\n')
    fifo = work / "a.fifo"
    extra = f'notify_master_rx_lower_pri "{rec} rx-lower"'
    va = start_vipkeeper(
        lab,
        a,
        config(instance_conf(priority=150, version=3, advert=ADV, extra=extra),
               globals_=f"notify_fifo {fifo}"),
    )  # fmt: skip
    assert wait_for(fifo.exists, 3) is not None, va.log()
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        assert va.wait_state("MASTER", 3) is not None, va.log()
        assert not out_file.exists()
        b.cut()
        vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
        assert vb.wait_state("MASTER", master_down_interval(3, 100, ADV) + 2) is not None
        b.uncut()
        assert wait_for(out_file.exists, 3) is not None, va.log()
        assert vb.wait_state("BACKUP", 3) is not None
        assert va.state() == "MASTER"
        lines: list[str] = []
        event = 'INSTANCE "VI_1" MASTER_RX_LOWER_PRI 150'

        def heard() -> bool:
            lines.extend(os.read(fd, 65536).decode().splitlines())
            return event in lines

        assert wait_for(heard, 3), lines
    finally:
        os.close(fd)
    assert set(out_file.read_text().splitlines()) == {"rx-lower"}  # as written, no arguments
    assert va.stop() == 0
    assert vb.stop() == 0


def test_notify_priority_changes(lab: NetLab) -> None:
    """A change of the effective priority writes MASTER_PRIORITY (or BACKUP_PRIORITY) to the
    FIFO with notify_priority_changes, here inherited from vrrp_notify_priority_changes; an
    instance that says off writes nothing."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    work = Path(lab.workdir)
    weightfile = work / "weight"
    weightfile.write_text("0\n")
    fifo = work / "a.fifo"
    head = f'track_file tf {{\n  file "{weightfile}"\n  weight -1\n}}'
    track = "track_file {\n    tf\n  }"
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV, extra=track),
        instance_conf(name="VI_2", vrid=52, priority=150, version=3, advert=ADV,
                      vips=(f"{VIP2}/24",), extra=track + "\n  notify_priority_changes off"),
        globals_=f"notify_fifo {fifo}\n  vrrp_notify_priority_changes",
        head=head,
    )  # fmt: skip
    va = start_vipkeeper(lab, a, conf)
    assert wait_for(fifo.exists, 3) is not None, va.log()
    fd = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    lines: list[str] = []

    def has(line: str) -> bool:
        with contextlib.suppress(BlockingIOError):
            lines.extend(os.read(fd, 65536).decode().splitlines())
        return line in lines

    try:
        assert va.wait_state("MASTER", 3) is not None, va.log()
        assert va.wait_state("MASTER", 3, name="VI_2") is not None, va.log()
        weightfile.write_text("100\n")
        assert wait_for(lambda: has('INSTANCE "VI_1" MASTER_PRIORITY 50'), 3), lines
        assert va.stop() == 0
        assert wait_for(lambda: has('INSTANCE "VI_1" STOP 50'), 3), lines
    finally:
        os.close(fd)
    assert not any("VI_2" in x and "PRIORITY" in x for x in lines), lines
