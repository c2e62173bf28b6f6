"""PING_CHECK: an ICMP/ICMPv6 echo is answered within connect_timeout.

One raw socket per family is shared by every check in the process, and replies are
dispatched to the waiting check by (address, identifier, sequence), so thousands of
concurrent pings cost one socket, not thousands. Without root, an unprivileged ICMP
datagram socket is used per check (net.ipv4.ping_group_range must allow it).
"""

from __future__ import annotations

import asyncio
import itertools
import os
import socket
import struct
from ipaddress import ip_address

from vipkeeper._aiocompat import wait_for
from vipkeeper.checks.checkers.result import CheckResult, Target

ECHO_REQUEST = {4: 8, 6: 128}
ECHO_REPLY = {4: 0, 6: 129}
_seq = itertools.count(1)


def checksum(data: bytes) -> int:
    """The Internet checksum (RFC 1071)."""
    if len(data) % 2:
        data += b"\x00"
    total: int = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def echo_request(family: int, ident: int, seq: int, payload: bytes = b"vipkeeper") -> bytes:
    """An echo request (the kernel fills the ICMPv6 checksum)."""
    head = struct.pack("!BBHHH", ECHO_REQUEST[family], 0, 0, ident, seq)
    if family == 6:
        return head + payload
    csum = checksum(head + payload)
    return struct.pack("!BBHHH", ECHO_REQUEST[family], 0, csum, ident, seq) + payload


class _Pinger:
    """A shared raw ICMP socket for one family."""

    def __init__(self, family: int) -> None:
        self.family = family
        if family == 4:
            self.sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        else:
            self.sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        self.sock.setblocking(False)
        self.ident = os.getpid() & 0xFFFF
        self.waiting: dict[tuple[str, int], asyncio.Future[None]] = {}
        self.loop = asyncio.get_running_loop()
        self.loop.add_reader(self.sock.fileno(), self._readable)

    def _readable(self) -> None:
        while True:
            try:
                data, addr = self.sock.recvfrom(2048)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                return
            if self.family == 4:
                data = data[(data[0] & 0x0F) * 4 :]  # strip the IPv4 header
            if len(data) < 8:
                continue
            kind, _code, _csum, ident, seq = struct.unpack("!BBHHH", data[:8])
            if kind != ECHO_REPLY[self.family] or ident != self.ident:
                continue
            src = str(ip_address(addr[0].split("%")[0]))
            fut = self.waiting.pop((src, seq), None)
            if fut is not None and not fut.done():
                fut.set_result(None)

    async def ping(self, target: Target, timeout: float) -> None:
        seq = next(_seq) & 0xFFFF
        key = (str(target.address), seq)
        fut: asyncio.Future[None] = self.loop.create_future()
        self.waiting[key] = fut
        try:
            self.sock.sendto(echo_request(self.family, self.ident, seq), (str(target.address), 0))
            await wait_for(fut, timeout)
        finally:
            self.waiting.pop(key, None)


_pingers: dict[tuple[int, int], _Pinger] = {}


def _pinger(family: int) -> _Pinger:
    loop = asyncio.get_running_loop()
    key = (id(loop), family)
    pinger = _pingers.get(key)
    if pinger is None or pinger.loop.is_closed():
        pinger = _pingers[key] = _Pinger(family)
    return pinger


async def _dgram_ping(target: Target, timeout: float) -> None:
    family = target.address.version
    af, proto = (
        (socket.AF_INET, socket.IPPROTO_ICMP)
        if family == 4
        else (socket.AF_INET6, socket.IPPROTO_ICMPV6)
    )
    sock = socket.socket(af, socket.SOCK_DGRAM, proto)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(sock, (str(target.address), 0))
        await loop.sock_sendall(sock, echo_request(family, 0, next(_seq) & 0xFFFF))
        await wait_for(loop.sock_recv(sock, 2048), timeout)
    finally:
        sock.close()


async def ping_check(target: Target, timeout: float) -> CheckResult:
    """Send one echo request and wait for its reply."""
    try:
        if os.geteuid() == 0 and not target.bind_if and not target.bind_address:
            await _pinger(target.address.version).ping(target, timeout)
        else:
            await _dgram_ping(target, timeout)
    except TimeoutError:
        return CheckResult(False, f"PING_CHECK {target.address}: no echo reply")
    except OSError as exc:
        return CheckResult(False, f"PING_CHECK {target.address}: {exc.strerror or exc}")
    return CheckResult(True, "echo reply")
