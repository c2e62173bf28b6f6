"""VRRPv2 IPsec-AH authentication (``auth_type AH``) as keepalived 2.2.7 puts it on the wire.

An AH advert is a whole IPv4 packet, built by us (the ICV covers the IP header)::

    IPv4 header, 20 bytes: tos 0xc0, id (per instance, never 0), no fragment, TTL, protocol 51
    AH header, 24 bytes (RFC 2402): next header 112, payload length 4, reserved 0,
        SPI = the IPv4 source address, sequence number, ICV (12 bytes)
    the VRRPv2 message: auth type 2, 8 zero bytes of auth data, checksum over the message

ICV: HMAC-MD5-96 (RFC 2104/2403) keyed with ``auth_pass`` cut or zero padded to 8 bytes, over
the IP header with its mutable fields zeroed (TOS, fragment field, header checksum, and the
TTL only for a unicast instance), the AH header with a zero ICV, and the VRRP message.

Sequence numbers (``SeqCounter``, keepalived's ``ipsecah_counter``): one counter per instance
serves both directions. Each advert round takes the next number (the first is 1); a received
advert must carry a number above the counter, which then takes it. A backup therefore
continues its old master's numbers when it takes over, and a restarted router (counter 0)
accepts whatever it hears. A master hearing a lower priority jumps to that number + 1. Beyond
0xFFFFFFFD the counter stops and is marked cycled; a cycled counter restarts at 0 on becoming
master (keepalived's rules, in ``vrrp.c``).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import struct

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.errors import DropReason, PacketError

IPPROTO_AH = 51
IPPROTO_VRRP = 112
IP_HEADER_LEN = 20
AH_LEN = 24
ICV_LEN = 12
AH_PAYLOAD_LEN = 4  # AH length in 32-bit words minus 2 (RFC 2402 s2.2) for a 96-bit ICV
KEY_LEN = 8
TOS_NETWORK_CONTROL = 0xC0
SEQ_LIMIT = 0xFFFFFFFD  # keepalived stops counting above this ("cycled")

_IP = struct.Struct("!BBHHHBBH4s4s")
_AH = struct.Struct("!BBHII")


@dataclass(**SLOTS)
class SeqCounter:
    """An instance's AH sequence counter (send and receive share it) and its cycled flag."""

    seq: int = 0
    cycle: bool = False

    def next_send(self) -> int:
        """The number of the next advert round (the counter stops at its limit, cycled)."""
        if self.seq > SEQ_LIMIT:
            self.cycle = True
        else:
            self.seq += 1
        return self.seq


def ah_key(password: bytes) -> bytes:
    """The HMAC key: ``auth_pass`` cut or zero padded to 8 bytes (keepalived's auth_data)."""
    return password[:KEY_LEN].ljust(KEY_LEN, b"\0")


def icv(key: bytes, header: bytes, payload: bytes, *, unicast: bool) -> bytes:
    """HMAC-MD5-96 over ``header`` (IP header and AH header) and ``payload``, mutables zeroed."""
    ihl = (header[0] & 0x0F) * 4
    m = bytearray(header)
    m[1] = 0  # TOS
    m[6:8] = b"\0\0"  # flags and fragment offset
    m[10:12] = b"\0\0"  # header checksum
    if unicast:
        m[8] = 0  # TTL
    m[ihl + 12 : ihl + AH_LEN] = bytes(ICV_LEN)
    return hmac.new(key, bytes(m) + payload, hashlib.md5).digest()[:ICV_LEN]


