"""Packet codec: layout, checksum rules, padding, and the decoder's single error type."""

from __future__ import annotations

import ipaddress
import struct

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vrrpkit import ip

from vipkeeper.vrrp.errors import DropReason, LocalProtocolError, PacketError
from vipkeeper.vrrp.packet import (
    Advert,
    checksum_ok,
    decode_advert,
    encode_advert,
    internet_checksum,
)

SRC4, DST4 = ip("10.213.0.1"), ip("224.0.0.18")
SRC6, DST6 = ip("fe80::1"), ip("ff02::12")


def v2(**kw: object) -> Advert:
    base: dict[str, object] = {
        "version": 2,
        "vrid": 7,
        "priority": 150,
        "interval": 1,
        "addresses": (ip("10.213.1.1"), ip("10.213.1.2")),
        "auth_type": 1,
        "auth_data": b"pw\0\0\0\0\0\0",
    }
    base.update(kw)
    return Advert(**base)  # type: ignore[arg-type]


def v3(family: int = 4, **kw: object) -> Advert:
    addrs = (ip("10.213.1.1"),) if family == 4 else (ip("fd00:213::1"), ip("fd00:213::2"))
    base: dict[str, object] = {
        "version": 3,
        "vrid": 9,
        "priority": 100,
        "interval": 100,
        "addresses": addrs,
        "family": family,
    }
    base.update(kw)
    return Advert(**base)  # type: ignore[arg-type]


def test_v2_layout() -> None:
    data = encode_advert(v2(), SRC4, DST4)
    assert data[:6] == bytes([0x21, 7, 150, 2, 1, 1])
    assert data[8:16] == ip("10.213.1.1").packed + ip("10.213.1.2").packed
    assert data[16:] == b"pw\0\0\0\0\0\0"
    assert len(data) == 24


def test_v2_checksum_is_over_the_message_only() -> None:
    data = encode_advert(v2(), SRC4, DST4)
    assert internet_checksum(data) == 0
    # the addresses of the IP header do not matter for v2
    assert encode_advert(v2(), ip("10.213.9.9"), ip("10.213.9.8")) == data


def test_v3_ipv4_layout_and_pseudo_header_checksum() -> None:
    data = encode_advert(v3(interval=0xABC, reserved=0), SRC4, DST4)
    assert data[:4] == bytes([0x31, 9, 100, 1])
    assert struct.unpack("!H", data[4:6])[0] == 0xABC
    assert len(data) == 12
    pseudo = SRC4.packed + DST4.packed + bytes([0, 112]) + struct.pack("!H", 12)
    assert internet_checksum(pseudo + data) == 0
    assert internet_checksum(data) != 0
    assert checksum_ok(data, SRC4, DST4)
    assert not checksum_ok(data, SRC4, ip("10.213.0.2"))  # unicast dst changes the checksum


def test_v3_checksum_as_v2_drops_the_pseudo_header() -> None:
    data = encode_advert(v3(), SRC4, DST4, v3_checksum_as_v2=True)
    assert internet_checksum(data) == 0
    assert checksum_ok(data, SRC4, DST4, v3_checksum_as_v2=True)
    assert not checksum_ok(data, SRC4, DST4)
    # a hand-computed vector: ~(0x3109 + 0x6401 + 0x0064 + 0x0ad5 + 0x0101) folded
    total = 0x3109 + 0x6401 + 0x0064 + 0x0AD5 + 0x0101
    assert struct.unpack("!H", data[6:8])[0] == (~total) & 0xFFFF


def test_v3_ipv6_always_uses_the_pseudo_header() -> None:
    adv = v3(family=6)
    data = encode_advert(adv, SRC6, DST6)
    assert len(data) == 8 + 32
    pseudo = SRC6.packed + DST6.packed + struct.pack("!I", 40) + bytes([0, 0, 0, 112])
    assert internet_checksum(pseudo + data) == 0
    # v3_checksum_as_v2 is an IPv4-only switch
    assert encode_advert(adv, SRC6, DST6, v3_checksum_as_v2=True) == data
    assert checksum_ok(data, SRC6, DST6, v3_checksum_as_v2=True)


@pytest.mark.parametrize(
    ("adv", "src", "dst"),
    [(v2(), SRC4, DST4), (v3(), SRC4, DST4), (v3(family=6), SRC6, DST6)],
)
def test_ethernet_padding_is_ignored(adv: Advert, src: object, dst: object) -> None:
    data = encode_advert(adv, src, dst)  # type: ignore[arg-type]
    padded = data + bytes(18)
    assert decode_advert(padded, adv.family) == adv
    assert checksum_ok(padded, src, dst)  # type: ignore[arg-type]


