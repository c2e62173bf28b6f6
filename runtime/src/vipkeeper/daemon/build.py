"""Map the config model onto the VRRP core's settings plus what the daemon itself needs.

Two plans compare equal exactly when the running instance can be kept across a reload:
nothing here carries a config location, so moving a block or adding a comment changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from ipaddress import IPv4Address, IPv6Address
from typing import Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.checks.trackfile import read_value
from vipkeeper.config import model as m
from vipkeeper.net.addrs import AddrSpec, IPInterface, RouteSpec
from vipkeeper.net.rules import RuleSpec
from vipkeeper.net.vmac import VmacSpec, vmac_mac, vmac_name
from vipkeeper.net.vrrpfw import DEFAULT_TABLE, FwAddr
from vipkeeper.net.vrrpsock import IPPROTO_VRRP, SocketKey
from vipkeeper.vrrp.ah import IPPROTO_AH
from vipkeeper.vrrp.settings import (
    Auth,
    AuthType,
    InstanceSettings,
    Notify,
    SettingsError,
    TrackFile,
    TrackInterface,
    TrackProcess,
    TrackScript,
    VirtualRoute,
    VirtualRule,
)
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.syncgroup import SyncGroupSettings

IPAddress = Union[IPv4Address, IPv6Address]


class BuildError(Exception):
    """An instance cannot run as configured (names the instance and why)."""


@dataclass(frozen=True, **SLOTS)
class InstancePlan:
    """One instance: the core's settings and the kernel-facing details."""

    settings: InstanceSettings
    interface: str
    mcast_group: IPAddress | None  # None for unicast
    addrs: tuple[AddrSpec, ...]  # every VIP (included and excluded), as put in the kernel
    routes: tuple[RouteSpec, ...]
    garp_interval: float  # seconds between gratuitous ARPs of a burst
    gna_interval: float  # seconds between unsolicited NAs of a burst
    sync_group: str | None
    rules: tuple[RuleSpec, ...] = ()  # virtual_rules, in the order of settings.virtual_rules
    # What the VRRP firewall drops while the VIPs are up: empty for an address owner or an
    # instance in accept mode (keepalived's vrrp_handle_accept_mode).
    fw_addrs: tuple[FwAddr, ...] = ()
    vmac: VmacSpec | None = None  # use_vmac: the macvlan the VIPs (and adverts) use

    @property
    def socket_key(self) -> SocketKey:
        """The VRRP socket it uses: (interface, family, IP protocol: 51 for AH, else 112)."""
        s = self.settings
        proto = IPPROTO_AH if s.auth.type is AuthType.AH else IPPROTO_VRRP
        return (self.interface, s.family, proto)


def _argv(cmd: m.ScriptCommand | None) -> tuple[str, ...]:
    return cmd.argv if cmd is not None else ()


def notify_of(
    n: m.NotifyConfig, g: m.GlobalDefs, smtp_alert: bool, priority_changes: bool = False
) -> Notify:
    """The core's notify settings (`smtp_alert`, `priority_changes`: the instance's or group's
    own, resolved)."""
    return Notify(
        master=_argv(n.master),
        backup=_argv(n.backup),
        fault=_argv(n.fault),
        stop=_argv(n.stop),
        generic=_argv(n.generic),
        fifo=has_fifo(g),
        deleted=_argv(n.deleted),
        send_deleted=n.send_deleted,
        master_rx_lower_pri=_argv(n.master_rx_lower_pri),
        smtp_alert=smtp_alert and can_mail(g),
        smtp_faults=not g.no_email_faults,
        priority_changes=priority_changes,
    )


def priority_changes(config: m.Config, inst: m.VrrpInstanceConfig) -> bool:
    """notify_priority_changes: the instance's, else its sync group's, else the global."""
    if inst.notify_priority_changes is not None:
        return inst.notify_priority_changes
    group = next((grp for grp in config.vrrp_sync_groups if grp.name == inst.sync_group), None)
    if group is not None and group.notify_priority_changes is not None:
        return group.notify_priority_changes
    return config.global_defs.vrrp_notify_priority_changes


def can_mail(g: m.GlobalDefs) -> bool:
    """Whether alerts can be mailed: keepalived sends none without a server and a recipient."""
    return g.smtp_server is not None and bool(g.notification_email)


