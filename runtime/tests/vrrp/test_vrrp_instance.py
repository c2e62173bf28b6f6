"""One instance with an explicit clock: every rule, every timer boundary just before and after."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from vrrpkit import ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import (
    AddRoutes,
    AddVips,
    AdvertDropped,
    IntervalMismatch,
    PriorityChanged,
    RemoveRoutes,
    RemoveVips,
    RunNotify,
    SendAdvert,
    SendGratuitous,
    StateChanged,
    WriteNotifyFifo,
)
from vipkeeper.vrrp.errors import DropReason, LocalProtocolError
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import decode_advert
from vipkeeper.vrrp.settings import InstanceSettings, Notify, TrackScript, VirtualRoute
from vipkeeper.vrrp.state import State, Trigger

EPS = 1e-6
PEER = "10.213.0.9"  # higher than our 10.213.0.1


def rx(inst: VrrpInstance, priority: int, now: float, source: str = PEER, **adv: object) -> list:
    data = peer_advert(inst.settings, priority, source, **adv)
    return inst.receive_advert(data, ip(source), mcast(inst.settings), 255, now)


def started(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(make_settings(**kw))  # type: ignore[arg-type]
    inst.start(0.0)
    return inst


def master(**kw: object) -> VrrpInstance:
    inst = started(**kw)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER
    return inst


def changes(actions: list) -> list[tuple[State, State, Trigger]]:
    return [(a.old, a.new, a.reason) for a in of_type(actions, StateChanged)]


# ---- start and the master-down timer --------------------------------------------------------


@pytest.mark.parametrize(
    ("kw", "expected"),
    [
        ({"version": 2, "priority": 100}, 3 + 156 / 256),
        ({"version": 3, "priority": 100}, 3 + 156 / 256),
        ({"version": 3, "priority": 100, "advert_int": 0.5}, 1.5 + 156 * 0.5 / 256),
        ({"version": 3, "priority": 254, "advert_int": 2.0}, 6 + 2 * 2 / 256),
        ({"version": 2, "priority": 1, "advert_int": 4}, 12 + 255 / 256),
        ({"version": 3, "priority": 100, "down_timer_adverts": 5}, 5 + 156 / 256),
    ],
)
def test_backup_becomes_master_exactly_at_master_down_interval(
    kw: dict[str, object], expected: float
) -> None:
    inst = VrrpInstance(make_settings(**kw))  # type: ignore[arg-type]
    assert inst.get_timer() is None
    acts = inst.start(10.0)
    assert changes(acts) == [(State.INIT, State.BACKUP, Trigger.STARTED)]
    assert not of_type(acts, SendAdvert)
    assert inst.get_timer() == pytest.approx(10.0 + expected, abs=1e-9)
    assert inst.handle_timer(10.0 + expected - EPS) == []
    assert inst.state is State.BACKUP
    acts = inst.handle_timer(10.0 + expected + EPS)
    assert changes(acts) == [(State.BACKUP, State.MASTER, Trigger.MASTER_DOWN_TIMER)]


def test_exactly_at_the_deadline_counts() -> None:
    inst = started()
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER


def test_owner_starts_as_master_at_once() -> None:
    inst = VrrpInstance(make_settings(priority=255))
    acts = inst.start(0.0)
    assert changes(acts) == [(State.INIT, State.MASTER, Trigger.STARTED_AS_OWNER)]
    assert [a.priority for a in of_type(acts, SendAdvert)] == [255]


def test_initial_state_master_waits_like_backup() -> None:
    """keepalived 2.2.7 (see data/keepalived-run1.log) enters BACKUP first for state MASTER."""
    inst = VrrpInstance(make_settings(initial_state=State.MASTER))
    assert changes(inst.start(0.0)) == [(State.INIT, State.BACKUP, Trigger.STARTED)]


def test_a_time_jump_fires_once() -> None:
    inst = started()
    acts = inst.handle_timer(1e6)
    assert len(of_type(acts, StateChanged)) == 1
    assert inst.get_timer() == pytest.approx(1e6 + 1.0)


# ---- backup receiving adverts ---------------------------------------------------------------


@pytest.mark.parametrize("prio", [100, 101, 254, 255])
def test_backup_accepts_equal_or_higher_and_restarts_its_timer(prio: int) -> None:
    inst = started(priority=100)
    assert rx(inst, prio, 2.0) == []
    deadline = 2.0 + inst.down_interval
    assert inst.get_timer() == pytest.approx(deadline)
    assert inst.handle_timer(deadline - EPS) == []
    assert inst.current_master == ip(PEER)
    inst.handle_timer(deadline + EPS)
    assert inst.state is State.MASTER


def test_backup_with_preempt_ignores_a_lower_master() -> None:
    inst = started(priority=150)
    first = inst.get_timer()
    for t in (0.5, 1.5, 2.5, 3.0):
        rx(inst, 100, t)
    assert inst.get_timer() == first  # not restarted: we preempt when it runs out
    inst.handle_timer(first + EPS)  # type: ignore[operator]
    assert inst.state is State.MASTER


def test_nopreempt_backup_accepts_a_lower_master() -> None:
    inst = started(priority=150, nopreempt=True)
    for t in (0.5, 1.5, 2.5, 3.5, 4.5):
        rx(inst, 100, t)
        assert inst.get_timer() == pytest.approx(t + inst.down_interval)
    inst.handle_timer(4.5 + inst.down_interval - EPS)
    assert inst.state is State.BACKUP


def test_preempt_delay_accepts_a_lower_master_until_it_runs_out() -> None:
    inst = started(priority=150, preempt_delay=10.0)
    t = 0.5
    while t < 10.0:
        rx(inst, 100, t)
        assert inst.get_timer() == pytest.approx(t + inst.down_interval)
        t += 1.0
    last_accepted = 9.5
    rx(inst, 100, 10.5)  # preempt delay over: ignored
    deadline = last_accepted + inst.down_interval
    assert inst.get_timer() == pytest.approx(deadline)
    inst.handle_timer(deadline - EPS)
    assert inst.state is State.BACKUP
    inst.handle_timer(deadline + EPS)
    assert inst.state is State.MASTER


def test_preempt_delay_armed_when_a_lower_master_is_first_seen() -> None:
    inst = started(priority=150, preempt_delay=5.0)
    rx(inst, 200, 1.0)  # a higher master clears the start-up arming
    rx(inst, 100, 20.0)  # first lower master: preempt at 25
    rx(inst, 100, 24.9)
    assert inst.get_timer() == pytest.approx(24.9 + inst.down_interval)
    rx(inst, 100, 25.0)
    assert inst.get_timer() == pytest.approx(24.9 + inst.down_interval)


@pytest.mark.parametrize(("version", "adv"), [(2, 1.0), (3, 1.0), (3, 0.5)])
def test_priority_zero_makes_the_backup_wait_the_skew_alone(version: int, adv: float) -> None:
    inst = started(version=version, priority=100, advert_int=adv)
    rx(inst, 200, 1.0)
    rx(inst, 0, 2.0)
    skew = (256 - 100) / 256 * (adv if version == 3 else 1.0)
    assert inst.get_timer() == pytest.approx(2.0 + skew)
    assert inst.handle_timer(2.0 + skew - EPS) == []
    inst.handle_timer(2.0 + skew + EPS)
    assert inst.state is State.MASTER


def test_v3_backup_adopts_the_master_interval() -> None:
    inst = started(version=3, priority=100, advert_int=1.0)
    acts = rx(inst, 200, 1.0, interval=200)
    assert of_type(acts, IntervalMismatch) == [IntervalMismatch("VI_1", ip(PEER), 2.0, 1.0)]
    assert inst.master_adv_int == 2.0
    deadline = 1.0 + 3 * 2.0 + 156 * 2.0 / 256
    assert inst.get_timer() == pytest.approx(deadline)
    inst.handle_timer(deadline - EPS)
    assert inst.state is State.BACKUP
    inst.handle_timer(deadline + EPS)
    assert inst.state is State.MASTER
    assert inst.master_adv_int == 1.0  # a master uses its own interval
    assert inst.get_timer() == pytest.approx(deadline + EPS + 1.0)


def test_a_lower_router_never_brings_the_timer_forward() -> None:
    # We follow a 2 s master at 250. A router at 150 (a loser's parting advert, say) with a
    # 0.5 s interval must not shorten the timer: once it falls silent we would take over from
    # a master that is alive. It also leaves the master and the interval alone.
    inst = started(version=3, priority=100, advert_int=1.0)
    rx(inst, 250, 1.0, interval=200)
    deadline = 1.0 + 3 * 2.0 + 156 * 2.0 / 256
    acts = rx(inst, 150, 1.1, source="10.213.0.7", interval=50)
    assert not changes(acts)
    assert inst.get_timer() == pytest.approx(deadline)
    assert inst.current_master == ip(PEER)
    assert inst.master_adv_int == 2.0
    # The master's next advert re-arms the timer as usual.
    rx(inst, 250, 3.0, interval=200)
    assert inst.get_timer() == pytest.approx(3.0 + 3 * 2.0 + 156 * 2.0 / 256)


def test_a_lower_master_is_followed_once_the_old_one_would_have_timed_out() -> None:
    inst = started(version=3, priority=100, advert_int=1.0)
    rx(inst, 250, 1.0, interval=200)  # deadline 1 + 7.22 = 8.22
    t = 1.5
    while t < 9.0:  # the 250 master is gone; a 150 router advertises every 0.5 s
        rx(inst, 150, t, source="10.213.0.7", interval=50)
        inst.handle_timer(t)
        assert inst.state is State.BACKUP, f"took over at {t}"
        t += 0.5
    assert inst.current_master == ip("10.213.0.7")
    assert inst.master_adv_int == 0.5
    assert inst.get_timer() == pytest.approx(t - 0.5 + 1.5 + 156 * 0.5 / 256)


def test_an_equal_or_higher_router_is_followed_at_once() -> None:
    inst = started(version=3, priority=100, advert_int=1.0)
    rx(inst, 150, 1.0, interval=200)
    # the same priority from a higher address: it wins the tie-break, a new master
    rx(inst, 150, 1.1, source="10.213.0.10", interval=50)
    assert inst.current_master == ip("10.213.0.10")
    assert inst.get_timer() == pytest.approx(1.1 + 1.5 + 156 * 0.5 / 256)


def test_an_equal_router_the_master_outranks_waits_for_the_masters_timer() -> None:
    """The same priority from a lower address loses the tie-break to the master we follow:
    like a lower priority, it does not bring the timer forward while that master's would run."""
    inst = started(version=3, priority=100, advert_int=1.0)
    rx(inst, 150, 1.0, interval=200)  # PEER (10.213.0.9), 2 s
    down_at = inst.get_timer()
    rx(inst, 150, 1.1, source="10.213.0.7", interval=50)
    assert inst.current_master == ip(PEER)
    assert inst.get_timer() == down_at
    # once its timer would run out after the old master's, it is followed
    late = down_at - 0.1
    rx(inst, 150, late, source="10.213.0.7", interval=50)
    assert inst.current_master == ip("10.213.0.7")
    assert inst.get_timer() == pytest.approx(late + 1.5 + 156 * 0.5 / 256)


