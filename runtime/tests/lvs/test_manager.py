"""LvsManager on a fake dataplane: pool membership, inhibit, quorum + sorry server, reload, stop."""

from __future__ import annotations

import asyncio
import os
import tempfile
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

from vipkeeper.config.model import (
    Config,
    GlobalDefs,
    LvsFlushOnStop,
    RealServer,
    ScriptCommand,
    SorryServer,
    TcpCheck,
    VirtualServer,
    VirtualServerGroup,
    VsgEntry,
)
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.manager import LvsManager
from vipkeeper.lvs.model import DestKey, ServiceKey

VIP = ip_address("10.213.2.100")
KEY = ServiceKey(family=4, protocol="TCP", address="10.213.2.100", port=80)
NEVER = 1e6  # checkers never run on their own in these tests


def rs(n: int, weight: int = 1, **kw: object) -> RealServer:
    return RealServer(
        address=ip_address(f"10.213.1.{n}"), port=8080, weight=weight, checkers=(TcpCheck(),), **kw
    )  # type: ignore[arg-type]


def vs(*servers: RealServer, **kw: object) -> VirtualServer:
    return VirtualServer(address=VIP, port=80, lb_algo="wrr", real_servers=servers, **kw)  # type: ignore[arg-type]


def cfg(*vss: VirtualServer, **gd: object) -> Config:
    return Config(virtual_servers=vss, global_defs=GlobalDefs(**gd))  # type: ignore[arg-type]


def weights(fake: FakeDataplane, key: ServiceKey = KEY) -> dict[str, int]:
    return {d.key.address: d.weight for d in fake.table[key]}


def set_check(mgr: LvsManager, n: int, up: bool, vs_index: int = 0) -> None:
    srv = next(
        s
        for s in mgr.virtual_servers[vs_index].servers
        if s.rs.address == ip_address(f"10.213.1.{n}")
    )
    srv.loops[0].up = up
    mgr.server_changed(srv)


async def settle(mgr: LvsManager | None = None) -> None:
    await asyncio.sleep(0)
    if mgr is not None:
        await mgr.wait_synced()


async def _pool_follows_checks_and_inhibit() -> None:
    fake = FakeDataplane()
    mgr = LvsManager(
        cfg(vs(rs(11, 3), rs(12, 1, inhibit_on_failure=True))), backend=fake, bootstrap=NEVER
    )
    await mgr.start()
    assert weights(fake) == {"10.213.1.11": 3, "10.213.1.12": 1}
    assert fake.table[KEY].service.scheduler == "wrr"
    assert {d.key for d in fake.table[KEY]} == {
        DestKey("10.213.1.11", 8080),
        DestKey("10.213.1.12", 8080),
    }
    set_check(mgr, 11, False)
    set_check(mgr, 12, False)
    await settle(mgr)
    assert weights(fake) == {"10.213.1.12": 0}  # removed; inhibited one kept at weight 0
    set_check(mgr, 11, True)
    await settle(mgr)
    assert weights(fake) == {"10.213.1.11": 3, "10.213.1.12": 0}
    snap = mgr.snapshot()
    assert snap["virtual_servers"][0]["real_servers"][1]["alive"] is False
    await mgr.stop()
    assert fake.table == {}


async def _alpha_starts_down() -> None:
    fake = FakeDataplane()
    server = replace(rs(11), checkers=(TcpCheck(alpha=True),))
    mgr = LvsManager(cfg(vs(server, rs(12))), backend=fake, bootstrap=NEVER)
    await mgr.start()
    assert weights(fake) == {"10.213.1.12": 1}
    await mgr.stop()


async def _hysteresis() -> None:
    fake = FakeDataplane()
    sorry = SorryServer(address=ip_address("10.213.1.99"), port=8080)
    mgr = LvsManager(
        cfg(vs(rs(11), rs(12), rs(13), quorum=2, hysteresis=1, sorry_server=sorry)),
        backend=fake,
        bootstrap=NEVER,
    )
    await mgr.start()
    vss = mgr.virtual_servers[0]
    assert vss.quorum_up
    set_check(mgr, 11, False)
    set_check(mgr, 12, False)
    assert vss.quorum_up  # 1 is not below quorum - hysteresis = 1
    set_check(mgr, 13, False)
    await settle(mgr)
    assert not vss.quorum_up and weights(fake) == {"10.213.1.99": 1}
    set_check(mgr, 11, True)
    set_check(mgr, 12, True)
    assert not vss.quorum_up  # 2 is below quorum + hysteresis = 3
    set_check(mgr, 13, True)
    await settle(mgr)
    assert vss.quorum_up and set(weights(fake)) == {"10.213.1.11", "10.213.1.12", "10.213.1.13"}
    await mgr.stop()


async def _quorum_loss_brings_sorry_server_and_back() -> None:
    fake = FakeDataplane()
    sorry = SorryServer(address=ip_address("10.213.1.99"), port=8080)
    mgr = LvsManager(
        cfg(vs(rs(11), rs(12), quorum=2, sorry_server=sorry)), backend=fake, bootstrap=NEVER
    )
    await mgr.start()
    assert set(weights(fake)) == {"10.213.1.11", "10.213.1.12"}
    set_check(mgr, 11, False)
    await settle(mgr)
    assert weights(fake) == {"10.213.1.99": 1}  # alive 12 removed, sorry server in
    set_check(mgr, 11, True)
    await settle(mgr)
    assert set(weights(fake)) == {"10.213.1.11", "10.213.1.12"}
    await mgr.stop()


