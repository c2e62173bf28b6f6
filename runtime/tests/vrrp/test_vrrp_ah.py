"""auth_type AH (VRRPv2 IPsec-AH) against adverts captured from keepalived 2.2.7 (capture_ah.py).

Our codec must take keepalived's packets (ICV, SPI, sequence numbers), our encoder must give
them back byte for byte from the same inputs (sequence number, IP id, TTL), and an instance
driven through the same run must send exactly the packets keepalived sent. The receive checks
drop forged, replayed and wrongly keyed packets with a count, never an exception.
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest
from vrrpkit import ip, of_type

from vipkeeper.vrrp.ah import (
    IPPROTO_AH,
    SEQ_LIMIT,
    SeqCounter,
    ah_key,
    check_ah,
    encode_ah_packet,
    icv,
    readdress,
    split_ah,
)
from vipkeeper.vrrp.errors import DropReason, PacketError
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import Advert, decode_advert, encode_advert
from vipkeeper.vrrp.settings import Auth, AuthType, InstanceSettings
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.validate import check_advert

DATA = Path(__file__).parent / "data"
DOC = json.loads((DATA / "ah-golden.json").read_text())
SOURCE = "10.213.0.1"  # the interface address keepalived sent from (capture_ah.py)
PEER = "10.213.0.2"


def settings_of(inst: dict[str, Any], source: str = SOURCE) -> InstanceSettings:
    """The InstanceSettings of one captured instance (keepalived cuts auth_pass to 8 bytes)."""
    return InstanceSettings(
        name=inst["name"],
        vrid=inst["vrid"],
        priority=inst["priority"],
        advert_int=inst["advert_int"],
        vips=tuple(ip(v) for v in inst["vips"]),
        source=ip(source),
        auth=Auth(AuthType.AH, inst["auth_pass"].encode()[:8]),
        unicast_peers=tuple(ip(p) for p in inst.get("unicast_peers", ())),
    )


def captured(inst: dict[str, Any]) -> list[bytes]:
    """The packets keepalived sent for ``inst``, in order."""
    out = []
    for p in DOC["packets"]:
        raw = bytes.fromhex(p["packet"])
        split = split_ah(raw)
        assert split is not None
        if split[1][1] == inst["vrid"]:
            out.append(raw)
    return out


INSTANCES = DOC["instances"]
IDS = [i["name"] for i in INSTANCES]


def test_capture_has_both_instances_with_adverts_and_resignation() -> None:
    assert DOC["keepalived"].startswith("Keepalived v2.2.7")
    for inst in INSTANCES:
        pkts = captured(inst)
        assert len(pkts) >= 4, inst["name"]
        assert decode_advert(split_ah(pkts[-1])[1], 4).priority == 0  # type: ignore[index]


@pytest.mark.parametrize("inst", INSTANCES, ids=IDS)
def test_keepalived_packets_decode_and_verify(inst: dict[str, Any]) -> None:
    s = settings_of(inst)
    key = ah_key(s.auth.password)
    unicast = bool(s.unicast_peers)
    counter = SeqCounter()
    for n, raw in enumerate(captured(inst), start=1):
        split = split_ah(raw)
        assert split is not None
        head, payload = split
        assert raw[9] == IPPROTO_AH and raw[1] == 0xC0 and raw[8] == 255
        assert (head.next_header, raw[21], head.spi) == (112, 4, int(ip(SOURCE)))
        assert head.seq == n and int.from_bytes(raw[4:6], "big") == n
        advert = decode_advert(payload, 4)
        assert (advert.version, advert.auth_type, advert.auth_data) == (2, 2, bytes(8))
        assert advert.addresses == s.vips
        check_ah(head, payload, key=key, unicast=unicast, counter=counter)
        assert counter.seq == n


@pytest.mark.parametrize("inst", INSTANCES, ids=IDS)
def test_encoder_reproduces_keepalived_byte_for_byte(inst: dict[str, Any]) -> None:
    s = settings_of(inst)
    for raw in captured(inst):
        head, payload = split_ah(raw)  # type: ignore[misc]
        advert = decode_advert(payload, 4)
        dst = ip(str(ip(".".join(str(b) for b in raw[16:20]))))
        vrrp = encode_advert(advert, s.source, dst)
        assert vrrp == payload
        again = encode_ah_packet(
            vrrp,
            s.source,  # type: ignore[arg-type]
            dst,  # type: ignore[arg-type]
            key=ah_key(s.auth.password),
            seq=head.seq,
            ip_id=int.from_bytes(raw[4:6], "big"),
            ttl=raw[8],
            unicast=bool(s.unicast_peers),
        )
        assert again.hex() == raw.hex()


def drive_master_then_stop(s: InstanceSettings, adverts: int) -> list[bytes]:
    """Start an instance, let it become master and send ``adverts`` adverts, then stop it."""
    core = VrrpInstance(s)
    core.start(0.0)
    sent: list[bytes] = []
    now = 0.0
    while len(sent) < adverts:
        at = core.get_timer()
        assert at is not None
        now = at
        sent += [a.packet for a in _adverts(core.handle_timer(now))]
    return sent + [a.packet for a in _adverts(core.stop(now + 0.5))]


def _adverts(actions: list[Any]) -> list[Any]:
    from vipkeeper.vrrp.actions import SendAdvert

    out = of_type(actions, SendAdvert)
    assert all(a.proto == IPPROTO_AH for a in out)
    return out


@pytest.mark.parametrize("inst", INSTANCES, ids=IDS)
def test_instance_sends_what_keepalived_sent(inst: dict[str, Any]) -> None:
    """The same run (become master, adverts, stop) gives the same packets, byte for byte: the
    sequence numbers and IP ids both count from 1, one per advert round."""
    want = captured(inst)
    got = drive_master_then_stop(settings_of(inst), len(want) - 1)
    assert [g.hex() for g in got] == [w.hex() for w in want]


def backup_core(inst: dict[str, Any], **changes: Any) -> VrrpInstance:
    """A backup of ``inst`` on the peer's side (its own source address), started."""
    s = dataclasses.replace(settings_of(inst, PEER), priority=100, **changes)
    if s.unicast_peers:
        s = dataclasses.replace(s, unicast_peers=(ip(SOURCE),))
    core = VrrpInstance(s)
    core.start(0.0)
    assert core.state is State.BACKUP
    return core


