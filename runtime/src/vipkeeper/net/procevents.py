"""The kernel's process events connector (NETLINK_CONNECTOR, CN_IDX_PROC), for track_process.

keepalived follows tracked processes through these events (core/track_process.c): FORK, EXEC,
COMM and EXIT of each process (threads are ignored), with no /proc polling loop. pyroute2 has
no proc-connector support, so the socket is a plain non-blocking netlink socket and the
messages are decoded with `struct`. `parse_event` never raises: a datagram it cannot decode
is None, and the reader counts and drops it.

The socket is opened by `net/netlink.py:proc_events_socket` (it needs root).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import logging
import struct
from collections.abc import Callable
from typing import TYPE_CHECKING, Union

from vipkeeper._compat import SLOTS, dataclass

if TYPE_CHECKING:
    import socket

log = logging.getLogger("vipkeeper")

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2
NLMSG_ERROR = 2
NLMSG_DONE = 3

PROC_EVENT_NONE = 0
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_COMM = 0x00000200
PROC_EVENT_EXIT = 0x80000000

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
_EVENT_HEAD = struct.Struct("=IIQ")  # what, cpu, timestamp_ns
_TWO_PIDS = struct.Struct("=ii")
_FORK = struct.Struct("=iiii")  # parent pid, parent tgid, child pid, child tgid
_HEADER = _NLMSGHDR.size + _CN_MSG.size + _EVENT_HEAD.size


@dataclass(frozen=True, **SLOTS)
class Fork:
    """A process (not a thread) was forked."""

    parent: int
    child: int


@dataclass(frozen=True, **SLOTS)
class Exec:
    """A process called exec."""

    pid: int


@dataclass(frozen=True, **SLOTS)
class Comm:
    """A process changed its name (prctl PR_SET_NAME)."""

    pid: int
    comm: str


@dataclass(frozen=True, **SLOTS)
class Exit:
    """A process exited."""

    pid: int


@dataclass(frozen=True, **SLOTS)
class Listening:
    """The kernel acknowledged the subscription (PROC_EVENT_NONE)."""


@dataclass(frozen=True, **SLOTS)
class Lost:
    """The socket overflowed (ENOBUFS): events were missed."""


ProcEvent = Union[Fork, Exec, Comm, Exit, Listening, Lost]


def subscription(listen: bool) -> bytes:
    """The message that starts (or stops) the multicast of process events."""
    op = struct.pack("=I", PROC_CN_MCAST_LISTEN if listen else PROC_CN_MCAST_IGNORE)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(op), 0) + op
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(cn), NLMSG_DONE, 0, 0, 0) + cn


def parse_event(data: bytes) -> ProcEvent | None:
    """One datagram from the connector: the event, or None (not for us, a thread, or bad)."""
    if len(data) < _HEADER:
        return None
    length, kind, _, _, _ = _NLMSGHDR.unpack_from(data)
    if length > len(data) or length < _HEADER or kind == NLMSG_ERROR:
        return None
    idx, val, _, _, size, _ = _CN_MSG.unpack_from(data, _NLMSGHDR.size)
    if idx != CN_IDX_PROC or val != CN_VAL_PROC:
        return None
    body = _NLMSGHDR.size + _CN_MSG.size
    if size < _EVENT_HEAD.size or body + size > len(data):
        return None
    what = _EVENT_HEAD.unpack_from(data, body)[0]
    at = body + _EVENT_HEAD.size
    rest = size - _EVENT_HEAD.size
    if what == PROC_EVENT_NONE:
        return Listening()
    if what == PROC_EVENT_FORK and rest >= _FORK.size:
        _, parent_tgid, child_pid, child_tgid = _FORK.unpack_from(data, at)
        return Fork(parent_tgid, child_tgid) if child_pid == child_tgid else None
    if what in (PROC_EVENT_EXEC, PROC_EVENT_EXIT, PROC_EVENT_COMM) and rest >= _TWO_PIDS.size:
        pid, tgid = _TWO_PIDS.unpack_from(data, at)
        if pid != tgid:
            return None  # a thread
        if what == PROC_EVENT_EXEC:
            return Exec(tgid)
        if what == PROC_EVENT_EXIT:
            return Exit(tgid)
        raw = data[at + _TWO_PIDS.size : at + min(rest, _TWO_PIDS.size + 16)]
        return Comm(tgid, raw.split(b"\0", 1)[0].decode(errors="replace"))
    return None


class ProcEventReader:
    """Reads the connector socket on the event loop and hands each event to `on_event`.

    `errors` counts the datagrams that could not be decoded (dropped)."""

    def __init__(self, on_event: Callable[[ProcEvent], None]) -> None:
        self.on_event = on_event
        self.errors = 0
        self.events = 0
        self.acknowledged = False  # the kernel answered the subscription (PROC_EVENT_NONE)
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self, loop: asyncio.AbstractEventLoop, netns: str = "/proc/1/ns/net") -> None:
        """Open the socket and start reading (OSError when the kernel refuses).

        `netns`: the namespace to subscribe in when ours has no connector."""
        from vipkeeper.net.netlink import proc_events_socket

        self._sock = proc_events_socket(netns)
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._readable)

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        if self._loop is not None:
            self._loop.remove_reader(sock.fileno())
        with contextlib.suppress(OSError):
            sock.send(subscription(False))
        sock.close()

    def _readable(self) -> None:
        sock = self._sock
        for _ in range(256):  # bounded: let the timers run between bursts
            if sock is None:
                return
            try:
                data, addr = sock.recvfrom(4096)
            except BlockingIOError:
                return
            except InterruptedError:
                continue
            except OSError as exc:
                if exc.errno == errno.ENOBUFS:
                    self.on_event(Lost())
                    continue
                log.warning("process events: receive failed: %s", exc)
                return
            if addr[0] != 0:  # not from the kernel
                self.errors += 1
                continue
            event = parse_event(data)
            if event is None:
                if not _is_ignored(data):
                    self.errors += 1
                continue
            self.events += 1
            if isinstance(event, Listening):
                self.acknowledged = True
            self.on_event(event)
            sock = self._sock


def _is_ignored(data: bytes) -> bool:
    """A well-formed message that is not for us (a thread's event, another event type)."""
    if len(data) < _HEADER:
        return False
    idx: int
    val: int
    idx, val = _CN_MSG.unpack_from(data, _NLMSGHDR.size)[:2]
    return idx == CN_IDX_PROC and val == CN_VAL_PROC