def test_v2_interval_mismatch_is_dropped_and_counted() -> None:
    inst = started(version=2)
    before = inst.get_timer()
    acts = rx(inst, 200, 1.0, interval=2)
    assert [a.reason for a in of_type(acts, AdvertDropped)] == [DropReason.ADVERT_INTERVAL]
    assert inst.stats.dropped[DropReason.ADVERT_INTERVAL] == 1
    assert inst.get_timer() == before


def test_each_drop_reason_has_its_counter() -> None:
    inst = started(version=2)
    rx(inst, 200, 1.0, interval=2)
    rx(inst, 200, 1.0, type=3)
    rx(inst, 200, 1.0, type=3)
    inst.receive_advert(b"\x21", ip(PEER), mcast(inst.settings), 255, 1.0)
    assert dict(inst.stats.dropped) == {
        DropReason.ADVERT_INTERVAL: 1,
        DropReason.TYPE: 2,
        DropReason.TOO_SHORT: 1,
    }


def test_own_looped_back_advert_is_ignored() -> None:
    inst = master()
    data = peer_advert(inst.settings, 100, "10.213.0.1")
    assert inst.receive_advert(data, ip("10.213.0.1"), mcast(inst.settings), 255, 5.0) == []
    assert inst.stats.own_adverts == 1


