"""Typed keepalived.conf model: frozen dataclasses built by `vipkeeper.config.load`.

Every value is already resolved to keepalived's default when the config leaves it out,
and inherited values (global -> instance, virtual_server -> real_server -> checker) are
filled in, so consumers never re-apply defaults. Times are float seconds. Collections
are tuples, so the whole tree is hashable and comparable (reload diffs it).
"""

from __future__ import annotations

from dataclasses import field
from ipaddress import IPv4Address, IPv4Interface, IPv6Address, IPv6Interface
from typing import Union

from vipkeeper._compat import SLOTS, StrEnum, dataclass

IPAddress = Union[IPv4Address, IPv6Address]
IPInterface = Union[IPv4Interface, IPv6Interface]
MCAST_GROUP4 = IPv4Address("224.0.0.18")
MCAST_GROUP6 = IPv6Address("ff02::12")


@dataclass(frozen=True, kw_only=True, **SLOTS)
class Location:
    """Where a config item was written."""

    file: str
    line: int
    column: int = 1

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


class StateConfig(StrEnum):
    """Initial VRRP state requested by `state`."""

    MASTER = "MASTER"
    BACKUP = "BACKUP"


class AuthTypeConfig(StrEnum):
    """VRRPv2 authentication type."""

    PASS = "PASS"  # noqa: S105 - the auth type name, not a secret
    AH = "AH"


class LbKind(StrEnum):
    """LVS forwarding method (`lb_kind` / `lvs_method`); keepalived's default is NAT."""

    NAT = "NAT"
    DR = "DR"
    TUN = "TUN"


class Protocol(StrEnum):
    """Virtual server transport protocol."""

    TCP = "TCP"
    UDP = "UDP"
    SCTP = "SCTP"


@dataclass(frozen=True, kw_only=True, **SLOTS)
class ScriptCommand:
    """A command keepalived runs: notify scripts, vrrp_script, MISC_CHECK, quorum_up..."""

    command: str  # the command string as written (quotes removed)
    argv: tuple[str, ...]  # split like keepalived does (quotes group words)
    user: str | None = None  # run as this user; None = script_user / root
    group: str | None = None
    location: Location | None = None


@dataclass(frozen=True)
class FifoOwner:
    """The user (and group) a notify FIFO is given: `notify_fifo PATH USER [GROUP]`."""

    user: str
    group: str | None = None
    location: Location | None = None


# ---------------------------------------------------------------------------- global_defs


class LvsFlushOnStop(StrEnum):
    """`lvs_flush_on_stop` mode."""

    OFF = "off"
    ALL = "all"  # flush the whole IPVS table
    VS = "vs"  # remove only the virtual servers keepalived configured


