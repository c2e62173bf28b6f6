"""Virtual addresses and routes through netlink; every operation is idempotent."""

from __future__ import annotations

import asyncio
import errno
import os
import socket
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any, Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.net.addrreq import AddrRequests
from vipkeeper.net.netlink import AsyncIPRoute, NetlinkError, route_socket

IFA_F_NODAD = 0x02
IFA_F_NOPREFIXROUTE = 0x200
SCOPES = {"global": 0, "universe": 0, "site": 200, "link": 253, "host": 254, "nowhere": 255}
ROUTE_TYPES = {
    "unicast": 1,
    "local": 2,
    "broadcast": 3,
    "anycast": 4,
    "multicast": 5,
    "blackhole": 6,
    "unreachable": 7,
    "prohibit": 8,
    "throw": 9,
    "nat": 10,
}
_EXISTS = {errno.EEXIST}
_GONE = {errno.EADDRNOTAVAIL, errno.ESRCH, errno.ENOENT, errno.ENODEV}

IPInterface = Union[IPv4Interface, IPv6Interface]


class NetError(Exception):
    """A kernel operation failed for a reason other than 'already done'."""


@dataclass(frozen=True, **SLOTS)
class AddrSpec:
    """One address to hold on an interface (a VIP)."""

    ifname: str
    address: IPInterface
    label: str | None = None
    scope: str | None = None
    broadcast: IPv4Address | None = None
    peer: IPInterface | None = None
    nodad: bool = False
    noprefixroute: bool = False

    def key(self) -> str:
        """A stable identity for the VIP record."""
        return f"{self.ifname} {self.address}"


@dataclass(frozen=True, **SLOTS)
class RouteSpec:
    """One route to hold (a virtual route)."""

    destination: IPInterface
    ifname: str | None = None
    via: IPv4Address | IPv6Address | None = None
    source: IPv4Address | IPv6Address | None = None
    scope: str | None = None
    table: int | None = None
    metric: int | None = None
    type: str | None = None

    def key(self) -> str:
        """A stable identity for the VIP record."""
        return f"{self.destination.network} via {self.via} dev {self.ifname} table {self.table}"


def _flags(spec: AddrSpec) -> int:
    """IFA_FLAGS of a VIP: no DAD (always for IPv6, as keepalived), no prefix route."""
    return (IFA_F_NODAD if spec.nodad or spec.address.version == 6 else 0) | (
        IFA_F_NOPREFIXROUTE if spec.noprefixroute else 0
    )


def _scope(name: str | None) -> int | None:
    if name is None:
        return None
    return SCOPES[name] if name in SCOPES else int(name)