def has_fifo(g: m.GlobalDefs) -> bool:
    """Whether a VRRP notify FIFO is configured."""
    return bool(g.notify_fifo or g.vrrp_notify_fifo)


def _source(
    inst: m.VrrpInstanceConfig, family: int, addrs: Sequence[IPInterface], vips: set[IPAddress]
) -> IPAddress:
    if inst.unicast_src_ip is not None:
        return inst.unicast_src_ip
    if inst.mcast_src_ip is not None:
        return inst.mcast_src_ip
    for a in addrs:
        if a.version != family or a.ip in vips:
            continue
        if family == 6 and not a.ip.is_link_local:
            continue
        return a.ip
    kind = "IPv4" if family == 4 else "IPv6 link-local"
    raise BuildError(f"interface {inst.interface} has no {kind} address to send adverts from")


def _route(r: m.VirtualRoute, interface: str | None) -> tuple[VirtualRoute, RouteSpec]:
    blackhole = r.type == "blackhole"
    dev = r.dev or (interface if r.via is None and r.type is None else None)
    core = VirtualRoute(
        dst=r.destination.network,
        via=r.via,
        dev=dev,
        src=r.source,
        table=r.table,
        metric=r.metric,
        blackhole=blackhole,
    )
    spec = RouteSpec(
        destination=r.destination,
        ifname=dev,
        via=r.via,
        source=r.source,
        scope=r.scope,
        table=r.table,
        metric=r.metric,
        type=r.type,
    )
    return core, spec


def build_route(r: m.VirtualRoute) -> RouteSpec:
    """A static route as the kernel layer takes it."""
    return _route(r, None)[1]


def build_rule(r: m.IpRule) -> RuleSpec:
    """A (static or virtual) rule as the kernel layer takes it."""
    return RuleSpec(
        family=r.family,
        action=r.action,
        priority=r.priority,
        source=r.source,
        destination=r.destination,
        invert=r.invert,
        table=r.table,
        goto=r.goto,
        tos=r.tos,
        fwmark=r.fwmark,
        fwmask=r.fwmask,
        iif=r.iif,
        oif=r.oif,
        realms=r.realms,
        suppress_prefixlength=r.suppress_prefixlength,
        suppress_ifgroup=r.suppress_ifgroup,
        tunnel_id=r.tunnel_id,
        uid_range=r.uid_range,
        l3mdev=r.l3mdev,
        protocol=r.protocol,
        ipproto=r.ipproto,
        sport=r.sport,
        dport=r.dport,
    )


def build_addr(v: m.VirtualIP, interface: str) -> AddrSpec:
    """A (static or virtual) address as the kernel layer takes it."""
    return _addr(v, interface)


def _addr(v: m.VirtualIP, interface: str) -> AddrSpec:
    return AddrSpec(
        ifname=v.dev or interface,
        address=v.address,
        label=v.label,
        scope=v.scope,
        broadcast=v.broadcast,
        peer=v.peer,
        nodad=v.nodad,
        noprefixroute=v.noprefixroute,
    )


