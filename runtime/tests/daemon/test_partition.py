"""A partition (VRRP dropped by nftables inside a node), then the heal."""

from __future__ import annotations

import time

import pytest
from daemon.vkd import (
    VIP,
    AddrWatch,
    Capture,
    config,
    holders,
    instance_conf,
    mac_of,
    start_vipkeeper,
)
from netlab import NetLab, Node, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.2
SLACK = 0.1

NFT_DROP_VRRP = """
table inet vkpart {
  chain vrrp_in { type filter hook input priority 0; meta l4proto 112 drop; }
  chain vrrp_out { type filter hook output priority 0; meta l4proto 112 drop; }
}
"""


def _partition(node: Node) -> None:
    node.run(["nft", "-f", "-"], input=NFT_DROP_VRRP)


def _heal(node: Node) -> None:
    node.run(["nft", "delete", "table", "inet", "vkpart"])


def test_partition_then_heal_leaves_one_master_and_garps(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    cap = Capture(c)
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 2)

    _partition(b)
    # b hears nothing any more: it becomes master too (split brain), and so holds the VIP.
    assert wait_for(lambda: holders([a, b]) == ["a", "b"], master_down_interval(3, 100, ADV) + 1)
    assert va.state() == "MASTER" and vb.state() == "MASTER"

    watch = AddrWatch(b)
    healed = time.time()
    _heal(b)
    assert wait_for(lambda: holders([a, b]) == ["a"], ADV + 2, 0.01) is not None, vb.log()
    removed = watch.removed_after(healed)
    assert removed is not None
    took = removed - healed  # the kernel's own timestamp of the VIP leaving b
    assert took <= ADV + SLACK, f"two masters for {took:.3f}s after the heal"
    assert vb.state() == "BACKUP" and va.state() == "MASTER"
    assert "MASTER -> BACKUP: higher_priority_advert" in vb.log()
    # The surviving master announces the VIP again after the heal (split-brain GARP).
    assert wait_for(
        lambda: any(p.target == VIP and p.mac == mac_of(a) for p in cap.since(healed, "garp")),
        2,
    ), "no GARP from the surviving master after the heal"
    assert va.instance()["counters"]["lower_priority_received"] >= 1
