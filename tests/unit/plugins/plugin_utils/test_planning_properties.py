"""Property tests: VRIDs unique per domain, stable with the lock, pins honoured."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.allocate import (
    Request,
    allocate,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    Settings,
    plan,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hosts

# Four subnets with three hosts each: s<n>h<m> has 10.213.<n>.<m>/24.
SUBNETS = 4
FACTS = hosts({f"s{n}h{m}": f"10.213.{n}.{10 + m}/24" for n in range(SUBNETS) for m in range(3)})
NAMES = st.text("abcdefghij", min_size=1, max_size=6)


@st.composite
def cluster_specs(draw: Any) -> dict[str, Any]:
    """A cluster on one subnet (multicast) or across two subnets (unicast)."""
    name = draw(NAMES)
    first = draw(st.integers(0, SUBNETS - 1))
    if draw(st.booleans()):
        second = draw(st.integers(0, SUBNETS - 1))
        hosts_ = (
            [f"s{first}h0", f"s{second}h1"] if second != first else [f"s{first}h0", f"s{first}h1"]
        )
        return {"name": name, "hosts": hosts_, "interface": "eth0", "unicast": True,
                "vips": [f"10.213.{first}.200/32"], "check_vip_network": False}  # fmt: skip
    return {"name": name, "hosts": [f"s{first}h0", f"s{first}h1", f"s{first}h2"],
            "interface": "eth0", "vips": [f"10.213.{first}.200/24"]}  # fmt: skip


def unique_by_name(specs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for spec in specs:
        seen.setdefault(spec["name"], spec)
    return list(seen.values())


CLUSTER_LISTS = st.lists(cluster_specs(), max_size=40).map(unique_by_name)
FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def vrids_by_domain(result: Any) -> dict[str, list[int]]:
    by_domain: dict[str, list[int]] = {}
    for cluster in result.clusters:
        for inst in cluster.instances:
            for domain in inst.domains:
                by_domain.setdefault(domain, []).append(inst.vrid)
    return by_domain


@FAST
@given(CLUSTER_LISTS)
def test_vrids_are_unique_in_every_domain(specs: list[dict[str, Any]]) -> None:
    result = plan(specs, FACTS)
    for vrids in vrids_by_domain(result).values():
        assert len(vrids) == len(set(vrids))
        assert all(1 <= v <= 255 for v in vrids)


@FAST
@given(CLUSTER_LISTS, CLUSTER_LISTS, st.data())
def test_the_lock_keeps_every_surviving_cluster(
    before: list[dict[str, Any]], added: list[dict[str, Any]], data: Any
) -> None:
    opts = Settings(mcast_unique=True)
    first = plan(before, FACTS, opts)
    removed = data.draw(
        st.sets(st.sampled_from([c["name"] for c in before])) if before else st.just(set())
    )
    names = {c["name"] for c in before}
    after = [c for c in before if c["name"] not in removed]
    after += [c for c in added if c["name"] not in names]
    second = plan(data.draw(st.permutations(after)), FACTS, opts, lock=first.lock())
    old, new = first.lock(), second.lock()
    for name in names - removed:
        assert new[name] == old[name]  # VRID and multicast group, per family
    for vrids in vrids_by_domain(second).values():
        assert len(vrids) == len(set(vrids))


@FAST
@given(CLUSTER_LISTS, st.data())
def test_pins_are_honoured(specs: list[dict[str, Any]], data: Any) -> None:
    pinned: dict[str, int] = {}
    used: dict[str, set[int]] = {}
    for spec in specs:
        if not data.draw(st.booleans()):
            continue
        subnets = {h[1] for h in spec["hosts"]}
        vrid = data.draw(st.integers(1, 255))
        if any(vrid in used.get(s, set()) for s in subnets):
            continue
        for s in subnets:
            used.setdefault(s, set()).add(vrid)
        spec["vrid"] = pinned[spec["name"]] = vrid
    result = plan(specs, FACTS)
    for cluster in result.clusters:
        if cluster.name in pinned:
            assert cluster.instances[0].vrid == pinned[cluster.name]
    for vrids in vrids_by_domain(result).values():
        assert len(vrids) == len(set(vrids))


@FAST
@given(st.lists(st.tuples(NAMES, st.sets(st.sampled_from("ABCD"), min_size=1)), max_size=60))
def test_allocator_never_shares_a_slot_within_a_domain(items: list[tuple[str, set[str]]]) -> None:
    requests = {key: Request(key, frozenset(doms)) for key, doms in items}
    result = allocate(requests.values(), first=1, last=16)
    if result.errors:
        assert any("no free VRID" in e or "only 16 VRIDs" in e for e in result.errors)
        return
    for a in requests.values():
        for b in requests.values():
            if a.key < b.key and a.domains & b.domains:
                assert result.slots[a.key] != result.slots[b.key]
