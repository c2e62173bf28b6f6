# Who answers for an address.
# - IPv4: an ARP probe (RFC 5227 s2.1.1): a broadcast ARP request with the sender protocol
#   address 0.0.0.0, the target protocol address the VIP and the target hardware address zero.
#   A zero sender address puts nothing in the neighbours' ARP caches: the probe cannot poison
#   them, even when the probing node is a BACKUP that does not hold the VIP. A holder answers
#   with a reply from its own MAC (Linux sends it to the prober's MAC, RFC 5227 s2.1.1).
#   Any ARP packet whose sender protocol address is the VIP (a reply, a gratuitous ARP, a
#   request) names the MAC that claims it.
# - IPv6: a Neighbor Solicitation (RFC 4861 s7.2.2) for the VIP to its solicited-node group,
#   from the interface's link-local address with a source link-layer address option, hop limit
#   255. It maps only our link-local address (true) in the neighbours' caches, never the VIP. A
#   holder answers with a Neighbor Advertisement whose target link-layer option is its MAC.
"""ARP probes and neighbour solicitations for the VIPs, and the answers that name a MAC."""

from __future__ import annotations

import socket
import struct
from collections.abc import Iterator
from ipaddress import IPv4Address, IPv6Address

from vipkeeper._compat import SLOTS, dataclass

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
PACKET_OUTGOING = 4  # socket.PACKET_OUTGOING: a frame this host sent
ICMP6_FILTER = 1  # <netinet/icmp6.h>: a level IPPROTO_ICMPV6 option
ND_NEIGHBOR_SOLICIT = 135
ND_NEIGHBOR_ADVERT = 136
OPT_SOURCE_LLADDR = 1
OPT_TARGET_LLADDR = 2
READ_BATCH = 64  # frames read per wake-up, so a flood cannot hold the loop


@dataclass(frozen=True, **SLOTS)
class Claim:
    """A MAC that said it holds an address (an ARP sender, or an NA's target)."""

    address: IPv4Address | IPv6Address
    mac: bytes


def format_mac(mac: bytes) -> str:
    """aa:bb:cc:dd:ee:ff."""
    return ":".join(f"{b:02x}" for b in mac)


def encode_arp_probe(mac: bytes, target: IPv4Address) -> bytes:
    """An Ethernet frame holding an ARP probe for `target` from `mac` (sender IP 0.0.0.0)."""
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + b"\0" * 4 + b"\0" * 6 + target.packed
    return eth + arp


def decode_arp_claim(frame: bytes) -> Claim | None:
    """The sender of an Ethernet ARP frame (request or reply), None for anything else or a
    probe (its sender address is 0.0.0.0: it claims nothing)."""
    if len(frame) < 42 or frame[12:14] != b"\x08\x06":
        return None
    htype, ptype, hlen, plen, op = struct.unpack_from("!HHBBH", frame, 14)
    if htype != 1 or ptype != 0x0800 or hlen != 6 or plen != 4 or op not in (1, 2):
        return None
    sender = IPv4Address(frame[28:32])
    if sender == IPv4Address(0):
        return None
    return Claim(sender, bytes(frame[22:28]))


def solicited_node(target: IPv6Address) -> IPv6Address:
    """The solicited-node multicast group of `target` (RFC 4291 s2.7.1)."""
    return IPv6Address(b"\xff\x02" + b"\0" * 9 + b"\x01\xff" + target.packed[13:])


def encode_ns(mac: bytes, target: IPv6Address) -> bytes:
    """An ICMPv6 Neighbor Solicitation for `target` with our MAC as source link-layer option
    (the kernel fills in the checksum)."""
    option = struct.pack("!BB", OPT_SOURCE_LLADDR, 1) + mac
    return struct.pack("!BBHI", ND_NEIGHBOR_SOLICIT, 0, 0, 0) + target.packed + option


def decode_na_claim(data: bytes) -> Claim | None:
    """The target and its link-layer address of an ICMPv6 Neighbor Advertisement (the message
    from its ICMPv6 header on), None for anything else or an NA without the option."""
    if len(data) < 24 or data[0] != ND_NEIGHBOR_ADVERT or data[1] != 0:
        return None
    target = IPv6Address(bytes(data[8:24]))
    at = 24
    while at + 2 <= len(data):
        kind, units = data[at], data[at + 1]
        if units == 0:
            return None
        if kind == OPT_TARGET_LLADDR and units == 1 and at + 8 <= len(data):
            return Claim(target, bytes(data[at + 2 : at + 8]))
        at += units * 8
    return None


def na_only_filter() -> bytes:
    """The ICMP6_FILTER that lets only Neighbor Advertisements through (a set bit blocks)."""
    words = [0xFFFFFFFF] * 8
    words[ND_NEIGHBOR_ADVERT >> 5] &= ~(1 << (ND_NEIGHBOR_ADVERT & 31)) & 0xFFFFFFFF
    return struct.pack("=8I", *words)


class ProbeSocket:
    """Sends probes out of one interface and reads the claims heard on it.

    The ARP socket (AF_PACKET) sees every ARP frame of the interface; the ICMPv6 socket only
    Neighbor Advertisements (a kernel filter). Both are opened on first use.
    """

    def __init__(self, ifname: str, ifindex: int) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self.arp: socket.socket | None = None
        self.icmp6: socket.socket | None = None

    def open_arp(self) -> socket.socket:
        """The ARP socket (opened on first use)."""
        if self.arp is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            sock.setblocking(False)
            sock.bind((self.ifname, ETH_P_ARP))
            self.arp = sock
        return self.arp

    def open_icmp6(self) -> socket.socket:
        """The ICMPv6 socket (opened on first use)."""
        if self.icmp6 is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.ifname.encode())
            sock.setsockopt(socket.IPPROTO_ICMPV6, ICMP6_FILTER, na_only_filter())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            self.icmp6 = sock
        return self.icmp6

    def probe(self, mac: bytes, address: IPv4Address | IPv6Address) -> None:
        """Ask who holds `address` (an ARP probe or a neighbour solicitation)."""
        if isinstance(address, IPv4Address):
            self.open_arp().send(encode_arp_probe(mac, address))
        else:
            group = solicited_node(address)
            self.open_icmp6().sendto(encode_ns(mac, address), (str(group), 0, 0, self.ifindex))

    def read_arp(self) -> Iterator[Claim]:
        """The claims of the ARP frames waiting (not those this host sent)."""
        sock = self.arp
        if sock is None:
            return
        for _ in range(READ_BATCH):
            try:
                frame, addr = sock.recvfrom(128)
            except (BlockingIOError, InterruptedError):
                return
            if addr[2] == PACKET_OUTGOING:
                continue
            claim = decode_arp_claim(frame)
            if claim is not None:
                yield claim

    def read_icmp6(self) -> Iterator[Claim]:
        """The claims of the Neighbor Advertisements waiting."""
        sock = self.icmp6
        if sock is None:
            return
        for _ in range(READ_BATCH):
            try:
                data = sock.recv(1500)
            except (BlockingIOError, InterruptedError):
                return
            claim = decode_na_claim(data)
            if claim is not None:
                yield claim

    def close(self) -> None:
        """Close the sockets."""
        for sock in (self.arp, self.icmp6):
            if sock is not None:
                sock.close()
        self.arp = self.icmp6 = None
