"""preempt / nopreempt / preempt_delay, script tracking (weight and FAULT), interface down."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from daemon.vkd import VIP, Capture, config, holders, instance_conf, start_vipkeeper, stays
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.1
V = 3


def _mdi(prio: int) -> float:
    return master_down_interval(V, prio, ADV)


def _nodes(lab: NetLab):  # type: ignore[no-untyped-def]
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    return a, b


def test_preempt_higher_priority_takes_over(lab: NetLab) -> None:
    a, b = _nodes(lab)
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert vb.wait_state("MASTER", 3) is not None
    assert wait_for(lambda: holders([a, b]) == ["b"], 2) is not None
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=V, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], _mdi(150) + 2) is not None
    assert va.state() == "MASTER"
    assert vb.wait_state("BACKUP", 1) is not None
    assert "MASTER -> BACKUP: higher_priority_advert" in vb.log()


def test_nopreempt_keeps_the_current_master(lab: NetLab) -> None:
    a, b = _nodes(lab)
    extra = "nopreempt"
    vb = start_vipkeeper(
        lab, b, config(instance_conf(priority=100, version=V, advert=ADV, extra=extra))
    )
    assert vb.wait_state("MASTER", 3) is not None
    va = start_vipkeeper(
        lab, a, config(instance_conf(priority=150, version=V, advert=ADV, extra=extra))
    )
    assert va.wait_state("BACKUP", 2) is not None
    assert stays(lambda: holders([a, b]) == ["b"], 10 * _mdi(150))
    assert va.state() == "BACKUP" and vb.state() == "MASTER"
    assert va.instance()["master_address"] == "10.213.1.2"
    # The master going away still fails over to the nopreempt backup.
    b.cut()
    assert wait_for(lambda: a.has_address(VIP), _mdi(150) + 1) is not None


def test_preempt_delay_postpones_the_takeover(lab: NetLab) -> None:
    a, b = _nodes(lab)
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert vb.wait_state("MASTER", 3) is not None
    delay = 1.5
    conf = instance_conf(priority=150, version=V, advert=ADV, extra=f"preempt_delay {delay}")
    started = time.monotonic()
    va = start_vipkeeper(lab, a, config(conf))
    hold = delay - (time.monotonic() - started) - 0.1
    assert stays(lambda: holders([a, b]) == ["b"], hold), "no takeover before preempt_delay"
    took = wait_for(lambda: holders([a, b]) == ["a"], delay + _mdi(150) + 1)
    assert took is not None, va.log()
    assert time.monotonic() - started >= delay
    assert va.state() == "MASTER"


def _script_conf(flag: Path, weight: int, priority: int = 150) -> str:
    script = f"""
vrrp_script chk {{
  script "/usr/bin/test -f {flag}"
  interval 1
  timeout 1
  fall 1
  rise 1
  weight {weight}
}}
"""
    inst = instance_conf(
        priority=priority, version=V, advert=ADV, extra="track_script {\n    chk\n  }"
    )
    return config(inst, head=script)


@pytest.mark.parametrize("weight", [-60, 0])
def test_script_failure_fails_over(lab: NetLab, weight: int) -> None:
    a, b = _nodes(lab)
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    cap = Capture(c)
    flag = Path(lab.workdir) / "healthy"
    flag.write_text("ok\n")
    va = start_vipkeeper(lab, a, _script_conf(flag, weight))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], _mdi(150) + 2) is not None
    assert vb.wait_state("BACKUP", 2) is not None
    failed_at = time.time()
    flag.unlink()
    # The script runs every second: it fails within ~1 s, then b takes over.
    assert wait_for(lambda: holders([a, b]) == ["b"], 1 + 1 + _mdi(100) + 1) is not None, va.log()
    inst = va.instance()
    if weight == 0:
        assert inst["state"] == "FAULT"
        assert inst["faults"] == ["script:chk"]
        assert "MASTER -> FAULT: fault_detected" in va.log()
        # Leaving MASTER for FAULT resigns with a priority-0 advert.
        assert wait_for(
            lambda: any(
                p.prio == 0 and p.src == "10.213.1.1" for p in cap.since(failed_at, "vrrp")
            ),
            2,
        )
    else:
        assert inst["state"] == "BACKUP"
        assert inst["effective_priority"] == 90
        assert inst["base_priority"] == 150
        assert "effective priority 150 -> 90" in va.log()
    assert "vrrp_script chk is now FAILING" in va.log()
    flag.write_text("ok\n")
    assert wait_for(lambda: holders([a, b]) == ["a"], 1 + 1 + _mdi(150) + 1) is not None
    assert va.instance()["effective_priority"] == 150


def test_interface_down_means_fault(lab: NetLab) -> None:
    a, b = _nodes(lab)
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=V, advert=ADV)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], _mdi(150) + 2) is not None
    a.link_down()
    assert vb.wait_state("MASTER", _mdi(100) + 1) is not None
    assert va.wait_state("FAULT", 1) is not None, va.log()
    assert va.instance()["faults"] == ["interface:eth0"]
    assert wait_for(lambda: not a.has_address(VIP), 1) is not None
    assert wait_for(lambda: b.has_address(VIP), _mdi(100) + 1) is not None
    assert "interface eth0 is down" in va.log()
    a.link_up()
    assert wait_for(lambda: holders([a, b]) == ["a"], _mdi(150) + 2) is not None
    assert va.state() == "MASTER"
    assert "FAULT -> BACKUP: fault_cleared" in va.log()


def test_interface_deleted_and_recreated(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])

    def make_pair() -> None:
        a.run(["ip", "link", "add", "x0", "type", "veth", "peer", "name", "x1"])
        for dev in ("x0", "x1"):
            a.run(["ip", "link", "set", dev, "up"])
        a.run(["ip", "addr", "add", "10.213.9.1/24", "dev", "x0"])

    make_pair()
    conf = config(
        instance_conf(
            priority=150, version=3, advert=ADV, interface="x0", vips=("10.213.9.100/24",)
        )
    )
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", 2) is not None
    a.run(["ip", "link", "del", "x0"])
    assert va.wait_state("FAULT", 2) is not None, va.log()
    make_pair()
    assert va.wait_state("MASTER", 2 + _mdi(150)) is not None, va.log()
    assert wait_for(lambda: "10.213.9.100" in a.addresses("x0"), 2) is not None
    cap = Capture(a, "x1")
    seen = time.time()
    time.sleep(0.5)
    sent = [p for p in cap.since(seen, "vrrp") if p.src == "10.213.9.1"]
    assert len(sent) >= 3, "adverts flow on the new interface (the socket was re-bound)"
