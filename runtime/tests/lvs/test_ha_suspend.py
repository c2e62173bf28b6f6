"""ha_suspend without a network: which addresses suspend which checkers, and what stays put.

keepalived (check_api.c update_checker_activity): a virtual server with ha_suspend runs its
checkers only while a local interface carries its address; while suspended a checker makes
no attempts and its verdict is kept, and the service stays programmed.
"""

from __future__ import annotations

import asyncio
from ipaddress import ip_address

from vipkeeper.checks.checkers.result import Target
from vipkeeper.checks.checkers.runner import CheckerLoop
from vipkeeper.config.model import (
    Config,
    RealServer,
    TcpCheck,
    VirtualServer,
    VirtualServerGroup,
    VsgEntry,
)
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.manager import LvsManager
from vipkeeper.lvs.model import ServiceKey
from vipkeeper.net.addrwatch import AddressTable

VIP = ip_address("10.213.2.100")
OTHER = ip_address("10.213.2.101")
KEY = ServiceKey(family=4, protocol="TCP", address=str(VIP), port=80)
NEVER = 1e6  # checkers never run on their own in these tests


def _rs(n: int) -> RealServer:
    return RealServer(address=ip_address(f"10.213.1.{n}"), port=8080, checkers=(TcpCheck(),))


def _suspended(mgr: LvsManager, index: int = 0) -> tuple[bool, list[bool]]:
    vss = mgr.virtual_servers[index]
    return vss.suspended, [lp.suspended for s in vss.servers for lp in s.loops]


def test_address_table_counts_interfaces() -> None:
    table = AddressTable()
    assert table.added(VIP, 2) is True
    assert table.added(VIP, 3) is False  # a second interface: no change
    assert table.added(VIP, 3) is False  # a repeated event: no change
    assert table.removed(VIP, 2) is False and VIP in table
    assert table.removed(VIP, 3) is True and VIP not in table
    assert table.removed(VIP, 3) is False  # already gone


async def _suspension_follows_the_address() -> None:
    fake = FakeDataplane()
    plain = VirtualServer(address=OTHER, port=80, real_servers=(_rs(12),))
    config = Config(
        virtual_servers=(
            VirtualServer(address=VIP, port=80, ha_suspend=True, real_servers=(_rs(11),)),
            plain,
        )
    )
    mgr = LvsManager(config, backend=fake, bootstrap=NEVER, watch_addresses=False)
    await mgr.start()
    try:
        assert _suspended(mgr, 0) == (True, [True])
        assert _suspended(mgr, 1) == (False, [False])  # no ha_suspend: never suspended
        # the service is programmed and the real server kept (not alpha: up until checked)
        assert {d.key.address for d in fake.table[KEY]} == {"10.213.1.11"}
        mgr.address_changed(OTHER, True)  # somebody else's address
        assert _suspended(mgr, 0) == (True, [True])
        mgr.address_changed(VIP, True)
        assert _suspended(mgr, 0) == (False, [False])
        snap = mgr.snapshot()["virtual_servers"][0]
        assert (snap["ha_suspend"], snap["suspended"]) == (True, False)
        mgr.address_changed(VIP, False)
        assert _suspended(mgr, 0) == (True, [True])
        assert mgr.snapshot()["virtual_servers"][0]["real_servers"][0]["checkers"][0]["suspended"]
        # a reload keeps the suspension (no address came meanwhile)
        await mgr.apply(config)
        assert _suspended(mgr, 0) == (True, [True])
        assert {d.key.address for d in fake.table[KEY]} == {"10.213.1.11"}
    finally:
        await mgr.stop()


def test_suspension_follows_the_address() -> None:
    asyncio.run(_suspension_follows_the_address())


async def _group_ranges_and_fwmark() -> None:
    group = VirtualServerGroup(
        name="web",
        members=(
            VsgEntry(
                address=ip_address("10.213.3.10"), range_end=ip_address("10.213.3.12"), port=80
            ),
            VsgEntry(fwmark=7),
        ),
    )
    config = Config(
        virtual_servers=(
            VirtualServer(group="web", ha_suspend=True, real_servers=(_rs(11),)),
            VirtualServer(fwmark=9, ha_suspend=True, real_servers=(_rs(12),)),
        ),
        virtual_server_groups=(group,),
    )
    mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=NEVER, watch_addresses=False)
    await mgr.start()
    try:
        assert _suspended(mgr, 0) == (True, [True])
        assert _suspended(mgr, 1) == (False, [False])  # fwmark: no address, ha_suspend ignored
        mgr.address_changed(ip_address("10.213.3.13"), True)  # just past the range
        assert _suspended(mgr, 0)[0]
        mgr.address_changed(ip_address("fd00::10"), True)  # another family
        assert _suspended(mgr, 0)[0]
        mgr.address_changed(ip_address("10.213.3.11"), True)  # inside the range
        assert _suspended(mgr, 0) == (False, [False])
    finally:
        await mgr.stop()


def test_group_ranges_and_fwmark() -> None:
    asyncio.run(_group_ranges_and_fwmark())


async def _suspended_loop_makes_no_attempts() -> None:
    check = TcpCheck(delay_loop=0.05, connect_timeout=0.2, retry=0, delay_before_retry=0.05)
    changes: list[bool] = []
    # port 1 on loopback: refused at once, so every attempt is a quick failure
    loop = CheckerLoop(
        check, Target(ip_address("127.0.0.1"), 1), lambda lp: changes.append(lp.up), bootstrap=0
    )
    loop.suspended = True
    loop.start()
    try:
        await asyncio.sleep(0.4)
        assert (loop.attempts, loop.up, changes) == (0, True, [])
        loop.suspended = False
        for _ in range(100):
            if changes:
                break
            await asyncio.sleep(0.02)
        assert loop.attempts >= 1 and changes == [False]
        loop.suspended = True
        await asyncio.sleep(0.1)  # an attempt under way may finish
        seen = loop.attempts
        await asyncio.sleep(0.4)
        assert loop.attempts == seen
    finally:
        await loop.stop()


def test_suspended_loop_makes_no_attempts() -> None:
    asyncio.run(_suspended_loop_makes_no_attempts())
