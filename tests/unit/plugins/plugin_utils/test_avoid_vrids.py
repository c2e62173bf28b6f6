"""Settings.avoid_vrids: VRIDs of foreign routers are never assigned in their domains."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.allocate import (
    Request,
    allocate,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    settings_from,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    Settings,
    plan,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hosts
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.test_planning_properties import (  # noqa: E501
    CLUSTER_LISTS,
    FACTS,
    SUBNETS,
)

# lb1/lb2 on eth0 in 10.213.1.0/24, db1/db2 on eth0 in 10.213.2.0/24.
LB = hosts(
    {
        "lb1": "10.213.1.11/24",
        "lb2": "10.213.1.12/24",
        "db1": "10.213.2.11/24",
        "db2": "10.213.2.12/24",
    }
)
ONE_DOMAIN = [{"name": f"c{i:03}", "hosts": ["lb1", "lb2"], "interface": "eth0",
               "vips": ["10.213.1.100/24"]} for i in range(20)]  # fmt: skip
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def web(**kw: Any) -> dict[str, Any]:
    return {"name": "web", "hosts": ["lb1", "lb2"], "interface": "eth0",
            "vips": ["10.213.1.100/24"], **kw}  # fmt: skip


def db(**kw: Any) -> dict[str, Any]:
    return {"name": "db", "hosts": ["db1", "db2"], "interface": "eth0",
            "vips": ["10.213.2.100/24"], **kw}  # fmt: skip


def vrids(result: Any) -> dict[str, int]:
    return {c.name: c.instances[0].vrid for c in result.clusters}


def avoiding(*entries: dict[str, Any]) -> Settings:
    return settings_from({"avoid_vrids": list(entries)})


def test_an_avoided_vrid_is_never_assigned_and_the_cluster_moves_on() -> None:
    taken = vrids(plan([web()], LB))["web"]
    by_network = vrids(plan([web()], LB, avoiding({"vrid": taken, "network": "10.213.1.0/24"})))
    by_iface = vrids(plan([web()], LB, avoiding({"vrid": taken, "family": "ipv4",
                                                 "interface": "eth0"})))  # fmt: skip
    assert by_network["web"] != taken
    assert by_iface["web"] == by_network["web"]


def test_the_scan_result_shape_is_accepted_as_is() -> None:
    # vipkeeper.vrrp.vrrp_scan returns vrids: [{vrid, family, interface}]
    scanned = [{"vrid": v, "family": "ipv4", "interface": "eth0"} for v in range(1, 200)]
    result = plan([web()], LB, avoiding(*scanned))
    assert vrids(result)["web"] >= 200


def test_only_matching_domains_avoid_it() -> None:
    first = vrids(plan([web(), db()], LB))
    other = avoiding({"vrid": first["db"], "network": "10.213.1.0/24"})
    assert vrids(plan([web(), db()], LB, other))["db"] == first["db"]  # other network
    ipv6 = avoiding({"vrid": first["web"], "family": "ipv6", "interface": "eth0"})
    assert vrids(plan([web()], LB, ipv6))["web"] == first["web"]  # other family
    elsewhere = avoiding({"vrid": first["web"], "family": "ipv4", "interface": "eth1"})
    assert vrids(plan([web()], LB, elsewhere))["web"] == first["web"]  # other interface
    db_only = avoiding({"vrid": first["web"], "family": "ipv4", "interface": "eth0", "host": "db1"})
    assert vrids(plan([web()], LB, db_only))["web"] == first["web"]  # heard by another host
    lb_only = avoiding({"vrid": first["web"], "family": "ipv4", "interface": "eth0", "host": "lb2"})
    assert vrids(plan([web()], LB, lb_only))["web"] != first["web"]


def test_a_pinned_vrid_on_an_avoided_one_is_an_error_naming_the_cluster() -> None:
    with pytest.raises(PlanError) as info:
        plan([web(vrid=51)], LB, avoiding({"vrid": 51, "family": "ipv4", "interface": "eth0"}))
    assert info.value.errors == (
        "cluster web (ipv4; hosts lb1, lb2): pinned VRID 51 is used by a foreign VRRP router"
        " (vipkeeper_avoid_vrids) in domain ipv4:10.213.1.0/24",
    )


def test_a_locked_vrid_on_an_avoided_one_moves_with_a_warning() -> None:
    before = plan([web()], LB)
    taken = vrids(before)["web"]
    after = plan([web()], LB, avoiding({"vrid": taken, "network": "10.213.1.0/24"}), before.lock())
    assert vrids(after)["web"] != taken
    assert any(f"locked VRID {taken} is now held by a foreign VRRP router" in w
               for w in after.warnings)  # fmt: skip


def test_a_domain_with_every_vrid_avoided_is_full() -> None:
    every = [{"vrid": v, "network": "10.213.1.0/24"} for v in range(1, 256)]
    with pytest.raises(PlanError) as info:
        plan([web()], LB, avoiding(*every))
    assert info.value.errors[0].startswith(
        "1 clusters share domain ipv4:10.213.1.0/24 but only 0 VRIDs are free (1..255):"
    )


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("51", "vipkeeper_avoid_vrids[0]: must be a mapping"),
        ({"vrid": 0, "network": "10.0.0.0/8"}, "vrid must be an integer 1..255, not 0"),
        ({"vrid": "7", "network": "10.0.0.0/8"}, "vrid must be an integer 1..255, not '7'"),
        ({"vrid": 7, "family": "ipv4"}, "give exactly one of interface"),
        ({"vrid": 7, "interface": "eth0", "network": "10.0.0.0/8"}, "give exactly one of"),
        ({"vrid": 7, "host": "lb1", "network": "10.0.0.0/8"}, "give exactly one of"),
        ({"vrid": 7, "interface": "eth0"}, "family must be ipv4 or ipv6, not None"),
        ({"vrid": 7, "network": "nowhere"}, "network 'nowhere' is not a network"),
        ({"vrid": 7, "network": "10.0.0.0/8", "source": "x"}, "unknown keys source"),
    ],
)
def test_bad_entries_are_named(entry: Any, message: str) -> None:
    with pytest.raises(PlanError) as info:
        plan([web()], LB, avoiding(entry))
    assert any(message in e for e in info.value.errors), info.value.errors


def test_avoid_vrids_must_be_a_list() -> None:
    with pytest.raises(PlanError) as info:
        plan([web()], LB, Settings(avoid_vrids="51"))  # type: ignore[arg-type]
    assert info.value.errors == ("vipkeeper_avoid_vrids must be a list",)


def test_allocate_never_gives_a_reserved_slot() -> None:
    reqs = [Request(key=f"k{i}", domains=frozenset({"d"})) for i in range(5)]
    result = allocate(reqs, first=1, last=6, reserved={"d": {3: "someone"}})
    assert sorted(result.slots.values()) == [1, 2, 4, 5, 6]
    full = allocate([*reqs, Request(key="k9", domains=frozenset({"d"}))], first=1, last=6,
                    reserved={"d": {3: "someone"}})  # fmt: skip
    assert full.errors and "only 5 VRIDs are free" in full.errors[0]


# --- properties ------------------------------------------------------------------------------

AVOID = st.lists(
    st.builds(
        lambda vrid, subnet, by_iface: (
            {"vrid": vrid, "family": "ipv4", "interface": "eth0"}
            if by_iface
            else {"vrid": vrid, "network": f"10.213.{subnet}.0/24"}
        ),
        st.integers(1, 255),
        st.integers(0, SUBNETS - 1),
        st.booleans(),
    ),
    max_size=60,
)


def avoided_domains(entry: dict[str, Any]) -> set[str]:
    if "network" in entry:
        return {f"ipv4:{entry['network']}"}
    return {f"ipv4:10.213.{n}.0/24" for n in range(SUBNETS)}


@FAST
@given(CLUSTER_LISTS, AVOID)
def test_avoided_vrids_are_never_assigned(specs: list[dict[str, Any]], avoid: list[Any]) -> None:
    try:
        result = plan(specs, FACTS, Settings(avoid_vrids=avoid))
    except PlanError as exc:  # only a full domain may fail: 40 clusters, 60 avoided never fill it
        raise AssertionError(exc.errors) from exc
    for cluster in result.clusters:
        for inst in cluster.instances:
            for entry in avoid:
                if avoided_domains(entry) & set(inst.domains):
                    assert inst.vrid != entry["vrid"], (cluster.name, entry)


@FAST
@given(CLUSTER_LISTS, st.lists(st.integers(1, 255), max_size=40), st.booleans())
def test_the_plan_is_unchanged_when_nothing_collides(
    specs: list[dict[str, Any]], candidates: list[int], with_lock: bool
) -> None:
    base = plan(specs, FACTS, Settings(mcast_unique=True))
    used = {inst.vrid for c in base.clusters for inst in c.instances}
    free = [v for v in candidates if v not in used]
    avoid = [{"vrid": v, "family": "ipv4", "interface": "eth0"} for v in free]
    lock = base.lock() if with_lock else None
    again = plan(specs, FACTS, Settings(mcast_unique=True, avoid_vrids=avoid), lock)
    assert again.to_dict() == base.to_dict()
    assert again.warnings == base.warnings


@FAST
@given(CLUSTER_LISTS, AVOID)
def test_with_the_lock_only_colliding_clusters_move(
    specs: list[dict[str, Any]], avoid: list[Any]
) -> None:
    base = plan(specs, FACTS)
    again = plan(specs, FACTS, Settings(avoid_vrids=avoid), base.lock())
    before = {(c.name, i.family): i for c in base.clusters for i in c.instances}
    for cluster in again.clusters:
        for inst in cluster.instances:
            old = before[(cluster.name, inst.family)]
            hit = any(
                e["vrid"] == old.vrid and avoided_domains(e) & set(old.domains) for e in avoid
            )
            assert (inst.vrid != old.vrid) if hit else (inst.vrid == old.vrid), cluster.name