@pytest.mark.parametrize(("adv", "cut"), [(v2(), 1), (v2(), 9), (v3(), 1), (v3(family=6), 1)])
def test_truncated_is_too_short(adv: Advert, cut: int) -> None:
    src, dst = (SRC4, DST4) if adv.family == 4 else (SRC6, DST6)
    data = encode_advert(adv, src, dst)
    with pytest.raises(PacketError) as exc:
        decode_advert(data[:-cut], adv.family)
    assert exc.value.reason is DropReason.TOO_SHORT
    assert decode_advert(data, adv.family) == adv  # one byte more and it decodes


def test_header_shorter_than_eight_bytes() -> None:
    with pytest.raises(PacketError) as exc:
        decode_advert(b"\x31\x01\x64", 4)
    assert exc.value.reason is DropReason.TOO_SHORT


@pytest.mark.parametrize("version", [0, 1, 4, 15])
def test_unknown_version(version: int) -> None:
    data = bytearray(encode_advert(v3(), SRC4, DST4))
    data[0] = (version << 4) | 1
    with pytest.raises(PacketError) as exc:
        decode_advert(bytes(data), 4)
    assert exc.value.reason is DropReason.VERSION


@pytest.mark.parametrize(
    "bad",
    [
        v2(auth_data=b"short"),
        v2(interval=256),
        v3(interval=0x1000),
        v3(reserved=16),
        v3(auth_type=1),
        v2(version=4),
        v3(priority=256),
        v3(addresses=(ip("fd00::1"),)),
    ],
)
def test_encoder_refuses_what_the_wire_cannot_carry(bad: Advert) -> None:
    with pytest.raises(LocalProtocolError):
        encode_advert(bad, SRC4, DST4)


ipv4s = st.builds(ipaddress.IPv4Address, st.integers(0, 2**32 - 1))
ipv6s = st.builds(ipaddress.IPv6Address, st.integers(0, 2**128 - 1))


@st.composite
def adverts(draw: st.DrawFn) -> tuple[Advert, object, object, bool]:
    version = draw(st.sampled_from([2, 3]))
    family = 4 if version == 2 else draw(st.sampled_from([4, 6]))
    addrs = ipv4s if family == 4 else ipv6s
    common = {
        "vrid": draw(st.integers(0, 255)),
        "priority": draw(st.integers(0, 255)),
        "addresses": tuple(draw(st.lists(addrs, max_size=20))),
        "family": family,
        "type": draw(st.integers(0, 15)),
    }
    if version == 2:
        adv = Advert(
            version=2,
            interval=draw(st.integers(0, 255)),
            auth_type=draw(st.integers(0, 255)),
            auth_data=draw(st.binary(min_size=8, max_size=8)),
            **common,  # type: ignore[arg-type]
        )
    else:
        adv = Advert(
            version=3,
            interval=draw(st.integers(0, 0xFFF)),
            reserved=draw(st.integers(0, 15)),
            **common,  # type: ignore[arg-type]
        )
    return adv, draw(addrs), draw(addrs), draw(st.booleans())


@settings(max_examples=400)
@given(adverts())
def test_decode_encode_roundtrip(case: tuple[Advert, object, object, bool]) -> None:
    adv, src, dst, as_v2 = case
    data = encode_advert(adv, src, dst, v3_checksum_as_v2=as_v2)  # type: ignore[arg-type]
    assert decode_advert(data, adv.family) == adv
    assert checksum_ok(data, src, dst, v3_checksum_as_v2=as_v2)  # type: ignore[arg-type]
    assert encode_advert(decode_advert(data, adv.family), src, dst, v3_checksum_as_v2=as_v2) == data  # type: ignore[arg-type]


@settings(max_examples=1000)
@given(st.binary(max_size=300), st.sampled_from([4, 6]))
def test_decoder_raises_only_packet_error(data: bytes, family: int) -> None:
    reason: DropReason | None = None
    try:
        adv = decode_advert(data, family)
    except PacketError as err:
        reason = err.reason
    if reason is None:
        assert adv.version in (2, 3)
        assert len(adv.addresses) == data[3]
    else:
        assert reason in (DropReason.TOO_SHORT, DropReason.VERSION)


@settings(max_examples=300)
@given(adverts(), st.integers(0, 400), st.integers(0, 255))
def test_any_single_byte_flip_is_caught_by_the_checksum(
    case: tuple[Advert, object, object, bool], pos: int, flip: int
) -> None:
    adv, src, dst, as_v2 = case
    data = bytearray(encode_advert(adv, src, dst, v3_checksum_as_v2=as_v2))  # type: ignore[arg-type]
    i = pos % len(data)
    if flip == 0 or i == 3:  # the count byte changes the length itself
        return
    data[i] ^= flip
    try:
        decode_advert(bytes(data), adv.family)
    except PacketError:
        return
    assert not checksum_ok(bytes(data), src, dst, v3_checksum_as_v2=as_v2)  # type: ignore[arg-type]