def build_instance(
    config: m.Config,
    inst: m.VrrpInstanceConfig,
    addresses: Callable[[str], Sequence[IPInterface]],
    link_up: Callable[[str], bool],
) -> InstancePlan:
    """The plan of one instance; BuildError when it cannot run."""
    g = config.global_defs
    if inst.interface is None:
        raise BuildError(f"{inst.name}: no interface")
    if not inst.virtual_ipaddresses:
        raise BuildError(f"{inst.name}: no virtual_ipaddress")
    family = inst.family
    vips = tuple(v.address.ip for v in inst.virtual_ipaddresses)
    excluded = tuple(v.address.ip for v in inst.virtual_ipaddresses_excluded)
    source = _source(inst, family, addresses(inst.interface), set(vips + excluded))
    group = config.sync_group(inst.sync_group) if inst.sync_group else None

    scripts: list[TrackScript] = []
    refs = (*inst.track_scripts, *(group.track_scripts if group else ()))
    for ref in refs:
        script = config.script(ref.name)
        if script is None:
            raise BuildError(f"{inst.name}: track_script {ref.name} is not defined")
        weight = ref.weight if ref.weight is not None else script.weight
        scripts.append(
            TrackScript(
                name=ref.name,
                weight=weight,
                reverse=ref.reverse or script.weight_reverse,
                initially_ok=not script.init_fail,
            )
        )
    tracked_ifs = list(inst.track_interfaces) + list(group.track_interfaces if group else ())
    primary_tracked = any(t.name == inst.interface for t in tracked_ifs)
    if not inst.dont_track_primary and not primary_tracked:
        tracked_ifs.insert(0, m.TrackInterface(name=inst.interface))
    interfaces = tuple(
        TrackInterface(t.name, t.weight, t.reverse, initially_up=link_up(t.name))
        for t in _unique(tracked_ifs)
    )
    if inst.dont_track_primary and not primary_tracked:
        # Plans are built for interfaces that exist: present, so initially up.
        interfaces = (TrackInterface(inst.interface, presence=True), *interfaces)
    files: list[TrackFile] = []
    for fref in (*inst.track_files, *(group.track_files if group else ())):
        block = config.track_file(fref.name)
        if block is None:
            raise BuildError(f"{inst.name}: track_file {fref.name} is not defined")
        files.append(
            TrackFile(
                name=fref.name,
                weight=fref.weight if fref.weight is not None else block.weight,
                reverse=fref.reverse or block.weight_reverse,
                initial_value=read_value(block.file),
            )
        )
    processes: list[TrackProcess] = []
    for pref in (*inst.track_processes, *(group.track_processes if group else ())):
        pblock = config.track_process(pref.name)
        if pblock is None:
            raise BuildError(f"{inst.name}: track_process {pref.name} is not defined")
        if any(p.name == pref.name for p in processes):
            continue  # on the instance and its sync group: keepalived keeps one
        processes.append(
            TrackProcess(
                name=pref.name,
                weight=pref.weight if pref.weight is not None else pblock.weight,
                reverse=pref.reverse if pref.reverse is not None else pblock.weight_reverse,
            )
        )
    routes = [_route(r, inst.interface) for r in inst.virtual_routes]
    rules = [build_rule(r) for r in inst.virtual_rules]
    peers = inst.unicast_peers
    min_ttl = max((p.min_ttl or 0 for p in peers), default=0)
    max_ttl = min((p.max_ttl if p.max_ttl is not None else 255 for p in peers), default=255)
    auth = Auth()
    if inst.authentication is not None and inst.version == 2:
        kind = (
            AuthType.PASS if inst.authentication.auth_type is m.AuthTypeConfig.PASS else AuthType.AH
        )
        auth = Auth(kind, inst.authentication.auth_pass.encode()[:8])
    try:
        settings = InstanceSettings(
            name=inst.name,
            vrid=inst.virtual_router_id,
            vips=vips,
            source=source,
            version=inst.version,
            family=family,
            priority=inst.priority,
            advert_int=inst.advert_int,
            excluded_vips=excluded,
            virtual_routes=tuple(core for core, _ in routes),
            virtual_rules=tuple(VirtualRule(spec.key()) for spec in rules),
            initial_state=State.MASTER if inst.state is m.StateConfig.MASTER else State.BACKUP,
            nopreempt=inst.nopreempt,
            preempt_delay=inst.preempt_delay,
            auth=auth,
            lower_prio_no_advert=inst.lower_prio_no_advert,
            down_timer_adverts=inst.down_timer_adverts,
            garp_master_delay=inst.garp_master_delay,
            garp_master_repeat=inst.garp_master_repeat,
            garp_master_refresh=inst.garp_master_refresh,
            garp_master_refresh_repeat=inst.garp_master_refresh_repeat,
            garp_lower_prio_delay=inst.garp_lower_prio_delay,
            garp_lower_prio_repeat=inst.garp_lower_prio_repeat,
            skip_check_adv_addr=inst.skip_check_adv_addr,
            v3_checksum_as_v2=inst.v3_checksum_as_v2,
            unicast_peers=tuple(p.address for p in peers),
            unicast_ttl=inst.unicast_ttl,
            unicast_min_ttl=min_ttl,
            unicast_max_ttl=max_ttl,
            strict_mode=inst.strict_mode,
            track_scripts=tuple(scripts),
            track_interfaces=interfaces,
            track_files=tuple(files),
            track_processes=tuple(processes),
            notify=notify_of(inst.notify, g, inst.smtp_alert, priority_changes(config, inst)),
        )
    except SettingsError as exc:
        raise BuildError(f"{inst.name}: {exc}") from exc
    if peers:
        mcast: IPAddress | None = None
    elif inst.mcast_dst_ip is not None:
        mcast = inst.mcast_dst_ip
    else:
        mcast = g.vrrp_mcast_group4 if family == 4 else g.vrrp_mcast_group6
    vmac = vmac_of(inst)
    vip_dev = vmac.name if vmac is not None else inst.interface
    addrs = tuple(
        _addr(v, vip_dev) for v in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded)
    )
    return InstancePlan(
        settings=settings,
        interface=inst.interface if vmac is None or vmac.xmit_base else vmac.name,
        mcast_group=mcast,
        addrs=addrs,
        routes=tuple(spec for _, spec in routes),
        garp_interval=g.vrrp_garp_interval,
        gna_interval=g.vrrp_gna_interval,
        sync_group=inst.sync_group,
        rules=tuple(rules),
        fw_addrs=firewall_addrs(inst, g, vip_dev),
        vmac=vmac,
    )