def feed(core: VrrpInstance, raw: bytes, now: float) -> list[Any]:
    split = split_ah(raw)
    assert split is not None
    src, dst = ip(".".join(map(str, raw[12:16]))), ip(".".join(map(str, raw[16:20])))
    return core.receive_advert(split[1], src, dst, raw[8], now, ah=split[0])


@pytest.mark.parametrize("inst", INSTANCES, ids=IDS)
def test_backup_accepts_keepalived_and_follows_its_numbers(inst: dict[str, Any]) -> None:
    core = backup_core(inst)
    pkts = captured(inst)
    for n, raw in enumerate(pkts[:-1], start=1):
        feed(core, raw, float(n))
        assert not core.stats.dropped, core.stats.dropped
        assert core.ah_counter.seq == n
        assert core.current_master == ip(SOURCE)
    # a replay of an accepted packet is an auth failure (the fast path never takes AH)
    feed(core, pkts[-2], 9.0)
    assert core.stats.dropped == {DropReason.AUTH_AH: 1}
    assert core.fast_advert is None
    # keepalived's resignation then makes us master after the skew; we go on from its numbers
    feed(core, pkts[-1], 9.5)
    assert core.stats.priority_zero_received == 1
    at = core.get_timer()
    assert at is not None
    acts = _adverts(core.handle_timer(at))
    assert core.state is State.MASTER
    head = split_ah(acts[0].packet)[0]  # type: ignore[index]
    assert head.seq == len(pkts) + 1 and head.spi == int(ip(PEER))


