"""Every entry of the transition table is reached through the public API, and GARP timer edges."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vrrpkit import ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import Action, AdvertDropped, SendGratuitous, StateChanged
from vipkeeper.vrrp.errors import PacketError
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import TrackScript
from vipkeeper.vrrp.state import TRANSITIONS, State, Trigger
from vipkeeper.vrrp.syncgroup import SyncGroup, SyncGroupSettings
from vipkeeper.vrrp.validate import check_advert

EPS = 1e-6


def inst(priority: int = 100, name: str = "VI_1", vrid: int = 51) -> VrrpInstance:
    return VrrpInstance(
        make_settings(name=name, vrid=vrid, priority=priority, track_scripts=(TrackScript("c"),))
    )


def to_master(i: VrrpInstance, now: float = 0.0) -> list[Action]:
    acts = i.start(now)
    if i.state is State.BACKUP:
        acts += i.handle_timer(i.get_timer())  # type: ignore[arg-type]
    return acts


def higher(i: VrrpInstance, now: float) -> list[Action]:
    data = peer_advert(i.settings, 254, "10.213.0.9")
    return i.receive_advert(data, ip("10.213.0.9"), mcast(i.settings), 255, now)


def restart(i: VrrpInstance) -> list[Action]:
    i.start(0.0)
    return i.stop(1.0) + i.start(2.0)


def scenarios() -> list[Callable[[], list[Action]]]:
    def fault_start() -> list[Action]:
        i = inst()
        i.set_script_result("c", False, 0.0)
        acts = i.start(0.0)
        acts += i.stop(1.0)
        return acts + i.start(2.0)  # STOP -> FAULT

    def owner_restart() -> list[Action]:
        i = inst(255)
        acts = i.start(0.0)  # INIT -> MASTER
        acts += i.stop(1.0)
        acts += i.start(2.0)  # STOP -> MASTER
        acts += i.set_script_result("c", False, 3.0)
        return acts + i.set_script_result("c", True, 4.0)  # FAULT -> MASTER

    def election() -> list[Action]:
        i = inst()
        acts = to_master(i)
        acts += higher(i, 10.0)
        acts += i.handle_timer(100.0)
        acts += i.demote(101.0, 5.0)
        acts += i.set_script_result("c", False, 102.0)  # BACKUP -> FAULT
        acts += i.set_script_result("c", True, 103.0)  # FAULT -> BACKUP
        acts += i.handle_timer(200.0)
        acts += i.set_script_result("c", False, 201.0)  # MASTER -> FAULT
        return acts + i.stop(202.0)  # FAULT -> STOP

    def stops() -> list[Action]:
        a, b, c = inst(), inst(), inst()
        acts = a.stop(0.0)  # INIT -> STOP
        b.start(0.0)
        acts += b.stop(1.0)  # BACKUP -> STOP
        to_master(c)
        return acts + c.stop(10.0)  # MASTER -> STOP

    def group() -> list[Action]:
        v1, v2 = inst(150, "VI_1", 51), inst(100, "VI_2", 52)
        g = SyncGroup(SyncGroupSettings("G", ("VI_1", "VI_2")), {"VI_1": v1, "VI_2": v2})
        acts = g.follow(v1.start(0.0) + v2.start(0.0), 0.0)
        acts += g.handle_timer(g.get_timer())  # type: ignore[arg-type]  # SYNC_MASTER
        acts += g.follow(higher(v2, 10.0), 10.0)  # SYNC_BACKUP
        acts += g.follow(v2.set_script_result("c", False, 11.0), 11.0)  # SYNC_FAULT (BACKUP)
        acts += g.follow(v2.set_script_result("c", True, 12.0), 12.0)  # SYNC_FAULT_CLEARED
        acts += g.handle_timer(100.0)
        return acts + g.follow(
            v1.set_script_result("c", False, 101.0), 101.0
        )  # SYNC_FAULT (MASTER)

    return [fault_start, owner_restart, election, stops, group, lambda: restart(inst())]


def test_every_table_entry_is_reached() -> None:
    seen: set[tuple[State, Trigger]] = set()
    for scenario in scenarios():
        for change in of_type(scenario(), StateChanged):
            assert TRANSITIONS[(change.old, change.reason)] is change.new
            seen.add((change.old, change.reason))
    assert seen == set(TRANSITIONS)


def test_garp_delay_and_refresh_edges() -> None:
    i = VrrpInstance(make_settings(garp_master_delay=5.0, garp_master_refresh=7.0))
    i.start(0.0)
    t = i.get_timer()
    assert t is not None
    i.handle_timer(t)
    for edge, reason in ((t + 5.0, "garp_master_delay"), (t + 7.0, "garp_master_refresh")):
        before = i.handle_timer(edge - EPS)
        assert not [g for g in of_type(before, SendGratuitous) if g.reason == reason]
        at = i.handle_timer(edge)
        assert [g.reason for g in of_type(at, SendGratuitous)] == [reason]


@settings(max_examples=500)
@given(st.binary(max_size=120), st.integers(0, 255))
def test_receive_checks_and_instance_never_raise_on_garbage(data: bytes, ttl: int) -> None:
    s = make_settings()
    with contextlib.suppress(PacketError):
        check_advert(data, ip("10.213.0.9"), mcast(s), ttl, settings=s)
    for state in ("backup", "master"):
        i = VrrpInstance(s)
        if state == "backup":
            i.start(0.0)
        else:
            to_master(i)
        acts = i.receive_advert(data, ip("10.213.0.9"), mcast(s), ttl, 50.0)
        assert i.stats.received == 1
        dropped = of_type(acts, AdvertDropped)
        assert len(dropped) == sum(i.stats.dropped.values()) <= 1


@pytest.mark.parametrize("prio", [1, 100, 254])
def test_reasons_are_named(prio: int) -> None:
    i = inst(prio)
    acts = i.start(0.0)
    assert of_type(acts, StateChanged)[0].reason is Trigger.STARTED
