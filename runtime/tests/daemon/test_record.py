"""The VIP record kept for a crashed run's successor (no kernel: Kernel.expect is bookkeeping)."""

from __future__ import annotations

import json
from ipaddress import ip_interface
from pathlib import Path

from vipkeeper.daemon.kernel import RECORD_NAME, Kernel
from vipkeeper.net.addrs import AddrSpec, RouteSpec


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