class ConflictMode(StrEnum):
    """`vipkeeper { conflict_detection ... }`: probe who answers for our VIPs, or not."""

    OFF = "off"
    REPORT = "report"


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VipkeeperDefs:
    """The vipkeeper-only `vipkeeper { }` block (docs/split-brain.md); keepalived has none."""

    conflict_detection: ConflictMode = ConflictMode.REPORT
    conflict_interval: float = 5.0  # seconds between two probes of each VIP held as MASTER
    conflict_notify: ScriptCommand | None = None  # run as `CMD conflict INSTANCE VIP MAC IF`
    takeover_guard: float = 0.0  # seconds a BACKUP probes before a takeover; 0 = no guard
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class GlobalDefs:
    """The `global_defs` block (defaults when it is absent)."""

    router_id: str | None = None  # None: the daemon uses the host name
    notification_email: tuple[str, ...] = ()
    notification_email_from: str | None = None
    smtp_server: str | None = None
    smtp_server_port: int = 25
    smtp_helo_name: str | None = None
    smtp_connect_timeout: float = 30.0
    smtp_alert: bool = False
    smtp_alert_vrrp: bool = False
    smtp_alert_checker: bool | None = None  # None: neither it nor smtp_alert was written
    no_email_faults: bool = False
    no_checker_emails: bool = False
    vrrp_notify_priority_changes: bool = False
    default_interface: str | None = None
    dynamic_interfaces: bool = False
    vrrp_mcast_group4: IPv4Address = MCAST_GROUP4
    vrrp_mcast_group6: IPv6Address = MCAST_GROUP6
    vrrp_garp_master_delay: float = 5.0
    vrrp_garp_master_repeat: int = 5
    vrrp_garp_master_refresh: float = 0.0
    vrrp_garp_master_refresh_repeat: int = 1
    vrrp_garp_lower_prio_delay: float | None = None  # None: same as master delay
    vrrp_garp_lower_prio_repeat: int | None = None  # None: same as master repeat
    vrrp_garp_interval: float = 0.0
    vrrp_gna_interval: float = 0.0
    vrrp_min_garp: bool = False
    vrrp_down_timer_adverts: int = 3
    vrrp_lower_prio_no_advert: bool = False
    vrrp_higher_prio_send_advert: bool = False
    vrrp_version: int = 2
    vrrp_strict: bool = False
    vrrp_check_unicast_src: bool = False
    vrrp_skip_check_adv_addr: bool = False
    v3_checksum_as_v2: bool = False
    vrrp_startup_delay: float = 0.0
    script_user: str | None = None
    script_group: str | None = None
    enable_script_security: bool = False
    notify_fifo: str | None = None
    notify_fifo_script: ScriptCommand | None = None
    vrrp_notify_fifo: str | None = None
    vrrp_notify_fifo_script: ScriptCommand | None = None
    lvs_notify_fifo: str | None = None
    lvs_notify_fifo_script: ScriptCommand | None = None
    # `notify_fifo PATH [USER [GROUP]]`: the FIFO's owner; None: the default script user.
    notify_fifo_owner: FifoOwner | None = None
    vrrp_notify_fifo_owner: FifoOwner | None = None
    lvs_notify_fifo_owner: FifoOwner | None = None
    lvs_flush: bool = False
    lvs_flush_on_stop: LvsFlushOnStop = LvsFlushOnStop.OFF
    # `nftables [NAME]` (or `vrrp_iptables`): the VRRP firewall's table; None: not written
    # (an instance without accept mode still makes keepalived use `keepalived`)
    nftables: str | None = None
    nftables_priority: int = -1
    nftables_counters: bool = False
    nftables_ifindex: bool = False
    location: Location | None = None


# ---------------------------------------------------------------------------- VRRP


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VirtualIP:
    """One `virtual_ipaddress` / `virtual_ipaddress_excluded` entry."""

    address: IPInterface  # address/prefix; prefix defaults to /32 (v4) or /128 (v6)
    broadcast: IPv4Address | None = None  # `brd` / `broadcast`
    dev: str | None = None  # None: the instance's interface
    scope: str | None = None  # e.g. "global", "host", "link", "site"
    label: str | None = None
    peer: IPInterface | None = None
    home: bool = False
    nodad: bool = False
    noprefixroute: bool = False
    autojoin: bool = False
    no_track: bool = False
    track_group: str | None = None
    preferred_lft: int | None = None
    location: Location | None = None

    @property
    def family(self) -> int:
        """4 or 6."""
        return self.address.version


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VirtualRoute:
    """One `virtual_routes` entry (`[src IP] [to] PREFIX [via GW] [dev IF] ...`)."""

    destination: IPv4Interface | IPv6Interface  # normalised network; `default` = 0/0
    type: str | None = None  # blackhole, unreachable, prohibit, throw, local, ...
    source: IPAddress | None = None
    via: IPAddress | None = None
    dev: str | None = None
    scope: str | None = None
    table: int | None = None
    metric: int | None = None
    options: tuple[str, ...] = ()  # any further route options, kept verbatim
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class IpRule:
    """One `static_rules` / `virtual_rules` entry (`ip rule` words, as keepalived reads them).

    Values are the kernel's: names (tables, dsfields, realms, groups, protocols) are resolved.
    """

    family: int  # 4 or 6 (4 when nothing says)
    action: str  # table, goto, nop, blackhole, unreachable, prohibit (l3mdev: table)
    priority: int  # preference; keepalived picks one (16384 downwards) when none is given
    source: IPv4Interface | IPv6Interface | None = None  # from; None: all
    destination: IPv4Interface | IPv6Interface | None = None  # to; None: all
    invert: bool = False  # not
    table: int = 0  # table / lookup (0 with any other action)
    goto: int = 0
    tos: int = 0  # tos / dsfield
    fwmark: int | None = None
    fwmask: int | None = None  # fwmark N/MASK
    iif: str | None = None  # iif / dev
    oif: str | None = None
    realms: int = 0  # FRA_FLOW: source realm << 16 | destination realm
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    tunnel_id: int = 0
    uid_range: tuple[int, int] | None = None
    l3mdev: bool = False
    protocol: int | None = None  # 18 (keepalived) unless no_track
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None
    no_track: bool = False
    track_group: str | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class UnicastPeer:
    """One `unicast_peer` entry."""

    address: IPAddress
    min_ttl: int | None = None
    max_ttl: int | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackInterface:
    """A `track_interface` entry: FAULT when down (weight 0) or priority +/- weight."""

    name: str
    weight: int = 0
    reverse: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackScriptRef:
    """A `track_script` entry naming a vrrp_script; weight None = the script's weight."""

    name: str
    weight: int | None = None
    reverse: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackFileRef:
    """A `track_file` entry naming a track_file block; weight None = the block's weight."""

    name: str
    weight: int | None = None
    reverse: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackProcessRef:
    """A `track_process` entry naming a vrrp_track_process.

    weight None = the block's weight; reverse None = the block's `weight N reverse`."""

    name: str
    weight: int | None = None
    reverse: bool | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class Authentication:
    """VRRPv2 `authentication` block. auth_pass is at most 8 bytes (longer is truncated)."""

    auth_type: AuthTypeConfig
    auth_pass: str


