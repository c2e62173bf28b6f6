"""reconcile.plan: minimal, idempotent, leaves foreign services alone."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from vipkeeper.config.model import LbKind
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, Table, state
from vipkeeper.lvs.reconcile import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    apply_to,
    plan,
)

K1 = ServiceKey(family=4, protocol="TCP", address="10.213.2.100", port=80)
K2 = ServiceKey(family=4, protocol="UDP", address="10.213.2.100", port=53)
D1 = DestKey("10.213.1.11", 80)
D2 = DestKey("10.213.1.12", 80)


def test_empty_to_one_service() -> None:
    desired = {K1: state(Service(K1, "wrr"), [Dest(D1, 3), Dest(D2, 1)])}
    ops = plan(desired, {})
    assert ops == [
        AddService(Service(K1, "wrr")),
        AddDest(K1, Dest(D1, 3)),
        AddDest(K1, Dest(D2, 1)),
    ]
    assert plan(desired, apply_to({}, ops)) == []


def test_weight_and_scheduler_change_touch_only_what_changed() -> None:
    actual = {
        K1: state(Service(K1, "wrr"), [Dest(D1, 3), Dest(D2, 1)]),
        K2: state(Service(K2, "rr"), [Dest(DestKey("10.213.1.11", 53))]),
    }
    desired = dict(actual)
    desired[K1] = state(Service(K1, "rr"), [Dest(D1, 0), Dest(D2, 1)])
    assert plan(desired, actual) == [EditService(Service(K1, "rr")), EditDest(K1, Dest(D1, 0))]


def test_removed_dest_and_service() -> None:
    actual = {
        K1: state(Service(K1), [Dest(D1), Dest(D2)]),
        K2: state(Service(K2), [Dest(DestKey("10.213.1.11", 53))]),
    }
    desired = {K1: state(Service(K1), [Dest(D1)])}
    assert plan(desired, actual) == [DelService(K2), DelDest(K1, D2)]


def test_foreign_services_are_not_deleted() -> None:
    actual = {K2: state(Service(K2), [])}
    assert plan({}, actual, managed={K1}) == []
    assert plan({}, actual, managed={K2}) == [DelService(K2)]


def test_method_change_is_an_edit() -> None:
    actual = {K1: state(Service(K1), [Dest(D1, 1, LbKind.NAT)])}
    desired = {K1: state(Service(K1), [Dest(D1, 1, LbKind.DR)])}
    assert plan(desired, actual) == [EditDest(K1, Dest(D1, 1, LbKind.DR))]


keys = st.sampled_from([K1, K2, ServiceKey(family=4, protocol="", fwmark=7)])
dkeys = st.sampled_from([D1, D2, DestKey("10.213.1.13", 0)])
dests = st.builds(Dest, dkeys, st.integers(0, 5), st.sampled_from(list(LbKind)))
services = st.builds(
    lambda k, s, ds: state(Service(k, s), ds),
    keys,
    st.sampled_from(["rr", "wrr", "sh"]),
    st.lists(dests),
)
tables = st.lists(services).map(lambda ss: {s.service.key: s for s in ss})


@given(tables, tables)
def test_plan_reaches_desired_and_is_idempotent(desired: Table, actual: Table) -> None:
    after = apply_to(actual, plan(desired, actual))
    assert after == desired
    assert plan(desired, after) == []
