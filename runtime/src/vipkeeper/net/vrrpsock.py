# VRRP transport (RFC 3768 s5.1, RFC 5798 s5.1): IP protocol 112, sent with TTL / hop limit
# 255 to 224.0.0.18 / ff02::12 (or a configured group, or unicast peers). The receiver
# reports the TTL / hop limit it saw, so the core can drop anything that crossed a router.
# VRRPv2 with auth_type AH (IPv4 only) travels as IP protocol 51 on a socket of its own, with
# IP_HDRINCL: the core builds the whole packet, since the AH ICV covers the IP header.
"""Raw IP protocol 112 (or 51, AH) sockets, one per (interface, family, protocol), bound to
the interface."""

from __future__ import annotations

import contextlib
import errno
import socket
import struct
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Any, Optional, Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.ah import IPPROTO_AH, AhHeader, split_ah

IPPROTO_VRRP = 112
VRRP_TTL = 255
IP_PKTINFO = 8  # Linux values (the socket module lacks some of them)
IP_MULTICAST_ALL = 49
SO_RCVBUFFORCE = 33
IPV6_MULTICAST_ALL = 29
SO_TIMESTAMPNS = 35
SO_BINDTOIFINDEX = 62  # Linux 5.0
IP_MTU_DISCOVER = 10
IP_PMTUDISC_DONT = 0  # no DF bit: keepalived sends its IPv4 header with a zero fragment field
IPV6_TCLASS = 67
# keepalived's priority for VRRP traffic: TOS / traffic class 0xc0 (IPTOS_PREC_INTERNETCONTROL,
# DSCP CS6), for IPv4 in the header it builds and for IPv6 with IPV6_TCLASS (vrrp_if.c)
VRRP_TOS = 0xC0
_TIMESPEC = struct.Struct("=qq")
RCVBUF = 4 * 1024 * 1024

IPAddress = Union[IPv4Address, IPv6Address]
# A socket's place in the daemon's table: (interface name, family, IP protocol).
SocketKey = tuple[str, int, int]
# (destination, source, ancillary data, socket address) of a send, built once.
_SendTo = tuple[IPAddress, Optional[IPAddress], list[tuple[int, int, bytes]], tuple[Any, ...]]
_SENDTO_MAX = 256


@dataclass(**SLOTS)  # not frozen: a frozen dataclass costs three times as much to build
class Datagram:
    """A VRRP payload as received, with what the IP layer said about it (read-only by use)."""

    data: bytes  # the VRRP message (IP header removed)
    src: IPAddress
    dst: IPAddress
    ttl: int  # IPv4 TTL or IPv6 hop limit as received
    stamp: float = 0.0  # the kernel's receive time (CLOCK_REALTIME) when asked for; else 0
    ah: AhHeader | None = None  # IP protocol 51: the IP and AH headers (for the AH checks)