@dataclass(frozen=True, kw_only=True, **SLOTS)
class NotifyConfig:
    """Notify commands shared by vrrp_instance and vrrp_sync_group."""

    master: ScriptCommand | None = None
    backup: ScriptCommand | None = None
    fault: ScriptCommand | None = None
    stop: ScriptCommand | None = None
    deleted: ScriptCommand | None = None
    generic: ScriptCommand | None = None  # `notify`: args TYPE NAME STATE PRIORITY appended
    master_rx_lower_pri: ScriptCommand | None = None
    send_deleted: bool = False  # `notify_deleted`: DELETED, not FAULT, when a reload removes it

    def commands(self) -> tuple[ScriptCommand, ...]:
        """Every configured command."""
        return tuple(
            c
            for c in (
                self.master,
                self.backup,
                self.fault,
                self.stop,
                self.deleted,
                self.generic,
                self.master_rx_lower_pri,
            )
            if c is not None
        )


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VrrpInstanceConfig:
    """A `vrrp_instance` block with global defaults applied."""

    name: str
    state: StateConfig = StateConfig.BACKUP
    interface: str | None = None
    virtual_router_id: int = 0  # 0 = missing (an error)
    priority: int = 100
    advert_int: float = 1.0
    version: int = 2  # global vrrp_version when not set
    nopreempt: bool = False
    preempt_delay: float = 0.0
    authentication: Authentication | None = None
    virtual_ipaddresses: tuple[VirtualIP, ...] = ()
    virtual_ipaddresses_excluded: tuple[VirtualIP, ...] = ()
    virtual_routes: tuple[VirtualRoute, ...] = ()
    virtual_rules: tuple[IpRule, ...] = ()
    unicast_src_ip: IPAddress | None = None
    unicast_peers: tuple[UnicastPeer, ...] = ()
    unicast_ttl: int = 255
    mcast_src_ip: IPAddress | None = None
    mcast_dst_ip: IPAddress | None = None  # None: global vrrp_mcast_group4/6
    track_interfaces: tuple[TrackInterface, ...] = ()
    track_scripts: tuple[TrackScriptRef, ...] = ()
    track_files: tuple[TrackFileRef, ...] = ()
    track_processes: tuple[TrackProcessRef, ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    smtp_alert: bool = False
    notify_priority_changes: bool | None = None  # None: the sync group's, else the global
    garp_master_delay: float = 5.0
    garp_master_repeat: int = 5
    garp_master_refresh: float = 0.0
    garp_master_refresh_repeat: int = 1
    garp_lower_prio_delay: float = 5.0
    garp_lower_prio_repeat: int = 5
    lower_prio_no_advert: bool = False
    higher_prio_send_advert: bool = False
    down_timer_adverts: int = 3
    skip_check_adv_addr: bool = False
    check_unicast_src: bool = False
    strict_mode: bool = False  # global vrrp_strict or per-instance strict_mode
    use_vmac: bool = False
    vmac_name: str | None = None  # None with use_vmac: keepalived's vrrp.<VRID>
    vmac_mac: bytes | None = None  # `use_vmac MAC`: None for the RFC 5798 MAC
    vmac_xmit_base: bool = False
    dont_track_primary: bool = False
    accept: bool = True  # strict mode defaults to no_accept
    promote_secondaries: bool = False
    debug: int = 0
    v3_checksum_as_v2: bool = False
    sync_group: str | None = None  # name of the vrrp_sync_group holding this instance
    location: Location | None = None

    @property
    def family(self) -> int:
        """Address family of the instance (4 or 6), from the first VIP; 4 when none."""
        if self.virtual_ipaddresses:
            return self.virtual_ipaddresses[0].family
        if self.unicast_src_ip is not None:
            return self.unicast_src_ip.version
        return 4

    @property
    def unicast(self) -> bool:
        """True when adverts go to unicast peers instead of multicast."""
        return bool(self.unicast_peers)


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VrrpSyncGroup:
    """A `vrrp_sync_group`: member instances move together."""

    name: str
    group: tuple[str, ...] = ()
    notify: NotifyConfig = field(default_factory=NotifyConfig)
    track_interfaces: tuple[TrackInterface, ...] = ()
    track_scripts: tuple[TrackScriptRef, ...] = ()
    track_files: tuple[TrackFileRef, ...] = ()
    track_processes: tuple[TrackProcessRef, ...] = ()
    smtp_alert: bool | None = None  # None: global_defs' smtp_alert_vrrp (keepalived's -1)
    notify_priority_changes: bool | None = None  # None: vrrp_notify_priority_changes
    global_tracking: bool = False
    sync_group_tracking_weight: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VrrpScript:
    """A `vrrp_script` block."""

    name: str
    script: ScriptCommand
    interval: float = 1.0
    timeout: float = 1.0  # defaults to interval
    weight: int = 0
    weight_reverse: bool = False
    rise: int = 1
    fall: int = 1
    init_fail: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackFile:
    """A `track_file` / `vrrp_track_file` block."""

    name: str
    file: str
    weight: int = 1
    weight_reverse: bool = False
    init_file: bool = False  # create the file at start-up
    init_value: int = 0
    init_overwrite: bool = False
    location: Location | None = None


class ParamMatch(StrEnum):
    """How a vrrp_track_process compares the arguments of a command line (`param_match`)."""

    NONE = "none"  # the process name alone
    EXACT = "exact"  # all arguments, and no more
    INITIAL = "initial"  # the configured arguments, the last one as a prefix
    PARTIAL = "partial"  # the configured arguments first, more may follow


QUORUM_MAX_UNSET = 2**32 - 1  # keepalived's UINT_MAX: no upper bound


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TrackProcess:
    """A `vrrp_track_process` block: up while quorum..quorum_max processes match.

    `full_command` (set by arguments, `param_match` or `full_command`) matches argv[0] and
    the arguments of /proc/PID/cmdline; otherwise the 15-character `comm` name is matched.
    """

    name: str
    process: str
    params: tuple[str, ...] = ()
    param_match: ParamMatch = ParamMatch.NONE
    full_command: bool = False
    weight: int = 0
    weight_reverse: bool = False
    quorum: int = 1
    quorum_max: int = QUORUM_MAX_UNSET
    fork_delay: float = 0.0
    terminate_delay: float = 0.0
    location: Location | None = None


# ---------------------------------------------------------------------------- LVS


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VsgEntry:
    """A `virtual_server_group` member: `IP[-LAST] PORT` or `fwmark N`."""

    address: IPAddress | None = None
    range_end: IPAddress | None = None  # last address of an `IP-LAST` range
    port: int | None = None
    fwmark: int | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VirtualServerGroup:
    """A `virtual_server_group` block."""

    name: str
    members: tuple[VsgEntry, ...] = ()
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class CheckerBase:
    """Settings common to every checker, inherited from real_server/virtual_server.

    Timing defaults here are those of a directly built checker; a checker built from a config
    gets keepalived's per-type values (config/checkdefaults.py), e.g. warmup = delay_loop.
    """

    connect_ip: IPAddress | None = None  # None: the real server's address
    connect_port: int | None = None  # None: the real server's port
    bindto: IPAddress | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    fwmark: int | None = None
    connect_timeout: float = 5.0
    retry: int = 1
    delay_before_retry: float = 1.0
    warmup: float = 0.0
    delay_loop: float = 60.0
    alpha: bool = False
    log_all_failures: bool = False
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class TcpCheck(CheckerBase):
    """TCP_CHECK: the connect succeeds."""

    kind: str = "TCP_CHECK"


@dataclass(frozen=True, kw_only=True, **SLOTS)
class HttpUrl:
    """A `url` block of HTTP_GET / SSL_GET."""

    path: str = "/"
    digest: str | None = None  # lowercase hex MD5 of the body
    status_codes: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    virtualhost: str | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class SslDefs:
    """The root `SSL` block: the files of SSL_GET's one TLS client context (keepalived's).

    As in keepalived, none of them makes the server's certificate verified: `ca` is loaded
    (and must load) but no verdict depends on it; `certificate` with `key` is the client
    certificate offered when a server asks for one; `password` decrypts `key`.
    """

    password: str | None = None
    ca: str | None = None
    certificate: str | None = None
    key: str | None = None
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class HttpCheck(CheckerBase):
    """HTTP_GET / SSL_GET."""

    kind: str = "HTTP_GET"  # or "SSL_GET"
    delay_before_retry: float = 3.0
    ssl: bool = False
    urls: tuple[HttpUrl, ...] = ()
    virtualhost: str | None = None
    http_protocol: str = "1.0"  # 1.0, 1.0C (close), 1.1
    enable_sni: bool = False
    sni_name: str | None = None
    # the SNI name after sni_name and the url's virtualhost: the checker's virtualhost, else
    # the virtual server's (keepalived skips the real server's here, not in `Host:`)
    sni_host: str | None = None
    tls: SslDefs | None = None  # the root SSL block, on SSL_GET checkers
    tls_compliant: bool = False
    fast_recovery: bool = False


@dataclass(frozen=True, kw_only=True, **SLOTS)
class MiscCheck(CheckerBase):
    """MISC_CHECK: run a command; misc_dynamic maps exit 2..255 to weight code-2."""

    kind: str = "MISC_CHECK"
    retry: int = 0
    misc_path: ScriptCommand | None = None
    misc_timeout: float | None = None  # None: delay_loop
    misc_dynamic: bool = False


@dataclass(frozen=True, kw_only=True, **SLOTS)
class DnsCheck(CheckerBase):
    """DNS_CHECK: a query for `name` of `type` is answered."""

    kind: str = "DNS_CHECK"
    retry: int = 3
    type: str = "SOA"
    name: str = "."


@dataclass(frozen=True, kw_only=True, **SLOTS)
class UdpCheck(CheckerBase):
    """UDP_CHECK: send payload; optionally require a (matching) reply."""

    kind: str = "UDP_CHECK"
    payload: bytes | None = None
    require_reply: bool = False
    reply_data: bytes | None = None  # `require_reply HEX`
    min_reply_length: int = 0
    max_reply_length: int = 0


@dataclass(frozen=True, kw_only=True, **SLOTS)
class PingCheck(CheckerBase):
    """PING_CHECK: ICMP echo is answered."""

    kind: str = "PING_CHECK"


@dataclass(frozen=True, kw_only=True, **SLOTS)
class FileCheck(CheckerBase):
    """FILE_CHECK: a track_file's value drives the real server's weight."""

    kind: str = "FILE_CHECK"
    retry: int = 0  # not a keepalived timing: a change counts at the next read
    track_file: str = ""
    weight: int | None = None
    reverse: bool = False


@dataclass(frozen=True, kw_only=True, **SLOTS)
class SmtpCheck(CheckerBase):
    """SMTP_CHECK (parsed; not supported by vipkeeper)."""

    kind: str = "SMTP_CHECK"
    helo_name: str | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class BfdCheck(CheckerBase):
    """BFD_CHECK (parsed; not supported by vipkeeper)."""

    kind: str = "BFD_CHECK"
    name: str | None = None


Checker = Union[
    TcpCheck,
    HttpCheck,
    MiscCheck,
    DnsCheck,
    UdpCheck,
    PingCheck,
    FileCheck,
    SmtpCheck,
    BfdCheck,
]


@dataclass(frozen=True, kw_only=True, **SLOTS)
class SorryServer:
    """`sorry_server IP PORT`."""

    address: IPAddress
    port: int | None = None
    lvs_method: LbKind | None = None  # `sorry_server_lvs_method`; None: the VS's


@dataclass(frozen=True, kw_only=True, **SLOTS)
class RealServer:
    """A `real_server` block; checker timings already inherited."""

    address: IPAddress
    port: int | None = None  # None: same as the virtual server (fwmark services)
    weight: int = 1
    lvs_method: LbKind | None = None  # None: the virtual server's lb_kind
    inhibit_on_failure: bool = False
    notify_up: ScriptCommand | None = None
    notify_down: ScriptCommand | None = None
    uthreshold: int = 0
    lthreshold: int = 0
    alpha: bool = False
    smtp_alert: bool | None = None  # None: smtp_alert_checker, else keepalived's true
    virtualhost: str | None = None
    checkers: tuple[Checker, ...] = ()
    location: Location | None = None


@dataclass(frozen=True, kw_only=True, **SLOTS)
class VirtualServer:
    """A `virtual_server` in one of the forms `IP PORT`, `fwmark N` or `group NAME`."""

    address: IPAddress | None = None
    port: int | None = None
    fwmark: int | None = None
    group: str | None = None
    ip_family: int | None = None  # for fwmark services: 4 or 6
    lb_algo: str = "wlc"
    lb_kind: LbKind = LbKind.NAT
    scheduler_flags: tuple[str, ...] = ()  # hashed, flag-1..3, sh-port, sh-fallback, mh-*
    ops: bool = False  # one-packet scheduling (UDP)
    persistence_timeout: int | None = None  # None: not persistent
    persistence_granularity: IPAddress | None = None
    protocol: Protocol = Protocol.TCP
    sorry_server: SorryServer | None = None
    sorry_server_inhibit: bool = False
    inhibit_on_failure: bool = False
    quorum: int = 1
    hysteresis: int = 0
    quorum_up: ScriptCommand | None = None
    quorum_down: ScriptCommand | None = None
    alpha: bool = False
    omega: bool = False
    virtualhost: str | None = None
    delay_loop: float = 60.0
    connect_timeout: float = 5.0
    retry: int | None = None  # None: each checker's own default
    delay_before_retry: float | None = None
    warmup: float | None = None
    ha_suspend: bool = False
    smtp_alert: bool | None = None  # None: smtp_alert_checker, else false
    real_servers: tuple[RealServer, ...] = ()
    location: Location | None = None

    @property
    def name(self) -> str:
        """A short identity: `IP:PORT`, `fwmark N` or `group NAME`."""
        if self.group is not None:
            return f"group {self.group}"
        if self.fwmark is not None:
            return f"fwmark {self.fwmark}"
        host = (
            f"[{self.address}]" if self.address and self.address.version == 6 else f"{self.address}"
        )
        return f"{host}:{self.port}"


# ---------------------------------------------------------------------------- root


@dataclass(frozen=True, kw_only=True, **SLOTS)
class Config:
    """A whole keepalived.conf (after includes, conditionals, variables and loops)."""

    global_defs: GlobalDefs = field(default_factory=GlobalDefs)
    vrrp_scripts: tuple[VrrpScript, ...] = ()
    track_files: tuple[TrackFile, ...] = ()
    track_processes: tuple[TrackProcess, ...] = ()
    vrrp_instances: tuple[VrrpInstanceConfig, ...] = ()
    vrrp_sync_groups: tuple[VrrpSyncGroup, ...] = ()
    virtual_server_groups: tuple[VirtualServerGroup, ...] = ()
    virtual_servers: tuple[VirtualServer, ...] = ()
    static_ipaddresses: tuple[VirtualIP, ...] = ()
    static_routes: tuple[VirtualRoute, ...] = ()
    static_rules: tuple[IpRule, ...] = ()
    vipkeeper: VipkeeperDefs = field(default_factory=VipkeeperDefs)
    ssl: SslDefs | None = None  # the root SSL block
    files: tuple[str, ...] = ()  # every file read, main file first

    def instance(self, name: str) -> VrrpInstanceConfig | None:
        """The vrrp_instance called `name`."""
        return next((i for i in self.vrrp_instances if i.name == name), None)

    def script(self, name: str) -> VrrpScript | None:
        """The vrrp_script called `name`."""
        return next((s for s in self.vrrp_scripts if s.name == name), None)

    def track_file(self, name: str) -> TrackFile | None:
        """The track_file block called `name`."""
        return next((t for t in self.track_files if t.name == name), None)

    def track_process(self, name: str) -> TrackProcess | None:
        """The vrrp_track_process block called `name`."""
        return next((t for t in self.track_processes if t.name == name), None)

    def sync_group(self, name: str) -> VrrpSyncGroup | None:
        """The vrrp_sync_group called `name`."""
        return next((g for g in self.vrrp_sync_groups if g.name == name), None)

    def vs_group(self, name: str) -> VirtualServerGroup | None:
        """The virtual_server_group called `name`."""
        return next((g for g in self.virtual_server_groups if g.name == name), None)
