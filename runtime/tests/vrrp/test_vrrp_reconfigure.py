"""reconfigure: a reload's new settings taken over in place, keeping the state."""

from __future__ import annotations

import dataclasses
import ipaddress

import pytest
from vrrpkit import FakeLink, ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import (
    AddRoutes,
    AddVips,
    PriorityChanged,
    RemoveRoutes,
    RemoveVips,
    SendAdvert,
    SendGratuitous,
    StateChanged,
)
from vipkeeper.vrrp.errors import LocalProtocolError
from vipkeeper.vrrp.instance import GARP_RECONFIGURED, VrrpInstance
from vipkeeper.vrrp.packet import decode_advert
from vipkeeper.vrrp.settings import InstanceSettings, Notify, TrackScript, VirtualRoute
from vipkeeper.vrrp.state import State, Trigger

EPS = 1e-6
PEER = "10.213.0.9"
V1, V2, V3 = ip("10.213.100.1"), ip("10.213.100.2"), ip("10.213.100.3")


def master(**kw: object) -> VrrpInstance:
    kw.setdefault("garp_master_delay", 0.0)  # no pending burst to hide the advert timer
    inst = VrrpInstance(make_settings(**kw))  # type: ignore[arg-type]
    inst.start(0.0)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER
    return inst


