"""Receive checks for an advert against one instance's settings, in keepalived's order.

0. an AH packet for an instance without ``auth_type AH``, or the reverse (``auth_type``);
1. length (padding after the message allowed); the VRID must be ours (the daemon demultiplexes
   by VRID, this only guards it);
2. TTL / hop limit 255 for multicast; unicast_min_ttl..unicast_max_ttl for unicast;
3. version;
4. v2: auth type, then the password (constant-time compare), or for AH the next header, the
   ICV, the SPI and the sequence number (``vrrp/ah.py``; the counter takes a good number);
5. advert interval: v2 drops a mismatch, v3 only reports it;
6. type (1 = ADVERTISEMENT);
7. checksum;
8. the address list equals our VIPs (``skip_check_adv_addr`` skips this for the current master).
Each failure raises ``PacketError`` whose ``reason`` names the check.
"""

from __future__ import annotations

import hmac

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.ah import AhHeader, SeqCounter, ah_key, check_ah
from vipkeeper.vrrp.errors import DropReason, PacketError
from vipkeeper.vrrp.packet import (
    HEADER_LEN,
    TYPE_ADVERT,
    Advert,
    checksum_ok,
    decode_advert,
    expected_length,
)
from vipkeeper.vrrp.settings import AuthType, InstanceSettings, IPAddress


@dataclass(frozen=True, **SLOTS)
class CheckedAdvert:
    """An advert that passed every check; ``interval_mismatch`` is the v3 log-only finding."""

    advert: Advert
    interval_mismatch: bool


def check_advert(
    data: bytes,
    src: IPAddress,
    dst: IPAddress,
    ttl: int,
    *,
    settings: InstanceSettings,
    current_master: IPAddress | None = None,
    ah: AhHeader | None = None,
    ah_counter: SeqCounter | None = None,
) -> CheckedAdvert:
    """Run the receive checks; return the decoded advert or raise ``PacketError``.

    ``ah``: the IP and AH headers when the packet came as IP protocol 51; ``ah_counter`` the
    instance's sequence counter (an AH instance needs it; a good advert advances it).
    """
    s = settings
    if src.version != s.family or dst.version != s.family:
        raise PacketError(
            DropReason.WRONG_FAMILY, f"IPv{src.version} packet for an IPv{s.family} instance"
        )
    expect_ah = s.auth.type is AuthType.AH
    if (ah is not None) != expect_ah:
        detail = "AH header but auth type not AH" if ah else "no AH header but auth type is AH"
        raise PacketError(DropReason.AUTH_TYPE, detail)
    if len(data) < HEADER_LEN or len(data) < expected_length(data, s.family):
        decode_advert(data, s.family)  # raises the TOO_SHORT with its detail
    if data[1] != s.vrid:
        raise PacketError(DropReason.WRONG_VRID, f"VRID {data[1]}, expected {s.vrid}")
    if s.unicast_peers:
        if not s.unicast_min_ttl <= ttl <= s.unicast_max_ttl:
            raise PacketError(
                DropReason.TTL, f"TTL {ttl} outside {s.unicast_min_ttl}..{s.unicast_max_ttl}"
            )
    elif ttl != 255:
        raise PacketError(DropReason.TTL, f"TTL {ttl}, expected 255")
    advert = decode_advert(data, s.family)
    if advert.version != s.version:
        raise PacketError(DropReason.VERSION, f"version {advert.version}, expected {s.version}")
    if advert.version == 2:
        if advert.auth_type != s.auth.type:
            raise PacketError(
                DropReason.AUTH_TYPE, f"auth type {advert.auth_type}, expected {int(s.auth.type)}"
            )
        if ah is not None:
            counter = SeqCounter() if ah_counter is None else ah_counter
            key = ah_key(s.auth.password)
            check_ah(ah, data, key=key, unicast=bool(s.unicast_peers), counter=counter)
        elif not hmac.compare_digest(advert.auth_data, s.auth.wire_data):
            raise PacketError(DropReason.AUTH_PASSWORD, "password mismatch")
    mismatch = advert.interval != s.wire_interval
    if mismatch and advert.version == 2:
        raise PacketError(
            DropReason.ADVERT_INTERVAL, f"interval {advert.interval}s, expected {s.wire_interval}s"
        )
    if advert.type != TYPE_ADVERT:
        raise PacketError(DropReason.TYPE, f"type {advert.type}")
    if not checksum_ok(data, src, dst, v3_checksum_as_v2=s.v3_checksum_as_v2):
        raise PacketError(DropReason.CHECKSUM, "bad checksum")
    skip = s.skip_check_adv_addr and current_master is not None and src == current_master
    if not skip and (len(advert.addresses) != len(s.vips) or set(advert.addresses) != set(s.vips)):
        raise PacketError(
            DropReason.VIP_MISMATCH,
            f"{len(advert.addresses)} addresses {[str(a) for a in advert.addresses]} "
            f"differ from ours {[str(a) for a in s.vips]}",
        )
    return CheckedAdvert(advert, mismatch)
