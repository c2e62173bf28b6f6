# Gratuitous ARP (RFC 5227 s3 / RFC 5944 s4.6): a broadcast ARP request whose sender and
# target protocol addresses are both the VIP. Unsolicited Neighbor Advertisement (RFC 4861
# s7.2.6): sent to ff02::1 with hop limit 255, Override set, Solicited clear, carrying the
# target link-layer address option.
"""Gratuitous ARP over AF_PACKET and unsolicited IPv6 Neighbor Advertisements."""

from __future__ import annotations

import socket
import struct
from ipaddress import IPv4Address, IPv6Address

ETH_P_ARP = 0x0806
BROADCAST = b"\xff" * 6
ALL_NODES = IPv6Address("ff02::1")
NA_ROUTER = 0x80000000
NA_OVERRIDE = 0x20000000


def encode_garp(mac: bytes, vip: IPv4Address) -> bytes:
    """An Ethernet frame holding a gratuitous ARP request for `vip` from `mac`."""
    eth = BROADCAST + mac + struct.pack("!H", ETH_P_ARP)
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + mac + vip.packed + b"\0" * 6 + vip.packed
    return eth + arp


def encode_unsolicited_na(mac: bytes, target: IPv6Address, *, router: bool = False) -> bytes:
    """An ICMPv6 Neighbor Advertisement for `target` (the kernel fills in the checksum)."""
    flags = NA_OVERRIDE | (NA_ROUTER if router else 0)
    option = struct.pack("!BB", 2, 1) + mac  # target link-layer address, 8 bytes
    return struct.pack("!BBHI", 136, 0, 0, flags) + target.packed + option


class GarpSender:
    """Sends gratuitous ARPs and unsolicited NAs out of one interface."""

    def __init__(self, ifname: str, ifindex: int) -> None:
        self.ifname = ifname
        self.ifindex = ifindex
        self._arp: socket.socket | None = None
        self._icmp6: socket.socket | None = None

    def send_garp(self, mac: bytes, vip: IPv4Address) -> None:
        """Broadcast one gratuitous ARP for `vip`."""
        if self._arp is None:
            sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ARP))
            sock.setblocking(False)
            sock.bind((self.ifname, ETH_P_ARP))
            self._arp = sock
        self._arp.send(encode_garp(mac, vip))

    def send_na(self, mac: bytes, vip: IPv6Address, *, router: bool = False) -> None:
        """Send one unsolicited Neighbor Advertisement for `vip` to all nodes."""
        if self._icmp6 is None:
            sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
            sock.setblocking(False)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, self.ifname.encode())
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, 255)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, self.ifindex)
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
            self._icmp6 = sock
        self._icmp6.sendto(
            encode_unsolicited_na(mac, vip, router=router), (str(ALL_NODES), 0, 0, self.ifindex)
        )

    def close(self) -> None:
        """Close the sockets."""
        for sock in (self._arp, self._icmp6):
            if sock is not None:
                sock.close()
        self._arp = self._icmp6 = None
