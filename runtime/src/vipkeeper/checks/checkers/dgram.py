"""One UDP request/response exchange on a connected socket (DNS_CHECK, UDP_CHECK)."""

from __future__ import annotations

import asyncio
import socket

from vipkeeper._aiocompat import wait_for
from vipkeeper.checks.checkers.result import Target
from vipkeeper.checks.checkers.sock import make_socket


class _Exchange(asyncio.DatagramProtocol):
    def __init__(self, accept: object) -> None:
        self.reply: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self.accept = accept

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        if not self.reply.done() and (
            self.accept is None or (callable(self.accept) and self.accept(data))
        ):
            self.reply.set_result(data)

    def error_received(self, exc: Exception) -> None:
        if not self.reply.done():
            self.reply.set_exception(exc)


async def exchange(target: Target, payload: bytes, timeout: float, accept: object = None) -> bytes:
    """Send `payload`, return the first (accepted) reply; OSError on ICMP errors, TimeoutError."""
    sock = make_socket(target, socket.SOCK_DGRAM)
    try:
        sock.connect((str(target.address), target.port))
    except OSError:
        sock.close()
        raise
    loop = asyncio.get_running_loop()
    transport, proto = await loop.create_datagram_endpoint(lambda: _Exchange(accept), sock=sock)
    try:
        transport.sendto(payload)
        return await wait_for(asyncio.shield(proto.reply), timeout)
    finally:
        if not proto.reply.done():
            proto.reply.cancel()
        transport.close()