def backup(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(make_settings(**kw))  # type: ignore[arg-type]
    inst.start(0.0)
    return inst


def hear(inst: VrrpInstance, priority: int, now: float) -> None:
    data = peer_advert(inst.settings, priority, PEER)
    inst.receive_advert(data, ip(PEER), mcast(inst.settings), 255, now)


def new(inst: VrrpInstance, **kw: object) -> InstanceSettings:
    return dataclasses.replace(inst.settings, **kw)  # type: ignore[arg-type]


def sent(acts: list) -> list[tuple[int, tuple]]:
    return [(a.priority, decode_advert(a.packet, 4).addresses) for a in of_type(acts, SendAdvert)]


@pytest.mark.parametrize(("field", "value"), [("vrid", 52), ("version", 2)])
def test_identity_cannot_change(field: str, value: object) -> None:
    inst = master()
    other = dataclasses.replace(inst.settings, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(LocalProtocolError, match=field):
        inst.reconfigure(other, 10.0)
    assert inst.state is State.MASTER
    assert inst.settings.vrid == 51 and inst.settings.version == 3


def test_family_cannot_change() -> None:
    inst = master()
    v6 = make_settings(source="fe80::1", vips=("fd00:213::1",))
    with pytest.raises(LocalProtocolError, match="family"):
        inst.reconfigure(v6, 10.0)
    assert inst.settings.family == 4


def test_unchanged_settings_do_nothing() -> None:
    inst = master()
    timer = inst.get_timer()
    assert inst.reconfigure(new(inst), 10.0) == []
    assert inst.get_timer() == timer
    assert inst.state is State.MASTER


def test_notify_and_garp_settings_are_taken_over_silently() -> None:
    inst = master()
    changed = new(inst, notify=Notify(master=("/bin/true",)), garp_master_repeat=2)
    assert inst.reconfigure(changed, 10.0) == []
    assert inst.settings is changed


def test_master_with_a_lower_priority_keeps_mastering_and_says_so() -> None:
    inst = master(priority=150)
    acts = inst.reconfigure(new(inst, priority=50), 10.0)
    assert of_type(acts, StateChanged) == []
    assert of_type(acts, PriorityChanged) == [PriorityChanged("VI_1", 150, 50, 10.0)]
    assert sent(acts) == [(50, (V1,))]  # the new priority goes out at once
    assert inst.state is State.MASTER
    assert inst.get_timer() == pytest.approx(11.0)
    hear(inst, 100, 10.5)  # a higher advert: the usual reaction
    assert inst.state is State.BACKUP


def test_master_with_a_higher_priority_advertises_it() -> None:
    inst = master(priority=100)
    acts = inst.reconfigure(new(inst, priority=200), 10.0)
    assert sent(acts) == [(200, (V1,))]
    assert of_type(acts, StateChanged) == []
    hear(inst, 150, 10.5)  # now lower than ours: we stay
    assert inst.state is State.MASTER


def test_lowered_master_loses_to_a_preempting_backup_and_not_to_a_nopreempt_one() -> None:
    for nopreempt, winner in ((False, "b"), (True, "a")):
        a = VrrpInstance(make_settings(name="a", priority=150))
        b = VrrpInstance(make_settings(name="b", priority=100, source="10.213.0.2",
                                       nopreempt=nopreempt))  # fmt: skip
        link = FakeLink([a, b])
        link.start_all()
        link.run_until(10.0)
        assert [n.name for n in link.masters()] == ["a"]
        link.call(a, "reconfigure", dataclasses.replace(a.settings, priority=50))
        link.max_masters_seen = 0
        link.run_until(10.0 + b.down_interval + 1.0)
        assert [n.name for n in link.masters()] == [winner]
        if nopreempt:  # with preemption the two overlap for one packet's trip, as always
            assert link.max_masters_seen == 1
        if winner == "b":
            [(t, change)] = link.changes(b)[-1:]
            assert change.reason is Trigger.MASTER_DOWN_TIMER
            assert t <= 10.0 + b.down_interval + EPS


def test_master_adds_new_vips_with_garp_and_removes_dropped_ones() -> None:
    inst = master(vips=("10.213.100.1", "10.213.100.2"))
    acts = inst.reconfigure(new(inst, vips=(V1, V3)), 10.0)
    assert of_type(acts, RemoveVips) == [RemoveVips("VI_1", (V2,))]
    assert of_type(acts, AddVips) == [AddVips("VI_1", (V3,))]
    assert sent(acts) == [(100, (V1, V3))]
    garps = of_type(acts, SendGratuitous)
    assert garps == [SendGratuitous("VI_1", (V3,), 4, 5, GARP_RECONFIGURED)]
    assert of_type(acts, StateChanged) == []
    kinds = [type(a) for a in acts]
    assert kinds.index(RemoveVips) < kinds.index(AddVips) < kinds.index(SendGratuitous)
    # Later bursts and the release cover the new set.
    stop = inst.stop(11.0)
    assert of_type(stop, RemoveVips) == [RemoveVips("VI_1", (V1, V3))]


def test_excluded_vips_are_added_and_removed_but_not_advertised() -> None:
    inst = master()
    acts = inst.reconfigure(new(inst, excluded_vips=(V3,)), 10.0)
    assert of_type(acts, AddVips) == [AddVips("VI_1", (V3,))]
    assert of_type(acts, SendAdvert) == []  # the advert did not change
    acts = inst.reconfigure(new(inst, excluded_vips=()), 11.0)
    assert of_type(acts, RemoveVips) == [RemoveVips("VI_1", (V3,))]
    assert of_type(acts, AddVips) == []


def test_master_routes_follow_the_config() -> None:
    r1 = VirtualRoute(ipaddress.ip_network("10.213.50.0/24"), via=ip("10.213.0.254"))
    r2 = VirtualRoute(ipaddress.ip_network("10.213.51.0/24"), via=ip("10.213.0.254"))
    inst = master(virtual_routes=(r1,))
    acts = inst.reconfigure(new(inst, virtual_routes=(r2,)), 10.0)
    assert of_type(acts, RemoveRoutes) == [RemoveRoutes("VI_1", (r1,))]
    assert of_type(acts, AddRoutes) == [AddRoutes("VI_1", (r2,))]
    assert of_type(acts, SendAdvert) == []


def test_backup_only_records_addresses() -> None:
    inst = backup(vips=("10.213.100.1", "10.213.100.2"))
    hear(inst, 200, 1.0)
    timer = inst.get_timer()
    assert inst.reconfigure(new(inst, vips=(V1, V3)), 2.0) == []
    assert inst.get_timer() == timer
    acts = inst.handle_timer(timer)  # type: ignore[arg-type]
    assert of_type(acts, AddVips) == [AddVips("VI_1", (V1, V3))]


def test_backup_rearms_from_when_it_last_heard_the_master() -> None:
    inst = backup(priority=100)
    hear(inst, 200, 1.0)
    acts = inst.reconfigure(new(inst, priority=180), 2.0)
    assert acts == [PriorityChanged("VI_1", 100, 180, 2.0)]
    assert inst.get_timer() == pytest.approx(1.0 + 3 + 76 / 256)
    inst.reconfigure(new(inst, priority=180, down_timer_adverts=5), 2.5)
    assert inst.get_timer() == pytest.approx(1.0 + 5 + 76 / 256)


def test_a_shorter_down_interval_can_be_due_at_once() -> None:
    inst = backup(priority=100, version=3, advert_int=2.0)
    hear(inst, 200, 1.0)  # adopts 2 s; a v3 backup keeps the master's interval
    inst.reconfigure(new(inst, advert_int=0.5), 6.0)
    assert inst.master_adv_int == 2.0
    assert inst.get_timer() == pytest.approx(1.0 + 6 + 156 * 2 / 256)
    v2 = backup(priority=100, version=2, advert_int=3)
    hear(v2, 200, 1.0)
    v2.reconfigure(new(v2, advert_int=1), 6.0)  # v2: the master must use ours anyway
    assert v2.master_adv_int == 1.0
    assert v2.get_timer() == pytest.approx(1.0 + 3 + 156 / 256)  # already past: due now
    v2.handle_timer(6.0)
    assert v2.state is State.MASTER


def test_a_backup_after_a_priority_zero_keeps_waiting_the_skew_alone() -> None:
    inst = backup(priority=100)
    hear(inst, 200, 1.0)
    hear(inst, 0, 2.0)
    inst.reconfigure(new(inst, priority=200), 2.1)
    assert inst.get_timer() == pytest.approx(2.0 + 56 / 256)


def test_master_advert_interval_change_is_advertised_at_once() -> None:
    inst = master(version=3, advert_int=1.0)
    acts = inst.reconfigure(new(inst, advert_int=0.2), 10.0)
    [advert] = of_type(acts, SendAdvert)
    assert decode_advert(advert.packet, 4).interval == 20
    assert inst.get_timer() == pytest.approx(10.2)
    assert inst.master_adv_int == 0.2


def test_preempt_delay_keeps_its_start() -> None:
    inst = backup(priority=150, preempt_delay=10.0)  # armed at start: preempt from 10
    inst.reconfigure(new(inst, preempt_delay=4.0), 1.0)
    hear(inst, 100, 3.5)  # still delaying: accepted
    assert inst.current_master == ip(PEER)
    timer = inst.get_timer()
    hear(inst, 100, 4.5)  # delay over (started at 0): ignored
    assert inst.get_timer() == timer
    inst.reconfigure(new(inst, preempt_delay=0.0), 5.0)
    hear(inst, 100, 5.5)
    assert inst.get_timer() == timer


def test_nopreempt_turned_off_lets_the_backup_take_over() -> None:
    inst = backup(priority=150, nopreempt=True)
    for t in (1.0, 2.0, 3.0):
        hear(inst, 100, t)
    assert inst.get_timer() == pytest.approx(3.0 + inst.down_interval)
    inst.reconfigure(new(inst, nopreempt=False), 3.5)
    hear(inst, 100, 4.0)
    hear(inst, 100, 5.0)
    deadline = 3.0 + inst.down_interval
    assert inst.get_timer() == pytest.approx(deadline)
    inst.handle_timer(deadline)
    assert inst.state is State.MASTER


def test_trackers_keep_their_values_and_new_ones_count() -> None:
    inst = master(priority=100, track_scripts=(TrackScript("a", weight=-30),))
    inst.set_script_result("a", False, 1.0)
    assert inst.priority == 70
    scripts = (TrackScript("a", weight=-30), TrackScript("b", weight=20))
    acts = inst.reconfigure(new(inst, track_scripts=scripts), 2.0)
    assert inst.priority == 90  # "a" still failing, "b" starts OK
    assert of_type(acts, PriorityChanged) == [PriorityChanged("VI_1", 70, 90, 2.0)]
    inst.reconfigure(new(inst, track_scripts=scripts[1:]), 3.0)
    assert inst.priority == 120
    inst.set_script_result("b", False, 4.0)
    assert inst.priority == 100


def test_a_new_failing_tracker_faults_and_removing_it_clears() -> None:
    inst = master(priority=100)
    failing = (TrackScript("chk", weight=0, initially_ok=False),)
    acts = inst.reconfigure(new(inst, track_scripts=failing), 2.0)
    assert [(a.old, a.new, a.reason) for a in of_type(acts, StateChanged)] == [
        (State.MASTER, State.FAULT, Trigger.FAULT_DETECTED)
    ]
    assert [a.priority for a in of_type(acts, SendAdvert)] == [0]
    assert of_type(acts, RemoveVips) == [RemoveVips("VI_1", (V1,))]
    acts = inst.reconfigure(new(inst, track_scripts=()), 3.0)
    assert [(a.old, a.new) for a in of_type(acts, StateChanged)] == [(State.FAULT, State.BACKUP)]


def test_a_master_leaving_for_fault_releases_old_and_new_addresses() -> None:
    inst = master(vips=("10.213.100.1", "10.213.100.2"))
    failing = (TrackScript("chk", weight=0, initially_ok=False),)
    acts = inst.reconfigure(new(inst, vips=(V1, V3), track_scripts=failing), 2.0)
    removed = {a for r in of_type(acts, RemoveVips) for a in r.addresses}
    assert removed == {V1, V2, V3}
    assert of_type(acts, AddVips) == []
    assert inst.state is State.FAULT


def test_unicast_peers_and_source_change_on_a_master() -> None:
    inst = master(unicast_peers=(ip("10.213.0.2"),))
    peers = (ip("10.213.0.2"), ip("10.213.0.3"))
    acts = inst.reconfigure(new(inst, unicast_peers=peers), 10.0)
    assert [a.dst for a in of_type(acts, SendAdvert)] == list(peers)
    acts = inst.reconfigure(new(inst, source=ip("10.213.0.7")), 10.5)
    assert {a.src for a in of_type(acts, SendAdvert)} == {ip("10.213.0.7")}
    assert inst.current_master == ip("10.213.0.7")


def test_garp_refresh_change_is_rescheduled() -> None:
    inst = master()
    inst.reconfigure(new(inst, garp_master_refresh=2.0), 10.0)
    acts = inst.handle_timer(12.0)
    assert [g.reason for g in of_type(acts, SendGratuitous)] == ["garp_master_refresh"]
    inst.reconfigure(new(inst, garp_master_refresh=0.0), 12.5)
    assert all(not of_type(inst.handle_timer(t), SendGratuitous) for t in (14.0, 16.0, 18.0))


def test_fault_and_stop_states_only_record() -> None:
    inst = backup(track_scripts=(TrackScript("chk", weight=0),))
    inst.set_script_result("chk", False, 1.0)
    assert inst.state is State.FAULT
    assert inst.reconfigure(new(inst, vips=(V3,), priority=120), 2.0) == [
        PriorityChanged("VI_1", 100, 120, 2.0)
    ]
    assert inst.state is State.FAULT
    inst.stop(3.0)
    assert inst.reconfigure(new(inst, vips=(V1,)), 4.0) == []
    assert inst.state is State.STOP
