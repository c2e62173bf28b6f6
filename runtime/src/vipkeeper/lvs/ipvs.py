"""IPVS dataplane through pyroute2's asyncio generic netlink IPVS socket, on the daemon's loop.

The forwarding method is always sent explicitly: the kernel and pyroute2's `IPVSDest` both
default to DR, while keepalived (and so vipkeeper) defaults to NAT.
"""

from __future__ import annotations

import errno
import socket
from dataclasses import replace
from ipaddress import IPv4Address, ip_address
from typing import Any

from vipkeeper.config.model import LbKind
from vipkeeper.lvs.dataplane import DataplaneError
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, ServiceState, Table
from vipkeeper.lvs.reconcile import (
    AddDest,
    AddService,
    DelDest,
    DelService,
    EditDest,
    EditService,
    Op,
)
from vipkeeper.net.netlink import AsyncIPVS, IPVSDest, IPVSService, ipvs_socket

# include/uapi/linux/ip_vs.h
F_PERSISTENT = 0x0001
F_HASHED = 0x0002
F_ONEPACKET = 0x0004
F_SCHED1 = 0x0008
F_SCHED2 = 0x0010
F_SCHED3 = 0x0020
FLAG_BITS = {
    "hashed": F_HASHED,
    "flag-1": F_SCHED1,
    "flag-2": F_SCHED2,
    "flag-3": F_SCHED3,
    "sh-fallback": F_SCHED1,
    "sh-port": F_SCHED2,
    "mh-fallback": F_SCHED1,
    "mh-port": F_SCHED2,
}
FWD = {LbKind.NAT: 0, LbKind.TUN: 2, LbKind.DR: 3}
FWD_NAMES = {v: k for k, v in FWD.items()}
PROTOS = {"TCP": socket.IPPROTO_TCP, "UDP": socket.IPPROTO_UDP, "SCTP": socket.IPPROTO_SCTP}
PROTO_NAMES = {v: k for k, v in PROTOS.items()}


def _af(family: int) -> int:
    return socket.AF_INET if family == 4 else socket.AF_INET6


def service_flags(service: Service) -> int:
    """The IPVS flag bits of a service."""
    flags = F_PERSISTENT if service.persistence_timeout else 0
    if service.ops:
        flags |= F_ONEPACKET
    for name in service.flags:
        flags |= FLAG_BITS.get(name, 0)
    return flags


def flag_names(flags: int, scheduler: str) -> tuple[str, ...]:
    """Scheduler flag names for IPVS flag bits (inverse of `service_flags`)."""
    names: list[str] = []  # F_HASHED is kernel-internal: set on every service, never read back
    prefix = {"sh": "sh-", "mh": "mh-"}.get(scheduler)
    for bit, n in ((F_SCHED1, 1), (F_SCHED2, 2), (F_SCHED3, 3)):
        if flags & bit:
            if prefix and n < 3:
                names.append(prefix + ("fallback" if n == 1 else "port"))
            else:
                names.append(f"flag-{n}")
    return tuple(sorted(names))


def service_attrs(service: Service, *, key_only: bool = False) -> dict[str, Any]:
    """IPVSService keyword arguments for a service."""
    k = service.key
    attrs: dict[str, Any] = {"af": _af(k.family)}
    if k.fwmark:
        attrs["fwmark"] = k.fwmark
    else:
        attrs.update(protocol=PROTOS[k.protocol], addr=k.address, port=k.port)
    if key_only:
        return attrs
    attrs["sched_name"] = service.scheduler
    attrs["flags"] = {"flags": service_flags(service), "mask": 0xFFFFFFFF}
    attrs["timeout"] = service.persistence_timeout
    if k.family == 4:
        attrs["netmask"] = service.persistence_netmask or "255.255.255.255"
    else:
        # The kernel requires a netmask attribute; for IPv6 it is a prefix length read as a
        # raw 32-bit value in host byte order (what ipvsadm's NLA_PUT_U32 sends): /128 is
        # 0x80 00 00 00 on the wire, i.e. pyroute2's ip4addr "128.0.0.0".
        plen = int(service.persistence_netmask or 128)
        attrs["netmask"] = str(IPv4Address(plen.to_bytes(4, "little")))
    return attrs


def dest_attrs(dest: Dest, family: int) -> dict[str, Any]:
    """IPVSDest keyword arguments (forwarding method always explicit)."""
    return {
        "addr": dest.key.address,
        "addr_family": _af(ip_address(dest.key.address).version),
        "port": dest.key.port,
        "fwd_method": FWD[dest.method],
        "weight": dest.weight,
        "u_thresh": dest.u_threshold,
        "l_thresh": dest.l_threshold,
    }


def _attr(msg: Any, name: str, default: Any = None) -> Any:
    value = msg.get_attr(name)
    return default if value is None else value


