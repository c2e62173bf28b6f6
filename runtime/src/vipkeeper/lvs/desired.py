"""From config to kernel terms (sans-IO): service keys, service settings and destinations.

Follows keepalived's validation: a NAT real server without a port takes the virtual server's
port; DR/TUN real servers always use it (fwmark services: port 0); a group service expands
to every member address (ranges included) and fwmark.
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from vipkeeper.config.model import (
    Config,
    IPAddress,
    LbKind,
    RealServer,
    SorryServer,
    VirtualServer,
)
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey

MAX_RANGE = 65536  # refuse absurd `IP-LAST` ranges


def _family(vs: VirtualServer) -> int:
    if vs.ip_family in (4, 6):
        return vs.ip_family
    for rs in vs.real_servers:
        return rs.address.version
    return 4


def service_keys(vs: VirtualServer, config: Config) -> list[ServiceKey]:
    """Every kernel service a virtual_server stands for."""
    proto = str(vs.protocol)
    if vs.fwmark is not None:
        return [ServiceKey(family=_family(vs), protocol="", fwmark=vs.fwmark)]
    if vs.group is None:
        if vs.address is None:
            return []
        return [
            ServiceKey(
                family=vs.address.version,
                protocol=proto,
                address=str(vs.address),
                port=vs.port or 0,
            )
        ]
    group = config.vs_group(vs.group)
    keys: list[ServiceKey] = []
    if group is None:
        return keys
    for member in group.members:
        if member.fwmark is not None:
            keys.append(ServiceKey(family=_family(vs), protocol="", fwmark=member.fwmark))
            continue
        if member.address is None:
            continue
        first = int(member.address)
        last = int(member.range_end) if member.range_end is not None else first
        for n in range(first, min(last, first + MAX_RANGE - 1) + 1):
            addr = IPv4Address(n) if member.address.version == 4 else IPv6Address(n)
            keys.append(
                ServiceKey(
                    family=member.address.version,
                    protocol=proto,
                    address=str(addr),
                    port=member.port or 0,
                )
            )
    return keys


def service_for(vs: VirtualServer, key: ServiceKey) -> Service:
    """The kernel settings of one service of `vs`."""
    persistence = vs.persistence_timeout or 0
    if not persistence and not key.fwmark and not key.port:
        persistence = 360  # keepalived: a zero port is only valid for persistent services
    mask = ""
    if persistence and vs.persistence_granularity is not None:
        mask = str(vs.persistence_granularity)
    return Service(
        key=key,
        scheduler=vs.lb_algo,
        flags=tuple(sorted(vs.scheduler_flags)),
        persistence_timeout=persistence,
        persistence_netmask=mask,
        ops=vs.ops and (key.protocol == "UDP" or bool(key.fwmark)),
    )


def dest_key(
    vs: VirtualServer, key: ServiceKey, server: RealServer | SorryServer
) -> tuple[DestKey, LbKind]:
    """The destination key and forwarding method of a real (or sorry) server for one service."""
    method = server.lvs_method or vs.lb_kind
    port = server.port or 0
    if method == LbKind.NAT:
        if not key.fwmark and not port:
            port = key.port
    else:
        port = 0 if key.fwmark else key.port
    return DestKey(str(server.address), port), method


def dest(vs: VirtualServer, key: ServiceKey, server: RealServer | SorryServer, weight: int) -> Dest:
    """A Dest for a server with a given weight."""
    dkey, method = dest_key(vs, key, server)
    if isinstance(server, RealServer):
        return Dest(dkey, weight, method, server.uthreshold, server.lthreshold)
    return Dest(dkey, weight, method)


def vs_label(vs: VirtualServer, key: ServiceKey | None = None) -> str:
    """keepalived's FMT_VS: `[IP]:proto:PORT`, `FWM N`, or `[GROUP]:PORT`."""
    if vs.group is not None:
        return f"[{vs.group}]:{vs.port or 0}"
    if vs.fwmark is not None:
        return f"FWM {vs.fwmark}"
    return f"[{vs.address}]:{str(vs.protocol).lower()}:{vs.port or 0}"


def rs_label(vs: VirtualServer, server: RealServer | SorryServer) -> str:
    """keepalived's FMT_RS: `[IP]:proto:PORT` (the VS's protocol)."""
    proto = "none" if vs.fwmark is not None else str(vs.protocol).lower()
    port = server.port or (vs.port if (server.lvs_method or vs.lb_kind) == LbKind.NAT else 0) or 0
    return f"[{server.address}]:{proto}:{port}"


def ha_suspend_ranges(vs: VirtualServer, config: Config) -> list[tuple[IPAddress, IPAddress]]:
    """The address ranges (inclusive) whose local presence lets ha_suspend checkers run."""
    if vs.fwmark is not None:
        return []
    if vs.group is None:
        return [] if vs.address is None else [(vs.address, vs.address)]
    group = config.vs_group(vs.group)
    if group is None:
        return []
    return [(m.address, m.range_end or m.address) for m in group.members if m.address is not None]
