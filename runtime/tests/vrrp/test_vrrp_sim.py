"""Two- and three-node simulations through a fake link (delays, drops, partitions)."""

from __future__ import annotations

import pytest
from vrrpkit import FakeLink, make_settings, of_type

from vipkeeper.vrrp.actions import SendAdvert, SendGratuitous, StateChanged
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import TrackScript
from vipkeeper.vrrp.state import State, Trigger

DELAY = 0.001


def node(n: int, priority: int, **kw: object) -> VrrpInstance:
    return VrrpInstance(
        make_settings(name=f"n{n}", priority=priority, source=f"10.213.0.{n}", **kw)  # type: ignore[arg-type]
    )


def became_master(link: FakeLink, inst: VrrpInstance) -> list[float]:
    return [t for t, c in link.changes(inst) if c.new is State.MASTER]


def last_advert_from(link: FakeLink, inst: VrrpInstance, before: float) -> float:
    idx = link.index(inst)
    return max(
        t
        for t, i, a in link.log
        if i == idx and isinstance(a, SendAdvert) and t <= before and a.priority
    )


def test_three_node_election() -> None:
    a, b, c = node(1, 100), node(2, 150), node(3, 200)
    link = FakeLink([a, b, c], DELAY)
    link.start_all()
    link.run_until(30.0)
    assert link.masters() == [c]
    assert became_master(link, c) == [pytest.approx(c.down_interval)]
    assert became_master(link, a) == became_master(link, b) == []
    assert link.max_masters_seen == 1


def test_equal_priority_higher_address_wins() -> None:
    a, b = node(1, 100), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(30.0)
    assert link.masters() == [b]
    # both timers ran out together; the lower address yielded on the first advert it saw
    assert [c.reason for _, c in link.changes(a)][-1] is Trigger.HIGHER_PRIORITY_ADVERT


@pytest.mark.parametrize("version", [2, 3])
def test_failover_when_master_goes_silent(version: int) -> None:
    a, b, c = (
        node(1, 200, version=version),
        node(2, 150, version=version),
        node(3, 100, version=version),
    )
    link = FakeLink([a, b, c], DELAY)
    link.start_all()
    link.run_until(10.05)
    assert link.masters() == [a]
    link.drop = lambda s, _d, _a: s == 0  # a keeps running but nothing it sends arrives
    silent_from = last_advert_from(link, a, 10.05)
    link.run_until(30.0)
    expected = silent_from + DELAY + b.down_interval
    assert became_master(link, b) == [pytest.approx(expected, abs=1e-9)]
    assert became_master(link, c) == []  # c's longer skew lost the race


def test_failover_boundary_exactly() -> None:
    a, b = node(1, 200), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.05)
    link.drop = lambda s, _d, _a: s == 0
    deadline = last_advert_from(link, a, 10.05) + DELAY + b.down_interval
    link.run_until(deadline - 1e-6)
    assert b.state is State.BACKUP
    link.run_until(deadline + 1e-6)
    assert b.state is State.MASTER


def test_handover_on_stop_after_the_skew() -> None:
    a, b = node(1, 200), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.5)
    acts = link.call(a, "stop")
    assert [x.priority for x in of_type(acts, SendAdvert)] == [0]
    link.run_until(20.0)
    assert became_master(link, b) == [pytest.approx(10.5 + DELAY + b.skew, abs=1e-9)]
    assert b.skew == pytest.approx(156 / 256)


def test_preempt_on_return() -> None:
    a, b = node(1, 200), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.5)
    link.call(a, "stop")
    link.run_until(20.0)
    assert link.masters() == [b]
    link.call(a, "start")
    link.run_until(40.0)
    assert link.masters() == [a]
    # a ignores the lower master and takes over when its own down timer runs out
    took = became_master(link, a)[-1]
    assert took == pytest.approx(20.0 + a.down_interval, abs=1e-9)
    # the old master yields as soon as the first advert of the new one arrives
    yielded = [t for t, c in link.changes(b) if c.old is State.MASTER][-1]
    assert yielded == pytest.approx(took + DELAY, abs=1e-9)


def test_nopreempt_on_return() -> None:
    a, b = node(1, 200, nopreempt=True), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.5)
    assert link.masters() == [a]
    link.call(a, "stop")
    link.run_until(20.0)
    link.call(a, "start")
    link.run_until(120.0)
    assert link.masters() == [b]
    assert a.state is State.BACKUP


def test_preempt_delay_on_return() -> None:
    a, b = node(1, 200, preempt_delay=15.0), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.5)
    link.call(a, "stop")
    link.run_until(20.0)
    link.call(a, "start")
    link.run_until(35.0)
    assert link.masters() == [b]
    link.run_until(60.0)
    assert link.masters() == [a]
    took = became_master(link, a)[-1]
    last_accepted = last_advert_from(link, b, 35.0) + DELAY
    assert took == pytest.approx(last_accepted + a.down_interval, abs=1e-9)