@pytest.mark.parametrize("inst", INSTANCES, ids=IDS)
def test_wrong_password_is_an_auth_failure(inst: dict[str, Any]) -> None:
    core = backup_core(inst, auth=Auth(AuthType.AH, b"guessed!"))
    for n, raw in enumerate(captured(inst)[:3], start=1):
        acts = feed(core, raw, float(n))
        assert acts and "HMAC" in acts[0].detail
    assert core.stats.dropped == {DropReason.AUTH_AH: 3}
    assert core.ah_counter.seq == 0 and core.current_master is None


def test_ah_and_non_ah_do_not_mix() -> None:
    inst = INSTANCES[0]
    raw = captured(inst)[0]
    split = split_ah(raw)
    assert split is not None
    plain = settings_of(inst, PEER)
    src, dst = ip(SOURCE), ip("224.0.0.18")
    for s in (
        dataclasses.replace(plain, auth=Auth(AuthType.PASS, b"s3cr3t")),
        dataclasses.replace(plain, auth=Auth()),
    ):
        with pytest.raises(PacketError) as err:
            check_advert(split[1], src, dst, 255, settings=s, ah=split[0])
        assert err.value.reason is DropReason.AUTH_TYPE
    # the VRRP message alone (no AH header) for an AH instance
    with pytest.raises(PacketError) as err:
        check_advert(split[1], src, dst, 255, settings=plain)
    assert err.value.reason is DropReason.AUTH_TYPE


def _patch(raw: bytes, at: int, value: bytes) -> bytes:
    return raw[:at] + value + raw[at + len(value) :]


@pytest.mark.parametrize(
    ("what", "change"),
    [
        ("HMAC", lambda r: _patch(r, 46, bytes([r[46] ^ 1]))),  # the advertised priority
        ("HMAC", lambda r: _patch(r, 32, bytes(12))),  # the ICV
        ("HMAC", lambda r: _patch(r, 28, (7).to_bytes(4, "big"))),  # the sequence number
        ("HMAC", lambda r: _patch(r, 16, ip("224.0.0.99").packed)),  # the destination
        ("next header", lambda r: _patch(r, 20, b"\x06")),
    ],
)
def test_forged_packets_are_auth_failures(what: str, change: Any) -> None:
    inst = INSTANCES[0]
    s = settings_of(inst, PEER)
    split = split_ah(change(captured(inst)[0]))
    assert split is not None
    with pytest.raises(PacketError) as err:
        check_advert(
            split[1],
            ip(SOURCE),
            ip("224.0.0.18"),
            255,
            settings=s,
            ah=split[0],
            ah_counter=SeqCounter(),
        )
    assert err.value.reason is DropReason.AUTH_AH and what in err.value.detail


def test_mutable_fields_do_not_count() -> None:
    """TOS, the fragment field and the header checksum may change on the way."""
    inst = INSTANCES[0]
    raw = captured(inst)[0]
    raw = _patch(_patch(_patch(raw, 1, b"\x00"), 6, b"\x40\x00"), 10, b"\xff\xff")
    head, payload = split_ah(raw)  # type: ignore[misc]
    check_ah(
        head, payload, key=ah_key(inst["auth_pass"].encode()), unicast=False, counter=SeqCounter()
    )


def test_spi_must_be_the_source_address() -> None:
    """A packet signed with the right key whose SPI is not its source is refused."""
    s = settings_of(INSTANCES[0])
    key = ah_key(s.auth.password)
    vrrp = encode_advert(
        Advert(2, 61, 150, 1, s.vips, auth_type=2, auth_data=bytes(8)), s.source, ip("224.0.0.18")
    )
    good = encode_ah_packet(
        vrrp, s.source, ip("224.0.0.18"), key=key, seq=1, ip_id=1, ttl=255, unicast=False
    )  # type: ignore[arg-type]
    bad = bytearray(good)
    bad[24:28] = ip("10.213.0.9").packed
    head0, payload = split_ah(bytes(bad))  # type: ignore[misc]
    head = dataclasses.replace(head0, icv=icv(key, head0.raw, payload, unicast=False))
    with pytest.raises(PacketError) as err:
        check_ah(head, payload, key=key, unicast=False, counter=SeqCounter())
    assert "SPI" in err.value.detail


