"""100,000 malformed or mutated packets at running daemons: no crash, no state change, counted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from daemon.vkd import config, holders, instance_conf, start_vipkeeper
from netlab import NetLab, Node, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = [pytest.mark.netns, pytest.mark.slow]
MUTATE = Path(__file__).with_name("mutate.py")
COUNT = 100_000


def _raw_drops(node: Node) -> int:
    """Packets the kernel dropped at the node's protocol-112 raw sockets (full buffers)."""
    total = 0
    for line in node.run(["cat", "/proc/net/raw"]).stdout.splitlines()[1:]:
        fields = line.split()
        if fields[1].endswith(":0070"):  # local "address:protocol", 0x70 = 112
            total += int(fields[-1])
    return total


def _dropped(status: dict) -> int:  # type: ignore[type-arg]
    """Packets the daemon counted as not acceptable: core drops, unknown VRID, not VRRP."""
    c = status["counters"]
    return (
        c["unknown_vrid"]
        + c["not_vrrp"]
        + sum(sum(i["counters"]["drops"].values()) for i in status["instances"])
    )


def test_mutated_packets_are_counted_and_change_nothing(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    adv = 0.5
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=adv)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=adv)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, adv) + 2)
    assert vb.wait_state("BACKUP", 2) is not None
    before = {n: v.status() for n, v in (("a", va), ("b", vb))}

    # Half to the multicast group (both daemons), half unicast to the backup.
    out = c.run([sys.executable, str(MUTATE), str(COUNT), "10.213.1.3", "224.0.0.18",
                 "10.213.1.2"], timeout=300).stdout  # fmt: skip
    assert int(out) == COUNT

    expected = {"a": COUNT // 2, "b": COUNT}
    for name, vk, node in (("a", va, a), ("b", vb, b)):
        assert vk.alive(), vk.log()

        def dropped(vk=vk, name=name) -> int:  # type: ignore[no-untyped-def]
            return _dropped(vk.status()) - _dropped(before[name])

        # Wait until the daemon has read everything that reached its socket.
        wait_for(lambda dropped=dropped, node=node, name=name: dropped() + _raw_drops(node)
                 >= expected[name], 30, 0.2)  # fmt: skip
        lost = _raw_drops(node)
        counted = dropped()
        # Every mutated packet that reached the daemon is counted as dropped, none is taken.
        assert expected[name] - lost <= counted <= expected[name], (name, counted, lost)
        assert lost < expected[name] // 10, f"{name}: the kernel dropped {lost} packets"
        after = vk.status()
        inst_before, inst_after = before[name]["instances"][0], after["instances"][0]
        assert inst_after["state"] == inst_before["state"]
        assert inst_after["last_transition"] == inst_before["last_transition"]
        assert inst_after["counters"]["transitions"] == inst_before["counters"]["transitions"]
        reasons = inst_after["counters"]["drops"]
        assert {"too_short", "checksum", "ttl"} <= set(reasons), reasons
    assert holders([a, b]) == ["a"]
    assert va.state() == "MASTER" and vb.state() == "BACKUP"
