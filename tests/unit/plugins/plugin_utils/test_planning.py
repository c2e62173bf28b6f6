"""Planning: derived values, pins, and every inventory error with its message."""

from __future__ import annotations

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import HostFacts
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    Settings,
    derive_auth_pass,
    plan,
    plan_from_dict,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hosts

LB = hosts({"lb1": "10.213.1.11/24", "lb2": "10.213.1.12/24", "lb3": "10.213.1.13/24"})


def cluster(name: str, **kw: object) -> dict[str, object]:
    base: dict[str, object] = {
        "name": name,
        "hosts": ["lb1", "lb2"],
        "interface": "eth0",
        "vips": ["10.213.1.100/24"],
    }
    base.update(kw)
    return base


def errors_of(
    clusters: list[dict[str, object]], facts: dict[str, HostFacts] | None = None, **kw: object
) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        plan(clusters, LB if facts is None else facts, **kw)
    return info.value.errors


def test_priorities_and_states_follow_host_order() -> None:
    result = plan([cluster("web", hosts=["lb2", "lb1", "lb3"])], LB)
    (inst,) = result.clusters[0].instances
    assert [(m.host, m.priority, m.state) for m in inst.members] == [
        ("lb2", 150, "MASTER"),
        ("lb1", 140, "BACKUP"),
        ("lb3", 130, "BACKUP"),
    ]
    assert inst.version == 2
    assert inst.mcast_group is None  # the default group, 224.0.0.18
    assert 1 <= inst.vrid <= 255
    assert inst.domains == ("ipv4:10.213.1.0/24",)


def test_nopreempt_makes_every_host_backup() -> None:
    (inst,) = plan([cluster("db", preempt=False)], LB).clusters[0].instances
    assert {m.state for m in inst.members} == {"BACKUP"}
    assert [m.priority for m in inst.members] == [150, 140]
    assert inst.preempt is False


def test_pins_are_honoured() -> None:
    spec = cluster(
        "web",
        vrid=42,
        hosts=[{"name": "lb1", "priority": 200}, {"name": "lb2", "state": "MASTER"}],
        mcast_group="239.1.2.3",
    )
    (inst,) = plan([spec], LB).clusters[0].instances
    assert inst.vrid == 42
    assert inst.mcast_group == "239.1.2.3"
    assert [(m.priority, m.state) for m in inst.members] == [(200, "MASTER"), (140, "MASTER")]


def test_same_pinned_vrid_in_different_domains_is_fine() -> None:
    facts = {**LB, **hosts({"db1": "10.213.2.11/24", "db2": "10.213.2.12/24"})}
    other = cluster("db", hosts=["db1", "db2"], vips=["10.213.2.100/24"], vrid=7)
    result = plan([cluster("web", vrid=7), other], facts)
    assert [c.instances[0].vrid for c in result.clusters] == [7, 7]


def test_ipv6_vips_get_their_own_v3_instance_and_a_sync_group() -> None:
    facts = hosts(
        {"lb1": ("10.213.1.11/24", "fd00:213::11/64"), "lb2": ("10.213.1.12/24", "fd00:213::12/64")}
    )
    spec = cluster("web", vips=["10.213.1.100/24", "fd00:213::100/64"], secret="s3")
    result = plan([spec], facts)
    v4, v6 = result.clusters[0].instances
    assert (v4.name, v4.family, v4.version) == ("web", "ipv4", 2)
    assert (v6.name, v6.family, v6.version) == ("web_v6", "ipv6", 3)
    assert v6.vips == ("fd00:213::100/64",)
    assert result.clusters[0].sync_group == "web_group"
    assert v4.auth_pass == derive_auth_pass("s3", "web")
    assert v6.auth_pass is None  # VRRPv3 has no authentication


def test_ipv6_only_cluster_keeps_the_cluster_name() -> None:
    facts = hosts({"lb1": (None, "fd00:213::11/64"), "lb2": (None, "fd00:213::12/64")})
    result = plan([cluster("v6", vips=["fd00:213::100/64"])], facts)
    (inst,) = result.clusters[0].instances
    assert (inst.name, inst.version, inst.domains) == ("v6", 3, ("ipv6:fd00:213::/64",))
    assert result.clusters[0].sync_group is None


def test_version_3_for_ipv4_on_request() -> None:
    (inst,) = plan([cluster("web", version=3, advert_int=0.5)], LB).clusters[0].instances
    assert (inst.version, inst.advert_int) == (3, 0.5)


