"""vip_info backend: netlink address dumps and events, daemon answers and dumps, waiting."""

from __future__ import annotations

import json
import socket
import struct
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import (
    daemons,
    netaddr,
    vipinfo,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import (
    FIXTURES,
    ControlServer,
    FakeModule,
)

COLLECTIONS_ROOT = Path(netaddr.__file__).parents[6]  # the dir holding ansible_collections/


def _rtattr(kind: int, payload: bytes) -> bytes:
    raw = struct.pack("=HH", 4 + len(payload), kind) + payload
    return raw + b"\0" * ((4 - len(raw) % 4) % 4)


def _newaddr(family: int, prefix: int, index: int, addr: bytes, cstamp: int) -> bytes:
    body = struct.pack("=BBBBI", family, prefix, 0, 0, index)
    body += _rtattr(netaddr.IFA_ADDRESS, addr)
    if family == socket.AF_INET:
        body += _rtattr(netaddr.IFA_LOCAL, addr)
    body += _rtattr(netaddr.IFA_CACHEINFO, struct.pack("=IIII", 0, 0, cstamp, cstamp))
    return struct.pack("=IHHII", 16 + len(body), netaddr.RTM_NEWADDR, 2, 1, 0) + body


def test_netlink_messages_decode_address_prefix_interface_and_creation_time() -> None:
    data = _newaddr(socket.AF_INET, 24, 7, bytes([10, 0, 0, 100]), 150_000)
    data += _newaddr(socket.AF_INET6, 64, 7, socket.inet_pton(socket.AF_INET6, "fd00::5"), 160_000)
    data += struct.pack("=IHHII", 20, netaddr.NLMSG_DONE, 2, 1, 0) + b"\0" * 4
    found, done = netaddr.parse_addr_messages(data, 10_000.0, 2_000.0, ifname=lambda i: f"if{i}")
    assert done
    # created = now_epoch - (now_monotonic - cstamp / 100): 10000 - (2000 - 1500) = 9500.
    assert found == [
        {"address": "10.0.0.100", "prefix": 24, "family": 4, "interface": "if7", "created": 9500.0},
        {"address": "fd00::5", "prefix": 64, "family": 6, "interface": "if7", "created": 9600.0},
    ]


def test_netlink_error_message_raises() -> None:
    data = (
        struct.pack("=IHHII", 36, netaddr.NLMSG_ERROR, 0, 1, 0) + struct.pack("=i", -1) + b"\0" * 16
    )
    with pytest.raises(OSError, match="not permitted"):
        netaddr.parse_addr_messages(data, 0.0, 0.0)


def test_real_dump_has_loopback() -> None:
    found = netaddr.netlink_addresses()
    lo = [a for a in found if a["address"] == "127.0.0.1"]
    assert lo and lo[0]["interface"] == "lo" and lo[0]["prefix"] == 8
    assert lo[0]["created"] <= time.time()


def test_ip_json_fallback() -> None:
    text = json.dumps(
        [
            {
                "ifname": "eth0",
                "addr_info": [
                    {"family": "inet", "local": "10.0.0.1", "prefixlen": 24},
                    {"family": "inet6", "local": "fe80::1", "prefixlen": 64},
                ],
            }
        ]
    )
    assert [(a["address"], a["prefix"], a["interface"]) for a in netaddr.parse_ip_json(text)] == [
        ("10.0.0.1", 24, "eth0"),
        ("fe80::1", 64, "eth0"),
    ]


STATUS: dict[str, Any] = {
    "ok": True,
    "pid": 767,
    "instances": [
        {
            "name": "web",
            "state": "BACKUP",
            "vrid": 16,
            "interface": "host0",
            "base_priority": 140,
            "effective_priority": 80,
            "master_address": "10.0.0.11",
            "faults": [],
            "vips": ["10.0.0.100/24"],
            "last_transition": {
                "at": 1795240188.5,
                "from": "INIT",
                "to": "BACKUP",
                "reason": "started",
            },
        }
    ],
}


def test_vipkeeper_status_through_the_control_socket(tmp_path: Path) -> None:
    server = ControlServer(tmp_path / "c.sock", lambda req: STATUS)
    try:
        instances, pid = daemons.vipkeeper_instances(str(tmp_path / "c.sock"))
    finally:
        server.close()
    assert server.requests == [{"command": "status"}]
    assert pid == 767
    [web] = instances
    assert (web["state"], web["base_priority"], web["effective_priority"]) == ("BACKUP", 140, 80)
    assert web["master_address"] == "10.0.0.11"
    assert web["vips"] == [{"address": "10.0.0.100", "prefix": 24}]
    assert web["last_transition"]["reason"] == "started"


def test_a_vip_conflict_in_the_status_is_returned_per_instance(tmp_path: Path) -> None:
    conflict = {
        "address": "10.0.0.100",
        "mac": "52:54:00:12:34:56",
        "interface": "host0",
        "answers": 7,
        "first_seen_ago": 4.2,
        "last_seen_ago": 0.3,
    }
    master = dict(STATUS["instances"][0], state="MASTER", conflicts=[conflict])
    server = ControlServer(tmp_path / "c.sock", lambda req: dict(STATUS, instances=[master]))
    try:
        [web] = daemons.vipkeeper_instances(str(tmp_path / "c.sock"))[0]
    finally:
        server.close()
    assert web["conflicts"] == [
        {"address": "10.0.0.100", "mac": "52:54:00:12:34:56", "interface": "host0",
         "first_seen_ago": 4.2}
    ]  # fmt: skip
    [plain] = daemons.from_vipkeeper_status(STATUS)
    assert plain["conflicts"] == []


def test_vipkeeper_not_running_is_a_daemon_error(tmp_path: Path) -> None:
    with pytest.raises(daemons.DaemonError, match="cannot reach vipkeeper"):
        daemons.vipkeeper_instances(str(tmp_path / "absent.sock"))


def test_keepalived_json_dump_of_debian_2_2_7() -> None:
    data = json.loads((FIXTURES / "keepalived-2.2.7.json").read_text())
    [inst] = daemons.from_keepalived_json(data)
    assert inst["name"] == "T1" and inst["state"] == "MASTER" and inst["vrid"] == 77
    assert inst["base_priority"] == 100 and inst["interface"] == "host0"
    assert inst["vips"] == [{"address": "10.213.101.109", "prefix": 24}]
    assert inst["last_transition"]["at"] == pytest.approx(1795240264.507391)


def test_keepalived_data_dump_master_and_backup() -> None:
    text = (FIXTURES / "keepalived-2.2.7-master.data").read_text()
    [master] = daemons.parse_keepalived_data(text)
    assert (master["name"], master["state"], master["vrid"]) == ("T1", "MASTER", 77)
    assert master["master_address"] == "10.213.101.50"  # its own source address
    assert master["effective_priority"] == 100 and master["base_priority"] == 100
    assert master["vips"] == [{"address": "10.213.101.109", "prefix": 24}]
    assert master["last_transition"]["at"] == pytest.approx(1795240264.507391)
    backup_text = text.replace("   State = MASTER", "   State = BACKUP").replace(
        "   Interface = host0\n", "   Interface = host0\n   Master router = 10.213.101.11\n", 1
    )
    [backup] = daemons.parse_keepalived_data(backup_text)
    assert backup["state"] == "BACKUP" and backup["master_address"] == "10.213.101.11"


def test_placement_marks_held_vips_and_extra_addresses() -> None:
    instances = daemons.from_vipkeeper_status(STATUS)
    addresses = [{"address": "10.0.0.100", "interface": "eth0", "created": 5.0}]
    rows = vipinfo.placement(instances, addresses, ["10.0.0.101/24"])
    assert rows == [
        {
            "address": "10.0.0.100",
            "prefix": 24,
            "instance": "web",
            "state": "BACKUP",
            "held": True,
            "interface": "eth0",
            "held_since": 5.0,
        },
        {
            "address": "10.0.0.101",
            "prefix": None,
            "instance": None,
            "state": None,
            "held": False,
            "interface": None,
            "held_since": None,
        },
    ]


def test_wait_outcome_held_other_master_and_released() -> None:
    instances = daemons.from_vipkeeper_status(STATUS)
    rows = vipinfo.placement(instances, [], ())
    assert vipinfo.wait_outcome(rows, instances, "10.0.0.100", "held", {"10.0.0.11"}) is None
    assert (
        vipinfo.wait_outcome(rows, instances, "10.0.0.100", "held", {"10.0.0.12"}) == "other_master"
    )
    assert vipinfo.wait_outcome(rows, instances, "10.0.0.100", "held", set()) is None  # VIP only
    assert vipinfo.wait_outcome(rows, instances, "10.0.0.100", "released", set()) == "released"
    held = vipinfo.placement(instances, [{"address": "10.0.0.100", "interface": "e", "created": 1}])
    assert vipinfo.wait_outcome(held, instances, "10.0.0.100", "held", {"10.0.0.11"}) == "held"


def test_collect_and_wait_timeout_without_daemon(tmp_path: Path) -> None:
    module = FakeModule(
        daemon="vipkeeper",
        socket=str(tmp_path / "none.sock"),
        keepalived_dump="data",
        vips=["127.0.0.1", "10.213.254.254"],
        wait_for="held",
        wait_vip="10.213.254.254",
        wait_timeout=0.3,
        wait_interval=0.05,
        wait_master_not=[],
    )
    result = vipinfo.VipInfo(module).run()
    assert not result["running"] and "cannot reach vipkeeper" in result["error"]
    assert "127.0.0.1" in result["held"] and "10.213.254.254" not in result["held"]
    assert result["wait"]["outcome"] == "timeout" and result["wait"]["seconds"] >= 0.3


def test_collect_returns_every_address_the_host_carries(tmp_path: Path) -> None:
    """vip_assert checks VIPs against these, whatever the daemon lists."""
    module = FakeModule(
        daemon="vipkeeper",
        socket=str(tmp_path / "none.sock"),
        keepalived_dump="data",
        vips=[],
        wait_for="none",
        wait_vip=None,
        wait_timeout=0.3,
        wait_interval=0.05,
        wait_master_not=[],
    )
    result = vipinfo.VipInfo(module).run()
    assert result["vips"] == [] and result["held"] == []
    assert {"address": "127.0.0.1", "prefix": 8, "interface": "lo"} in result["addresses"]


def test_held_waits_briefly_for_the_dump_to_say_master() -> None:
    """keepalived's dump may lag the kernel: the VIP is there, the dump still says BACKUP."""
    states = iter(["BACKUP", "BACKUP", "MASTER"])

    class Lagging(vipinfo.VipInfo):
        def collect(self) -> dict[str, Any]:
            state = next(states)
            return {
                "running": True,
                "instances": [{"name": "web", "state": state}],
                "vips": [
                    {"address": "10.0.0.100", "state": state, "held": True, "instance": "web"}
                ],
            }

    module = FakeModule(
        daemon="keepalived",
        socket="/x",
        keepalived_dump="data",
        vips=[],
        wait_for="held",
        wait_vip="10.0.0.100",
        wait_timeout=5.0,
        wait_interval=0.05,
        wait_master_not=[],
    )
    result = Lagging(module).run()
    assert result["wait"]["outcome"] == "held" and result["vips"][0]["state"] == "MASTER"
