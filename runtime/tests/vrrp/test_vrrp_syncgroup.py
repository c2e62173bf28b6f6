"""Sync groups: members move together, all MASTER or none, FAULT together."""

from __future__ import annotations

import pytest
from vrrpkit import FakeLink, ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import RunNotify, StateChanged, WriteNotifyFifo
from vipkeeper.vrrp.errors import LocalProtocolError
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import Notify, TrackScript
from vipkeeper.vrrp.state import State, Trigger
from vipkeeper.vrrp.syncgroup import SyncGroup, SyncGroupSettings


def member(name: str, vrid: int, priority: int, source: str = "10.213.0.1") -> VrrpInstance:
    return VrrpInstance(
        make_settings(
            name=name,
            vrid=vrid,
            priority=priority,
            source=source,
            vips=(f"10.213.{vrid}.1",),
            track_scripts=(TrackScript("chk"),),
        )
    )


def group_of(*members: VrrpInstance, notify: Notify | None = None) -> SyncGroup:
    gs = SyncGroupSettings("G1", tuple(m.name for m in members), notify or Notify())
    return SyncGroup(gs, {m.name: m for m in members})


def moves(actions: list) -> list[tuple[str, State, State, Trigger]]:
    return [(a.instance, a.old, a.new, a.reason) for a in of_type(actions, StateChanged)]


def test_one_member_becoming_master_takes_the_others() -> None:
    v1, v2 = member("VI_1", 51, 150), member("VI_2", 52, 100)
    g = group_of(v1, v2, notify=Notify(master=("/bin/gm",), generic=("/bin/g",), fifo=True))
    acts = g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
    assert g.state is State.BACKUP
    t = g.get_timer()
    assert t == v1.get_timer()  # the shorter skew
    acts = g.handle_timer(t)  # type: ignore[arg-type]
    assert moves(acts) == [
        ("VI_1", State.BACKUP, State.MASTER, Trigger.MASTER_DOWN_TIMER),
        ("VI_2", State.BACKUP, State.MASTER, Trigger.SYNC_MASTER),
    ]
    assert g.state is State.MASTER
    assert RunNotify("G1", "master", ("/bin/gm",)) in acts
    assert RunNotify("G1", "generic", ("/bin/g", "GROUP", "G1", "MASTER")) in acts
    assert WriteNotifyFifo("G1", 'GROUP "G1" MASTER') in acts


def test_one_member_losing_takes_the_others_to_backup() -> None:
    v1, v2 = member("VI_1", 51, 150), member("VI_2", 52, 100)
    g = group_of(v1, v2)
    g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
    g.handle_timer(g.get_timer())  # type: ignore[arg-type]
    data = peer_advert(v2.settings, 200, "10.213.0.9")
    acts = g.follow(v2.receive_advert(data, ip("10.213.0.9"), mcast(v2.settings), 255, 5.0), 5.0)
    assert moves(acts) == [
        ("VI_2", State.MASTER, State.BACKUP, Trigger.HIGHER_PRIORITY_ADVERT),
        ("VI_1", State.MASTER, State.BACKUP, Trigger.SYNC_BACKUP),
    ]
    assert g.state is State.BACKUP


def test_fault_is_shared_and_cleared_together() -> None:
    v1, v2 = member("VI_1", 51, 150), member("VI_2", 52, 100)
    g = group_of(v1, v2, notify=Notify(fault=("/bin/gf",)))
    g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
    g.handle_timer(g.get_timer())  # type: ignore[arg-type]
    acts = g.follow(v2.set_script_result("chk", False, 5.0), 5.0)
    assert moves(acts) == [
        ("VI_2", State.MASTER, State.FAULT, Trigger.FAULT_DETECTED),
        ("VI_1", State.MASTER, State.FAULT, Trigger.SYNC_FAULT),
    ]
    assert g.state is State.FAULT
    assert RunNotify("G1", "fault", ("/bin/gf",)) in acts
    # VI_1 failing too and recovering first changes nothing
    assert moves(g.follow(v1.set_script_result("chk", False, 6.0), 6.0)) == []
    assert moves(g.follow(v1.set_script_result("chk", True, 7.0), 7.0)) == []
    assert v1.state is State.FAULT
    acts = g.follow(v2.set_script_result("chk", True, 8.0), 8.0)
    assert sorted(moves(acts)) == [
        ("VI_1", State.FAULT, State.BACKUP, Trigger.SYNC_FAULT_CLEARED),
        ("VI_2", State.FAULT, State.BACKUP, Trigger.SYNC_FAULT_CLEARED),
    ]
    assert g.state is State.BACKUP


def test_a_faulty_member_keeps_the_group_from_mastering() -> None:
    v1, v2 = member("VI_1", 51, 150), member("VI_2", 52, 100)
    g = group_of(v1, v2)
    g.follow(v2.set_script_result("chk", False, 0.0), 0.0)
    acts = g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
    assert {(m.name, m.state) for m in g.members} == {("VI_1", State.FAULT), ("VI_2", State.FAULT)}
    assert g.get_timer() is None
    assert g.handle_timer(100.0) == []
    assert ("VI_1", State.INIT, State.FAULT, Trigger.STARTED_IN_FAULT) in moves(acts)


def test_unknown_member_is_our_bug() -> None:
    v1 = member("VI_1", 51, 150)
    with pytest.raises(LocalProtocolError):
        SyncGroup(SyncGroupSettings("G", ("VI_1", "VI_9")), {"VI_1": v1})


def test_two_nodes_move_as_groups() -> None:
    a1, a2 = member("a1", 51, 200, "10.213.0.1"), member("a2", 52, 200, "10.213.0.1")
    b1, b2 = member("b1", 51, 100, "10.213.0.2"), member("b2", 52, 100, "10.213.0.2")
    link = FakeLink([a1, a2, b1, b2], 0.001)
    link.add_group(group_of(a1, a2))
    link.add_group(SyncGroup(SyncGroupSettings("G2", ("b1", "b2")), {"b1": b1, "b2": b2}))
    link.start_all()
    link.run_until(10.0)
    assert link.masters() == [a1, a2]
    link.call(a2, "set_script_result", "chk", False)
    assert (a1.state, a2.state) == (State.FAULT, State.FAULT)
    link.run_until(20.0)
    assert link.masters() == [b1, b2]
    link.call(a2, "set_script_result", "chk", True)
    link.run_until(40.0)
    assert link.masters() == [a1, a2]
    link.max_masters_seen = 0
    link.run_until(60.0)
    assert link.max_masters_seen == 1


def test_demote_takes_the_group_along() -> None:
    v1, v2 = member("VI_1", 51, 150), member("VI_2", 52, 100)
    g = group_of(v1, v2)
    g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
    g.handle_timer(g.get_timer())  # type: ignore[arg-type]
    acts = g.follow(v1.demote(10.0, 20.0), 10.0)
    assert moves(acts) == [
        ("VI_1", State.MASTER, State.BACKUP, Trigger.DEMOTED),
        ("VI_2", State.MASTER, State.BACKUP, Trigger.DEMOTED),
    ]
    assert v1.held_until == v2.held_until == 30.0
    assert g.get_timer() == pytest.approx(30.0)