@pytest.mark.parametrize("no_advert", [False, True])
@pytest.mark.parametrize("phase", [0.0, 0.2, 0.45, 0.7, 0.95])
def test_partition_heal_one_master_and_garp_after_heal(phase: float, no_advert: bool) -> None:
    a = node(1, 200, lower_prio_no_advert=no_advert, garp_master_delay=0, garp_lower_prio_delay=0)
    b = node(2, 100, lower_prio_no_advert=no_advert)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.0)
    link.partition(a, b)
    link.run_until(20.0 + phase)
    assert link.masters() == [a, b]  # split brain
    heal = link.now
    link.heal()
    link.run_until(40.0)
    assert link.masters() == [a]
    stepped_down = [t for t, c in link.changes(b) if c.old is State.MASTER][-1]
    assert heal <= stepped_down <= heal + 1.0 + 2 * DELAY
    heal_garps = [t for t, g in link.garps(a, since=heal)]
    assert heal_garps, "the surviving master must GARP again after the heal"
    # at least one GARP after the loser has released the addresses, within one interval
    after = [t for t in heal_garps if t >= stepped_down]
    assert after
    assert after[0] <= stepped_down + 1.0 + 2 * DELAY


def test_without_parting_advert_the_heal_garp_depends_on_timing() -> None:
    """Why the parting advert exists: keepalived-style losers leave the winner unaware."""
    missed = 0
    for phase in (0.0, 0.2, 0.45, 0.7, 0.95):
        a = node(1, 200, garp_master_delay=0, garp_lower_prio_delay=0)
        b = node(2, 100, split_brain_parting_advert=False)
        link = FakeLink([a, b], DELAY)
        link.start_all()
        link.run_until(10.0)
        link.partition(a, b)
        link.run_until(20.0 + phase)
        heal = link.now
        link.heal()
        link.run_until(40.0)
        assert link.masters() == [a]
        if not link.garps(a, since=heal):
            missed += 1
    assert 0 < missed < 5


def test_tracking_drop_causes_failover() -> None:
    a = node(1, 150, track_scripts=(TrackScript("chk", weight=-60),))
    b = node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.0)
    assert link.masters() == [a]
    link.call(a, "set_script_result", "chk", False)
    assert a.priority == 90
    link.run_until(30.0)
    assert link.masters() == [b]
    last_high = max(
        t for t, i, x in link.log if i == 0 and isinstance(x, SendAdvert) and x.priority == 150
    )
    assert became_master(link, b) == [pytest.approx(last_high + DELAY + b.down_interval, abs=1e-9)]
    link.call(a, "set_script_result", "chk", True)
    link.run_until(50.0)
    assert link.masters() == [a]  # preempts back


def test_tracking_fault_hands_over_after_the_skew() -> None:
    a = node(1, 150, track_scripts=(TrackScript("chk"),))
    b = node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.0)
    link.call(a, "set_script_result", "chk", False)
    assert a.state is State.FAULT
    link.run_until(20.0)
    assert became_master(link, b) == [pytest.approx(10.0 + DELAY + b.skew, abs=1e-9)]


def test_three_nodes_lossy_link_settles() -> None:
    nodes = [node(1, 100), node(2, 150), node(3, 200)]
    link = FakeLink(nodes, 0.01)
    counter = iter(range(10**9))
    link.drop = lambda _s, _d, _a: next(counter) % 3 == 0  # a third of all deliveries lost
    link.start_all()
    link.run_until(60.0)
    link.drop = lambda _s, _d, _a: False
    link.max_masters_seen = 0
    link.run_until(90.0)
    assert link.masters() == [nodes[2]]
    assert link.max_masters_seen == 1


def test_every_state_change_is_logged_with_its_time() -> None:
    a, b = node(1, 200), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.0)
    for t, change in link.changes():
        assert isinstance(change, StateChanged)
        assert change.at == t
    assert all(isinstance(g, SendGratuitous) for _, g in link.garps(a))


def test_planned_switchover_with_demote() -> None:
    a, b = node(1, 200), node(2, 100)
    link = FakeLink([a, b], DELAY)
    link.start_all()
    link.run_until(10.5)
    link.call(a, "demote", 30.0)
    link.run_until(40.0)
    assert link.masters() == [b]
    assert became_master(link, b) == [pytest.approx(10.5 + DELAY + b.skew, abs=1e-9)]
    link.run_until(60.0)
    assert link.masters() == [a]  # the hold is over: a preempts again
    last_accepted = last_advert_from(link, b, 40.5) + DELAY
    assert became_master(link, a)[-1] == pytest.approx(last_accepted + a.down_interval, abs=1e-9)
