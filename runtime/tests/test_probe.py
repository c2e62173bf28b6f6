"""ARP probes and neighbour solicitations: the bytes, and the claims read back."""

from __future__ import annotations

import struct
from ipaddress import IPv4Address, IPv6Address

from vipkeeper.net.probe import (
    Claim,
    decode_arp_claim,
    decode_na_claim,
    encode_arp_probe,
    encode_ns,
    format_mac,
    na_only_filter,
    solicited_node,
)

MAC = bytes.fromhex("020000000001")
OTHER = bytes.fromhex("020000000002")
VIP = IPv4Address("10.213.100.1")
VIP6 = IPv6Address("fd00:213::100:1")


def arp(op: int, sha: bytes, spa: IPv4Address, tpa: IPv4Address) -> bytes:
    eth = b"\xff" * 6 + sha + b"\x08\x06"
    return (
        eth + struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + spa.packed + b"\0" * 6 + tpa.packed
    )


def test_the_probe_is_rfc5227() -> None:
    frame = encode_arp_probe(MAC, VIP)
    assert frame[:6] == b"\xff" * 6 and frame[6:12] == MAC and frame[12:14] == b"\x08\x06"
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
    assert (htype, ptype, hlen, plen, op) == (1, 0x0800, 6, 4, 1)
    assert frame[22:28] == MAC
    assert frame[28:32] == b"\0" * 4  # sender IP 0.0.0.0: no neighbour caches it
    assert frame[32:38] == b"\0" * 6
    assert frame[38:42] == VIP.packed
    assert decode_arp_claim(frame) is None  # a probe claims nothing


def test_replies_and_gratuitous_arps_are_claims() -> None:
    reply = arp(2, OTHER, VIP, IPv4Address(0))
    assert decode_arp_claim(reply) == Claim(VIP, OTHER)
    garp = arp(1, OTHER, VIP, VIP)
    assert decode_arp_claim(garp) == Claim(VIP, OTHER)
    assert decode_arp_claim(reply[:41]) is None
    assert decode_arp_claim(arp(3, OTHER, VIP, VIP)) is None  # RARP


def test_ns_and_na() -> None:
    ns = encode_ns(MAC, VIP6)
    assert ns[0] == 135 and ns[8:24] == VIP6.packed and ns[24:26] == b"\x01\x01"
    assert ns[26:32] == MAC
    assert solicited_node(VIP6) == IPv6Address("ff02::1:ff00:1")
    na = struct.pack("!BBHI", 136, 0, 0, 0x60000000) + VIP6.packed + b"\x02\x01" + OTHER
    assert decode_na_claim(na) == Claim(VIP6, OTHER)
    assert decode_na_claim(na[:24]) is None  # no target link-layer option
    assert decode_na_claim(ns) is None
    zero_len = na[:24] + b"\x02\x00" + OTHER
    assert decode_na_claim(zero_len) is None


def test_the_filter_passes_only_advertisements() -> None:
    words = struct.unpack("=8I", na_only_filter())
    passed = [t for t in range(256) if not words[t >> 5] & (1 << (t & 31))]
    assert passed == [136]
    assert format_mac(OTHER) == "02:00:00:00:00:02"