class VrrpSocket:
    """A raw VRRP socket on one interface: joins groups, sends with a chosen source, receives.

    Bound to the interface's index, not its name: the socket stays with the interface it was
    opened on (a rename takes it along, a deletion leaves it dead), and `current()` tells
    whether that interface still carries the name.
    """

    def __init__(self, ifname: str, ifindex: int, family: int, proto: int = IPPROTO_VRRP) -> None:
        if proto not in (IPPROTO_VRRP, IPPROTO_AH) or (proto == IPPROTO_AH and family != 4):
            raise ValueError(f"no VRRP socket for IP protocol {proto} over IPv{family}")
        self.ifname = ifname
        self.ifindex = ifindex
        self.family = family
        self.proto = proto
        self.groups: set[IPAddress] = set()
        self._sendto: dict[tuple[int, int], _SendTo] = {}
        af = socket.AF_INET if family == 4 else socket.AF_INET6
        sock = socket.socket(af, socket.SOCK_RAW, proto)
        try:
            sock.setblocking(False)
            if proto == IPPROTO_AH:  # the core sends whole packets (the ICV covers the header)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_HDRINCL, 1)
            _bind_to(sock, ifname, ifindex)
            sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, RCVBUF)
            if family == 4:
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, VRRP_TTL)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_TOS, VRRP_TOS)
                sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, VRRP_TTL)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
                mreqn = struct.pack("=4s4si", b"\0" * 4, b"\0" * 4, ifindex)
                sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, mreqn)
            else:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, VRRP_TTL)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_TCLASS, VRRP_TOS)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_HOPS, VRRP_TTL)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_LOOP, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_MULTICAST_IF, ifindex)
                sock.setsockopt(socket.IPPROTO_IPV6, IPV6_MULTICAST_ALL, 0)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVPKTINFO, 1)
        except BaseException:
            sock.close()
            raise
        self.sock = sock
        # IPv4: recv(bufsize) reads one whole packet, IP header included (parse_ipv4 splits
        # it); raises BlockingIOError when none is waiting. Bound once: the daemon calls it for
        # every advert.
        self.recv_packet = sock.recv

    @property
    def key(self) -> SocketKey:
        """(interface name, family, IP protocol): the daemon's table is keyed so."""
        return (self.ifname, self.family, self.proto)

    def fileno(self) -> int:
        """The socket's descriptor (for the event loop)."""
        return self.sock.fileno()

    def current(self) -> bool:
        """Whether the interface this socket is bound to is still called `ifname` (asks the
        kernel: for the error path, not per packet)."""
        try:
            return socket.if_indextoname(self.ifindex) == self.ifname
        except OSError:  # no interface has that index any more
            return False

    def join(self, group: IPAddress) -> None:
        """Join a multicast group on this interface (idempotent)."""
        if group in self.groups:
            return
        if self.family == 4:
            mreqn = struct.pack("=4s4si", group.packed, b"\0" * 4, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
        else:
            mreq = struct.pack("=16si", group.packed, self.ifindex)
            self.sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_JOIN_GROUP, mreq)
        self.groups.add(group)

    def send(self, data: bytes, dst: IPAddress, src: IPAddress | None = None) -> None:
        """Send one VRRP message to `dst` out of this interface, from `src` when given (an AH
        socket sends `data` as the whole IPv4 packet: its header names the source)."""
        # A master sends to the same destinations from the same source object every interval:
        # their ancillary data and socket address are built once (keyed by identity, checked).
        key = (id(dst), id(src))
        spec = self._sendto.get(key)
        if spec is None or spec[0] is not dst or spec[1] is not src:
            if len(self._sendto) >= _SENDTO_MAX:
                self._sendto.clear()
            spec = self._sendto[key] = (dst, src, *self._sendto_spec(dst, src))
        self.sock.sendmsg([data], spec[2], 0, spec[3])

    def _sendto_spec(
        self, dst: IPAddress, src: IPAddress | None
    ) -> tuple[list[tuple[int, int, bytes]], tuple[Any, ...]]:
        if self.family == 4:
            spec = src.packed if src is not None else b"\0" * 4
            cmsg = (socket.IPPROTO_IP, IP_PKTINFO, struct.pack("=i4s4s", self.ifindex, spec, spec))
            return [cmsg], (str(dst), 0)
        spec6 = src.packed if src is not None else b"\0" * 16
        cmsg = (socket.IPPROTO_IPV6, socket.IPV6_PKTINFO, struct.pack("=16si", spec6, 0))
        return [cmsg], (str(dst), 0, 0, self.ifindex)

    def receive(self, stamped: bool = False) -> Datagram | None:
        """Read one datagram; None when nothing is waiting or it is not even an IP packet.

        With `stamped`, the datagram carries the kernel's receive time (an IPv4 datagram then
        costs a recvmsg instead of a recv).
        """
        stamp = 0.0
        try:
            if self.family == 4:
                parse = parse_ipv4_ah if self.proto == IPPROTO_AH else parse_ipv4
                if not stamped:
                    return parse(self.sock.recv(65535))
                raw, stamp = self.recv_stamped()
                dgram4 = parse(raw)
                if dgram4 is not None:
                    dgram4.stamp = stamp
                return dgram4
            data, ancdata, _flags, addr = self.sock.recvmsg(65535, 256)
        except (BlockingIOError, InterruptedError):
            return None
        hoplimit = -1
        dst: IPAddress | None = None
        for level, kind, value in ancdata:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and stamped:
                stamp = _timespec(value)
            if level != socket.IPPROTO_IPV6:
                continue
            if kind == socket.IPV6_HOPLIMIT and len(value) >= 4:
                hoplimit = struct.unpack("=i", value[:4])[0]
            elif kind == socket.IPV6_PKTINFO and len(value) >= 16:
                dst = IPv6Address(value[:16])
        src = ip_address(addr[0].split("%", 1)[0])
        if dst is None or not isinstance(src, IPv6Address):
            return None
        return Datagram(data, src, dst, hoplimit, stamp)

    def recv_stamped(self) -> tuple[bytes, float]:
        """IPv4: one whole packet and the kernel's receive time (CLOCK_REALTIME; 0 if unknown).

        Raises BlockingIOError when none is waiting.
        """
        raw, ancdata, _flags, _addr = self.sock.recvmsg(65535, 64)
        return raw, _stamp(ancdata)

    def close(self) -> None:
        """Close the socket (leaves every group)."""
        self.sock.close()


