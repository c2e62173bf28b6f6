"""The conflict table (sans-IO) and the core's held takeover, with an explicit clock."""

from __future__ import annotations

from ipaddress import IPv4Address

from vrrp.vrrpkit import make_settings

from vipkeeper.vrrp.conflict import ConflictTable
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.state import State

VIP = IPv4Address("10.213.100.1")
OTHER = bytes.fromhex("020000000002")


def test_a_claim_begins_a_conflict_once() -> None:
    t = ConflictTable(hold=15.0)
    c, new = t.heard("VI_1", VIP, OTHER, "eth0", 10.0)
    assert new and (c.first_seen, c.last_seen, c.answers) == (10.0, 10.0, 1)
    c2, new2 = t.heard("VI_1", VIP, OTHER, "eth0", 15.0)
    assert c2 is c and not new2 and (c.last_seen, c.answers) == (15.0, 2)
    assert (t.detected, t.answers) == (1, 2)


def test_a_conflict_ends_when_unheard_for_hold() -> None:
    t = ConflictTable(hold=15.0)
    t.heard("VI_1", VIP, OTHER, "eth0", 10.0)
    assert t.expire(24.9) == []
    [ended] = t.expire(25.0)
    assert ended.mac == OTHER and t.of("VI_1") == []
    _, new = t.heard("VI_1", VIP, OTHER, "eth0", 30.0)
    assert new and t.detected == 2


def test_heard_since_sees_only_claims_of_the_window() -> None:
    t = ConflictTable(hold=15.0)
    t.heard("VI_1", VIP, OTHER, "eth0", 10.0)
    assert t.heard_since("VI_1", 10.5) is None
    t.heard("VI_1", VIP, OTHER, "eth0", 10.6)
    found = t.heard_since("VI_1", 10.5)
    assert found is not None and found.last_seen == 10.6
    assert t.heard_since("VI_2", 0.0) is None


def test_a_held_takeover_stays_backup_and_runs_the_down_timer_again() -> None:
    core = VrrpInstance(make_settings(advert_int=1.0))
    core.start(0.0)
    assert core.state is State.BACKUP
    due = core.get_timer()
    assert due is not None
    assert core.hold_takeover(due + 0.03) == []
    assert core.state is State.BACKUP
    assert core.get_timer() == due + 0.03 + core.down_interval
    # not due yet: nothing moves
    at = core.get_timer()
    core.hold_takeover(due + 0.5)
    assert core.get_timer() == at
