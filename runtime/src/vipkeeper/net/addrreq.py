"""VIP add and delete requests on a raw rtnetlink socket, sent at once, acknowledged later.

rtnetlink applies a request inside the `send` that carries it, so a VIP is on its interface
when `send` returns: a new master needs no trip through the event loop before its address
is there. The kernel's acknowledgement (an errno, 0 for success) comes back on the same
socket and resolves the request's future when the loop reads it.

pyroute2 encodes each distinct request once (`ifaddrmsg`, with the attributes its own
`addr()` would send); later sends of the same request only patch the sequence number.
"""

from __future__ import annotations

import asyncio
import errno
import socket
import struct
from typing import TYPE_CHECKING

from vipkeeper.net.netlink import (  # first: it keeps pyroute2's package __init__ unloaded
    NLM_F_ACK,
    NLM_F_CREATE,
    NLM_F_EXCL,
    NLM_F_REQUEST,
    RTM_DELADDR,
    RTM_NEWADDR,
    ifaddrmsg,
    raw_route_socket,
)

if TYPE_CHECKING:
    from vipkeeper.net.addrs import AddrSpec

NLMSG_ERROR = 2
_HEADER = struct.Struct("=IHHII")  # nlmsghdr: length, type, flags, sequence, port id
_ERROR = struct.Struct("=i")  # nlmsgerr.error, after the header: 0 or -errno
_RCVBUF = 1 << 20
_CACHE_MAX = 4096


def encode_request(spec: AddrSpec, index: int, *, add: bool, scope: int, flags: int) -> bytearray:
    """The RTM_NEWADDR / RTM_DELADDR message for `spec` on interface `index` (sequence 0)."""
    msg = ifaddrmsg()
    ip = spec.address
    peer = spec.peer
    msg["family"] = socket.AF_INET if ip.version == 4 else socket.AF_INET6
    msg["prefixlen"] = (peer or ip).network.prefixlen
    msg["index"] = index
    attrs: list[tuple[str, object]] = []
    if peer is not None:
        attrs += [("IFA_LOCAL", str(ip.ip)), ("IFA_ADDRESS", str(peer.ip))]
    elif ip.version == 4:
        attrs += [("IFA_LOCAL", str(ip.ip)), ("IFA_ADDRESS", str(ip.ip))]
    else:
        attrs.append(("IFA_ADDRESS", str(ip.ip)))
    if add:
        msg["scope"] = scope
        if spec.label:
            attrs.append(("IFA_LABEL", spec.label))
        if spec.broadcast is not None and ip.version == 4:
            attrs.append(("IFA_BROADCAST", str(spec.broadcast)))
        if flags:
            attrs.append(("IFA_FLAGS", flags))
    msg["attrs"] = attrs
    msg["header"]["type"] = RTM_NEWADDR if add else RTM_DELADDR
    msg["header"]["flags"] = NLM_F_REQUEST | NLM_F_ACK | (NLM_F_CREATE | NLM_F_EXCL if add else 0)
    msg["header"]["sequence_number"] = 0
    msg.encode()
    return bytearray(msg.data)


class AddrRequests:
    """One rtnetlink socket for address requests; `send` returns a future of the errno."""

    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._seq = 0
        self._pending: dict[int, asyncio.Future[int]] = {}
        self._cache: dict[tuple[AddrSpec, int, bool], bytearray] = {}

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Open the socket and let `loop` read the acknowledgements."""
        sock = raw_route_socket(_RCVBUF)
        try:
            loop.add_reader(sock.fileno(), self._readable)
        except OSError:
            sock.close()
            raise
        self.sock, self._loop = sock, loop

    def close(self) -> None:
        """Close the socket; requests still unanswered get ECANCELED."""
        if self.sock is not None and self._loop is not None:
            self._loop.remove_reader(self.sock.fileno())
            self.sock.close()
        self.sock = None
        for fut in self._pending.values():
            if not fut.done():
                fut.set_result(errno.ECANCELED)
        self._pending.clear()

    def send(
        self, spec: AddrSpec, index: int, *, add: bool, scope: int = 0, flags: int = 0
    ) -> asyncio.Future[int]:
        """Apply the request now; the future gets the kernel's errno (0: done).

        `scope` and `flags` follow from `spec`: the cache keeps the first encoding of a spec.
        """
        if self.sock is None or self._loop is None:
            raise OSError(errno.EBADF, "the address request socket is not open")
        key = (spec, index, add)
        msg = self._cache.get(key)
        if msg is None:
            if len(self._cache) >= _CACHE_MAX:
                self._cache.clear()
            msg = encode_request(spec, index, add=add, scope=scope, flags=flags)
            self._cache[key] = msg
        self._seq = self._seq % 0xFFFFFFFF + 1
        struct.pack_into("=I", msg, 8, self._seq)
        fut = self._loop.create_future()
        self.sock.send(msg)
        self._pending[self._seq] = fut
        return fut

    def _readable(self) -> None:
        assert self.sock is not None
        while True:
            try:
                data = self.sock.recv(65536)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # ENOBUFS: acknowledgements were lost; fail what is waiting
                for fut in self._pending.values():
                    if not fut.done():
                        fut.set_result(errno.ENOBUFS)
                self._pending.clear()
                return
            self._parse(data)

    def _parse(self, data: bytes) -> None:
        offset = 0
        while offset + _HEADER.size <= len(data):
            length, kind, _flags, seq, _port = _HEADER.unpack_from(data, offset)
            if length < _HEADER.size:
                return
            if kind == NLMSG_ERROR and length >= _HEADER.size + _ERROR.size:
                (error,) = _ERROR.unpack_from(data, offset + _HEADER.size)
                fut = self._pending.pop(seq, None)
                if fut is not None and not fut.done():
                    fut.set_result(-error)
            offset += (length + 3) & ~3
