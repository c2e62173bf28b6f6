"""InstanceSettings: keepalived's defaults and cross-field rules."""

from __future__ import annotations

import pytest
from vrrpkit import ip, make_settings

from vipkeeper.vrrp.settings import MCAST_V4, MCAST_V6, Auth, AuthType, SettingsError
from vipkeeper.vrrp.state import State


def test_keepalived_defaults() -> None:
    s = make_settings()
    assert (s.garp_master_delay, s.garp_master_repeat) == (5.0, 5)
    assert (s.garp_master_refresh, s.garp_master_refresh_repeat) == (0.0, 1)
    assert (s.lower_prio_delay, s.lower_prio_repeat) == (5.0, 5)
    assert s.down_timer_adverts == 3
    assert s.advert_destinations == (MCAST_V4,)
    assert s.advert_ttl == 255
    assert not s.nopreempt
    assert s.initial_state is State.BACKUP


def test_lower_prio_garp_follows_master_garp_unless_set() -> None:
    s = make_settings(garp_master_delay=2, garp_master_repeat=3)
    assert (s.lower_prio_delay, s.lower_prio_repeat) == (2, 3)
    s = make_settings(garp_lower_prio_delay=0, garp_lower_prio_repeat=1)
    assert (s.lower_prio_delay, s.lower_prio_repeat) == (0, 1)


def test_wire_interval_units() -> None:
    assert make_settings(version=2, advert_int=3).wire_interval == 3
    assert make_settings(version=3, advert_int=0.25).wire_interval == 25
    assert make_settings(version=3, advert_int=40.95).wire_interval == 4095


def test_ipv6_and_unicast_destinations() -> None:
    s = make_settings(source="fe80::1", vips=("fd00:213::1",))
    assert s.advert_destinations == (MCAST_V6,)
    u = make_settings(unicast_peers=(ip("10.213.0.2"), ip("10.213.0.3")), unicast_ttl=64)
    assert u.advert_destinations == (ip("10.213.0.2"), ip("10.213.0.3"))
    assert u.advert_ttl == 64


@pytest.mark.parametrize(
    ("kw", "field"),
    [
        ({"vrid": 0}, "vrid"),
        ({"vrid": 256}, "vrid"),
        ({"version": 4}, "version"),
        ({"version": 2, "source": "fe80::1", "vips": ("fd00::1",)}, "version"),
        ({"priority": 0}, "priority"),
        ({"priority": 256}, "priority"),
        ({"vips": ()}, "vips"),
        ({"vips": ("fd00::1",)}, "vips"),
        ({"version": 2, "advert_int": 0.5}, "advert_int"),
        ({"version": 3, "advert_int": 0.005}, "advert_int"),
        ({"version": 3, "advert_int": 41}, "advert_int"),
        ({"priority": 255, "nopreempt": True}, "nopreempt"),
        ({"initial_state": State.MASTER, "nopreempt": True}, "nopreempt"),
        ({"initial_state": State.FAULT}, "initial_state"),
        ({"preempt_delay": 1001}, "preempt_delay"),
        ({"preempt_delay": -1}, "preempt_delay"),
        ({"version": 3, "auth": Auth(AuthType.AH, b"x")}, "auth"),
        ({"version": 2, "strict_mode": True, "auth": Auth(AuthType.AH, b"x")}, "auth"),
        ({"version": 2, "auth": Auth(AuthType.AH, b"123456789")}, "auth"),
        ({"version": 2, "auth": Auth(AuthType.PASS, b"123456789")}, "auth"),
        ({"version": 3, "auth": Auth(AuthType.PASS, b"x")}, "auth"),
        ({"version": 2, "strict_mode": True, "auth": Auth(AuthType.PASS, b"x")}, "auth"),
        ({"strict_mode": True, "unicast_peers": (ip("10.213.0.2"),)}, "unicast_peers"),
        ({"down_timer_adverts": 0}, "down_timer_adverts"),
        ({"garp_master_repeat": 0}, "garp_master_repeat"),
        ({"unicast_min_ttl": 10, "unicast_max_ttl": 5}, "unicast_min_ttl"),
    ],
)
def test_rules(kw: dict[str, object], field: str) -> None:
    with pytest.raises(SettingsError, match=f"^{field}:"):
        make_settings(**kw)  # type: ignore[arg-type]


def test_ah_accepted_for_vrrpv2() -> None:
    assert make_settings(version=2, auth=Auth(AuthType.AH, b"s3cr3t")).auth.type is AuthType.AH


def test_owner_and_limits_accepted() -> None:
    assert make_settings(priority=255).is_owner
    assert not make_settings(priority=254).is_owner
    make_settings(preempt_delay=1000, nopreempt=True)
    make_settings(version=2, auth=Auth(AuthType.PASS, b"12345678"))