# ---- master ---------------------------------------------------------------------------------


def test_becoming_master_actions_in_order() -> None:
    route = VirtualRoute(dst=ipaddress.ip_network("10.213.50.0/24"))
    inst = started(
        vips=("10.213.100.1", "10.213.100.2"),
        excluded_vips=(ip("10.213.100.9"),),
        virtual_routes=(route,),
    )
    t = inst.get_timer()
    acts = inst.handle_timer(t)  # type: ignore[arg-type]
    kinds = [type(a).__name__ for a in acts]
    assert kinds[:5] == ["StateChanged", "SendAdvert", "AddVips", "AddRoutes", "SendGratuitous"]
    assert of_type(acts, AddVips)[0].addresses == (
        ip("10.213.100.1"),
        ip("10.213.100.2"),
        ip("10.213.100.9"),
    )
    assert of_type(acts, AddRoutes)[0].routes == (route,)
    garp = of_type(acts, SendGratuitous)[0]
    assert (garp.repeat, garp.family, garp.reason) == (5, 4, "became_master")
    adv = of_type(acts, SendAdvert)[0]
    assert (adv.dst, adv.ttl, adv.src) == (ip("224.0.0.18"), 255, ip("10.213.0.1"))
    assert decode_advert(adv.packet, 4).priority == 100


