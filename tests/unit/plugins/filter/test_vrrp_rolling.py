"""The rolling restart filters: vrrp_waves (order) and vrrp_handover (one host's step)."""

from __future__ import annotations

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_handover import (
    FilterModule as Handover,
)
from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_plan import FilterModule as Plan
from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_waves import FilterModule as Waves
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars

vrrp_plan = Plan().filters()["vrrp_plan"]
vrrp_waves = Waves().filters()["vrrp_waves"]
vrrp_handover = Handover().filters()["vrrp_handover"]

HOSTS = [f"lb{i}" for i in range(1, 7)]
HOSTVARS = {
    h: hostvars(h, {"eth0": (f"10.213.5.{10 + i}/24", None)}) for i, h in enumerate(HOSTS, 1)
}


def cluster(name: str, hosts: list[str], vip: int, **extra: object) -> dict[str, object]:
    return {"name": name, "hosts": hosts, "interface": "eth0", "vips": [f"10.213.5.{vip}/24"],
            **extra}  # fmt: skip


def plan(*clusters: dict[str, object]) -> dict[str, object]:
    return vrrp_plan(list(clusters), HOSTVARS, settings={"single_host": "allow"})


def members(waves: list[list[str]], result: dict[str, object]) -> None:
    """No wave holds two members of one cluster, and every host is restarted once."""
    for wave in waves:
        for name, c in result["clusters"].items():
            assert len(set(wave) & set(c["hosts"])) <= 1, (wave, name)


def test_three_nodes_backups_first_master_last() -> None:
    p = plan(cluster("web", ["lb1", "lb2", "lb3"], 100))
    assert vrrp_waves(p, ["lb1", "lb2", "lb3"]) == [["lb2"], ["lb3"], ["lb1"]]
    # the master seen at run time wins over the plan's preference (after a failover, no preempt)
    assert vrrp_waves(p, ["lb1", "lb2", "lb3"], masters={"web": "lb2"}) == [
        ["lb1"],
        ["lb3"],
        ["lb2"],
    ]
    # only the pending hosts; the master waits for nothing when its backups are not pending
    assert vrrp_waves(p, ["lb1"]) == [["lb1"]]
    assert vrrp_waves(p, []) == []


def test_disjoint_clusters_share_waves_unless_serial() -> None:
    p = plan(cluster("web", ["lb1", "lb2"], 100), cluster("db", ["lb3", "lb4"], 101))
    waves = vrrp_waves(p, ["lb1", "lb2", "lb3", "lb4"])
    assert waves == [["lb2", "lb4"], ["lb1", "lb3"]]
    members(waves, p)
    serial = vrrp_waves(p, ["lb1", "lb2", "lb3", "lb4"], parallel=False)
    assert serial == [["lb2"], ["lb1"], ["lb4"], ["lb3"]]  # cluster by cluster


def test_host_in_two_clusters_never_shares_a_wave_with_a_peer() -> None:
    # lb2 is a backup of web and the master of api; lb1 masters web
    p = plan(cluster("web", ["lb1", "lb2", "lb3"], 100), cluster("api", ["lb2", "lb3"], 101))
    waves = vrrp_waves(p, ["lb1", "lb2", "lb3"])
    members(waves, p)
    order = [h for w in waves for h in w]
    assert sorted(order) == ["lb1", "lb2", "lb3"]
    assert order.index("lb3") < order.index("lb2") < order.index("lb1")


def test_masters_waiting_for_each_other_are_broken_once() -> None:
    # lb1 masters web and backs up api; lb2 masters api and backs up web: a cycle
    p = plan(cluster("web", ["lb1", "lb2"], 100), cluster("api", ["lb2", "lb1"], 101))
    waves = vrrp_waves(p, ["lb1", "lb2"])
    assert waves == [["lb1"], ["lb2"]]
    members(waves, p)


def test_hosts_in_no_cluster_go_first_and_bad_input_is_refused() -> None:
    p = plan(cluster("web", ["lb1", "lb2"], 100))
    assert vrrp_waves(p, ["lb1", "lb2", "lb6"]) == [["lb2", "lb6"], ["lb1"]]
    with pytest.raises(AnsibleFilterError, match="pending must be a list"):
        vrrp_waves(p, "lb1")
    with pytest.raises(AnsibleFilterError, match="expects the plan"):
        vrrp_waves(["web"], [])


def test_handover_of_the_master() -> None:
    p = plan(cluster("web", ["lb1", "lb2", "lb3"], 100), cluster("api", ["lb3", "lb1"], 101))
    info = {
        "masters": ["web"],
        "instances": [{"name": "web", "state": "MASTER"}, {"name": "api", "state": "FAULT"}],
    }
    step = vrrp_handover(p, "lb1", info)
    assert step["clusters"] == ["web", "api"]
    assert step["members"] == ["lb2", "lb3"]
    assert step["vips"] == ["10.213.5.100", "10.213.5.101"]
    assert step["instances"] == ["web", "api"]
    assert step["handover"] == [
        {"cluster": "web", "instance": "web", "vip": "10.213.5.100", "old_address": "10.213.5.11",
         "candidates": ["lb2", "lb3"], "demote": True},
    ]  # fmt: skip
    assert step["expect_master"] == ["web"]
    assert step["was_fault"] == ["api"]
    assert step["alone"] == []
    # a backup hands nothing over
    backup = vrrp_handover(p, "lb2", {"masters": [], "instances": []})
    assert backup["handover"] == [] and backup["expect_master"] == []


def test_handover_without_preempt_or_peers() -> None:
    p = plan(cluster("web", ["lb1", "lb2"], 100, preempt=False), cluster("solo", ["lb3"], 102))
    step = vrrp_handover(p, "lb1", {"masters": ["web"], "instances": []})
    assert [h["instance"] for h in step["handover"]] == ["web"]
    assert step["expect_master"] == []  # without preempt the new master keeps the VIP
    alone = vrrp_handover(p, "lb3", {"masters": ["solo"], "instances": []})
    assert alone["alone"] == ["solo"] and alone["handover"] == []
    assert alone["expect_master"] == ["solo"]
