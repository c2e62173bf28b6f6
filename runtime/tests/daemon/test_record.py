"""The VIP record kept for a crashed run's successor (no kernel: Kernel.expect is bookkeeping),
and what a record that cannot be written (a real full filesystem) changes: nothing."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from ipaddress import ip_interface
from pathlib import Path

import pytest
from daemon.vkd import StateFs

from vipkeeper.daemon.kernel import RECORD_NAME, Kernel
from vipkeeper.net.addrs import Addresses, AddrSpec, RouteSpec
from vipkeeper.net.record import RecordError


@pytest.fixture(autouse=True)
def event_loop() -> Iterator[None]:
    """A current event loop: on Python 3.9 the Kernel's asyncio.Queue binds one when made, and
    an earlier test's asyncio.run may have left none (the daemon makes its Kernel in its loop)."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        yield
    finally:
        asyncio.set_event_loop(None)
        loop.close()


def _spec(n: int) -> AddrSpec:
    return AddrSpec("eth0", ip_interface(f"10.213.1.{n}/24"))


def _recorded(state: Path) -> tuple[set[str], set[str]]:
    data = json.loads((state / RECORD_NAME).read_text())
    return {a["address"] for a in data["addresses"]}, {r["destination"] for r in data["routes"]}


def test_expect_records_before_any_add_and_forgets_only_what_is_not_held(tmp_path: Path) -> None:
    k = Kernel(str(tmp_path))
    route = RouteSpec(ip_interface("10.213.50.0/24"), ifname="eth0")
    k.expect([_spec(100), _spec(101)], [route])
    assert _recorded(tmp_path) == ({"10.213.1.100/24", "10.213.1.101/24"}, {"10.213.50.0/24"})
    saved = (tmp_path / RECORD_NAME).stat().st_mtime_ns
    k.record.add_address(_spec(100))  # a new master's add: already recorded, nothing written
    assert (tmp_path / RECORD_NAME).stat().st_mtime_ns == saved
    k.held.add(_spec(100).key())  # 100 is on the interface
    k.expect([_spec(102)], [])  # a reload drops 100, 101 and the route
    assert _recorded(tmp_path) == ({"10.213.1.100/24", "10.213.1.102/24"}, set())
    k.held.discard(_spec(100).key())
    k.expect([], [])  # a clean stop, with everything released
    assert _recorded(tmp_path) == (set(), set())


@pytest.fixture
def statefs() -> Iterator[StateFs]:
    """A 64 KiB tmpfs (a real filesystem that fills up), always unmounted."""
    fs = StateFs()
    try:
        yield fs
    finally:
        fs.unmount()


def test_a_record_that_cannot_be_written_changes_nothing(statefs: StateFs) -> None:
    k = Kernel(str(statefs.path))
    k.expect([_spec(100)], [])
    before = (statefs.path / RECORD_NAME).read_text()
    statefs.fill()
    with pytest.raises(RecordError, match=r"vips\.json: \[ENOSPC\] No space left on device"):
        k.expect([_spec(100), _spec(101)], [])
    assert k.expected == {_spec(100).key()}, "the running config's entries stay expected"
    assert set(k.record.addrs) == {_spec(100).key()}
    assert (statefs.path / RECORD_NAME).read_text() == before
    assert not list(statefs.path.glob("*.tmp")), "no partial file takes the space"
    statefs.free()
    k.expect([_spec(100), _spec(101)], [])  # the fault cleared: the next write goes through
    assert _recorded(statefs.path) == ({"10.213.1.100/24", "10.213.1.101/24"}, set())


class StandInAddresses(Addresses):
    """Netlink stands in here: this process is in the host's namespace, whose interfaces a
    test must not touch. Every removal succeeds; what was removed is remembered."""

    def __init__(self) -> None:
        super().__init__()
        self.removed: list[str] = []

    async def open(self) -> None:
        """Nothing to open."""

    def close(self) -> None:
        """Nothing to close."""

    def send_now(self, spec: AddrSpec, *, add: bool) -> asyncio.Future[int] | None:
        """Never at once: the job awaits remove_address."""
        return None

    async def remove_address(self, spec: AddrSpec) -> bool:
        """Removed."""
        self.removed.append(str(spec.address))
        return True


def test_a_removal_goes_on_when_the_record_cannot_forget_an_address(
    statefs: StateFs, caplog: pytest.LogCaptureFixture
) -> None:
    async def run() -> list[str]:
        k = Kernel(str(statefs.path))
        k.addrs = stand_in = StandInAddresses()
        await k.start()
        k.expect([_spec(100), _spec(101)], [])
        k.held |= {_spec(100).key(), _spec(101).key()}
        k.expect([], [])  # a reload dropped both: each leaves the record once removed
        statefs.fill()
        k.remove_addresses((_spec(100), _spec(101)), "VI_1")
        await k.drain(5)
        await k.stop()
        return stand_in.removed

    assert asyncio.run(run()) == ["10.213.1.100/24", "10.213.1.101/24"], caplog.text
    assert "(VI_1) cannot write the VIP record" in caplog.text
    assert "it still lists 10.213.1.100/24 on eth0, already removed" in caplog.text
    assert "kernel job failed" not in caplog.text
    assert _recorded(statefs.path)[0] == {"10.213.1.100/24", "10.213.1.101/24"}