class Addresses:
    """Adds and removes VIPs (on their own rtnetlink socket) and routes (pyroute2)."""

    def __init__(self) -> None:
        self.ipr: AsyncIPRoute | None = None  # routes, lookups and dumps
        self.requests = AddrRequests()  # address adds and removes
        self._index: dict[str, int] = {}  # interface name -> index, dropped on ENODEV
        # Where each address and route was put (record key -> interface index): it is taken
        # off that interface even when it was renamed since (keepalived removes by the index
        # too, vrrp_if.c cleanup_lost_interface runs the FAULT before it forgets the index).
        self._placed: dict[str, int] = {}
        self._route_oif: dict[str, int] = {}

    async def open(self) -> None:
        """Open the netlink sockets."""
        self.ipr = route_socket()
        self.requests.open(asyncio.get_running_loop())

    def close(self) -> None:
        """Close the netlink sockets."""
        self.requests.close()
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None

    def netlink(self) -> AsyncIPRoute:
        """The route socket (rules use it too: net/rules.py); NetError when it is not open."""
        return self._ipr()

    def _ipr(self) -> AsyncIPRoute:
        if self.ipr is None:
            raise NetError("netlink socket not open")
        return self.ipr

    async def ifindex(self, ifname: str) -> int | None:
        """The index of `ifname`, or None when it does not exist."""
        if ifname in self._index:
            return self._index[ifname]
        found = await self._ipr().link_lookup(ifname=ifname)
        if not found:
            return None
        self._index[ifname] = int(found[0])
        return int(found[0])

    def forget(self, ifname: str) -> None:
        """Drop a cached interface index (the interface went away or was recreated)."""
        self._index.pop(ifname, None)

    def send_now(self, spec: AddrSpec, *, add: bool) -> asyncio.Future[int] | None:
        """Add (or remove) `spec` before returning; the future gets the kernel's errno.

        None when that cannot be done at once (the interface index is not known yet, or the
        send failed): the caller then awaits `add_address` / `remove_address`.
        """
        index = self._index.get(spec.ifname) if add else self._where(spec)
        if index is None:
            return None
        try:
            return self._send(spec, index, add=add)
        except OSError:
            return None

    def _where(self, spec: AddrSpec) -> int | None:
        """The index to remove `spec` from: where it was put, else its interface's own."""
        return self._placed.get(spec.key(), self._index.get(spec.ifname))

    def _send(self, spec: AddrSpec, index: int, *, add: bool) -> asyncio.Future[int]:
        fut = self.requests.send(
            spec, index, add=add, scope=_scope(spec.scope) or 0, flags=_flags(spec)
        )
        if add:
            self._placed[spec.key()] = index
        else:
            self._placed.pop(spec.key(), None)
        return fut

    def outcome(self, spec: AddrSpec, code: int, *, add: bool) -> bool:
        """What a request's errno means: True when done now, False when already so."""
        if code == 0:
            return True
        if add and code in _EXISTS:
            return False
        if not add and code in _GONE:
            if code == errno.ENODEV:
                self.forget(spec.ifname)
            return False
        self.forget(spec.ifname)
        verb = f"adding {spec.address} to" if add else f"removing {spec.address} from"
        raise NetError(f"{verb} {spec.ifname}: {os.strerror(code)} (errno {code})")

    async def add_address(self, spec: AddrSpec) -> bool:
        """Put `spec` on its interface; True when it was added now, False when it was there."""
        index = await self.ifindex(spec.ifname)
        if index is None:
            raise NetError(f"{spec.address}: interface {spec.ifname} does not exist")
        return await self._request(spec, index, add=True)

    async def remove_address(self, spec: AddrSpec) -> bool:
        """Take `spec` off the interface it was put on (else its own); True when removed now,
        False when it was gone."""
        index = self._placed.get(spec.key())
        if index is None:
            index = await self.ifindex(spec.ifname)
        if index is None:
            return False
        return await self._request(spec, index, add=False)

    async def _request(self, spec: AddrSpec, index: int, *, add: bool) -> bool:
        try:
            fut = self._send(spec, index, add=add)
        except OSError as exc:
            raise NetError(f"{spec.address} on {spec.ifname}: {exc}") from exc
        return self.outcome(spec, await fut, add=add)

    async def _route_args(self, spec: RouteSpec, *, placed: bool = False) -> dict[str, Any]:
        net = spec.destination.network
        args: dict[str, Any] = {
            "dst": str(net.network_address),
            "dst_len": net.prefixlen,
            "family": socket.AF_INET if net.version == 4 else socket.AF_INET6,
        }
        if spec.ifname is not None:
            index = self._route_oif.get(spec.key()) if placed else None
            if index is None:
                index = await self.ifindex(spec.ifname)
            if index is None:
                raise NetError(f"route {net}: interface {spec.ifname} does not exist")
            args["oif"] = index
        if spec.via is not None:
            args["gateway"] = str(spec.via)
        if spec.source is not None:
            args["prefsrc"] = str(spec.source)
        scope = _scope(spec.scope)
        if scope is not None:
            args["scope"] = scope
        if spec.table is not None:
            args["table"] = spec.table
        if spec.metric is not None:
            args["priority"] = spec.metric
        if spec.type is not None:
            args["type"] = ROUTE_TYPES.get(spec.type, 1)
        return args

    async def add_route(self, spec: RouteSpec) -> bool:
        """Install a route; False when it was already there."""
        args = await self._route_args(spec)
        try:
            await self._ipr().route("add", **args)
        except NetlinkError as exc:
            if exc.code in _EXISTS:
                self._placed_route(spec, args)
                return False
            raise NetError(f"adding route {spec.destination.network}: {exc}") from exc
        self._placed_route(spec, args)
        return True

    def _placed_route(self, spec: RouteSpec, args: dict[str, Any]) -> None:
        if "oif" in args:
            self._route_oif[spec.key()] = args["oif"]

    async def remove_route(self, spec: RouteSpec) -> bool:
        """Remove a route; False when it was already gone."""
        try:
            await self._ipr().route("del", **(await self._route_args(spec, placed=True)))
        except NetError:
            return False
        except NetlinkError as exc:
            if exc.code in _GONE:
                self._route_oif.pop(spec.key(), None)
                return False
            raise NetError(f"removing route {spec.destination.network}: {exc}") from exc
        self._route_oif.pop(spec.key(), None)
        return True

    async def addresses(self, ifname: str) -> list[IPInterface]:
        """Addresses on `ifname` in kernel order (primary first), or [] when it is missing."""
        index = await self.ifindex(ifname)
        if index is None:
            return []
        found: list[IPInterface] = []
        async for msg in await self._ipr().addr("dump", index=index):
            addr = msg.get("address")
            if addr is None:
                continue
            iface = (
                IPv4Interface(f"{addr}/{msg['prefixlen']}")
                if msg["family"] == socket.AF_INET
                else IPv6Interface(f"{addr}/{msg['prefixlen']}")
            )
            found.append(iface)
        return found
