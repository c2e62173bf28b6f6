"""The one module that opens netlink sockets, and pyroute2 without its package `__init__`.

Every netlink socket of the daemon is opened here, and all of them are asyncio sockets on
the daemon's own loop (no threads):
- `route_socket()`: an rtnetlink socket for requests and dumps (routes, lookups, addresses);
- `event_socket(groups)`: an rtnetlink socket bound to multicast groups (link and address
  events, `net/subscription.py`);
- `raw_route_socket()`: a plain non-blocking rtnetlink socket for the VIP requests that
  `net/addrreq.py` encodes with pyroute2 and sends itself;
- `ipvs_socket()`: the IPVS generic netlink family (`lvs/ipvs.py`);
- `route_ifname(address)`: one route lookup on a socket of its own;
- `proc_events_socket()`: the process events connector (NETLINK_CONNECTOR) of track_process,
  a plain non-blocking socket that `net/procevents.py` reads and decodes.

`import pyroute2` loads every subsystem (NDB, IPDB, multiprocessing, nftables, conntrack):
about 8 MB of RSS (0.9.7) the daemon never uses. When nothing has imported pyroute2 yet, the
package is registered as a lazy module: submodules import as usual, and the real `__init__` runs the
first time anyone asks the package itself for a name, so `from pyroute2 import IPVS`
elsewhere keeps working. The trick depends on pyroute2's internal layout, so it is verified
on the versions in `VERIFIED_PYROUTE2` only, which runtime/pyproject.toml's bound matches
(runtime/tests/test_netlink.py checks both).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import importlib.util
import logging
import os
import socket
import sys
import threading
import types
from typing import Any

# The pyroute2 releases the lazy package and the async classes below were verified on, first
# and last inclusive; runtime/pyproject.toml requires exactly this range.
VERIFIED_PYROUTE2 = ((0, 9, 6), (0, 9, 7))


class _LazyPackage(types.ModuleType):
    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if importlib.util.find_spec(f"pyroute2.{name}") is not None:
            return importlib.import_module(f"pyroute2.{name}")  # `from pyroute2 import config`
        spec = self.__spec__
        if spec is None or spec.loader is None:
            raise AttributeError(name)
        object.__setattr__(self, "__class__", types.ModuleType)  # an ordinary module again
        spec.loader.exec_module(self)
        return getattr(self, name)


def _register_lazy_pyroute2() -> None:
    if "pyroute2" in sys.modules:
        return
    spec = importlib.util.find_spec("pyroute2")
    if spec is None or spec.loader is None or spec.submodule_search_locations is None:
        return
    module = _LazyPackage("pyroute2")
    module.__spec__ = spec
    module.__loader__ = spec.loader
    module.__file__ = spec.origin
    module.__path__ = list(spec.submodule_search_locations)
    module.__package__ = "pyroute2"
    sys.modules["pyroute2"] = module


_register_lazy_pyroute2()

from pyroute2.iproute.linux import AsyncIPRoute
from pyroute2.ipvs import AsyncIPVS, IPVSDest, IPVSService
from pyroute2.netlink import NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST
from pyroute2.netlink.exceptions import NetlinkError
from pyroute2.netlink.rtnl import RTM_DELADDR, RTM_NEWADDR, RTMGRP_LINK
from pyroute2.netlink.rtnl.ifaddrmsg import ifaddrmsg

from vipkeeper.net import procevents

NETLINK_ROUTE = 0

__all__ = [
    "NLM_F_ACK",
    "NLM_F_CREATE",
    "NLM_F_EXCL",
    "NLM_F_REQUEST",
    "RTMGRP_LINK",
    "RTM_DELADDR",
    "RTM_NEWADDR",
    "VERIFIED_PYROUTE2",
    "AsyncIPRoute",
    "AsyncIPVS",
    "IPVSDest",
    "IPVSService",
    "NetlinkError",
    "event_socket",
    "ifaddrmsg",
    "ipvs_socket",
    "proc_events_socket",
    "raw_route_socket",
    "route_ifname",
    "route_socket",
]


def route_socket() -> AsyncIPRoute:
    """An rtnetlink socket for requests and dumps (it joins the running loop on first use)."""
    return AsyncIPRoute()


async def event_socket(groups: int) -> AsyncIPRoute:
    """An rtnetlink socket bound to the multicast `groups` (read it with `get()`)."""
    events = AsyncIPRoute()
    try:
        await events.bind(groups=groups)
    except BaseException:
        events.close()
        raise
    return events


def raw_route_socket(rcvbuf: int) -> socket.socket:
    """A non-blocking rtnetlink socket, bound, with a receive buffer of `rcvbuf` bytes."""
    sock = socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC,
        NETLINK_ROUTE,
    )  # fmt: skip
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        sock.bind((0, 0))
    except OSError:
        sock.close()
        raise
    return sock


async def ipvs_socket() -> AsyncIPVS:
    """A socket on the IPVS generic netlink family; raises when the kernel has no IPVS."""
    ipvs = AsyncIPVS()
    try:
        await ipvs.setup_endpoint()  # binds, and resolves the family (fails without ip_vs)
    except BaseException:
        ipvs.close()
        raise
    return ipvs


async def route_ifname(address: str) -> str:
    """The name of the interface the kernel routes `address` through."""
    ipr = AsyncIPRoute()
    try:
        routes = await ipr.route("get", dst=address)
        async for link in await ipr.get_links(routes[0].get_attr("RTA_OIF")):
            return str(link.get_attr("IFLA_IFNAME"))
    finally:
        ipr.close()
    raise NetlinkError(19, f"no interface for {address}")  # ENODEV


PROC_RCVBUF = 1 << 20
CLONE_NEWNET = 0x40000000


def _proc_socket() -> socket.socket:
    sock = socket.socket(
        socket.AF_NETLINK, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC, procevents.NETLINK_CONNECTOR
    )
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, PROC_RCVBUF)
        sock.bind((0, procevents.CN_IDX_PROC))
        sock.send(procevents.subscription(True))
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


def _proc_socket_in_netns(netns: str) -> socket.socket:
    """`_proc_socket` run in the network namespace `netns`, on a thread of its own."""
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    box: list[socket.socket | BaseException] = []

    def run() -> None:
        try:
            fd = os.open(netns, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns: {os.strerror(err)}")
            finally:
                os.close(fd)
            box.append(_proc_socket())
        except BaseException as exc:  # handed to the caller's thread
            box.append(exc)

    thread = threading.Thread(target=run, name="vipkeeper-procevents", daemon=True)
    thread.start()
    thread.join()
    result = box[0]
    if isinstance(result, BaseException):
        raise result
    return result


def proc_events_socket(netns: str = "/proc/1/ns/net") -> socket.socket:
    """A non-blocking NETLINK_CONNECTOR socket subscribed to the process events
    (`net/procevents.py` reads it); OSError when the kernel refuses.

    The connector exists only in the initial network namespace: in another one the socket
    opens but the subscription is refused (ECONNREFUSED), and keepalived run there never sees
    an event. The socket is then opened in `netns` (pid 1's network namespace unless the
    daemon's --proc-events-netns says otherwise), from a short-lived
    thread (setns changes only the calling thread's namespace), so the daemon's own namespace
    is untouched. Needs root (CAP_NET_ADMIN, and CAP_SYS_ADMIN for setns).
    """
    try:
        return _proc_socket()
    except ConnectionRefusedError:
        logging.getLogger("vipkeeper").info(
            "process events: not the initial network namespace; subscribing in %s", netns
        )
        return _proc_socket_in_netns(netns)
