"""Unicast peers, IPv6 with VRRPv3, and a wrong password (ignored and counted)."""

from __future__ import annotations

import signal
import time

import pytest
from daemon.vkd import (
    VIP,
    Capture,
    config,
    holders,
    instance_conf,
    mac_of,
    start_vipkeeper,
    stays,
)
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval, skew_time

pytestmark = pytest.mark.netns


def test_unicast_peers(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    cap = Capture(b)

    def conf(me: str, peer: str, prio: int) -> str:
        extra = f"unicast_src_ip {me}\n  unicast_peer {{\n    {peer}\n  }}"
        return config(instance_conf(priority=prio, version=2, advert=1, extra=extra))

    va = start_vipkeeper(lab, a, conf("10.213.1.1", "10.213.1.2", 150))
    vb = start_vipkeeper(lab, b, conf("10.213.1.2", "10.213.1.1", 100))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(2, 150, 1) + 2)
    assert vb.wait_state("BACKUP", 1) is not None
    seen = time.time()
    time.sleep(2.2)
    adverts = cap.since(seen, "vrrp")
    assert adverts
    assert {(p.src, p.dst, p.prio) for p in adverts} == {("10.213.1.1", "10.213.1.2", 150)}
    assert not [p for p in cap.since(0, "vrrp") if p.dst == "224.0.0.18"], "no multicast"
    assert vb.instance()["counters"]["adverts_received"] >= 2
    va.signal(signal.SIGTERM)
    took = wait_for(lambda: b.has_address(VIP), skew_time(2, 100, 1) + 1, 0.005)
    assert took is not None and took <= skew_time(2, 100, 1) + 0.1
    assert vb.state() == "MASTER"


def test_ipv6_vrrpv3(lab: NetLab) -> None:
    vip6 = "fd00:213::100"
    a = lab.add_node("a", addrs=["fd00:213::1/64"])
    b = lab.add_node("b", addrs=["fd00:213::2/64"])
    c = lab.add_node("c", addrs=["fd00:213::3/64"])
    cap = Capture(c)
    adv = 0.1

    def conf(prio: int) -> str:
        return config(
            instance_conf(priority=prio, version=3, advert=adv, vips=(f"{vip6}/64",), auth=None)
        )

    va = start_vipkeeper(lab, a, conf(150))
    vb = start_vipkeeper(lab, b, conf(100))
    assert wait_for(
        lambda: holders([a, b, c], vip6) == ["a"], master_down_interval(3, 150, adv) + 3
    )
    assert vb.wait_state("BACKUP", 1) is not None
    time.sleep(0.5)
    v6 = [p for p in cap.since(0, "vrrp") if p.dst == "ff02::12"]
    assert v6 and all(p.version == 3 for p in v6)
    assert {p.prio for p in v6 if p.at > time.time() - 0.3} == {150}
    assert all(p.src.startswith("fe80::") for p in v6), "adverts come from the link-local address"
    nas = [p for p in cap.since(0, "na") if p.target == vip6]
    assert nas and {p.mac for p in nas} == {mac_of(a)}
    assert va.instance()["source"].startswith("fe80::")
    a.cut()
    bound = master_down_interval(3, 100, adv) + 0.1
    took = wait_for(lambda: b.has_address(vip6), bound + 2, 0.005)
    assert took is not None and took <= bound, took


def test_wrong_password_is_ignored_and_counted(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, auth="secret1")))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, auth="other")))
    # Each ignores the other's adverts, so both become master.
    assert wait_for(lambda: holders([a, b]) == ["a", "b"], master_down_interval(2, 100, 1) + 2)
    assert stays(lambda: holders([a, b]) == ["a", "b"], 2)
    assert va.state() == "MASTER" and vb.state() == "MASTER"
    drops = vb.instance()["counters"]["drops"]
    assert drops.get("auth_password", 0) >= 2, drops
    assert va.instance()["counters"]["drops"].get("auth_password", 0) >= 2
    assert "advert dropped (auth_password)" in vb.log()


def test_configured_multicast_group(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    cap = Capture(b)
    conf = config(instance_conf(priority=150, version=3, advert=0.1),
                  globals_="vrrp_mcast_group4 224.0.0.19")  # fmt: skip
    va = start_vipkeeper(lab, a, conf)
    vb = start_vipkeeper(lab, b, conf.replace("priority 150", "priority 100"))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, 0.1) + 2)
    assert vb.wait_state("BACKUP", 1) is not None
    time.sleep(0.3)
    dsts = {p.dst for p in cap.since(0, "vrrp")}
    assert dsts == {"224.0.0.19"}, dsts
    # b accepts them (right checksum for the group): it counts them and drops none.
    inst = vb.instance()
    assert inst["counters"]["adverts_received"] >= 2
    assert inst["counters"]["drops"] == {}
    assert va.instance()["multicast_group"] == "224.0.0.19"