def test_unicast_peers_and_sources_come_from_facts() -> None:
    spec = cluster(
        "db", hosts=["lb1", "lb2", {"name": "lb3", "address": "10.213.1.99"}], unicast=True
    )
    (inst,) = plan([spec], LB).clusters[0].instances
    members = {m.host: m for m in inst.members}
    assert members["lb1"].address == "10.213.1.11"
    assert members["lb1"].peers == ("10.213.1.12", "10.213.1.99")
    assert members["lb3"].address == "10.213.1.99"
    assert members["lb3"].peers == ("10.213.1.11", "10.213.1.12")
    assert inst.mcast_group is None


def test_unicast_across_subnets_is_allowed_and_joins_both_domains() -> None:
    facts = hosts({"a": "10.213.1.11/24", "b": "10.213.2.11/24"})
    spec = cluster(
        "cloud", hosts=["a", "b"], unicast=True, check_vip_network=False, vips=["10.213.9.9/32"]
    )
    (inst,) = plan([spec], facts).clusters[0].instances
    assert inst.domains == ("ipv4:10.213.1.0/24", "ipv4:10.213.2.0/24")


def test_auth_pass_is_eight_chars_and_keyed_by_cluster_and_secret() -> None:
    one = derive_auth_pass("secret", "web")
    assert len(one) == 8
    assert one == derive_auth_pass("secret", "web")
    assert one != derive_auth_pass("secret", "db")
    assert one != derive_auth_pass("other", "web")
    result = plan([cluster("web")], LB, secrets={"web": "secret"})
    assert result.clusters[0].instances[0].auth_pass == one
    fallback = plan([cluster("web")], LB, Settings(secret="site"))
    assert fallback.clusters[0].instances[0].auth_pass == derive_auth_pass("site", "web")


def test_unique_multicast_groups_come_from_the_pool() -> None:
    clusters = [cluster(f"c{i}", hosts=["lb1", "lb2"]) for i in range(20)]
    result = plan(clusters, LB, Settings(mcast_unique=True, mcast_pool4="239.255.213.0/24"))
    groups = [c.instances[0].mcast_group for c in result.clusters]
    assert len(set(groups)) == 20
    assert all(g is not None and g.startswith("239.255.213.") for g in groups)


def test_plan_dict_round_trip_renders_the_same_plan() -> None:
    result = plan([cluster("web", secret="x", track=[{"name": "n", "script": "/bin/true"}])], LB)
    again = plan_from_dict(result.to_dict(redact=False))
    assert again == result
    assert result.to_dict()["clusters"]["web"]["instances"][0]["auth_pass"] == "********"


def test_plan_ignores_inventory_order() -> None:
    clusters = [cluster(f"c{i}") for i in range(30)]
    forward = plan(clusters, LB).lock()
    backward = plan(list(reversed(clusters)), LB).lock()
    assert forward == backward


# --- errors, each with its message -----------------------------------------------------------


def test_duplicate_pinned_vrids_in_one_domain() -> None:
    (msg,) = errors_of([cluster("web", vrid=9), cluster("api", vrid=9, hosts=["lb2", "lb3"])])
    assert "duplicate pinned VRID 9 in domain ipv4:10.213.1.0/24" in msg
    assert "cluster api (ipv4; hosts lb2, lb3)" in msg
    assert "cluster web (ipv4; hosts lb1, lb2)" in msg


def test_more_than_255_clusters_in_one_domain() -> None:
    errors = errors_of([cluster(f"c{i:03}") for i in range(256)])
    assert len(errors) == 1
    assert errors[0].startswith(
        "256 clusters share domain ipv4:10.213.1.0/24 but only 255 VRIDs exist (1..255):"
    )
    assert "cluster c000 (ipv4; hosts lb1, lb2)" in errors[0]
    assert "cluster c255" in errors[0]


def test_255_clusters_in_one_domain_fit() -> None:
    result = plan([cluster(f"c{i:03}") for i in range(255)], LB)
    assert sorted(c.instances[0].vrid for c in result.clusters) == list(range(1, 256))


def test_unknown_host() -> None:
    (msg,) = errors_of([cluster("web", hosts=["lb1", "ghost"])])
    assert msg == "cluster web: unknown host ghost (not in the inventory)"


def test_vip_outside_the_interface_network() -> None:
    errors = errors_of([cluster("web", vips=["10.213.7.1/24"])])
    assert errors == (
        "cluster web: VIP 10.213.7.1/24 is outside the network of eth0 on host lb1 (10.213.1.0/24)",
        "cluster web: VIP 10.213.7.1/24 is outside the network of eth0 on host lb2 (10.213.1.0/24)",
    )