def test_master_advertises_every_interval() -> None:
    inst = started(advert_int=0.5, garp_master_delay=0)
    sent_at = inst.get_timer()
    assert sent_at is not None
    inst.handle_timer(sent_at)
    for _ in range(5):
        due = sent_at + 0.5
        assert inst.get_timer() == pytest.approx(due)
        assert not of_type(inst.handle_timer(due - EPS), SendAdvert)
        assert len(of_type(inst.handle_timer(due), SendAdvert)) == 1
        sent_at = due


def test_unicast_master_sends_one_advert_per_peer() -> None:
    peers = (ip("10.213.0.2"), ip("10.213.0.3"))
    inst = started(unicast_peers=peers, unicast_ttl=64)
    acts = inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    sent = of_type(acts, SendAdvert)
    assert [(a.dst, a.ttl) for a in sent] == [(peers[0], 64), (peers[1], 64)]
    assert sent[0].packet != sent[1].packet  # the v3 pseudo-header checksum differs per dst


def test_garp_bursts_delay_and_refresh() -> None:
    inst = started(garp_master_delay=5.0, garp_master_repeat=3, garp_master_refresh=60.0)
    t = inst.get_timer()
    assert t is not None
    inst.handle_timer(t)
    got: list[tuple[float, int, str]] = []
    now = t
    while now < t + 130:
        now = inst.get_timer()  # type: ignore[assignment]
        got += [
            (now - t, g.repeat, g.reason) for g in of_type(inst.handle_timer(now), SendGratuitous)
        ]
    assert [g for g in got if g[0] < 130] == [
        (pytest.approx(5.0), 3, "garp_master_delay"),
        (pytest.approx(60.0), 1, "garp_master_refresh"),
        (pytest.approx(120.0), 1, "garp_master_refresh"),
    ]


