"""Receive checks: one named reason per check, in keepalived's order."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable

import pytest
from vrrpkit import ip, make_settings, peer_advert

from vipkeeper.vrrp import validate
from vipkeeper.vrrp.errors import DropReason, PacketError
from vipkeeper.vrrp.packet import decode_advert, encode_advert
from vipkeeper.vrrp.settings import MCAST_V4, Auth, AuthType, InstanceSettings
from vipkeeper.vrrp.validate import check_advert

PEER = "10.213.0.1"
V2 = make_settings(
    version=2,
    source="10.213.0.2",
    vips=("10.213.100.1", "10.213.100.2"),
    auth=Auth(AuthType.PASS, b"secret"),
)


@dataclasses.dataclass
class Pkt:
    """A packet under construction: advert field overrides, then byte-level damage, and TTL."""

    fields: dict[str, object] = dataclasses.field(default_factory=dict)
    post: list[Callable[[bytearray], None]] = dataclasses.field(default_factory=list)
    ttl: int = 255

    def build(self, settings: InstanceSettings) -> bytes:
        data = bytearray(peer_advert(settings, 100, PEER, **self.fields))
        for fn in self.post:
            fn(data)
        return bytes(data)


def set_version(data: bytearray) -> None:
    data[0] = 0x31  # v3 nibble on a v2 layout: still long enough, wrong version


def flip_checksum(data: bytearray) -> None:
    data[6] ^= 0xFF


def truncate(data: bytearray) -> None:
    del data[len(data) - 9 :]  # header intact, message shorter than it claims (v2 or v3)


def set_ttl(p: Pkt) -> None:
    p.ttl = 254


# One breaker per check, in keepalived's order.
BREAKERS: list[tuple[DropReason, Callable[[Pkt], None]]] = [
    (DropReason.TOO_SHORT, lambda p: p.post.append(truncate)),
    (DropReason.WRONG_VRID, lambda p: p.fields.update(vrid=99)),
    (DropReason.TTL, set_ttl),
    (DropReason.VERSION, lambda p: p.post.insert(0, set_version)),
    (DropReason.AUTH_TYPE, lambda p: p.fields.update(auth_type=0)),
    (DropReason.AUTH_PASSWORD, lambda p: p.fields.update(auth_data=b"guessed!")),
    (DropReason.ADVERT_INTERVAL, lambda p: p.fields.update(interval=2)),
    (DropReason.TYPE, lambda p: p.fields.update(type=2)),
    (DropReason.CHECKSUM, lambda p: p.post.append(flip_checksum)),
    (DropReason.VIP_MISMATCH, lambda p: p.fields.update(addresses=(ip("10.213.100.1"),))),
]


def reason_of(p: Pkt, settings: InstanceSettings = V2) -> DropReason | None:
    try:
        check_advert(p.build(settings), ip(PEER), MCAST_V4, p.ttl, settings=settings)
    except PacketError as err:
        return err.reason
    return None


def test_clean_packet_passes() -> None:
    assert reason_of(Pkt()) is None


@pytest.mark.parametrize(("reason", "breaker"), BREAKERS, ids=[r.value for r, _ in BREAKERS])
def test_each_check_has_its_reason(reason: DropReason, breaker: Callable[[Pkt], None]) -> None:
    p = Pkt()
    breaker(p)
    assert reason_of(p) is reason


PAIRS = list(itertools.combinations(range(len(BREAKERS)), 2))


@pytest.mark.parametrize(("i", "j"), PAIRS)
def test_checks_run_in_keepalived_order(i: int, j: int) -> None:
    """A packet failing two checks is dropped for the earlier one."""
    p = Pkt()
    BREAKERS[j][1](p)
    BREAKERS[i][1](p)
    assert reason_of(p) is BREAKERS[i][0]


def test_v3_interval_mismatch_is_only_reported() -> None:
    s = make_settings(advert_int=1.0)
    data = peer_advert(s, 100, PEER, interval=250)
    checked = check_advert(data, ip(PEER), MCAST_V4, 255, settings=s)
    assert checked.interval_mismatch
    assert checked.advert.interval_seconds == 2.5


def test_vip_order_does_not_matter() -> None:
    rev = (ip("10.213.100.2"), ip("10.213.100.1"))
    assert reason_of(Pkt(fields={"addresses": rev})) is None


def test_skip_check_adv_addr_only_for_the_current_master() -> None:
    s = dataclasses.replace(V2, skip_check_adv_addr=True)
    data = peer_advert(s, 100, PEER, addresses=(ip("10.213.200.1"),))
    master = ip(PEER)
    assert check_advert(data, master, MCAST_V4, 255, settings=s, current_master=master)
    with pytest.raises(PacketError) as exc:
        check_advert(data, master, MCAST_V4, 255, settings=s, current_master=ip("10.213.0.9"))
    assert exc.value.reason is DropReason.VIP_MISMATCH
    with pytest.raises(PacketError):
        check_advert(data, master, MCAST_V4, 255, settings=V2, current_master=master)


@pytest.mark.parametrize(
    ("ttl", "ok"), [(59, False), (60, True), (64, True), (200, True), (201, False)]
)
def test_unicast_ttl_window(ttl: int, ok: bool) -> None:
    s = make_settings(
        source="10.213.0.2",
        unicast_peers=(ip(PEER),),
        unicast_min_ttl=60,
        unicast_max_ttl=200,
    )
    data = peer_advert(s, 100, PEER, dst=ip("10.213.0.2"))
    if ok:
        check_advert(data, ip(PEER), ip("10.213.0.2"), ttl, settings=s)
    else:
        with pytest.raises(PacketError) as exc:
            check_advert(data, ip(PEER), ip("10.213.0.2"), ttl, settings=s)
        assert exc.value.reason is DropReason.TTL


def test_multicast_needs_ttl_255() -> None:
    assert reason_of(Pkt(ttl=255)) is None
    assert reason_of(Pkt(ttl=1)) is DropReason.TTL


def test_wrong_family() -> None:
    s = make_settings(source="fe80::2", vips=("fd00:213::1",))
    data = peer_advert(s, 100, "fe80::1")
    with pytest.raises(PacketError) as exc:
        check_advert(data, ip(PEER), MCAST_V4, 255, settings=s)
    assert exc.value.reason is DropReason.WRONG_FAMILY


def test_password_compared_in_constant_time(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = validate.hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(validate.hmac, "compare_digest", spy)
    assert reason_of(Pkt(fields={"auth_data": b"secreT\0\0"})) is DropReason.AUTH_PASSWORD
    assert calls == [(b"secreT\0\0", b"secret\0\0")]


def test_v2_password_is_zero_padded_to_eight_bytes() -> None:
    data = peer_advert(V2, 100, PEER)
    assert decode_advert(data, 4).auth_data == b"secret\0\0"


def test_v3_ipv4_checksum_mode_must_match() -> None:
    plain = make_settings(source="10.213.0.2")
    as_v2 = dataclasses.replace(plain, v3_checksum_as_v2=True)
    adv = decode_advert(peer_advert(plain, 100, PEER), 4)
    data = encode_advert(adv, ip(PEER), MCAST_V4, v3_checksum_as_v2=True)
    check_advert(data, ip(PEER), MCAST_V4, 255, settings=as_v2)
    with pytest.raises(PacketError) as exc:
        check_advert(data, ip(PEER), MCAST_V4, 255, settings=plain)
    assert exc.value.reason is DropReason.CHECKSUM