def _ip_checksum(header: bytes) -> int:
    total: int = sum(struct.unpack(f"!{len(header) // 2}H", header))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def encode_ah_packet(
    vrrp: bytes,
    src: ipaddress.IPv4Address,
    dst: ipaddress.IPv4Address,
    *,
    key: bytes,
    seq: int,
    ip_id: int,
    ttl: int,
    unicast: bool,
) -> bytes:
    """The whole IPv4 packet carrying the VRRP message ``vrrp`` under AH (the IP header
    checksum included, as the kernel fills it in)."""
    total = IP_HEADER_LEN + AH_LEN + len(vrrp)
    fields = (0x45, TOS_NETWORK_CONTROL, total, ip_id, 0, ttl, IPPROTO_AH)
    ip0 = _IP.pack(*fields, 0, src.packed, dst.packed)
    ah0 = _AH.pack(IPPROTO_VRRP, AH_PAYLOAD_LEN, 0, int(src), seq) + bytes(ICV_LEN)
    mac = icv(key, ip0 + ah0, vrrp, unicast=unicast)
    ip = _IP.pack(*fields, _ip_checksum(ip0), src.packed, dst.packed)
    return ip + ah0[:12] + mac + vrrp


@dataclass(frozen=True, **SLOTS)
class AhHeader:
    """The IP and AH headers of a received AH packet, as they arrived."""

    raw: bytes  # the IP header (options included) and the AH header, for the ICV
    src: int  # the IPv4 source address, as a number
    next_header: int
    spi: int
    seq: int
    icv: bytes


def split_ah(raw: bytes) -> tuple[AhHeader, bytes] | None:
    """Split a raw IPv4 packet of protocol 51 into its headers and the VRRP message (up to the
    IP total length); None when it is not even that (too short for the headers)."""
    if len(raw) < IP_HEADER_LEN or raw[0] >> 4 != 4:
        return None
    ihl = (raw[0] & 0x0F) * 4
    total = (raw[2] << 8) | raw[3]
    if ihl < IP_HEADER_LEN or len(raw) < ihl + AH_LEN:
        return None
    end = total if ihl + AH_LEN <= total <= len(raw) else len(raw)
    nxt, _plen, _res, spi, seq = _AH.unpack_from(raw, ihl)
    src = int.from_bytes(raw[12:16], "big")
    head = AhHeader(bytes(raw[: ihl + AH_LEN]), src, nxt, spi, seq, bytes(raw[ihl + 12 : ihl + 24]))
    return head, bytes(raw[ihl + AH_LEN : end])


def check_ah(
    head: AhHeader, payload: bytes, *, key: bytes, unicast: bool, counter: SeqCounter
) -> None:
    """keepalived's AH checks, in its order: next header, ICV, SPI, then the sequence number
    (which the counter then takes). Raises ``PacketError`` (``auth_ah``) on the first failure."""
    if head.next_header != IPPROTO_VRRP:
        raise PacketError(DropReason.AUTH_AH, f"AH next header {head.next_header}, not VRRP")
    if not hmac.compare_digest(icv(key, head.raw, payload, unicast=unicast), head.icv):
        raise PacketError(DropReason.AUTH_AH, "invalid HMAC-MD5 (bad password or altered)")
    if head.spi != head.src:
        raise PacketError(DropReason.AUTH_AH, f"SPI {head.spi:#010x} is not the source address")
    if head.seq <= counter.seq:
        raise PacketError(
            DropReason.AUTH_AH, f"sequence number {head.seq} already processed ({counter.seq})"
        )
    counter.seq = head.seq


def readdress(packet: bytes, dst: ipaddress.IPv4Address, *, key: bytes, unicast: bool) -> bytes:
    """An AH packet built by ``encode_ah_packet`` sent to ``dst`` instead (a configured
    multicast group): the new destination, with its ICV and header checksum."""
    split = split_ah(packet)
    if split is None:
        raise ValueError("not an AH packet")
    head, vrrp = split
    ip = bytearray(head.raw[:IP_HEADER_LEN])
    ip[16:20] = dst.packed
    nxt, plen, res, spi, seq = _AH.unpack_from(head.raw, IP_HEADER_LEN)
    ip[10:12] = b"\0\0"
    ah0 = _AH.pack(nxt, plen, res, spi, seq) + bytes(ICV_LEN)
    mac = icv(key, bytes(ip) + ah0, vrrp, unicast=unicast)
    ip[10:12] = struct.pack("!H", _ip_checksum(bytes(ip)))
    return bytes(ip) + ah0[:12] + mac + vrrp