def test_no_second_burst_with_zero_delay_and_ipv6_uses_na() -> None:
    inst = started(source="fe80::1", vips=("fd00:213::1",), garp_master_delay=0)
    acts = inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert [(g.family, g.addresses) for g in of_type(acts, SendGratuitous)] == [
        (6, (ip("fd00:213::1"),))
    ]
    for _ in range(20):
        assert not of_type(inst.handle_timer(inst.get_timer()), SendGratuitous)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("prio", "source", "steps_down"),
    [
        (101, "10.213.0.0", True),  # higher priority
        (100, "10.213.0.9", True),  # equal priority, higher address
        (100, "10.213.0.0", False),  # equal priority, lower address
        (99, "10.213.0.9", False),  # lower priority
    ],
)
def test_master_election_rules(prio: int, source: str, steps_down: bool) -> None:
    inst = master(priority=100)
    acts = rx(inst, prio, 10.0, source=source)
    if steps_down:
        assert changes(acts) == [(State.MASTER, State.BACKUP, Trigger.HIGHER_PRIORITY_ADVERT)]
        assert of_type(acts, RemoveVips)
        assert inst.get_timer() == pytest.approx(10.0 + inst.down_interval)
        # the parting advert, after the addresses are gone
        kinds = [type(a).__name__ for a in acts]
        assert kinds.index("SendAdvert") > kinds.index("RemoveVips")
        assert [a.priority for a in of_type(acts, SendAdvert)] == [100]
    else:
        assert inst.state is State.MASTER


def test_no_parting_advert_when_disabled() -> None:
    inst = master(priority=100, split_brain_parting_advert=False)
    acts = rx(inst, 200, 10.0)
    assert inst.state is State.BACKUP
    assert not of_type(acts, SendAdvert)


def test_lower_priority_advert_default_reaction() -> None:
    inst = master(
        priority=150, garp_master_delay=0, garp_lower_prio_repeat=2, garp_lower_prio_delay=4.0
    )
    acts = rx(inst, 100, 10.0)
    assert [type(a).__name__ for a in acts] == ["SendAdvert", "SendGratuitous"]
    assert of_type(acts, SendGratuitous)[0].repeat == 2
    assert inst.get_timer() == pytest.approx(11.0)  # the advert timer restarted
    # one more burst when the other master has certainly stepped down
    bursts = []
    now = 10.0
    while now < 15.0:
        now = inst.get_timer()  # type: ignore[assignment]
        bursts += [(now, g.reason) for g in of_type(inst.handle_timer(now), SendGratuitous)]
    assert bursts[0] == (pytest.approx(14.0), "split_brain_heal")
    assert inst.stats.lower_priority_received == 1


def test_lower_prio_no_advert_garps_right_after_the_next_advert() -> None:
    inst = master(priority=150, lower_prio_no_advert=True, garp_lower_prio_delay=0)
    next_advert = inst.get_timer()
    assert next_advert is not None
    assert rx(inst, 100, next_advert - 0.5) == []  # strict RFC: nothing at once
    acts = inst.handle_timer(next_advert)
    assert [type(a).__name__ for a in acts] == ["SendAdvert", "SendGratuitous"]
    assert of_type(acts, SendGratuitous)[0].reason == "split_brain_heal"
    assert not of_type(inst.handle_timer(inst.get_timer()), SendGratuitous)  # type: ignore[arg-type]


def test_master_answers_a_resigning_master() -> None:
    inst = master(priority=150, garp_master_delay=0)
    acts = rx(inst, 0, 10.0)
    assert [type(a).__name__ for a in acts] == ["SendAdvert", "SendGratuitous"]
    assert inst.state is State.MASTER
    assert inst.get_timer() == pytest.approx(11.0)


# ---- stop -----------------------------------------------------------------------------------


def test_stop_from_master_resigns_then_releases() -> None:
    route = VirtualRoute(dst=ipaddress.ip_network("10.213.50.0/24"))
    inst = master(virtual_routes=(route,), notify=Notify(stop=("/bin/stopped",)))
    acts = inst.stop(20.0)
    assert [type(a).__name__ for a in acts] == [
        "StateChanged",
        "SendAdvert",
        "RemoveRoutes",
        "RemoveVips",
        "RunNotify",
    ]
    assert of_type(acts, SendAdvert)[0].priority == 0
    assert decode_advert(of_type(acts, SendAdvert)[0].packet, 4).priority == 0
    assert of_type(acts, RemoveRoutes)[0].routes == (route,)
    assert inst.get_timer() is None
    assert inst.stats.priority_zero_sent == 1


