"""Actions the VRRP core asks the daemon to carry out; every one names its instance."""

from __future__ import annotations

from typing import Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.errors import DropReason
from vipkeeper.vrrp.settings import IPAddress, VirtualRoute, VirtualRule
from vipkeeper.vrrp.state import State, Trigger


@dataclass(frozen=True, **SLOTS)
class SendAdvert:
    """Send ``packet`` (the VRRP payload) from ``src`` to ``dst`` with this TTL, IP protocol 112.

    ``proto`` 51 (``auth_type AH``): ``packet`` is the whole IPv4 packet, headers included.
    """

    instance: str
    packet: bytes
    src: IPAddress
    dst: IPAddress
    ttl: int
    priority: int
    proto: int = 112


@dataclass(frozen=True, **SLOTS)
class AddVips:
    """Add the virtual addresses (idempotently)."""

    instance: str
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, **SLOTS)
class RemoveVips:
    """Remove the virtual addresses ("already gone" is success)."""

    instance: str
    addresses: tuple[IPAddress, ...]


@dataclass(frozen=True, **SLOTS)
class AddRoutes:
    """Install the virtual routes."""

    instance: str
    routes: tuple[VirtualRoute, ...]


@dataclass(frozen=True, **SLOTS)
class RemoveRoutes:
    """Remove the virtual routes."""

    instance: str
    routes: tuple[VirtualRoute, ...]


@dataclass(frozen=True, **SLOTS)
class AddRules:
    """Install the virtual rules (after the VIPs and routes, as keepalived)."""

    instance: str
    rules: tuple[VirtualRule, ...]


@dataclass(frozen=True, **SLOTS)
class RemoveRules:
    """Remove the virtual rules (before the routes and VIPs, as keepalived)."""

    instance: str
    rules: tuple[VirtualRule, ...]


@dataclass(frozen=True, **SLOTS)
class SendGratuitous:
    """Send ``repeat`` gratuitous ARPs (IPv4) or unsolicited NAs (IPv6) for each address."""

    instance: str
    addresses: tuple[IPAddress, ...]
    family: int
    repeat: int
    reason: str


@dataclass(frozen=True, **SLOTS)
class RunNotify:
    """Run a notify command; ``kind`` is master|backup|fault|stop|generic."""

    instance: str
    kind: str
    argv: tuple[str, ...]


@dataclass(frozen=True, **SLOTS)
class WriteNotifyFifo:
    """Write one line (without newline) to the notify FIFO."""

    instance: str
    line: str


@dataclass(frozen=True, **SLOTS)
class StateChanged:
    """The instance moved from ``old`` to ``new`` at ``at`` because of ``reason``."""

    instance: str
    old: State
    new: State
    reason: Trigger
    at: float


@dataclass(frozen=True, **SLOTS)
class PriorityChanged:
    """The effective priority changed (tracking)."""

    instance: str
    old: int
    new: int
    at: float


@dataclass(frozen=True, **SLOTS)
class AdvertDropped:
    """A received advert failed a check and was counted (a peer's bad input)."""

    instance: str
    reason: DropReason
    src: IPAddress
    detail: str


@dataclass(frozen=True, **SLOTS)
class IntervalMismatch:
    """A v3 advert carried another interval than ours (keepalived only logs this)."""

    instance: str
    src: IPAddress
    advertised: float
    configured: float


Action = Union[
    SendAdvert,
    AddVips,
    RemoveVips,
    AddRoutes,
    RemoveRoutes,
    AddRules,
    RemoveRules,
    SendGratuitous,
    RunNotify,
    WriteNotifyFifo,
    StateChanged,
    PriorityChanged,
    AdvertDropped,
    IntervalMismatch,
]