def test_unicast_icv_leaves_the_ttl_out_and_multicast_does_not() -> None:
    uni = next(i for i in INSTANCES if i.get("unicast_peers"))
    mc = next(i for i in INSTANCES if not i.get("unicast_peers"))
    for inst, unicast in ((uni, True), (mc, False)):
        raw = bytearray(captured(inst)[0])
        raw[8] = 64  # crossed routers
        head, payload = split_ah(bytes(raw))  # type: ignore[misc]
        key = ah_key(inst["auth_pass"].encode())
        ok = icv(key, head.raw, payload, unicast=unicast) == head.icv
        assert ok is unicast


def test_counter_cycles_at_its_limit_and_restarts_on_becoming_master() -> None:
    counter = SeqCounter(seq=SEQ_LIMIT)
    assert counter.next_send() == SEQ_LIMIT + 1 and not counter.cycle
    assert counter.next_send() == SEQ_LIMIT + 1 and counter.cycle
    s = settings_of(INSTANCES[0])
    core = VrrpInstance(s)
    core.ah_counter.seq, core.ah_counter.cycle = SEQ_LIMIT + 1, True
    core.start(0.0)
    at = core.get_timer()
    assert at is not None
    acts = _adverts(core.handle_timer(at))
    assert core.state is State.MASTER
    assert split_ah(acts[0].packet)[0].seq == 1  # type: ignore[index]


def test_master_hearing_lower_priority_jumps_past_its_number() -> None:
    """keepalived: a master that hears a lower-priority AH advert takes that number + 1, and
    its answer carries the next one."""
    inst = INSTANCES[0]
    s = dataclasses.replace(settings_of(inst, PEER), priority=200)
    core = VrrpInstance(s)
    core.start(0.0)
    at = core.get_timer()
    assert at is not None
    core.handle_timer(at)
    assert core.state is State.MASTER and core.ah_counter.seq == 1
    lower = captured(inst)[3]  # keepalived's seq 4, priority 150
    acts = _adverts(feed(core, lower, at + 0.5))
    assert core.state is State.MASTER
    assert split_ah(acts[0].packet)[0].seq == 6  # type: ignore[index]


def test_readdress_to_a_configured_group_verifies() -> None:
    inst = INSTANCES[0]
    key = ah_key(inst["auth_pass"].encode())
    raw = readdress(captured(inst)[0], ip("224.0.0.99"), key=key, unicast=False)  # type: ignore[arg-type]
    head, payload = split_ah(raw)  # type: ignore[misc]
    assert raw[16:20] == ip("224.0.0.99").packed
    check_ah(head, payload, key=key, unicast=False, counter=SeqCounter())
    from vipkeeper.vrrp.packet import internet_checksum

    assert internet_checksum(raw[:20]) == 0


@pytest.mark.parametrize("cut", [0, 10, 20, 30, 43, 44, 50, 51])
def test_truncated_packets_are_dropped_with_a_count(cut: int) -> None:
    """Shorter than the IP and AH headers: not split (the daemon counts it as not VRRP);
    longer: the instance counts the drop; nothing raises."""
    core = backup_core(INSTANCES[0])
    raw = captured(INSTANCES[0])[0][:cut]
    split = split_ah(raw)
    if cut < 44:
        assert split is None
        return
    assert split is not None
    core.receive_advert(split[1], ip(SOURCE), ip("224.0.0.18"), 255, 1.0, ah=split[0])
    assert core.stats.dropped == {DropReason.TOO_SHORT: 1}