def test_one_host_cluster_warns_by_default() -> None:
    result = plan([cluster("solo", hosts=["lb1"])], LB)
    assert result.warnings == (
        "cluster solo has one host (lb1): no failover is possible"
        " (set allow_single_host: true on the cluster if intended)",
    )


def test_one_host_cluster_allowed_is_silent() -> None:
    assert plan([cluster("solo", hosts=["lb1"], allow_single_host=True)], LB).warnings == ()


def test_one_host_cluster_can_be_made_an_error() -> None:
    (msg,) = errors_of([cluster("solo", hosts=["lb1"])], settings=Settings(single_host="error"))
    assert msg.startswith("cluster solo has one host (lb1)")


def test_missing_facts_not_gathered() -> None:
    facts = {**LB, "lb2": HostFacts("lb2", None)}
    (msg,) = errors_of([cluster("web")], facts)
    assert msg == "cluster web: missing facts for host lb2 (gather facts first)"


def test_missing_facts_no_such_interface() -> None:
    (msg,) = errors_of([cluster("web", hosts=["lb1", {"name": "lb2", "interface": "bond0"}])])
    assert msg == "cluster web: missing facts: host lb2 has no interface bond0"


def test_missing_facts_no_ipv6_address() -> None:
    errors = errors_of([cluster("web", vips=["fd00::1/64"])])
    assert errors[0] == "cluster web: missing facts: host lb1 has no ipv6 address on eth0"


def test_multicast_cluster_spanning_networks() -> None:
    facts = hosts({"a": "10.213.1.11/24", "b": "10.213.2.11/24"})
    (msg,) = errors_of([cluster("x", hosts=["a", "b"], check_vip_network=False)], facts)
    assert msg == (
        "cluster x: hosts a, b span several networks (ipv4:10.213.1.0/24, ipv4:10.213.2.0/24);"
        " multicast VRRP needs one broadcast domain: set unicast: true"
    )


def test_unknown_keys_are_named() -> None:
    (msg,) = errors_of([cluster("web", vird=5)])
    assert msg == "cluster web: unknown keys vird"


def test_duplicate_cluster_names() -> None:
    (msg,) = errors_of([cluster("web"), cluster("web")])
    assert msg == "cluster web is defined twice"


def test_nopreempt_with_pinned_master() -> None:
    (msg,) = errors_of(
        [cluster("db", preempt=False, hosts=[{"name": "lb1", "state": "MASTER"}, "lb2"])]
    )
    assert msg == "cluster db: host lb1: preempt: false needs state BACKUP"


def test_address_owner_priority_with_nopreempt() -> None:
    (msg,) = errors_of(
        [cluster("db", preempt=False, hosts=[{"name": "lb1", "priority": 255}, "lb2"])]
    )
    assert msg == "cluster db: host lb1: priority 255 (address owner) with preempt: false"


def test_v2_cannot_carry_ipv6() -> None:
    facts = hosts(
        {"lb1": ("10.213.1.11/24", "fd00::11/64"), "lb2": ("10.213.1.12/24", "fd00::12/64")}
    )
    (msg,) = errors_of([cluster("web", version=2, vips=["fd00::100/64"])], facts)
    assert msg == "cluster web: VRRPv2 cannot carry IPv6 VIPs; drop version: 2"


def test_all_problems_are_reported_at_once() -> None:
    errors = errors_of(
        [cluster("a", hosts=["nope"]), cluster("b", vips=["10.9.9.9/24"], hosts=["lb1", "lb2"])]
    )
    assert errors[0] == "cluster a: unknown host nope (not in the inventory)"
    assert any(e.startswith("cluster b: VIP 10.9.9.9/24 is outside") for e in errors)


def test_tracking_the_vrrp_interface_itself_is_rejected() -> None:
    errors = errors_of([cluster("web", track_interfaces=["eth1", "eth0"])])
    assert errors[0] == (
        "cluster web: track_interfaces names eth0, the VRRP interface of host lb1,"
        " which is always tracked (keepalived -t rejects it)"
    )


def test_preempt_delay_starts_every_host_as_backup() -> None:
    (inst,) = plan([cluster("web", preempt_delay=30)], LB).clusters[0].instances
    assert (inst.preempt_delay, {m.state for m in inst.members}) == (30, {"BACKUP"})
    assert [m.priority for m in inst.members] == [150, 140]  # the first host still wins


def test_preempt_delay_with_pinned_master() -> None:
    (msg,) = errors_of(
        [cluster("web", preempt_delay=30, hosts=[{"name": "lb1", "state": "MASTER"}, "lb2"])]
    )
    assert msg == "cluster web: host lb1: preempt_delay needs state BACKUP"