async def _reload_keeps_unchanged_and_deletes_removed() -> None:
    fake = FakeDataplane()
    other = VirtualServer(address=VIP, port=443, real_servers=(rs(21),))
    mgr = LvsManager(cfg(vs(rs(11), rs(12)), other), backend=fake, bootstrap=NEVER)
    await mgr.start()
    set_check(mgr, 12, False)
    await settle(mgr)
    loop11 = mgr.virtual_servers[0].servers[0].loops[0]
    fake.applied.clear()
    await mgr.apply(cfg(vs(rs(11), rs(12), rs(13))))
    key443 = replace(KEY, port=443)
    assert key443 not in fake.table
    # 11 kept (same checker object), 12 stays failed (not re-added at once), 13 added
    assert mgr.virtual_servers[0].servers[0].loops[0] is loop11
    assert weights(fake) == {"10.213.1.11": 1, "10.213.1.13": 1}
    touched = [op for ops in fake.applied for op in ops]
    assert all(getattr(op, "dest", None) not in (DestKey("10.213.1.11", 8080),) for op in touched)
    await mgr.stop()


async def _group_and_fwmark_services() -> None:
    fake = FakeDataplane()
    group = VirtualServerGroup(
        name="web",
        members=(
            VsgEntry(address=ip_address("10.213.2.1"), range_end=ip_address("10.213.2.3"), port=80),
            VsgEntry(fwmark=5),
        ),
    )
    gvs = VirtualServer(group="web", real_servers=(rs(11),))
    config = Config(virtual_servers=(gvs,), virtual_server_groups=(group,))
    mgr = LvsManager(config, backend=fake, bootstrap=NEVER)
    await mgr.start()
    assert sorted(str(k) for k in fake.table) == [
        "10.213.2.1:tcp:80", "10.213.2.2:tcp:80", "10.213.2.3:tcp:80", "FWM 5",
    ]  # fmt: skip
    assert mgr.snapshot()["virtual_servers"][0]["name"] == "[web]:0"
    await mgr.stop()


async def _flush_on_stop_all_and_foreign_services_untouched() -> None:
    foreign = ServiceKey(family=4, protocol="TCP", address="10.213.9.9", port=1)
    from vipkeeper.lvs.model import Service, state

    fake = FakeDataplane({foreign: state(Service(foreign), [])})
    mgr = LvsManager(cfg(vs(rs(11))), backend=fake, bootstrap=NEVER)
    await mgr.start()
    assert foreign in fake.table and KEY in fake.table
    await mgr.stop()
    assert list(fake.table) == [foreign]
    fake2 = FakeDataplane({foreign: state(Service(foreign), [])})
    mgr = LvsManager(
        cfg(vs(rs(11)), lvs_flush_on_stop=LvsFlushOnStop.ALL), backend=fake2, bootstrap=NEVER
    )
    await mgr.start()
    await mgr.stop()
    assert fake2.table == {}


async def _notify_fifo_lines() -> None:
    path = os.path.join(tempfile.mkdtemp(), "lvs.fifo")
    os.mkfifo(path)
    reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    fake = FakeDataplane()
    mgr = LvsManager(cfg(vs(rs(11), rs(12)), lvs_notify_fifo=path), backend=fake, bootstrap=NEVER)
    await mgr.start()
    set_check(mgr, 11, False)
    set_check(mgr, 12, False)
    await settle(mgr)
    data = os.read(reader, 4096).decode()
    assert data == (
        "RS [10.213.1.11]:tcp:8080 [10.213.2.100]:tcp:80 DOWN\n"
        "RS [10.213.1.12]:tcp:8080 [10.213.2.100]:tcp:80 DOWN\n"
        "VS [10.213.2.100]:tcp:80 DOWN\n"
    )
    await mgr.stop()
    os.close(reader)


async def _notify_fifo_script_reads_the_lines() -> None:
    workdir = tempfile.mkdtemp()
    path, out = os.path.join(workdir, "lvs.fifo"), os.path.join(workdir, "seen")
    script = ScriptCommand(command="sh -c ...", argv=("sh", "-c", f'exec cat "$0" > {out}'))
    fake = FakeDataplane()
    config = cfg(vs(rs(11), rs(12)), lvs_notify_fifo=path, lvs_notify_fifo_script=script)
    mgr = LvsManager(config, backend=fake, bootstrap=NEVER)
    await mgr.start()
    set_check(mgr, 11, False)
    for _ in range(200):
        if os.path.exists(out) and Path(out).read_text():
            break
        await asyncio.sleep(0.02)
    assert Path(out).read_text() == ("RS [10.213.1.11]:tcp:8080 [10.213.2.100]:tcp:80 DOWN\n")
    await mgr.stop()


def test_pool_follows_checks_and_inhibit() -> None:
    asyncio.run(_pool_follows_checks_and_inhibit())


def test_alpha_starts_down() -> None:
    asyncio.run(_alpha_starts_down())


def test_hysteresis() -> None:
    asyncio.run(_hysteresis())


def test_quorum_loss_brings_sorry_server_and_back() -> None:
    asyncio.run(_quorum_loss_brings_sorry_server_and_back())


def test_reload_keeps_unchanged_and_deletes_removed() -> None:
    asyncio.run(_reload_keeps_unchanged_and_deletes_removed())


def test_group_and_fwmark_services() -> None:
    asyncio.run(_group_and_fwmark_services())


def test_flush_on_stop_all_and_foreign_services_untouched() -> None:
    asyncio.run(_flush_on_stop_all_and_foreign_services_untouched())


def test_notify_fifo_lines() -> None:
    asyncio.run(_notify_fifo_lines())


def test_notify_fifo_script_reads_the_lines() -> None:
    asyncio.run(_notify_fifo_script_reads_the_lines())
