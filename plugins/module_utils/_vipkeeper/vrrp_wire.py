# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""A minimal VRRP advertisement decoder (RFC 3768 v2, RFC 5798 v3) over IPv4/IPv6 packets.

v2: version|type, VRID, priority, count, auth type, advert interval (s), checksum, addresses.
v3: version|type, VRID, priority, count, 4 reserved bits + 12-bit max advert interval (cs),
checksum, addresses (4 bytes for IPv4, 16 for IPv6). Type 1 is ADVERTISEMENT.
"""

from __future__ import annotations

import ipaddress

VRRP_PROTO = 112


class NotVrrp(ValueError):
    """Not (or not a well-formed) VRRP advertisement."""


def decode_ip(packet):
    """IPv4 or IPv6 packet -> (family, source, destination, ttl, VRRP payload)."""
    if not packet:
        raise NotVrrp("empty packet")
    version = packet[0] >> 4
    if version == 4:
        ihl = (packet[0] & 0x0F) * 4
        if len(packet) < ihl or ihl < 20 or packet[9] != VRRP_PROTO:
            raise NotVrrp("not IPv4 protocol 112")
        src = str(ipaddress.IPv4Address(packet[12:16]))
        dst = str(ipaddress.IPv4Address(packet[16:20]))
        return 4, src, dst, packet[8], packet[ihl:]
    if version == 6:
        if len(packet) < 40 or packet[6] != VRRP_PROTO:
            raise NotVrrp("not IPv6 next header 112")
        src = str(ipaddress.IPv6Address(packet[8:24]))
        dst = str(ipaddress.IPv6Address(packet[24:40]))
        return 6, src, dst, packet[7], packet[40:]
    raise NotVrrp("IP version %d" % version)


def decode_vrrp(data, family):
    """One advertisement -> dict (version, vrid, priority, advert_int seconds, vips)."""
    if len(data) < 8:
        raise NotVrrp("VRRP packet shorter than 8 bytes")
    version, kind = data[0] >> 4, data[0] & 0x0F
    if version not in (2, 3) or kind != 1:
        raise NotVrrp("VRRP version %d type %d" % (version, kind))
    if version == 2 and family == 6:
        raise NotVrrp("VRRPv2 over IPv6")
    count = data[3]
    size = 4 if family == 4 else 16
    if len(data) < 8 + count * size:
        raise NotVrrp("VRRP packet shorter than its %d addresses" % count)
    make = ipaddress.IPv4Address if family == 4 else ipaddress.IPv6Address
    vips = [str(make(data[8 + i * size : 8 + (i + 1) * size])) for i in range(count)]
    if version == 2:
        advert_int = float(data[5])
        auth_type = data[4]
    else:
        advert_int = (((data[4] & 0x0F) << 8) | data[5]) / 100.0
        auth_type = None
    return {
        "version": version,
        "vrid": data[1],
        "priority": data[2],
        "advert_int": advert_int,
        "auth_type": auth_type,
        "vips": vips,
    }


def decode_packet(packet):
    """IP packet -> the advertisement with its family, source, destination and TTL."""
    family, src, dst, ttl, payload = decode_ip(packet)
    advert = decode_vrrp(payload, family)
    advert.update(family=family, source=src, destination=dst, ttl=ttl)
    return advert