@pytest.mark.parametrize("state", [State.INIT, State.BACKUP])
def test_stop_without_mastership_sends_nothing(state: State) -> None:
    inst = VrrpInstance(make_settings())
    if state is State.BACKUP:
        inst.start(0.0)
    acts = inst.stop(1.0)
    assert changes(acts) == [(state, State.STOP, Trigger.STOPPED)]
    assert not of_type(acts, SendAdvert)
    assert not of_type(acts, RemoveVips)


def test_restart_after_stop() -> None:
    inst = master()
    inst.stop(10.0)
    assert rx(inst, 200, 11.0) == []
    assert inst.stats.ignored_not_running == 1
    assert changes(inst.start(12.0)) == [(State.STOP, State.BACKUP, Trigger.STARTED)]
    assert inst.get_timer() == pytest.approx(12.0 + inst.down_interval)


def test_illegal_calls_are_our_bug() -> None:
    inst = started()
    with pytest.raises(LocalProtocolError):
        inst.start(1.0)
    inst.stop(2.0)
    with pytest.raises(LocalProtocolError):
        inst.stop(3.0)
    with pytest.raises(LocalProtocolError):
        inst.set_script_result("nope", True, 3.0)
    with pytest.raises(LocalProtocolError):
        inst.set_track_state("bogus", "x", 1, 3.0)


# ---- notify ---------------------------------------------------------------------------------


def test_notify_arguments_as_keepalived() -> None:
    notify = Notify(
        master=("/etc/n.sh", "up"),
        backup=("/etc/n.sh", "down"),
        generic=("/etc/all.sh",),
        fifo=True,
    )
    inst = VrrpInstance(make_settings(name="VI_1", priority=100, notify=notify))
    acts = inst.start(0.0)
    assert of_type(acts, RunNotify) == [
        RunNotify("VI_1", "backup", ("/etc/n.sh", "down")),
        RunNotify("VI_1", "generic", ("/etc/all.sh", "INSTANCE", "VI_1", "BACKUP", "100")),
    ]
    assert of_type(acts, WriteNotifyFifo) == [WriteNotifyFifo("VI_1", 'INSTANCE "VI_1" BACKUP 100')]
    acts = inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert of_type(acts, RunNotify)[0] == RunNotify("VI_1", "master", ("/etc/n.sh", "up"))
    assert of_type(acts, WriteNotifyFifo)[0].line == 'INSTANCE "VI_1" MASTER 100'


# ---- tracking -------------------------------------------------------------------------------


def tracked(**kw: object) -> InstanceSettings:
    return make_settings(
        priority=100,
        track_scripts=(
            TrackScript("chk_fault"),
            TrackScript("chk_plus", weight=20),
            TrackScript("chk_minus", weight=-30),
        ),
        notify=Notify(fault=("/bin/fault",)),
        **kw,  # type: ignore[arg-type]
    )


def test_tracking_priority_changes_are_reported() -> None:
    inst = VrrpInstance(tracked())
    inst.start(0.0)
    assert inst.priority == 120
    acts = inst.set_script_result("chk_minus", False, 1.0)
    assert acts == [PriorityChanged("VI_1", 120, 90, 1.0)]
    assert inst.set_script_result("chk_minus", False, 1.5) == []
    assert inst.set_track_state("script", "chk_plus", False, 2.0) == [
        PriorityChanged("VI_1", 90, 70, 2.0)
    ]


def test_backup_fault_and_back() -> None:
    inst = VrrpInstance(tracked())
    inst.start(0.0)
    acts = inst.set_script_result("chk_fault", False, 1.0)
    assert changes(acts) == [(State.BACKUP, State.FAULT, Trigger.FAULT_DETECTED)]
    assert of_type(acts, RunNotify) == [RunNotify("VI_1", "fault", ("/bin/fault",))]
    assert inst.get_timer() is None
    assert rx(inst, 200, 2.0) == []  # FAULT ignores adverts
    acts = inst.set_script_result("chk_fault", True, 3.0)
    assert changes(acts) == [(State.FAULT, State.BACKUP, Trigger.FAULT_CLEARED)]
    assert inst.get_timer() == pytest.approx(3.0 + inst.down_interval)


