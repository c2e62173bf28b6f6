"""VRRP advert codec: paired encode_advert/decode_advert, VRRPv2 (RFC 3768) and v3 (RFC 5798).

Wire layout (the IP header is stripped by the daemon)::

    0: version(4) | type(4)   1: VRID   2: priority   3: address count
    v2: 4: auth type   5: advert interval (s)        v3: 4-5: reserved(4) | max interval (cs, 12)
    6-7: checksum   8..: addresses (4 or 16 bytes each)   v2 only: 8 bytes of auth data

Checksum rules (keepalived's):
- v2: over the VRRP message only.
- v3 over IPv4: with the pseudo-header (src, dst, 0, 112, length) unless ``v3_checksum_as_v2``.
- v3 over IPv6: always with the pseudo-header (src, dst, length, 0, 112).
Bytes after the message (Ethernet padding) are ignored. The decoder raises only ``PacketError``.
"""

from __future__ import annotations

import ipaddress
import struct

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.errors import DropReason, LocalProtocolError, PacketError
from vipkeeper.vrrp.settings import IPAddress

IPPROTO_VRRP = 112
TYPE_ADVERT = 1
HEADER_LEN = 8
AUTH_LEN = 8

_HEADER = struct.Struct("!BBBBBBH")


@dataclass(frozen=True, **SLOTS)
class Advert:
    """One VRRP advert as carried on the wire (checksum excluded: it is derived)."""

    version: int
    vrid: int
    priority: int
    interval: int  # v2: seconds; v3: centiseconds (12 bits)
    addresses: tuple[IPAddress, ...]
    family: int = 4
    auth_type: int = 0  # v2 only
    auth_data: bytes = b""  # v2 only: exactly 8 bytes
    type: int = TYPE_ADVERT
    reserved: int = 0  # v3 only: the 4 bits before the interval

    @property
    def interval_seconds(self) -> float:
        """The advertised interval in seconds."""
        return float(self.interval) if self.version == 2 else self.interval / 100.0


def message_length(version: int, count: int, family: int) -> int:
    """Length of a VRRP message with ``count`` addresses."""
    alen = 4 if family == 4 else 16
    return HEADER_LEN + count * alen + (AUTH_LEN if version == 2 else 0)


def internet_checksum(data: bytes) -> int:
    """RFC 1071 one's-complement checksum."""
    if len(data) % 2:
        data += b"\0"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def _pseudo_header(src: IPAddress, dst: IPAddress, length: int) -> bytes:
    if src.version == 4:
        return src.packed + dst.packed + struct.pack("!BBH", 0, IPPROTO_VRRP, length)
    return src.packed + dst.packed + struct.pack("!I3xB", length, IPPROTO_VRRP)


def _checksum_prefix(
    version: int, src: IPAddress, dst: IPAddress, length: int, as_v2: bool
) -> bytes:
    """The bytes summed before the message: the pseudo-header, or nothing."""
    if version == 2:
        return b""
    if src.version == 4 and as_v2:
        return b""
    return _pseudo_header(src, dst, length)


def encode_advert(
    advert: Advert, src: IPAddress, dst: IPAddress, *, v3_checksum_as_v2: bool = False
) -> bytes:
    """Encode ``advert`` sent from ``src`` to ``dst`` (both needed for the v3 checksum)."""
    _check_encodable(advert, src, dst)
    if advert.version == 2:
        b4, b5 = advert.auth_type, advert.interval
        trailer = advert.auth_data
    else:
        word = (advert.reserved << 12) | advert.interval
        b4, b5 = word >> 8, word & 0xFF
        trailer = b""
    addrs = b"".join(a.packed for a in advert.addresses)
    head = _HEADER.pack(
        (advert.version << 4) | advert.type,
        advert.vrid,
        advert.priority,
        len(advert.addresses),
        b4,
        b5,
        0,
    )
    body = head + addrs + trailer
    prefix = _checksum_prefix(advert.version, src, dst, len(body), v3_checksum_as_v2)
    csum = internet_checksum(prefix + body)
    return body[:6] + struct.pack("!H", csum) + body[8:]


def _check_encodable(advert: Advert, src: IPAddress, dst: IPAddress) -> None:
    """Refuse adverts that cannot be put on the wire (our bug, not a peer's)."""
    problems = []
    if advert.version not in (2, 3):
        problems.append("version")
    if not 0 <= advert.type <= 15:
        problems.append("type")
    if not (0 <= advert.vrid <= 255 and 0 <= advert.priority <= 255):
        problems.append("vrid/priority")
    if len(advert.addresses) > 255:
        problems.append("address count")
    if any(a.version != advert.family for a in (*advert.addresses, src, dst)):
        problems.append("address family")
    if advert.version == 2:
        if not (0 <= advert.interval <= 255 and 0 <= advert.auth_type <= 255):
            problems.append("interval/auth type")
        if len(advert.auth_data) != AUTH_LEN:
            problems.append("auth data")
    else:
        if not (0 <= advert.interval <= 0xFFF and 0 <= advert.reserved <= 0xF):
            problems.append("interval/reserved")
        if advert.auth_type or advert.auth_data:
            problems.append("auth in v3")
    if problems:
        raise LocalProtocolError(f"cannot encode advert ({', '.join(problems)}): {advert!r}")


def expected_length(data: bytes, family: int) -> int:
    """The message length ``data`` claims (header needed: caller checks len >= 8)."""
    return message_length(data[0] >> 4, data[3], family)


def decode_advert(data: bytes, family: int) -> Advert:
    """Decode a VRRP message received over IPv``family``; trailing padding is ignored."""
    if family not in (4, 6):
        raise LocalProtocolError(f"family {family} is not 4 or 6")
    if len(data) < HEADER_LEN:
        raise PacketError(DropReason.TOO_SHORT, f"{len(data)} bytes, header needs {HEADER_LEN}")
    need = expected_length(data, family)
    if len(data) < need:
        raise PacketError(DropReason.TOO_SHORT, f"{len(data)} bytes, message needs {need}")
    vt, vrid, prio, count, b4, b5, _csum = _HEADER.unpack_from(data)
    version, type_ = vt >> 4, vt & 0x0F
    if version not in (2, 3):
        raise PacketError(DropReason.VERSION, f"version {version}")
    alen = 4 if family == 4 else 16
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    addresses = tuple(
        make(data[HEADER_LEN + i * alen : HEADER_LEN + (i + 1) * alen]) for i in range(count)
    )
    if version == 2:
        end = HEADER_LEN + count * alen
        return Advert(
            version=2,
            vrid=vrid,
            priority=prio,
            interval=b5,
            addresses=addresses,
            family=family,
            auth_type=b4,
            auth_data=bytes(data[end : end + AUTH_LEN]),
            type=type_,
        )
    word = (b4 << 8) | b5
    return Advert(
        version=3,
        vrid=vrid,
        priority=prio,
        interval=word & 0xFFF,
        addresses=addresses,
        family=family,
        type=type_,
        reserved=word >> 12,
    )


def checksum_ok(
    data: bytes, src: IPAddress, dst: IPAddress, *, v3_checksum_as_v2: bool = False
) -> bool:
    """Whether the checksum of a (length-checked) message received from ``src`` to ``dst`` holds."""
    length = expected_length(data, src.version)
    msg = bytes(data[:length])
    prefix = _checksum_prefix(data[0] >> 4, src, dst, length, v3_checksum_as_v2)
    return internet_checksum(prefix + msg) == 0
