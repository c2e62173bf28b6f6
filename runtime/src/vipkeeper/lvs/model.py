"""Desired and actual load-balancer state: services and their destinations (sans-IO).

A `Table` maps each `ServiceKey` to a `ServiceState`: the service's own settings plus its
destinations by `DestKey`. Both dataplanes read the kernel into a `Table`, and the manager
builds the desired `Table` from the config and the health checks; `reconcile.plan` diffs them.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import field
from ipaddress import IPv4Address, IPv6Address, ip_address
from typing import Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.model import LbKind

IPAddress = Union[IPv4Address, IPv6Address]


@dataclass(frozen=True, order=True, **SLOTS)
class ServiceKey:
    """What identifies a kernel service: protocol + address + port, or an fwmark."""

    family: int  # 4 or 6
    protocol: str  # "TCP", "UDP", "SCTP"; "" for an fwmark service
    address: str = ""  # compressed text form; "" for fwmark services
    port: int = 0
    fwmark: int = 0

    @property
    def ip(self) -> IPAddress | None:
        """The address as an ipaddress object (None for fwmark services)."""
        return ip_address(self.address) if self.address else None

    def __str__(self) -> str:
        if self.fwmark:
            return f"FWM {self.fwmark}"
        host = f"[{self.address}]" if self.family == 6 else self.address
        return f"{host}:{self.protocol.lower()}:{self.port}"


@dataclass(frozen=True, order=True, **SLOTS)
class DestKey:
    """A destination (real server) of a service."""

    address: str
    port: int  # 0: the client's destination port (fwmark services)

    def __str__(self) -> str:
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{host}:{self.port}"


@dataclass(frozen=True, **SLOTS)
class Service:
    """Service settings (everything but the destinations)."""

    key: ServiceKey
    scheduler: str = "wlc"
    flags: tuple[str, ...] = ()  # sorted scheduler flags
    persistence_timeout: int = 0  # seconds; 0: not persistent
    persistence_netmask: str = ""  # persistence_granularity; "" = host
    ops: bool = False


@dataclass(frozen=True, **SLOTS)
class Dest:
    """One destination with its weight and forwarding method."""

    key: DestKey
    weight: int = 1
    method: LbKind = LbKind.NAT
    u_threshold: int = 0
    l_threshold: int = 0


@dataclass(frozen=True, **SLOTS)
class ServiceState:
    """A service and its destinations."""

    service: Service
    dests: Mapping[DestKey, Dest] = field(default_factory=dict)

    def __iter__(self) -> Iterator[Dest]:
        return iter(sorted(self.dests.values(), key=lambda d: d.key))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, ServiceState)
            and self.service == other.service
            and dict(self.dests) == dict(other.dests)
        )

    def __hash__(self) -> int:
        return hash((self.service, tuple(sorted(self.dests.items()))))


Table = dict[ServiceKey, ServiceState]


def state(service: Service, dests: list[Dest] | tuple[Dest, ...] = ()) -> ServiceState:
    """Build a ServiceState from a list of dests."""
    return ServiceState(service, {d.key: d for d in dests})