def test_master_fault_resigns_with_priority_zero() -> None:
    inst = VrrpInstance(tracked())
    inst.start(0.0)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    acts = inst.set_script_result("chk_fault", False, 10.0)
    assert changes(acts) == [(State.MASTER, State.FAULT, Trigger.FAULT_DETECTED)]
    assert [a.priority for a in of_type(acts, SendAdvert)] == [0]
    assert of_type(acts, RemoveVips)


def test_start_in_fault_and_owner_leaves_fault_as_master() -> None:
    s = make_settings(priority=255, track_scripts=(TrackScript("c", initially_ok=False),))
    inst = VrrpInstance(s)
    assert changes(inst.start(0.0)) == [(State.INIT, State.FAULT, Trigger.STARTED_IN_FAULT)]
    acts = inst.set_script_result("c", True, 1.0)
    assert changes(acts) == [(State.FAULT, State.MASTER, Trigger.FAULT_CLEARED_AS_OWNER)]
    assert inst.priority == 255


def test_an_io_fault_holds_the_instance_in_fault_until_cleared() -> None:
    """No socket (the daemon could not open one): never elect, a master resigns."""
    inst = VrrpInstance(make_settings())
    assert changes(inst.set_io_fault("socket:eth0", 0.0)) == []  # before start: recorded
    assert changes(inst.start(0.0)) == [(State.INIT, State.FAULT, Trigger.STARTED_IN_FAULT)]
    assert inst.faults == ("socket:eth0",) and inst.own_fault
    assert inst.get_timer() is None  # no down timer: it cannot elect itself
    assert inst.set_io_fault("socket:eth0", 1.0) == []  # the same fault again: nothing
    acts = inst.set_io_fault(None, 2.0)
    assert changes(acts) == [(State.FAULT, State.BACKUP, Trigger.FAULT_CLEARED)]
    assert inst.faults == () and inst.io_fault is None
    assert inst.get_timer() == pytest.approx(2.0 + inst.down_interval)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER
    acts = inst.set_io_fault("socket:eth0", 10.0)
    assert changes(acts) == [(State.MASTER, State.FAULT, Trigger.FAULT_DETECTED)]
    assert [a.priority for a in of_type(acts, SendAdvert)] == [0]
    assert of_type(acts, RemoveVips)


def test_an_io_fault_and_a_tracker_fault_both_count() -> None:
    inst = VrrpInstance(tracked())
    inst.start(0.0)
    inst.set_script_result("chk_fault", False, 1.0)
    inst.set_io_fault("socket:eth0", 1.5)
    assert inst.faults == ("script:chk_fault", "socket:eth0")
    assert changes(inst.set_script_result("chk_fault", True, 2.0)) == []  # still deaf
    assert inst.state is State.FAULT
    assert changes(inst.set_io_fault(None, 3.0)) == [
        (State.FAULT, State.BACKUP, Trigger.FAULT_CLEARED)
    ]


def test_an_owner_leaves_an_io_fault_as_master() -> None:
    inst = VrrpInstance(make_settings(priority=255))
    inst.set_io_fault("socket:eth0", 0.0)
    assert changes(inst.start(0.0)) == [(State.INIT, State.FAULT, Trigger.STARTED_IN_FAULT)]
    assert changes(inst.set_io_fault(None, 1.0)) == [
        (State.FAULT, State.MASTER, Trigger.FAULT_CLEARED_AS_OWNER)
    ]


def test_tracking_drop_below_a_backup_is_carried_in_adverts() -> None:
    inst = master(priority=100, track_scripts=(TrackScript("c", weight=-60),))
    inst.set_script_result("c", False, 5.0)
    acts = inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert [decode_advert(a.packet, 4).priority for a in of_type(acts, SendAdvert)] == [40]


