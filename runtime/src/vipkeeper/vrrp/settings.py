"""Everything one VRRP instance needs, independent of the config parser.

The daemon maps its config model onto ``InstanceSettings``; construction validates the
cross-field rules keepalived enforces and raises ``SettingsError`` naming the field.
Times are seconds (floats); VRRPv3 puts centiseconds on the wire.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import field
from typing import Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.state import State

IPAddress = Union[ipaddress.IPv4Address, ipaddress.IPv6Address]
IPNetwork = Union[ipaddress.IPv4Network, ipaddress.IPv6Network]

MCAST_V4 = ipaddress.IPv4Address("224.0.0.18")
MCAST_V6 = ipaddress.IPv6Address("ff02::12")
OWNER_PRIORITY = 255


class SettingsError(ValueError):
    """An ``InstanceSettings`` field breaks a protocol rule."""


class AuthType(enum.IntEnum):
    """VRRPv2 authentication types (RFC 2338 numbering, as keepalived)."""

    NONE = 0
    PASS = 1
    AH = 2


@dataclass(frozen=True, **SLOTS)
class Auth:
    """VRRPv2 authentication: type and password (at most 8 bytes, zero padded on the wire)."""

    type: AuthType = AuthType.NONE
    password: bytes = b""

    @property
    def wire_data(self) -> bytes:
        """The 8 authentication bytes carried by a v2 advert."""
        if self.type is AuthType.PASS:
            return self.password.ljust(8, b"\0")
        return bytes(8)


@dataclass(frozen=True, **SLOTS)
class TrackScript:
    """A tracked ``vrrp_script``: weight 0 -> FAULT while failing; >0 added if OK; <0 if failing.

    ``reverse`` negates the weight (weight 0: FAULT while OK); see vrrp/tracking.py.
    """

    name: str
    weight: int = 0
    reverse: bool = False
    initially_ok: bool = True


@dataclass(frozen=True, **SLOTS)
class TrackInterface:
    """A tracked interface: weight 0 -> FAULT while down; >0 added while up; <0 while down.

    `presence`: only whether an interface of that name exists counts as up, not its link
    state (the instance's own interface under `dont_track_primary`: keepalived ignores its
    carrier, but an interface that is deleted or renamed away still puts it in FAULT).
    """

    name: str
    weight: int = 0
    reverse: bool = False
    initially_up: bool = True
    presence: bool = False


@dataclass(frozen=True, **SLOTS)
class TrackFile:
    """A tracked file: value x weight is added; below -253 (or non-zero with weight 0) -> FAULT."""

    name: str
    weight: int = 1
    reverse: bool = False
    initial_value: int = 0


@dataclass(frozen=True, **SLOTS)
class TrackProcess:
    """A tracked ``vrrp_track_process``, up while its process count is within the quorum.

    keepalived's rule: weight 0 -> FAULT while down (while up when ``reverse``); otherwise
    weight (negated by ``reverse``) is added while up if weight > 0, while down if < 0.
    """

    name: str
    weight: int = 0
    reverse: bool = False
    initially_up: bool = False


@dataclass(frozen=True, **SLOTS)
class Notify:
    """Notify commands as argv tuples; ``fifo`` is set when a notify FIFO is configured."""

    master: tuple[str, ...] = ()
    backup: tuple[str, ...] = ()
    fault: tuple[str, ...] = ()
    stop: tuple[str, ...] = ()
    generic: tuple[str, ...] = ()
    fifo: bool = False


@dataclass(frozen=True, **SLOTS)
class VirtualRoute:
    """A virtual route installed while MASTER (carried through to the daemon untouched)."""

    dst: IPNetwork
    via: IPAddress | None = None
    dev: str | None = None
    src: IPAddress | None = None
    table: int | None = None
    metric: int | None = None
    blackhole: bool = False


@dataclass(frozen=True, **SLOTS)
class VirtualRule:
    """A virtual (policy routing) rule installed while MASTER: the daemon's description of it,
    carried through untouched (two rules are the same rule exactly when their texts are)."""

    text: str


def _check(cond: bool, field_name: str, message: str) -> None:
    if not cond:
        raise SettingsError(f"{field_name}: {message}")


@dataclass(frozen=True, **SLOTS)
class InstanceSettings:
    """One ``vrrp_instance`` as the protocol core sees it."""

    name: str  # vrrp_instance NAME (notify arguments, logs)
    vrid: int  # virtual_router_id, 1..255
    vips: tuple[IPAddress, ...]  # virtual_ipaddress, in advert order (all of `family`)
    source: IPAddress  # primary address (unicast_src_ip / interface address; IPv6 link-local)
    version: int = 2  # version / vrrp_version: 2 or 3 (v2 is IPv4 only)
    family: int = 4  # 4 or 6, the family of vips, source and peers
    priority: int = 100  # base priority 1..255; 255 = address owner
    advert_int: float = 1.0  # seconds; v2 whole seconds, v3 centisecond resolution
    excluded_vips: tuple[IPAddress, ...] = ()  # virtual_ipaddress_excluded (not advertised)
    virtual_routes: tuple[VirtualRoute, ...] = ()  # virtual_routes, installed while MASTER
    virtual_rules: tuple[VirtualRule, ...] = ()  # virtual_rules, installed while MASTER
    initial_state: State = State.BACKUP  # state MASTER|BACKUP (see docs/protocol.md)
    nopreempt: bool = False  # nopreempt: never take over from a live lower master
    preempt_delay: float = 0.0  # preempt_delay, 0..1000 s
    auth: Auth = field(default_factory=Auth)  # authentication { auth_type auth_pass } (v2)
    lower_prio_no_advert: bool = False  # (vrrp_)lower_prio_no_advert: strict RFC reaction
    down_timer_adverts: int = 3  # (vrrp_)down_timer_adverts, 1..100
    garp_master_delay: float = 5.0  # second GARP burst after becoming MASTER (0 = none)
    garp_master_repeat: int = 5  # GARPs per address per burst
    garp_master_refresh: float = 0.0  # periodic GARP while MASTER (0 = off)
    garp_master_refresh_repeat: int = 1  # GARPs per address per refresh
    garp_lower_prio_delay: float | None = None  # None: as garp_master_delay
    garp_lower_prio_repeat: int | None = None  # None: as garp_master_repeat
    skip_check_adv_addr: bool = False  # skip the VIP check for the current master's adverts
    v3_checksum_as_v2: bool = False  # v3/IPv4 checksum without the pseudo-header
    unicast_peers: tuple[IPAddress, ...] = ()  # unicast_peer; empty = multicast
    unicast_ttl: int = 255  # unicast_ttl of our unicast adverts
    unicast_min_ttl: int = 0  # unicast_peer min_ttl: lowest TTL accepted
    unicast_max_ttl: int = 255  # unicast_peer max_ttl: highest TTL accepted
    strict_mode: bool = False  # strict_mode / vrrp_strict: refuses auth and unicast
    track_scripts: tuple[TrackScript, ...] = ()  # track_script (rise/fall done by the daemon)
    track_interfaces: tuple[TrackInterface, ...] = ()  # track_interface
    track_files: tuple[TrackFile, ...] = ()  # track_file
    track_processes: tuple[TrackProcess, ...] = ()  # track_process
    notify: Notify = field(default_factory=Notify)  # notify_* commands, notify FIFO
    # vipkeeper extension: a master pushed out by a higher-priority advert releases its
    # addresses and then sends one advert with its own priority, so that the winner sees the
    # lower-priority advert and re-sends GARP after the split brain healed (see instance.py).
    split_brain_parting_advert: bool = True

    def __post_init__(self) -> None:
        """Enforce keepalived's cross-field rules."""
        _check(bool(self.name), "name", "must not be empty")
        _check(1 <= self.vrid <= 255, "vrid", f"{self.vrid} is not in 1..255")
        _check(self.version in (2, 3), "version", f"{self.version} is not 2 or 3")
        _check(self.family in (4, 6), "family", f"{self.family} is not 4 or 6")
        _check(not (self.version == 2 and self.family == 6), "version", "VRRPv2 is IPv4 only")
        _check(1 <= self.priority <= 255, "priority", f"{self.priority} is not in 1..255")
        _check(len(self.vips) >= 1, "vips", "at least one virtual address is needed")
        _check(len(self.vips) <= 255, "vips", "at most 255 addresses fit an advert")
        for addr in (*self.vips, self.source, *self.unicast_peers):
            _check(addr.version == self.family, "vips", f"{addr} is not IPv{self.family}")
        if self.version == 2:
            _check(
                self.advert_int == int(self.advert_int) and 1 <= self.advert_int <= 255,
                "advert_int",
                f"{self.advert_int} must be whole seconds 1..255 for VRRPv2",
            )
        else:
            cs = round(self.advert_int * 100)
            _check(
                1 <= cs <= 4095 and abs(cs - self.advert_int * 100) < 1e-6,
                "advert_int",
                f"{self.advert_int} must be 0.01..40.95 s in centiseconds for VRRPv3",
            )
        _check(self.initial_state in (State.BACKUP, State.MASTER), "initial_state", "MASTER|BACKUP")
        _check(
            not (self.nopreempt and self.priority == OWNER_PRIORITY),
            "nopreempt",
            "the address owner (priority 255) cannot use nopreempt",
        )
        _check(
            not (self.nopreempt and self.initial_state is State.MASTER),
            "nopreempt",
            "nopreempt needs initial state BACKUP",
        )
        _check(0 <= self.preempt_delay <= 1000, "preempt_delay", "must be 0..1000 s")
        _check(len(self.auth.password) <= 8, "auth", "password is at most 8 bytes")
        _check(
            self.auth.type is AuthType.NONE or self.version == 2,
            "auth",
            "authentication exists only in VRRPv2",
        )
        _check(
            not (self.strict_mode and self.auth.type is not AuthType.NONE),
            "auth",
            "strict_mode forbids authentication",
        )
        _check(
            not (self.strict_mode and self.unicast_peers),
            "unicast_peers",
            "strict_mode forbids unicast",
        )
        _check(1 <= self.down_timer_adverts <= 100, "down_timer_adverts", "must be 1..100")
        _check(self.garp_master_delay >= 0, "garp_master_delay", "must be >= 0")
        _check(self.garp_master_repeat >= 1, "garp_master_repeat", "must be >= 1")
        _check(self.garp_master_refresh >= 0, "garp_master_refresh", "must be >= 0")
        _check(self.garp_master_refresh_repeat >= 1, "garp_master_refresh_repeat", "must be >= 1")
        _check(1 <= self.unicast_ttl <= 255, "unicast_ttl", "must be 1..255")
        _check(
            0 <= self.unicast_min_ttl <= self.unicast_max_ttl <= 255,
            "unicast_min_ttl",
            "needs 0 <= min_ttl <= max_ttl <= 255",
        )

    @property
    def is_owner(self) -> bool:
        """Whether this router owns the addresses (priority 255)."""
        return self.priority == OWNER_PRIORITY

    @property
    def advert_destinations(self) -> tuple[IPAddress, ...]:
        """Where adverts go: the unicast peers, or the VRRP multicast group."""
        if self.unicast_peers:
            return self.unicast_peers
        return (MCAST_V4,) if self.family == 4 else (MCAST_V6,)

    @property
    def advert_ttl(self) -> int:
        """TTL / hop limit of our adverts."""
        return self.unicast_ttl if self.unicast_peers else 255

    @property
    def wire_interval(self) -> int:
        """Advert interval in wire units: seconds (v2) or centiseconds (v3)."""
        if self.version == 2:
            return int(self.advert_int)
        return round(self.advert_int * 100)

    @property
    def lower_prio_delay(self) -> float:
        """Delay of the second GARP burst after a lower-priority advert reached the master."""
        d = self.garp_lower_prio_delay
        return self.garp_master_delay if d is None else d

    @property
    def lower_prio_repeat(self) -> int:
        """GARPs per burst after a lower-priority advert reached the master."""
        r = self.garp_lower_prio_repeat
        return self.garp_master_repeat if r is None else r
