"""virtual_rules in the core: added on becoming MASTER, removed on leaving it (keepalived's order).

keepalived (vrrp.c) adds VIPs, then routes, then rules on becoming master, and removes rules,
then routes, then VIPs when it leaves (vrrp_restore_interface); a start into BACKUP removes
them too, in case an earlier run left them.
"""

from __future__ import annotations

import dataclasses
import ipaddress

from vrrpkit import ip, make_settings, mcast, of_type, peer_advert

from vipkeeper.vrrp.actions import AddRules, RemoveRules
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import VirtualRoute, VirtualRule
from vipkeeper.vrrp.state import State

RULE = VirtualRule("from 10.213.9.0/24 lookup 100 priority 5")
OTHER = VirtualRule("from 10.213.8.0/24 lookup 100 priority 6")
ROUTE = VirtualRoute(dst=ipaddress.ip_network("10.213.50.0/24"))
NAMES = ("AddVips", "AddRoutes", "AddRules", "RemoveRules", "RemoveRoutes", "RemoveVips")


def kernel_steps(acts: list) -> list[str]:
    return [type(a).__name__ for a in acts if type(a).__name__ in NAMES]


def master(**kw: object) -> VrrpInstance:
    inst = VrrpInstance(make_settings(virtual_routes=(ROUTE,), **kw))  # type: ignore[arg-type]
    inst.start(0.0)
    inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert inst.state is State.MASTER
    return inst


def test_start_in_backup_removes_rules_first() -> None:
    inst = VrrpInstance(make_settings(virtual_routes=(ROUTE,), virtual_rules=(RULE,)))
    acts = inst.start(0.0)
    assert kernel_steps(acts) == ["RemoveRules", "RemoveRoutes", "RemoveVips"]
    assert of_type(acts, RemoveRules) == [RemoveRules("VI_1", (RULE,))]


def test_becoming_master_adds_rules_after_routes() -> None:
    inst = VrrpInstance(make_settings(virtual_routes=(ROUTE,), virtual_rules=(RULE, OTHER)))
    inst.start(0.0)
    acts = inst.handle_timer(inst.get_timer())  # type: ignore[arg-type]
    assert kernel_steps(acts) == ["AddVips", "AddRoutes", "AddRules"]
    assert of_type(acts, AddRules) == [AddRules("VI_1", (RULE, OTHER))]


def test_leaving_master_for_a_higher_priority_removes_rules() -> None:
    inst = master(virtual_rules=(RULE,))
    data = peer_advert(inst.settings, 200, "10.213.0.9")
    acts = inst.receive_advert(data, ip("10.213.0.9"), mcast(inst.settings), 255, 5.0)
    assert inst.state is State.BACKUP
    assert kernel_steps(acts) == ["RemoveRules", "RemoveRoutes", "RemoveVips"]


def test_stop_removes_rules() -> None:
    inst = master(virtual_rules=(RULE,))
    acts = inst.stop(5.0)
    assert of_type(acts, RemoveRules) == [RemoveRules("VI_1", (RULE,))]


def test_no_rules_no_rule_actions() -> None:
    inst = master()
    assert of_type(inst.stop(5.0), RemoveRules) == []


def test_a_master_reconfigured_swaps_only_the_changed_rules() -> None:
    inst = master(virtual_rules=(RULE,))
    settings = dataclasses.replace(inst.settings, virtual_rules=(RULE, OTHER))
    acts = inst.reconfigure(settings, 10.0)
    assert of_type(acts, AddRules) == [AddRules("VI_1", (OTHER,))]
    assert of_type(acts, RemoveRules) == []
    acts = inst.reconfigure(dataclasses.replace(settings, virtual_rules=(OTHER,)), 11.0)
    assert of_type(acts, RemoveRules) == [RemoveRules("VI_1", (RULE,))]
    assert of_type(acts, AddRules) == []


def test_a_backup_reconfigured_touches_no_rule() -> None:
    inst = VrrpInstance(make_settings(virtual_rules=(RULE,)))
    inst.start(0.0)
    acts = inst.reconfigure(dataclasses.replace(inst.settings, virtual_rules=(OTHER,)), 1.0)
    assert of_type(acts, AddRules) == of_type(acts, RemoveRules) == []
