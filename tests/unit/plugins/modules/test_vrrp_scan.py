"""vrrp_scan: the VRRP decoder (v2, v3, IPv4, IPv6), grouping, and a real capture on a veth."""

from __future__ import annotations

import ipaddress
import struct
from pathlib import Path

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import scan
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.vrrp_wire import (
    NotVrrp,
    decode_packet,
)

COLLECTIONS_ROOT = Path(scan.__file__).parents[6]


def ipv4(src: str, dst: str, payload: bytes, proto: int = 112, ttl: int = 255) -> bytes:
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x45,
        0,
        20 + len(payload),
        0,
        0,
        ttl,
        proto,
        0,
        ipaddress.IPv4Address(src).packed,
        ipaddress.IPv4Address(dst).packed,
    )
    return header + payload


def ipv6(src: str, dst: str, payload: bytes) -> bytes:
    header = struct.pack(
        "!IHBB16s16s",
        6 << 28,
        len(payload),
        112,
        255,
        ipaddress.IPv6Address(src).packed,
        ipaddress.IPv6Address(dst).packed,
    )
    return header + payload


def v2(vrid: int, prio: int, vips: list[str], auth: int = 1, adver: int = 1) -> bytes:
    body = struct.pack("!BBBBBBH", 0x21, vrid, prio, len(vips), auth, adver, 0)
    return body + b"".join(ipaddress.IPv4Address(v).packed for v in vips) + b"secret\0\0"


def v3(vrid: int, prio: int, vips: list[str], centis: int = 100) -> bytes:
    body = struct.pack("!BBBBHH", 0x31, vrid, prio, len(vips), centis & 0x0FFF, 0)
    return body + b"".join(ipaddress.ip_address(v).packed for v in vips)


def test_v2_over_ipv4() -> None:
    advert = decode_packet(
        ipv4("10.0.0.7", "224.0.0.18", v2(51, 100, ["10.0.0.200", "10.0.0.201"]))
    )
    assert advert == {
        "version": 2,
        "vrid": 51,
        "priority": 100,
        "advert_int": 1.0,
        "auth_type": 1,
        "vips": ["10.0.0.200", "10.0.0.201"],
        "family": 4,
        "source": "10.0.0.7",
        "destination": "224.0.0.18",
        "ttl": 255,
    }


def test_v3_over_ipv4_and_ipv6() -> None:
    a4 = decode_packet(ipv4("10.0.0.8", "224.0.0.18", v3(9, 200, ["10.0.0.9"], centis=50)))
    assert (a4["version"], a4["vrid"], a4["advert_int"], a4["auth_type"]) == (3, 9, 0.5, None)
    a6 = decode_packet(ipv6("fe80::1", "ff02::12", v3(9, 150, ["fd00::9", "fe80::99"])))
    assert (a6["family"], a6["source"], a6["vips"]) == (6, "fe80::1", ["fd00::9", "fe80::99"])


@pytest.mark.parametrize(
    "packet",
    [
        ipv4("10.0.0.7", "224.0.0.18", v2(51, 100, ["10.0.0.200"]), proto=6),  # not VRRP
        ipv4("10.0.0.7", "224.0.0.18", v2(51, 100, ["10.0.0.200"])[:4]),  # truncated
        ipv4("10.0.0.7", "224.0.0.18", v2(51, 100, ["10.0.0.200"])[:10]),  # addresses cut
        ipv6("fe80::1", "ff02::12", v2(51, 100, ["10.0.0.200"])),  # v2 over IPv6
        ipv4("10.0.0.7", "224.0.0.18", b"\x22" + v2(51, 100, [])[1:]),  # type 2
    ],
)
def test_malformed_is_refused(packet: bytes) -> None:
    with pytest.raises(NotVrrp):
        decode_packet(packet)


def test_routers_group_by_family_vrid_source_and_list_vrids() -> None:
    routers = scan.Routers("eth0")
    routers.add(ipv4("10.0.0.7", "224.0.0.18", v2(51, 100, ["10.0.0.200"])), 1.0)
    routers.add(ipv4("10.0.0.7", "224.0.0.18", v2(51, 0, ["10.0.0.200"])), 2.0)
    routers.add(ipv4("10.0.0.8", "224.0.0.18", v2(51, 90, ["10.0.0.200"])), 2.5, outgoing=True)
    routers.add(ipv6("fe80::1", "ff02::12", v3(51, 100, ["fd00::9"])), 3.0)
    routers.add(ipv4("10.0.0.9", "224.0.0.18", v2(51, 100, ["10.0.0.200"])[:10]), 3.5)
    result = routers.result()
    assert [(r["family"], r["vrid"], r["source"], r["adverts"]) for r in result["routers"]] == [
        (4, 51, "10.0.0.7", 2),
        (4, 51, "10.0.0.8", 1),
        (6, 51, "fe80::1", 1),
    ]
    first = result["routers"][0]
    assert first["priorities"] == [100, 0] and first["priority"] == 0
    assert (first["first_seen"], first["last_seen"]) == (1.0, 2.0)
    assert result["vrids"] == [
        {"vrid": 51, "family": "ipv4", "interface": "eth0"},
        {"vrid": 51, "family": "ipv6", "interface": "eth0"},
    ]
    assert result["malformed"] == 1
    assert [r["source"] for r in routers.result(include_local=False)["routers"]] == [
        "10.0.0.7",
        "fe80::1",
    ]