def test_tracking_before_start_only_records() -> None:
    inst = VrrpInstance(tracked())
    assert changes(inst.set_script_result("chk_fault", False, 0.0)) == []
    assert inst.state is State.INIT
    assert changes(inst.start(1.0)) == [(State.INIT, State.FAULT, Trigger.STARTED_IN_FAULT)]


def test_settings_are_not_mutated() -> None:
    s = make_settings()
    inst = VrrpInstance(s)
    inst.start(0.0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.priority = 1  # type: ignore[misc]


def test_pending_garps_are_cancelled_when_mastership_ends() -> None:
    inst = master(garp_master_delay=5.0, garp_master_refresh=2.0)
    t = inst.get_timer()  # the next advert, one interval after becoming master
    assert t is not None
    rx(inst, 200, t - 0.5)
    assert inst.state is State.BACKUP
    seen = []
    now = t
    while now < t + 12:  # a live higher master keeps us BACKUP past the GARP times
        seen += rx(inst, 200, now)
        seen += inst.handle_timer(now)
        now += 0.25
    assert inst.state is State.BACKUP
    assert not of_type(seen, SendGratuitous)


# ---- demote (planned switchover) ------------------------------------------------------------


def test_demote_resigns_and_holds_backup() -> None:
    inst = master(garp_master_delay=0)
    acts = inst.demote(10.0, 30.0)
    assert changes(acts) == [(State.MASTER, State.BACKUP, Trigger.DEMOTED)]
    assert [a.priority for a in of_type(acts, SendAdvert)] == [0]
    assert of_type(acts, RemoveVips)
    assert inst.get_timer() == pytest.approx(40.0)  # alone: back when the hold ends
    assert inst.handle_timer(40.0 - EPS) == []
    inst.handle_timer(40.0)
    assert inst.state is State.MASTER


def test_demoted_backup_accepts_a_lower_master_until_the_hold_ends() -> None:
    inst = master(priority=200, garp_master_delay=0)
    inst.demote(10.0, 20.0)
    t = 10.5
    while t < 30.0:
        rx(inst, 100, t)
        assert inst.get_timer() == pytest.approx(max(t + inst.down_interval, 30.0))
        t += 1.0
    rx(inst, 100, 30.5)  # hold over: preemption resumes, the lower master is ignored
    deadline = 29.5 + inst.down_interval
    assert inst.get_timer() == pytest.approx(deadline)
    inst.handle_timer(deadline - EPS)
    assert inst.state is State.BACKUP
    inst.handle_timer(deadline + EPS)
    assert inst.state is State.MASTER


def test_demote_only_from_master() -> None:
    inst = started()
    with pytest.raises(LocalProtocolError, match="illegal transition"):
        inst.demote(1.0, 10.0)
    with pytest.raises(LocalProtocolError):
        master().demote_until(1.0, 5.0)


@pytest.mark.parametrize("faulty", [False, True])
def test_start_removes_leftover_addresses(faulty: bool) -> None:
    """keepalived's "removing VIPs." at start-up: leftovers of a crash must not stay."""
    route = VirtualRoute(dst=ipaddress.ip_network("10.213.50.0/24"))
    s = make_settings(
        excluded_vips=(ip("10.213.100.9"),),
        virtual_routes=(route,),
        track_scripts=(TrackScript("c", initially_ok=not faulty),),
    )
    inst = VrrpInstance(s)
    acts = inst.start(0.0)
    assert inst.state is (State.FAULT if faulty else State.BACKUP)
    assert of_type(acts, RemoveRoutes) == [RemoveRoutes("VI_1", (route,))]
    assert of_type(acts, RemoveVips) == [
        RemoveVips("VI_1", (ip("10.213.100.1"), ip("10.213.100.9")))
    ]
    inst.stop(1.0)
    assert of_type(inst.start(2.0), RemoveVips)  # and on a restart


def test_owner_start_adds_rather_than_removes() -> None:
    acts = VrrpInstance(make_settings(priority=255)).start(0.0)
    assert of_type(acts, AddVips)
    assert not of_type(acts, RemoveVips)