def _bind_to(sock: socket.socket, ifname: str, ifindex: int) -> None:
    """Bind to the interface `ifindex` (by name on kernels before 5.0, checked afterwards)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_BINDTOIFINDEX, ifindex)
        return
    except OSError as exc:
        if exc.errno != errno.ENOPROTOOPT:
            raise
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, ifname.encode())
    if socket.if_nametoindex(ifname) != ifindex:  # the name moved on meanwhile
        raise OSError(errno.ENODEV, f"{ifname} is no longer interface {ifindex}")


def _stamp(ancdata: list[tuple[int, int, bytes]]) -> float:
    """The SO_TIMESTAMPNS receive time in `ancdata` (seconds, CLOCK_REALTIME), or 0."""
    for level, kind, value in ancdata:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            return _timespec(value)
    return 0.0


def _timespec(value: bytes) -> float:
    """A struct timespec in seconds (0 when short)."""
    if len(value) < _TIMESPEC.size:
        return 0.0
    sec, nsec = _TIMESPEC.unpack_from(value)
    return float(sec) + float(nsec) * 1e-9


_ADDR_CACHE: dict[bytes, IPv4Address] = {}  # the few addresses a segment uses, parsed once
_ADDR_CACHE_MAX = 1024


def _v4(packed: bytes) -> IPv4Address:
    addr = _ADDR_CACHE.get(packed)
    if addr is None:
        if len(_ADDR_CACHE) >= _ADDR_CACHE_MAX:
            _ADDR_CACHE.clear()
        addr = _ADDR_CACHE[packed] = IPv4Address(packed)
    return addr


def parse_ipv4(raw: bytes) -> Datagram | None:
    """Split a raw IPv4 packet into its VRRP payload and header facts."""
    if len(raw) < 20 or raw[0] >> 4 != 4:
        return None
    ihl = (raw[0] & 0x0F) * 4
    total = (raw[2] << 8) | raw[3]
    if ihl < 20 or len(raw) < ihl:
        return None
    end = total if ihl <= total <= len(raw) else len(raw)
    return Datagram(raw[ihl:end], _v4(raw[12:16]), _v4(raw[16:20]), raw[8])


def parse_ipv4_ah(raw: bytes) -> Datagram | None:
    """Split a raw IPv4 packet of protocol 51 into its VRRP payload, its IP and AH headers, and
    the header facts."""
    split = split_ah(raw)
    if split is None:
        return None
    head, payload = split
    return Datagram(payload, _v4(raw[12:16]), _v4(raw[16:20]), raw[8], ah=head)
