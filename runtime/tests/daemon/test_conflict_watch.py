"""ConflictWatch with stand-ins: which claims are conflicts, what is counted, logged and run."""

from __future__ import annotations

import logging
import time
from ipaddress import IPv4Address, IPv4Interface
from types import SimpleNamespace
from typing import Any

import pytest

from vipkeeper.config import model as m
from vipkeeper.daemon.conflict import MASTER_GRACE, ConflictWatch, vmac
from vipkeeper.daemon.notify import CONFLICT_HOOK
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.net.addrs import AddrSpec
from vipkeeper.net.links import Link
from vipkeeper.net.probe import Claim
from vipkeeper.vrrp.state import State

VIP = IPv4Address("10.213.1.100")
OURS = bytes.fromhex("020000000001")
OTHER = bytes.fromhex("020000000002")


class Loop:
    def __init__(self) -> None:
        self.now = 100.0

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Any) -> Any:
        return SimpleNamespace(cancel=lambda: None)


class Notify:
    def __init__(self) -> None:
        self.calls: list[tuple[str, str, tuple[str, ...]]] = []

    def notify(self, name: str, kind: str, argv: Any) -> None:
        self.calls.append((name, kind, tuple(argv)))


def make(
    state: State = State.MASTER, *, became: float | None = 60.0, **vk: Any
) -> tuple[ConflictWatch, Managed, dict[str, int], Notify, Loop]:
    registry = Registry()
    core = SimpleNamespace(state=state)
    plan = SimpleNamespace(addrs=(AddrSpec("eth0", IPv4Interface(f"{VIP}/24")),))
    managed = Managed(plan, core)  # type: ignore[arg-type]
    managed.plan.settings = SimpleNamespace(name="VI_1")  # type: ignore[misc]
    if became is not None:
        managed.last_transition = {"at": time.time() - became}
    registry.instances["VI_1"] = managed
    links = SimpleNamespace(links={"eth0": Link(2, "eth0", True, OURS)})
    counters = {"vip_conflicts": 0, "vip_conflict_answers": 0, "takeovers_held": 0}
    notify, loop = Notify(), Loop()
    watch = ConflictWatch(
        loop=loop,  # type: ignore[arg-type]
        registry=registry,
        links=links,  # type: ignore[arg-type]
        notify=notify,  # type: ignore[arg-type]
        counters=counters,
    )
    watch.configure(m.Config(vipkeeper=m.VipkeeperDefs(**vk)))
    return watch, managed, counters, notify, loop


def test_another_mac_claiming_a_master_vip_is_a_conflict(caplog: pytest.LogCaptureFixture) -> None:
    hook = m.ScriptCommand(command="/bin/hook x", argv=("/bin/hook", "x"))
    watch, _, counters, notify, loop = make(conflict_notify=hook)
    with caplog.at_level(logging.ERROR, "vipkeeper"):
        watch.claimed([Claim(VIP, OTHER)], "eth0")
        loop.now += 1
        watch.claimed([Claim(VIP, OTHER)], "eth0")
    assert counters == {"vip_conflicts": 1, "vip_conflict_answers": 2, "takeovers_held": 0}
    assert [r.getMessage() for r in caplog.records] == [
        "(VI_1) VIP conflict: 10.213.1.100 is also held by 02:00:00:00:00:02 on eth0"
        " (we are MASTER)"
    ]
    assert notify.calls == [
        (
            *CONFLICT_HOOK,
            ("/bin/hook", "x", "conflict", "VI_1", str(VIP), "02:00:00:00:00:02", "eth0"),
        )
    ]
    [c] = watch.instance_status("VI_1", loop.now)
    assert (c["answers"], c["first_seen_ago"], c["last_seen_ago"]) == (2, 1.0, 0.0)


@pytest.mark.parametrize(
    ("claim", "ifname", "state", "became", "vk"),
    [
        (Claim(VIP, OURS), "eth0", State.MASTER, 60.0, {}),  # our own answer or GARP
        (Claim(IPv4Address("10.213.1.7"), OTHER), "eth0", State.MASTER, 60.0, {}),  # not a VIP
        (Claim(VIP, OTHER), "eth1", State.MASTER, 60.0, {}),  # the VIP is not on eth1
        (Claim(VIP, OTHER), "eth0", State.BACKUP, 60.0, {}),  # the new master's answer
        (Claim(VIP, OTHER), "eth0", State.MASTER, MASTER_GRACE / 2, {}),  # the old master
        (Claim(VIP, OTHER), "eth0", State.MASTER, 60.0, {"conflict_detection": m.ConflictMode.OFF}),
    ],
)
def test_no_conflict(
    claim: Claim, ifname: str, state: State, became: float, vk: dict[str, Any]
) -> None:
    watch, _, counters, _, _ = make(state, became=became, **vk)
    watch.claimed([claim], ifname)
    assert counters["vip_conflict_answers"] == 0 and watch.table.active == {}


def test_the_vrrp_virtual_mac_of_a_use_vmac_instance_is_ours() -> None:
    watch, _, counters, _, _ = make()
    inst = m.VrrpInstanceConfig(name="VI_1", virtual_router_id=51, use_vmac=True)
    watch.configure(m.Config(vrrp_instances=(inst,)))
    watch.claimed([Claim(VIP, vmac(51, 4))], "eth0")
    assert counters["vip_conflict_answers"] == 0
    assert vmac(51, 4) == bytes.fromhex("00005e000133")


def test_a_guard_hears_claims_while_backup() -> None:
    watch, managed, counters, _, loop = make(State.BACKUP)
    watch.guarding["VI_1"] = loop.now  # start_guard without its probes
    assert watch.guard_verdict(managed) is None
    watch.guarding["VI_1"] = loop.now
    loop.now += 0.01
    watch.claimed([Claim(VIP, OTHER)], "eth0")
    assert watch.guard_verdict(managed) == ("02:00:00:00:00:02 answers for 10.213.1.100 on eth0")
    assert counters["takeovers_held"] == 1 and watch.guarding == {}