def vmac_of(inst: m.VrrpInstanceConfig) -> VmacSpec | None:
    """The vmac of an instance with use_vmac (None without). The model holds keepalived's
    corrections already (unicast sets vmac_xmit_base, strict mode clears it)."""
    if not inst.use_vmac or inst.interface is None:
        return None
    return VmacSpec(
        name=vmac_name(inst.virtual_router_id, inst.vmac_name),
        base=inst.interface,
        mac=inst.vmac_mac or vmac_mac(inst.virtual_router_id, inst.family),
        family=inst.family,
        xmit_base=inst.vmac_xmit_base,
    )


def firewalled(inst: m.VrrpInstanceConfig) -> bool:
    """Whether keepalived drops traffic to the instance's VIPs while it holds them: when it
    neither owns them (priority 255) nor runs in accept mode."""
    return inst.priority != 255 and not inst.accept


def firewall_addrs(
    inst: m.VrrpInstanceConfig, g: m.GlobalDefs, vip_dev: str | None = None
) -> tuple[FwAddr, ...]:
    """The firewall's view of the instance's VIPs and eVIPs (keepalived's
    nft_update_ipv6_address: a link-local VIP is matched with its interface, by name with
    dont_track_primary unless nftables_ifindex, when on the instance's interface or no_track).
    `vip_dev`: where the VIPs go (the vmac with use_vmac), by default the interface."""
    if not firewalled(inst):
        return ()
    out = []
    for v in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
        vips_on = vip_dev or inst.interface or ""
        dev = v.dev or vips_on
        by_name = (
            v.address.version == 6
            and v.address.ip.is_link_local
            and not g.nftables_ifindex
            and inst.dont_track_primary
            and (dev == vips_on or v.no_track)
        )
        out.append(FwAddr(v.address.ip, dev, by_name))
    return tuple(out)


def firewall_table(config: m.Config) -> str | None:
    """The VRRP firewall's table name: `nftables NAME`, or keepalived's default when an
    instance needs the firewall and none is configured (vrrp.c); None: no firewall."""
    g = config.global_defs
    if g.nftables is not None:
        return g.nftables
    if any(firewalled(inst) for inst in config.vrrp_instances):
        return DEFAULT_TABLE
    return None


def _unique(items: Sequence[m.TrackInterface]) -> list[m.TrackInterface]:
    seen: set[str] = set()
    out = []
    for t in items:
        if t.name not in seen:
            seen.add(t.name)
            out.append(t)
    return out


def sync_group_settings(config: m.Config, group: m.VrrpSyncGroup) -> SyncGroupSettings:
    """The core's settings of one sync group."""
    g, alert = config.global_defs, group.smtp_alert
    return SyncGroupSettings(
        name=group.name,
        members=group.group,
        notify=notify_of(group.notify, g, g.smtp_alert_vrrp if alert is None else alert),
    )


def interfaces_of(plans: Mapping[str, InstancePlan]) -> set[str]:
    """Every interface the plans send on."""
    return {p.interface for p in plans.values()}
