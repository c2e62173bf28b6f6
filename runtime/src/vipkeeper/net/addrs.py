"""Virtual addresses and routes through netlink; every operation is idempotent."""

from __future__ import annotations

import errno
import socket
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Any

from vipkeeper.net.netlink import AsyncIPRoute, NetlinkError

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

IPInterface = IPv4Interface | IPv6Interface


class NetError(Exception):
    """A kernel operation failed for a reason other than 'already done'."""


@dataclass(frozen=True, slots=True)
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


@dataclass(frozen=True, slots=True)
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


def _scope(name: str | None) -> int | None:
    if name is None:
        return None
    return SCOPES[name] if name in SCOPES else int(name)


class Addresses:
    """Adds and removes VIPs and routes with one netlink socket."""

    def __init__(self) -> None:
        self.ipr: AsyncIPRoute | None = None
        self._index: dict[str, int] = {}  # interface name -> index, dropped on ENODEV

    async def open(self) -> None:
        """Open the netlink socket."""
        self.ipr = AsyncIPRoute()

    def close(self) -> None:
        """Close the netlink socket."""
        if self.ipr is not None:
            self.ipr.close()
            self.ipr = None

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

    async def _addr_args(self, spec: AddrSpec) -> dict[str, Any] | None:
        index = await self.ifindex(spec.ifname)
        if index is None:
            return None
        args: dict[str, Any] = {
            "index": index,
            "address": str(spec.address.ip),
            "prefixlen": spec.address.network.prefixlen,
        }
        if spec.peer is not None:
            args["local"] = str(spec.address.ip)
            args["address"] = str(spec.peer.ip)
            args["prefixlen"] = spec.peer.network.prefixlen
        return args

    async def add_address(self, spec: AddrSpec) -> bool:
        """Put `spec` on its interface; True when it was added now, False when it was there."""
        args = await self._addr_args(spec)
        if args is None:
            raise NetError(f"{spec.address}: interface {spec.ifname} does not exist")
        if spec.label:
            args["label"] = spec.label
        scope = _scope(spec.scope)
        if scope is not None:
            args["scope"] = scope
        if spec.broadcast is not None and spec.address.version == 4:
            args["broadcast"] = str(spec.broadcast)
        flags = (IFA_F_NODAD if spec.nodad or spec.address.version == 6 else 0) | (
            IFA_F_NOPREFIXROUTE if spec.noprefixroute else 0
        )
        if flags:
            args["flags"] = flags
        try:
            await self._ipr().addr("add", **args)
        except NetlinkError as exc:
            if exc.code in _EXISTS:
                return False
            self.forget(spec.ifname)
            raise NetError(f"adding {spec.address} to {spec.ifname}: {exc}") from exc
        return True

    async def remove_address(self, spec: AddrSpec) -> bool:
        """Take `spec` off its interface; True when removed now, False when it was gone."""
        args = await self._addr_args(spec)
        if args is None:
            return False
        try:
            await self._ipr().addr("del", **args)
        except NetlinkError as exc:
            if exc.code in _GONE:
                if exc.code == errno.ENODEV:
                    self.forget(spec.ifname)
                return False
            self.forget(spec.ifname)
            raise NetError(f"removing {spec.address} from {spec.ifname}: {exc}") from exc
        return True

    async def _route_args(self, spec: RouteSpec) -> dict[str, Any]:
        net = spec.destination.network
        args: dict[str, Any] = {
            "dst": str(net.network_address),
            "dst_len": net.prefixlen,
            "family": socket.AF_INET if net.version == 4 else socket.AF_INET6,
        }
        if spec.ifname is not None:
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
        try:
            await self._ipr().route("add", **(await self._route_args(spec)))
        except NetlinkError as exc:
            if exc.code in _EXISTS:
                return False
            raise NetError(f"adding route {spec.destination.network}: {exc}") from exc
        return True

    async def remove_route(self, spec: RouteSpec) -> bool:
        """Remove a route; False when it was already gone."""
        try:
            await self._ipr().route("del", **(await self._route_args(spec)))
        except NetError:
            return False
        except NetlinkError as exc:
            if exc.code in _GONE:
                return False
            raise NetError(f"removing route {spec.destination.network}: {exc}") from exc
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
