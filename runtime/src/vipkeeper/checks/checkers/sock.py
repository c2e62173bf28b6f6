"""Non-blocking socket set-up shared by the connection-based checkers."""

from __future__ import annotations

import asyncio
import socket

from vipkeeper._aiocompat import timeout as async_timeout
from vipkeeper.checks.checkers.result import Target


def make_socket(target: Target, kind: socket.SocketKind) -> socket.socket:
    """A non-blocking socket bound as the checker asks (bindto, bind_port, bind_if, fwmark)."""
    family = socket.AF_INET if target.address.version == 4 else socket.AF_INET6
    sock = socket.socket(family, kind)
    try:
        sock.setblocking(False)
        if target.bind_if:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, target.bind_if.encode())
        if target.fwmark:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_MARK, target.fwmark)
        if target.bind_address is not None or target.bind_port:
            host = str(target.bind_address) if target.bind_address is not None else ""
            sock.bind((host, target.bind_port or 0))
    except OSError:
        sock.close()
        raise
    return sock


async def open_tcp(target: Target, timeout: float) -> socket.socket:
    """A connected TCP socket, or OSError/TimeoutError within `timeout`."""
    sock = make_socket(target, socket.SOCK_STREAM)
    try:
        loop = asyncio.get_running_loop()
        async with async_timeout(timeout):  # no extra task, unlike wait_for
            await loop.sock_connect(sock, (str(target.address), target.port))
    except BaseException:
        sock.close()
        raise
    return sock