def decode_service(msg: Any) -> Service:
    """A Service from an IPVS_CMD_NEW_SERVICE dump message."""
    svc = msg.get_attr("IPVS_CMD_ATTR_SERVICE")
    af = _attr(svc, "IPVS_SVC_ATTR_AF", socket.AF_INET)
    family = 4 if af == socket.AF_INET else 6
    fwmark = _attr(svc, "IPVS_SVC_ATTR_FWMARK", 0)
    if fwmark:
        key = ServiceKey(family=family, protocol="", fwmark=fwmark)
    else:
        key = ServiceKey(
            family=family,
            protocol=PROTO_NAMES.get(_attr(svc, "IPVS_SVC_ATTR_PROTOCOL", 0), "?"),
            address=str(ip_address(_attr(svc, "IPVS_SVC_ATTR_ADDR"))),
            port=_attr(svc, "IPVS_SVC_ATTR_PORT", 0),
        )
    scheduler = _attr(svc, "IPVS_SVC_ATTR_SCHED_NAME", "wlc")
    flags_attr = _attr(svc, "IPVS_SVC_ATTR_FLAGS", {"flags": 0})
    flags = flags_attr["flags"] if isinstance(flags_attr, dict) else int(flags_attr)
    netmask = str(_attr(svc, "IPVS_SVC_ATTR_NETMASK", "") or "")
    if family == 6 and netmask:
        netmask = str(int.from_bytes(IPv4Address(netmask).packed, "little"))
    if netmask in ("255.255.255.255", "0.0.0.0", "128", "0"):
        netmask = ""
    return Service(
        key=key,
        scheduler=scheduler,
        flags=flag_names(flags, scheduler),
        persistence_timeout=_attr(svc, "IPVS_SVC_ATTR_TIMEOUT", 0) if flags & F_PERSISTENT else 0,
        persistence_netmask=netmask if flags & F_PERSISTENT else "",
        ops=bool(flags & F_ONEPACKET),
    )


def decode_dest(msg: Any) -> Dest:
    """A Dest from an IPVS_CMD_NEW_DEST dump message."""
    d = msg.get_attr("IPVS_CMD_ATTR_DEST")
    key = DestKey(
        str(ip_address(_attr(d, "IPVS_DEST_ATTR_ADDR"))), _attr(d, "IPVS_DEST_ATTR_PORT", 0)
    )
    fwd = _attr(d, "IPVS_DEST_ATTR_FWD_METHOD", 0) & 0x7
    return Dest(
        key,
        _attr(d, "IPVS_DEST_ATTR_WEIGHT", 0),
        FWD_NAMES.get(fwd, LbKind.DR),
        _attr(d, "IPVS_DEST_ATTR_U_THRESH", 0),
        _attr(d, "IPVS_DEST_ATTR_L_THRESH", 0),
    )


class IpvsDataplane:
    """The kernel's IP Virtual Server, over generic netlink (`open()` makes one)."""

    name = "ipvs"

    def __init__(self, ipvs: AsyncIPVS) -> None:
        self._ipvs = ipvs

    @classmethod
    async def open(cls) -> IpvsDataplane:
        """A dataplane on a new IPVS socket, in the caller's network namespace."""
        try:
            return cls(await ipvs_socket())
        except Exception as exc:
            raise DataplaneError(f"IPVS is not available in this kernel ({exc})") from exc

    def close(self) -> None:
        """Close the netlink socket."""
        self._ipvs.close()

    def _svc(self, service: Service, *, key_only: bool = False) -> Any:
        return IPVSService(**service_attrs(service, key_only=key_only))

    async def read(self) -> Table:
        """Dump every IPVS service and its destinations."""
        table: Table = {}
        for msg in await self._ipvs.service("dump"):
            service = decode_service(msg)
            dests = {}
            for dmsg in await self._ipvs.dest("dump", service=self._svc(service, key_only=True)):
                dest = decode_dest(dmsg)
                dests[dest.key] = dest
            table[service.key] = ServiceState(service, dests)
        return table

    def normalize(self, desired: Table) -> Table:
        """The `hashed` flag is kernel-internal (always set, never reported): drop it."""
        out: Table = {}
        for key, st in desired.items():
            flags = tuple(f for f in st.service.flags if f != "hashed")
            out[key] = ServiceState(replace(st.service, flags=flags), st.dests)
        return out

    async def apply(self, ops: list[Op]) -> None:
        """Send each operation; 'already there' / 'already gone' count as success."""
        services: dict[ServiceKey, Service] = {}
        for op in ops:
            if isinstance(op, (AddService, EditService)):
                services[op.service.key] = op.service
        for op in ops:
            try:
                await self._send(op, services)
            except Exception as exc:
                if _benign(exc, op):
                    continue
                raise DataplaneError(f"IPVS {type(op).__name__}: {exc}") from exc

    async def _send(self, op: Op, services: dict[ServiceKey, Service]) -> None:
        if isinstance(op, AddService):
            await self._ipvs.service("add", service=self._svc(op.service))
        elif isinstance(op, EditService):
            await self._ipvs.service("set", service=self._svc(op.service))
        elif isinstance(op, DelService):
            await self._ipvs.service("del", service=self._svc(Service(op.key), key_only=True))
        else:
            svc = services.get(op.service) or Service(op.service)
            current = self._svc(svc, key_only=True)
            if isinstance(op, (AddDest, EditDest)):
                dest = IPVSDest(**dest_attrs(op.dest, op.service.family))
                cmd = "add" if isinstance(op, AddDest) else "set"
                await self._ipvs.dest(cmd, service=current, dest=dest)
            elif isinstance(op, DelDest):
                dest = IPVSDest(addr=op.dest.address, port=op.dest.port)
                await self._ipvs.dest("del", service=current, dest=dest)

    async def flush(self) -> None:
        """Delete every IPVS service (`ipvsadm -C`)."""
        for st in (await self.read()).values():
            await self._ipvs.service("del", service=self._svc(st.service, key_only=True))

    async def discard_stale(self) -> None:
        """Nothing: IPVS services may be another tool's (`lvs_flush` removes them all)."""


def _benign(exc: Exception, op: Op) -> bool:
    code = getattr(exc, "code", None)
    if isinstance(op, (AddService, AddDest)) and code == errno.EEXIST:
        return True
    return isinstance(op, (DelService, DelDest)) and code in (errno.ESRCH, errno.ENOENT)
