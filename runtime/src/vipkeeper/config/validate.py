# Semantic rules, as keepalived -t applies them:
# - an instance may not track_interface its own interface (it is tracked implicitly);
# - every vrrp_instance has an interface, a virtual_router_id (1-255) and at least one VIP;
# - all VIPs of an instance share its address family (mixed families are an error);
# - two multicast instances may not use the same VRID on the same interface and family,
#   nor two unicast instances that share a peer;
# - nopreempt needs initial state BACKUP and a priority below 255 (255 = address owner);
# - preempt_delay (above 0) clashes with strict mode, nopreempt and initial state MASTER;
# - VRRPv2 advertises whole seconds; VRRPv3 at most 40.95 s in centiseconds;
# - track_script / track_file / FILE_CHECK / sync-group members must name defined blocks
#   (a sync group needs two members); an undefined virtual_server group is only a warning;
# - VRRPv3 (and so IPv6) has no authentication;
# - auth_type AH clears state MASTER unless the priority is 255 (or not written);
# - unicast peers have the instance's address family;
# - vrrp_strict (or strict_mode): at least one VIP, no unicast peers, no authentication,
#   no IPv6 VIPs with VRRPv2, and initial state MASTER only for the address owner (255);
# - a virtual_server has real servers, a quorum at most their total weight, and a
#   hysteresis below its quorum;
# - a virtual_server sets protocol (unless fwmark), lb_algo and lb_kind, as keepalived -t
#   reports leaving them to defaults; ip_family matches its address;
# - mcast_src_ip has the instance's family; unicast_ttl needs unicast peers;
# - each interface named must exist, when an interface predicate is given.
"""Semantic validation of a built Config (pure: no I/O)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from vipkeeper._compat import zip_strict
from vipkeeper.config.build import Builder
from vipkeeper.config.builder.lvs import VirtualServerDraft
from vipkeeper.config.builder.vrrp import InstanceDraft, ah_clears_master
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.model import (
    Config,
    LbKind,
    Location,
    VirtualServer,
    VirtualServerGroup,
    VrrpInstanceConfig,
)
from vipkeeper.config.parser import Node

V3_MAX_ADVERT = 40.95


class _Report:
    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def at(
        self, where: Location | Node | None, code: Code, message: str, *, warning: bool = False
    ) -> None:
        sev = Severity.WARNING if warning else Severity.ERROR
        if where is None:
            self.diagnostics.append(Diagnostic("<config>", 0, 0, sev, message, code))
        elif isinstance(where, Node):
            self.diagnostics.append(
                Diagnostic(where.file, where.line, where.column, sev, message, code)
            )
        else:
            self.diagnostics.append(
                Diagnostic(where.file, where.line, where.column, sev, message, code)
            )


INST = InstanceDraft


def validate(
    config: Config,
    builder: Builder,
    diagnostics: list[Diagnostic],
    interface_exists: Callable[[str], bool] | None = None,
) -> None:
    """Append a diagnostic for every semantic rule the config breaks."""
    r = _Report(diagnostics)
    raw = {d.name: (node, d) for node, d in builder.instances}
    _duplicates(r, [(i.name, i.location) for i in config.vrrp_instances], "vrrp_instance")
    _duplicates(r, [(s.name, s.location) for s in config.vrrp_scripts], "vrrp_script")
    _duplicates(r, [(t.name, t.location) for t in config.track_files], "track_file")
    _duplicates(r, [(g.name, g.location) for g in config.vrrp_sync_groups], "vrrp_sync_group")
    _duplicates(
        r, [(g.name, g.location) for g in config.virtual_server_groups], "virtual_server_group"
    )
    for inst in config.vrrp_instances:
        node, kw = raw[inst.name]
        _instance(r, config, inst, node, kw)
    _vrid_conflicts(r, config.vrrp_instances)
    _references(r, config)
    for vs, (vs_node, vs_kw) in zip_strict(config.virtual_servers, builder.vs_nodes):
        _virtual_server(r, config, vs, vs_node, vs_kw)
    if interface_exists is not None:
        _interfaces(r, config, interface_exists)


def _duplicates(r: _Report, items: Iterable[tuple[str, Location | None]], what: str) -> None:
    seen: dict[str, Location | None] = {}
    for name, where in items:
        if name in seen:
            first = seen[name]
            line = f" (first at line {first.line})" if first else ""
            r.at(where, Code.DUPLICATE, f"{what} '{name}' is defined twice{line}")
        else:
            seen[name] = where


def _instance(
    r: _Report, config: Config, inst: VrrpInstanceConfig, node: Node, kw: InstanceDraft
) -> None:
    name = f"({inst.name})"
    if kw.virtual_router_id is None and kw.node_of(INST.virtual_router_id) is None:
        r.at(node, Code.MISSING_VALUE, f"{name} virtual_router_id must be set")
    if inst.interface is None:  # keepalived 2.2.7: "Unknown interface!", unicast or not
        r.at(node, Code.MISSING_VALUE, f"{name} no interface specified")
    written = kw.node_of(INST.virtual_ipaddresses)
    if not inst.virtual_ipaddresses and not (written is not None and written.children):
        # when VIPs were written and all refused, their own errors name the cause
        r.at(node, Code.MISSING_VALUE, f"{name} no VIP specified; at least one is required")
    family = inst.family
    for vip in (*inst.virtual_ipaddresses,):
        if vip.family != family:
            r.at(
                vip.location,
                Code.FAMILY_MISMATCH,
                f"{name} address family of {vip.address} does not match the instance (IPv{family})",
            )
    if kw.version == 2 and family == 6:
        r.at(
            kw.node_of(INST.version) or node,
            Code.BAD_VALUE,
            f"{name} VRRPv2 does not support IPv6; using version 3",
            warning=True,
        )
    for route in inst.virtual_routes:
        if route.dev is None and "no_track" not in route.options:
            r.at(
                route.location,
                Code.DEFAULTED,
                f"{name} virtual route {route.destination} has no interface (dev): "
                "it cannot be tracked",
            )
    for ti in inst.track_interfaces:
        if ti.name == inst.interface:
            r.at(
                ti.location,
                Code.BAD_VALUE,
                f"{name} track_interface {ti.name} is the instance's own interface "
                "(it is tracked already)",
            )
    # nopreempt
    if inst.nopreempt:
        where = kw.node_of(INST.nopreempt) or node
        if inst.priority == 255:  # keepalived resets nopreempt here: the next rule is moot
            r.at(where, Code.NOPREEMPT, f"{name} nopreempt is incompatible with priority 255")
        elif kw.state is not None and inst.state.value == "MASTER":
            r.at(where, Code.NOPREEMPT, f"{name} nopreempt does not work with initial state MASTER")
    # preempt_delay: keepalived -t rejects it with strict mode, nopreempt or state MASTER
    # (keepalived itself then runs with it cleared)
    if (kw.preempt_delay or 0) > 0:  # the model holds it cleared already
        where = kw.node_of(INST.preempt_delay) or node
        if inst.strict_mode:
            clash = "is incompatible with strict mode"
        elif inst.nopreempt:
            clash = "is incompatible with nopreempt"
        elif kw.state is not None and inst.state.value == "MASTER":
            clash = "does not work with initial state MASTER"
        else:
            clash = ""
        if clash:
            r.at(where, Code.DEFAULTED, f"{name} preempt_delay {clash}; it is cleared")
    # use_vmac / vmac_xmit_base: keepalived -t reports what it corrects (the model holds it
    # corrected already)
    xmit_node = kw.node_of(INST.vmac_xmit_base) or node
    if kw.vmac_xmit_base and not kw.use_vmac:
        r.at(xmit_node, Code.DEFAULTED, f"{name} vmac_xmit_base is only valid with a vmac")
    elif kw.use_vmac and inst.unicast_peers and not kw.vmac_xmit_base:
        r.at(
            kw.node_of(INST.use_vmac) or node,
            Code.DEFAULTED,
            f"{name} unicast with use_vmac requires vmac_xmit_base - setting",
        )
    if kw.use_vmac and inst.strict_mode and (kw.vmac_xmit_base or inst.unicast_peers):
        r.at(xmit_node, Code.DEFAULTED, f"{name} xmit_base is incompatible with strict mode")
    # advert_int
    adv_node = kw.node_of(INST.advert_int) or node
    if inst.version == 2 and family == 4 and inst.advert_int != int(inst.advert_int):
        r.at(
            adv_node,
            Code.DEFAULTED,
            f"{name} VRRPv2 advert_int {inst.advert_int:g}s must be a whole number of seconds",
        )
    if inst.advert_int > V3_MAX_ADVERT and (inst.version == 3 or family == 6):
        r.at(adv_node, Code.RANGE, f"{name} VRRPv3 advert_int must be at most {V3_MAX_ADVERT} s")
    # unicast family
    src = inst.unicast_src_ip
    if src is not None and inst.virtual_ipaddresses and src.version != family:
        r.at(
            kw.node_of(INST.unicast_src_ip) or node,
            Code.FAMILY_MISMATCH,
            f"{name} unicast_src_ip {src} is not IPv{family} like the instance",
        )
    mcast_src = inst.mcast_src_ip
    if mcast_src is not None and inst.virtual_ipaddresses and mcast_src.version != family:
        r.at(
            node,
            Code.FAMILY_MISMATCH,
            f"{name} mcast_src_ip {mcast_src} is not IPv{family} like the instance",
        )
    if kw.unicast_ttl is not None and not inst.unicast:
        r.at(node, Code.DEFAULTED, f"{name} unicast_ttl is set without unicast peers")
    for peer in inst.unicast_peers:
        if peer.address.version != family:
            r.at(
                peer.location,
                Code.FAMILY_MISMATCH,
                f"{name} unicast peer {peer.address} must be IPv{family} like the instance",
            )
    # vrrp_strict
    if inst.strict_mode:
        if inst.unicast:
            r.at(
                kw.node_of(INST.unicast_peers) or node,
                Code.STRICT,
                f"{name} strict mode does not support unicast peers",
            )
        if inst.authentication is not None:
            r.at(
                kw.node_of(INST.authentication) or node,
                Code.STRICT,
                f"{name} strict mode does not support authentication",
            )
        if kw.state is not None and inst.state.value == "MASTER" and inst.priority != 255:
            r.at(
                kw.node_of(INST.state) or node,
                Code.STRICT,
                f"{name} strict mode: state MASTER must match being address owner (priority 255)",
            )
        version = kw.version if kw.version is not None else config.global_defs.vrrp_version
        if version == 2 and family == 6:
            r.at(node, Code.STRICT, f"{name} strict mode: IPv6 VIPs need VRRP version 3")
    elif inst.authentication is not None and (inst.version == 3 or family == 6):
        r.at(
            kw.node_of(INST.authentication) or node,
            Code.DEFAULTED,
            f"{name} VRRP version 3 does not support authentication",
        )
    if ah_clears_master(kw, inst.strict_mode, inst.version):
        r.at(
            kw.node_of(INST.state) or node,
            Code.DEFAULTED,
            f"{name} initial state MASTER is incompatible with AH authentication; it is cleared",
        )


def _vrid_conflicts(r: _Report, instances: Iterable[VrrpInstanceConfig]) -> None:
    # Multicast instances clash on (interface, family, VRID); unicast ones only when they
    # also send to a common peer.
    seen: dict[tuple[str, int, int, str], VrrpInstanceConfig] = {}
    for inst in instances:
        if inst.interface is None or not inst.virtual_router_id:
            continue
        dests = [str(p.address) for p in inst.unicast_peers] or ["multicast"]
        for dest in dests:
            key = (inst.interface, inst.family, inst.virtual_router_id, dest)
            other = seen.get(key)
            if other is None:
                seen[key] = inst
                continue
            via = "" if dest == "multicast" else f" to unicast peer {dest}"
            r.at(
                inst.location,
                Code.VRID_CONFLICT,
                f"{other.name} and {inst.name} both use VRID {inst.virtual_router_id} with "
                f"IPv{inst.family} on interface {inst.interface}{via}",
            )
            break


def _virtual_server(
    r: _Report, config: Config, vs: VirtualServer, node: Node, kw: VirtualServerDraft
) -> None:
    # keepalived -t reports a service left to its defaults as a config error (check_data.c's
    # validate_check_config). A `group` service is by address when its group has any address
    # entry, and by fwmark when it has fwmark entries only; a group that is not defined is
    # reported elsewhere and is taken as by address, as keepalived takes a service without one.
    group = next((g for g in config.virtual_server_groups if g.name == vs.group), None)
    if group is not None:
        by_address = any(m.fwmark is None for m in group.members)
        marks = any(m.fwmark is not None for m in group.members)
        fwmark_only = marks and not by_address
    else:
        by_address = vs.fwmark is None
        marks = fwmark_only = vs.fwmark is not None
    if by_address and kw.protocol is None:
        r.at(node, Code.DEFAULTED, f"virtual server {vs.name}: no protocol set")
    if fwmark_only and kw.protocol is not None:
        msg = f"virtual server {vs.name}: protocol specified for fwmark - protocol will be ignored"
        r.at(kw.node_of(VirtualServerDraft.protocol) or node, Code.DEFAULTED, msg)
    if marks and vs.ha_suspend:
        msg = f"virtual server {vs.name}: cannot use ha_suspend with fwmarks - clearing ha_suspend"
        r.at(kw.node_of(VirtualServerDraft.ha_suspend) or node, Code.DEFAULTED, msg)
    _server_ports(r, vs, group, node, kw)
    if kw.lb_algo is None:
        r.at(node, Code.DEFAULTED, f"virtual server {vs.name}: no scheduler (lb_algo) set")
    if kw.lb_kind is None:
        r.at(
            node,
            Code.DEFAULTED,
            f"virtual server {vs.name}: no forwarding method (lb_kind) set",
        )
    if vs.ops and vs.protocol.value != "UDP":
        r.at(
            node, Code.DEFAULTED, f"virtual server {vs.name}: one packet scheduling (ops) needs UDP"
        )
    if vs.ip_family is not None and vs.address is not None and vs.ip_family != vs.address.version:
        r.at(
            node,
            Code.FAMILY_MISMATCH,
            f"virtual server {vs.name}: ip_family inet{'6' if vs.ip_family == 6 else ''} "
            "conflicts with its address",
        )


def _server_ports(
    r: _Report,
    vs: VirtualServer,
    group: VirtualServerGroup | None,
    node: Node,
    kw: VirtualServerDraft,
) -> None:
    """keepalived's port rules for the real and sorry servers that do not use NAT (check_data.c),
    reported from the ports as written (the builder applies keepalived's corrections): a fwmark
    service clears their ports, a service by address resets a different port to its own, and a
    `group` service reports a port beside a fwmark entry or different from an address entry's."""
    vs_kind = kw.lb_kind or LbKind.NAT
    servers: list[tuple[LbKind, int | None, Any, str]] = [
        (rs.lvs_method or vs_kind, rs.port, rs.location, f"real server {rs.address}")
        for rs in kw.real_server_drafts
    ]
    if kw.sorry is not None:
        where = kw.node_of(VirtualServerDraft.sorry) or node
        servers.append((kw.sorry_method or vs_kind, kw.sorry[1], where, "sorry server"))
    for method, port, where, what in servers:
        if method == LbKind.NAT or not port:
            continue
        if group is not None:
            if any(m.fwmark is not None for m in group.members):
                msg = f"fwmark virtual server {vs.name}, {what} has port {port}"
                r.at(where, Code.DEFAULTED, msg + " - port will be ignored")
            for m in group.members:
                if m.fwmark is None and (m.port or 0) != port:
                    r.at(
                        where,
                        Code.DEFAULTED,
                        f"virtual server {vs.name}:[{m.address} {m.port or 0}] and {what} port "
                        f"{port}: ports don't match",
                    )
        elif vs.fwmark is not None:
            r.at(
                where,
                Code.DEFAULTED,
                f"fwmark virtual server {vs.name}, {what} port {port}:"
                " a port is meaningless here - clearing",
            )
        elif port != vs.port:
            r.at(
                where,
                Code.DEFAULTED,
                f"virtual server {vs.name} and {what} port {port}: ports don't match - resetting"
                f" to {vs.port}",
            )


def _references(r: _Report, config: Config) -> None:
    scripts = {s.name for s in config.vrrp_scripts}
    files = {t.name for t in config.track_files}
    instances = {i.name for i in config.vrrp_instances}
    owners: list[tuple[str, Any]] = [(f"({i.name})", i) for i in config.vrrp_instances]
    owners += [(f"(sync group {g.name})", g) for g in config.vrrp_sync_groups]
    for label, owner in owners:
        for ref in owner.track_scripts:
            if ref.name not in scripts:
                r.at(
                    ref.location,
                    Code.UNDEFINED_REFERENCE,
                    f"{label} track_script '{ref.name}' is not a defined vrrp_script",
                )
        for fref in owner.track_files:
            if fref.name not in files:
                r.at(
                    fref.location,
                    Code.UNDEFINED_REFERENCE,
                    f"{label} track_file '{fref.name}' is not a defined track_file",
                )
    member_seen: dict[str, str] = {}
    for group in config.vrrp_sync_groups:
        if len(group.group) < 2:
            r.at(
                group.location,
                Code.DEFAULTED,
                f"sync group {group.name} has {len(group.group)} member(s); it needs at least 2",
            )
        for member in group.group:
            if member not in instances:
                r.at(
                    group.location,
                    Code.UNDEFINED_REFERENCE,
                    f"(sync group {group.name}) member '{member}' is not a defined vrrp_instance",
                )
            elif member in member_seen:
                r.at(
                    group.location,
                    Code.DUPLICATE,
                    f"vrrp_instance '{member}' is in sync groups {member_seen[member]} "
                    f"and {group.name}",
                )
            else:
                member_seen[member] = group.name
    groups = {g.name for g in config.virtual_server_groups}
    for vs in config.virtual_servers:
        total = sum(rs.weight for rs in vs.real_servers)
        if not vs.real_servers:
            r.at(vs.location, Code.MISSING_VALUE, f"virtual server {vs.name} has no real servers")
        elif vs.quorum > total:
            r.at(
                vs.location,
                Code.RANGE,
                f"quorum {vs.quorum} for {vs.name} exceeds the total weight of its real "
                f"servers ({total})",
            )
        elif vs.hysteresis >= vs.quorum:
            r.at(
                vs.location,
                Code.RANGE,
                f"hysteresis {vs.hysteresis} for {vs.name} must be below quorum {vs.quorum}",
            )
        if vs.group is not None and vs.group not in groups:
            r.at(  # keepalived -t accepts this; the service then has no addresses
                vs.location,
                Code.UNDEFINED_REFERENCE,
                f"virtual_server group '{vs.group}' is not a defined virtual_server_group",
                warning=True,
            )
        for rs in vs.real_servers:
            method = rs.lvs_method or vs.lb_kind
            if (
                vs.address is not None
                and rs.address.version != vs.address.version
                and method.value != "TUN"
            ):
                r.at(
                    rs.location,
                    Code.FAMILY_MISMATCH,
                    f"real_server {rs.address} is not the same address family as {vs.name}",
                )
            for chk in rs.checkers:
                track = getattr(chk, "track_file", None)
                if isinstance(track, str) and track and track not in files:
                    r.at(
                        chk.location,
                        Code.UNDEFINED_REFERENCE,
                        f"FILE_CHECK track_file '{track}' is not a defined track_file",
                    )


def _interfaces(r: _Report, config: Config, exists: Callable[[str], bool]) -> None:
    def need(name: str | None, where: Location | None, what: str) -> None:
        if name is not None and not exists(name):
            r.at(where, Code.INTERFACE_MISSING, f"interface {name} for {what} doesn't exist")

    dynamic = config.global_defs.dynamic_interfaces
    for inst in config.vrrp_instances:
        label = f"vrrp_instance {inst.name}"
        if not dynamic:
            need(inst.interface, inst.location, label)
        for vip in (*inst.virtual_ipaddresses, *inst.virtual_ipaddresses_excluded):
            need(vip.dev, vip.location, f"ip address {vip.address}")
        for ti in inst.track_interfaces:
            need(ti.name, ti.location, f"track_interface of {label}")
        for route in inst.virtual_routes:
            need(route.dev, route.location, f"virtual route {route.destination}")
    if not dynamic:  # keepalived creates a rule's missing interface when they are dynamic
        rules = (*config.static_rules, *(r for i in config.vrrp_instances for r in i.virtual_rules))
        for rule in rules:
            need(rule.iif, rule.location, "rule")
            need(rule.oif, rule.location, "rule")
    for group in config.vrrp_sync_groups:
        for ti in group.track_interfaces:
            need(ti.name, ti.location, f"track_interface of sync group {group.name}")
    for vip in config.static_ipaddresses:
        need(vip.dev, vip.location, f"static ip address {vip.address}")
