"""The VRRP blocks: vrrp_instance (with authentication), vrrp_sync_group, vrrp_script,
track_file, and the static addresses and routes.

An instance is kept as its draft until the whole config is read: `finish_instance` then
applies the global defaults (global_defs may come after the instance), and validation reads
the draft to tell a keyword that was written from a default. keepalived clears a
preempt_delay that clashes with strict mode, nopreempt or state MASTER, and a `state MASTER`
of a non-owner with `auth_type AH`; the model holds them cleared, and validation reports the
clash from the draft.
"""

from __future__ import annotations

import dataclasses
from functools import partial

from vipkeeper.config.builder.core import MAX_TIME, Builder, Draft, Field, loc, name_of
from vipkeeper.config.builder.entries import (
    parse_peer,
    parse_route,
    parse_track_file,
    parse_track_interface,
    parse_track_script,
    parse_vip,
)
from vipkeeper.config.builder.handlers import (
    h_block,
    h_choice,
    h_deprecated,
    h_flag,
    h_float,
    h_int,
    h_ip,
    h_list,
    h_remember,
    h_run_as,
    h_script,
    h_seconds_int,
    h_str,
    h_weight,
    h_words,
)
from vipkeeper.config.builder.registry import LIST, Handler, opens
from vipkeeper.config.builder.rules import parse_rule
from vipkeeper.config.builder.trackproc import parse_track_process
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import (
    Authentication,
    AuthTypeConfig,
    GlobalDefs,
    IPAddress,
    IpRule,
    Location,
    NotifyConfig,
    ScriptCommand,
    StateConfig,
    TrackFile,
    TrackFileRef,
    TrackInterface,
    TrackProcessRef,
    TrackScriptRef,
    UnicastPeer,
    VirtualIP,
    VirtualRoute,
    VrrpInstanceConfig,
    VrrpScript,
    VrrpSyncGroup,
)
from vipkeeper.config.parser import Node
from vipkeeper.config.values import parse_int


class AuthDraft(Draft):
    """The `authentication` block."""

    auth_type: Field[AuthTypeConfig] = Field()
    auth_pass: Field[str] = Field()


class NotifyDraft(Draft):
    """The notify commands of an instance or a sync group, gathered into one `Notify`."""

    notify_master: Field[ScriptCommand] = Field(model=False)
    notify_backup: Field[ScriptCommand] = Field(model=False)
    notify_fault: Field[ScriptCommand] = Field(model=False)
    notify_stop: Field[ScriptCommand] = Field(model=False)
    notify_deleted: Field[ScriptCommand] = Field(model=False)
    notify_generic: Field[ScriptCommand] = Field(model=False)  # `notify`
    notify_master_rx_lower_pri: Field[ScriptCommand] = Field(model=False)
    notify_deleted_set: Field[bool] = Field(
        model=False
    )  # `notify_deleted`, with or without a command
    notify: Field[NotifyConfig] = Field()

    def commands(self) -> NotifyConfig:
        """The notify commands set, as the model's `notify`."""
        return NotifyConfig(
            master=self.notify_master,
            backup=self.notify_backup,
            fault=self.notify_fault,
            stop=self.notify_stop,
            deleted=self.notify_deleted,
            generic=self.notify_generic,
            master_rx_lower_pri=self.notify_master_rx_lower_pri,
            send_deleted=bool(self.notify_deleted_set),
        )


class TrackDraft(Draft):
    """The trackers of an instance or a sync group."""

    track_interfaces: Field[tuple[TrackInterface, ...]] = Field()
    track_scripts: Field[tuple[TrackScriptRef, ...]] = Field()
    track_files: Field[tuple[TrackFileRef, ...]] = Field()
    track_processes: Field[tuple[TrackProcessRef, ...]] = Field()


class InstanceDraft(NotifyDraft, TrackDraft):
    """A `vrrp_instance` as written, before the global defaults."""

    name: Field[str] = Field()
    location: Field[Location] = Field()
    state: Field[StateConfig] = Field()
    interface: Field[str] = Field()
    virtual_router_id: Field[int] = Field()
    priority: Field[int] = Field()
    advert_int: Field[float] = Field()
    version: Field[int] = Field()
    nopreempt: Field[bool] = Field()
    preempt_delay: Field[float] = Field()
    authentication: Field[Authentication] = Field()
    virtual_ipaddresses: Field[tuple[VirtualIP, ...]] = Field()
    virtual_ipaddresses_excluded: Field[tuple[VirtualIP, ...]] = Field()
    virtual_routes: Field[tuple[VirtualRoute, ...]] = Field()
    virtual_rules: Field[tuple[IpRule, ...]] = Field()
    unicast_src_ip: Field[IPAddress] = Field()
    unicast_peers: Field[tuple[UnicastPeer, ...]] = Field()
    unicast_ttl: Field[int] = Field()
    mcast_src_ip: Field[IPAddress] = Field()
    mcast_dst_ip: Field[IPAddress] = Field()
    smtp_alert: Field[bool] = Field()
    notify_priority_changes: Field[bool] = Field()
    garp_master_delay: Field[float] = Field()
    garp_master_repeat: Field[int] = Field()
    garp_master_refresh: Field[float] = Field()
    garp_master_refresh_repeat: Field[int] = Field()
    garp_lower_prio_delay: Field[float] = Field()
    garp_lower_prio_repeat: Field[int] = Field()
    lower_prio_no_advert: Field[bool] = Field()
    higher_prio_send_advert: Field[bool] = Field()
    down_timer_adverts: Field[int] = Field()
    skip_check_adv_addr: Field[bool] = Field()
    check_unicast_src: Field[bool] = Field()
    strict_mode: Field[bool] = Field()
    use_vmac: Field[bool] = Field()
    vmac_name: Field[str] = Field()
    vmac_mac: Field[bytes] = Field()
    vmac_xmit_base: Field[bool] = Field()
    dont_track_primary: Field[bool] = Field()
    accept: Field[bool] = Field()
    promote_secondaries: Field[bool] = Field()
    debug: Field[int] = Field()
    v3_checksum_as_v2: Field[bool] = Field()
    sync_group: Field[str] = Field()


class SyncGroupDraft(NotifyDraft, TrackDraft):
    """A `vrrp_sync_group` block."""

    group: Field[tuple[str, ...]] = Field()
    smtp_alert: Field[bool] = Field()
    notify_priority_changes: Field[bool] = Field()
    global_tracking: Field[bool] = Field()
    sync_group_tracking_weight: Field[bool] = Field()


class ScriptDraft(Draft):
    """A `vrrp_script` block."""

    script: Field[ScriptCommand] = Field()
    interval: Field[float] = Field()
    timeout: Field[float] = Field()
    weight: Field[int] = Field()
    weight_reverse: Field[bool] = Field()
    rise: Field[int] = Field()
    fall: Field[int] = Field()
    init_fail: Field[bool] = Field()
    user: Field[str] = Field(model=False)
    group: Field[str | None] = Field(model=False)


class TrackFileDraft(Draft):
    """A `track_file` / `vrrp_track_file` block."""

    file: Field[str] = Field()
    weight: Field[int] = Field()
    weight_reverse: Field[bool] = Field()
    init_file: Field[bool] = Field()
    init_value: Field[int] = Field()
    init_overwrite: Field[bool] = Field()


INST = InstanceDraft
N = NotifyDraft
TR = TrackDraft


def _authentication(b: Builder, node: Node, d: AuthDraft) -> Authentication | None:
    auth_type = d.auth_type
    if auth_type is None:
        b.report(node, Code.MISSING_VALUE, "authentication needs auth_type PASS|AH")
        return None
    password = d.auth_pass or ""
    return Authentication(auth_type=auth_type, auth_pass=password)


def _auth_pass(b: Builder, node: Node, d: AuthDraft) -> None:
    text = b.arg(node, "a password")
    if text is not None:
        b.only(node, 1)
        raw = text.encode()
        if len(raw) > 8:
            # keepalived truncates it, and its -t counts that as a config error. The message
            # never carries the secret: it lands in logs, CI output and Ansible results.
            msg = f"auth_pass is {len(raw)} bytes, longer than 8; truncated to 8"
            b.report(node, Code.TRUNCATED, msg)
            text = raw[:8].decode(errors="ignore")
        d.auth_pass = text


IFNAMSIZ = 16  # the kernel's limit, with the terminating NUL


def _interface(b: Builder, node: Node, d: InstanceDraft) -> None:
    """keepalived's vrrp_int_handler: a name too long is ignored (an earlier one stays)."""
    name = b.arg(node, "an interface name")
    if name is None:
        return
    b.only(node, 1)
    if len(name) >= IFNAMSIZ:
        b.report(node, Code.DEFAULTED, f"Interface name '{name}' too long - ignoring")
        return
    d.interface = name


_STATES = {"MASTER": StateConfig.MASTER, "BACKUP": StateConfig.BACKUP}


def _state(b: Builder, node: Node, d: InstanceDraft) -> None:
    """keepalived's vrrp_state_handler: an unknown state is BACKUP, and a BACKUP after a
    MASTER is ignored (both general errors for -t; keepalived runs with them)."""
    text = b.arg(node, "MASTER or BACKUP")
    if text is None:
        return
    b.only(node, 1)
    state = _STATES.get(text)
    name = f"({d.name})" if d.name else "vrrp_instance"
    if state is None:
        msg = f"{name} unknown state '{text}', defaulting to BACKUP"
        b.report(node, Code.DEFAULTED, msg)
        state = StateConfig.BACKUP
    elif state is StateConfig.BACKUP and d.state is StateConfig.MASTER:
        b.report(node, Code.DEFAULTED, f"{name} state previously set as MASTER - ignoring BACKUP")
        return
    d.state = state


AUTH_HANDLERS: dict[str, Handler[AuthDraft]] = {
    "auth_type": h_choice(
        AuthDraft.auth_type, {"PASS": AuthTypeConfig.PASS, "AH": AuthTypeConfig.AH}
    ),
    "auth_pass": _auth_pass,
}


def _use_vmac(b: Builder, node: Node, d: InstanceDraft) -> None:
    """`use_vmac [NAME] [MAC]` as keepalived 2.2.7 reads it (vrrp_parser.c vrrp_vmac_handler):
    an argument with a `:` is a MAC, any other the interface's name; a bad one is ignored with
    an error, and the instance still uses a vmac."""
    d.use_vmac = True
    for tok in node.args:
        text = tok.text
        if ":" in text:
            if d.vmac_mac is not None:
                b.report(tok, Code.DEFAULTED, "VMAC interface address already specified")
                continue
            mac, error = vmac_mac_arg(text)
            if mac is None:
                b.report(tok, Code.DEFAULTED, error)
            else:
                d.vmac_mac = mac
            continue
        if d.vmac_name is not None:
            b.report(tok, Code.DEFAULTED, "VMAC interface name already specified")
            continue
        if not vmac_name_valid(text):
            b.report(
                tok,
                Code.DEFAULTED,
                f"VMAC interface name '{text}' too long or invalid characters - ignoring",
            )
            continue
        other = next((o for _, o in b.instances if o.use_vmac and o.vmac_name == text), None)
        if other is not None:
            b.report(
                tok,
                Code.DEFAULTED,
                f"({d.name}) VRRP instance {other.name} is already using {text} - ignoring name",
            )
            continue
        d.vmac_name = text


IFNAMSIZ = 16
RFC5798_PREFIX = bytes((0x00, 0x00, 0x5E, 0x00))


def vmac_name_valid(name: str) -> bool:
    """keepalived's dev_name_valid: 1..15 bytes, not `.` or `..`, no `/`, `:` or blank."""
    raw = name.encode()
    if not raw or len(raw) >= IFNAMSIZ or name in (".", ".."):
        return False
    return not any(c in "/:" or c.isspace() for c in name)


def vmac_mac_arg(text: str) -> tuple[bytes | None, str]:
    """The MAC of `use_vmac MAC` and "", or None and keepalived's error. Five octets (the
    instance's VRID is the sixth, keepalived's VRRP_VMAC_MAC_USE_VRID) stay five here."""
    if text.strip("0123456789ABCDEFabcdef:"):
        return None, f"VMAC invalid MAC address {text}"
    parts = text.split(":")
    if len(parts) == 6 and parts[5] == "":
        parts = parts[:5]  # `a:b:c:d:e:`: five octets and the VRID
    if len(parts) not in (5, 6) or any(not 1 <= len(p) <= 2 for p in parts):
        return None, f"VMAC invalid MAC address {text} - ignored"
    mac = bytes(int(p, 16) for p in parts)
    if mac[0] & 0x01:
        return None, f"VMAC MAC address is multicast {text} - ignoring"
    if mac[:4] == RFC5798_PREFIX and mac[4] in (0x01, 0x02):
        return None, f"VMAC MAC address not allowed to be RFC5798 address ({text}) - ignoring"
    return mac, ""


def _debug(b: Builder, node: Node, d: InstanceDraft) -> None:
    if b.arg(node, "a level 0-4") is None:
        return
    value = b.convert(node, lambda: parse_int(node.args[0].text, 0, 4))
    if value is not None:
        d.debug = value


def _preempt(b: Builder, node: Node, d: InstanceDraft) -> None:
    d.nopreempt = False
    b.only(node, 0)


def h_notify(field: Field[ScriptCommand]) -> Handler[NotifyDraft]:
    """A notify command: a second one of the same kind is keepalived's config error, and
    the first is kept."""
    script = h_script(field)

    def handle(b: Builder, node: Node, d: NotifyDraft) -> None:
        if d.get(field) is not None:
            b.bad(node, f"{node.name} script already specified - ignoring")
            return
        script(b, node, d)

    return handle


def _notify_deleted(b: Builder, node: Node, d: InstanceDraft) -> None:
    """`notify_deleted ["command"]`: notify DELETED, not FAULT, when a reload removes the
    instance; the command, if any, runs then (keepalived's vrrp_notify_deleted_handler)."""
    if d.notify_deleted_set:
        b.bad(node, "notify_deleted already specified - ignoring")
        return
    d.notify_deleted_set = True
    if node.args:
        h_script(INST.notify_deleted)(b, node, d)


NOTIFY_HANDLERS: dict[str, Handler[NotifyDraft]] = {
    "notify_master": h_notify(N.notify_master),
    "notify_backup": h_notify(N.notify_backup),
    "notify_fault": h_notify(N.notify_fault),
    "notify_stop": h_notify(N.notify_stop),
    "notify": h_notify(N.notify_generic),
}


def _track_processes(b: Builder, node: Node, d: TrackDraft) -> None:
    refs = list(d.track_processes or ())
    for entry in b.entries(node):
        ref = parse_track_process(b, entry, tuple(refs))
        if ref is not None:
            refs.append(ref)
    d.track_processes = tuple(refs)


TRACK_HANDLERS: dict[str, Handler[TrackDraft]] = {
    "track_interface": h_list(TR.track_interfaces, parse_track_interface),
    "track_script": h_list(TR.track_scripts, parse_track_script),
    "track_file": h_list(TR.track_files, parse_track_file),
    "track_process": opens(LIST, _track_processes),
}

INSTANCE_HANDLERS: dict[str, Handler[InstanceDraft]] = {
    **NOTIFY_HANDLERS,
    **TRACK_HANDLERS,
    "state": h_remember(INST.state, _state),
    "interface": h_remember(INST.interface, _interface),
    "virtual_router_id": h_remember(INST.virtual_router_id, h_int(INST.virtual_router_id, 1, 255)),
    "priority": h_remember(INST.priority, h_int(INST.priority, 1, 255)),
    "advert_int": h_remember(INST.advert_int, h_float(INST.advert_int, 0.01, 255.0)),
    "version": h_remember(INST.version, h_int(INST.version, 2, 3)),
    "preempt": _preempt,
    "nopreempt": h_flag(INST.nopreempt, args="ignored", remember=True),
    "preempt_delay": h_remember(INST.preempt_delay, h_float(INST.preempt_delay, 0.0, 1000.0)),
    "authentication": h_remember(
        INST.authentication,
        h_block(INST.authentication, "authentication", AuthDraft, _authentication),
    ),
    "virtual_ipaddress": h_remember(
        INST.virtual_ipaddresses, h_list(INST.virtual_ipaddresses, parse_vip)
    ),
    "virtual_ipaddress_excluded": h_list(INST.virtual_ipaddresses_excluded, parse_vip),
    "virtual_routes": h_list(INST.virtual_routes, parse_route),
    "virtual_rules": h_list(INST.virtual_rules, partial(parse_rule, static=False)),
    "unicast_src_ip": h_remember(INST.unicast_src_ip, h_ip(INST.unicast_src_ip)),
    "unicast_peer": h_remember(INST.unicast_peers, h_list(INST.unicast_peers, parse_peer)),
    "unicast_ttl": h_int(INST.unicast_ttl, 1, 255),
    "mcast_src_ip": h_ip(INST.mcast_src_ip),
    "mcast_dst_ip": h_ip(INST.mcast_dst_ip),
    "notify_deleted": _notify_deleted,
    "notify_master_rx_lower_pri": h_notify(INST.notify_master_rx_lower_pri),
    "smtp_alert": h_flag(INST.smtp_alert),
    "notify_priority_changes": h_flag(INST.notify_priority_changes),
    "garp_master_delay": h_float(INST.garp_master_delay, 0.0, 3600.0),
    "garp_master_repeat": h_int(INST.garp_master_repeat, 1, 65535),
    "garp_master_refresh": h_float(INST.garp_master_refresh, 0.0, MAX_TIME),
    "garp_master_refresh_repeat": h_int(INST.garp_master_refresh_repeat, 1, 65535),
    "garp_lower_prio_delay": h_float(INST.garp_lower_prio_delay, 0.0, 3600.0),
    "garp_lower_prio_repeat": h_int(INST.garp_lower_prio_repeat, 0, 65535),
    "lower_prio_no_advert": h_flag(INST.lower_prio_no_advert),
    "higher_prio_send_advert": h_flag(INST.higher_prio_send_advert),
    "down_timer_adverts": h_int(INST.down_timer_adverts, 1, 100),
    "skip_check_adv_addr": h_flag(INST.skip_check_adv_addr, args="set"),
    "check_unicast_src": h_flag(INST.check_unicast_src, args="ignored"),
    "strict_mode": h_flag(INST.strict_mode),
    "use_vmac": _use_vmac,
    "vmac_xmit_base": h_flag(INST.vmac_xmit_base, args="ignored"),
    "dont_track_primary": h_flag(INST.dont_track_primary, args="ignored"),
    "accept": h_flag(INST.accept, args="ignored"),
    "no_accept": h_flag(INST.accept, value=False, args="ignored"),
    "promote_secondaries": h_flag(INST.promote_secondaries, args="ignored"),
    "debug": _debug,
    "v3_checksum_as_v2": h_flag(INST.v3_checksum_as_v2),
}


def _vrrp_instance(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    draft = InstanceDraft()
    if name is not None:
        draft.name = name  # for the messages of its handlers
    d = b.walk(node, "vrrp_instance", draft)
    if name is None:
        return
    d.location = loc(node)
    b.instances.append((node, d))


def finish_instance(
    g: GlobalDefs, raw: InstanceDraft, sync_group: str | None
) -> VrrpInstanceConfig:
    """Apply global defaults to an instance's raw keywords."""
    d = raw.copy()
    d.notify = d.commands()
    if sync_group is not None:
        d.sync_group = sync_group
    d.default(INST.version, g.vrrp_version)
    vips = d.virtual_ipaddresses or ()
    if vips and vips[0].family == 6:
        d.version = 3  # VRRPv2 has no IPv6: keepalived uses v3 for IPv6 instances
    master_delay = d.default(INST.garp_master_delay, g.vrrp_garp_master_delay)
    master_repeat = d.default(INST.garp_master_repeat, g.vrrp_garp_master_repeat)
    d.default(INST.garp_master_refresh, g.vrrp_garp_master_refresh)
    d.default(INST.garp_master_refresh_repeat, g.vrrp_garp_master_refresh_repeat)
    lower_delay = g.vrrp_garp_lower_prio_delay
    lower_repeat = g.vrrp_garp_lower_prio_repeat
    d.default(INST.garp_lower_prio_delay, master_delay if lower_delay is None else lower_delay)
    d.default(INST.garp_lower_prio_repeat, master_repeat if lower_repeat is None else lower_repeat)
    d.default(INST.lower_prio_no_advert, g.vrrp_lower_prio_no_advert)
    d.default(INST.higher_prio_send_advert, g.vrrp_higher_prio_send_advert)
    d.default(INST.down_timer_adverts, g.vrrp_down_timer_adverts)
    d.default(INST.skip_check_adv_addr, g.vrrp_skip_check_adv_addr)
    d.default(INST.check_unicast_src, g.vrrp_check_unicast_src)
    strict = d.default(INST.strict_mode, g.vrrp_strict)
    d.default(INST.v3_checksum_as_v2, g.v3_checksum_as_v2)
    d.default(INST.smtp_alert, g.smtp_alert_vrrp)
    d.default(INST.accept, not strict)
    if d.priority is None and d.state is StateConfig.MASTER:
        d.priority = 255  # keepalived derives the owner's priority from MASTER (vrrp.c)
    if ah_clears_master(d, strict, d.version):  # first: keepalived's order (vrrp.c)
        d.state = StateConfig.BACKUP  # keepalived clears it (validate reports it)
    if d.preempt_delay and (strict or d.nopreempt or d.state is StateConfig.MASTER):
        d.preempt_delay = 0.0  # keepalived clears it (validate reports the clash)
    # keepalived's corrections (vrrp_parser.c vrrp_end_handler, vrrp.c); validate reports them
    if d.vmac_xmit_base and not d.use_vmac:
        d.vmac_xmit_base = False
    elif d.use_vmac and d.unicast_peers and not d.vmac_xmit_base:
        d.vmac_xmit_base = True  # unicast with use_vmac sends from the base interface
    if d.use_vmac and d.vmac_xmit_base and strict:
        d.vmac_xmit_base = False
    if d.vmac_mac is not None and len(d.vmac_mac) == 5:
        d.vmac_mac = d.vmac_mac + bytes((d.virtual_router_id or 0,))
    return VrrpInstanceConfig(**d.values)


def ah_clears_master(d: InstanceDraft, strict: bool, version: int | None) -> bool:
    """Whether keepalived clears this instance's `state MASTER` for `auth_type AH`: an AH
    router must hear a sequence number before it takes over, so only the address owner (255,
    or no priority at all: keepalived then derives 255 from MASTER) may start as MASTER.
    Strict mode and VRRPv3 drop the authentication first."""
    auth = d.authentication
    return (
        auth is not None
        and auth.auth_type is AuthTypeConfig.AH
        and bool(auth.auth_pass)
        and not strict
        and version == 2
        and d.state is StateConfig.MASTER
        and d.priority not in (None, 255)
    )


SYNC_GROUP_HANDLERS: dict[str, Handler[SyncGroupDraft]] = {
    **NOTIFY_HANDLERS,
    **TRACK_HANDLERS,
    "group": h_words(SyncGroupDraft.group),
    "smtp_alert": h_flag(SyncGroupDraft.smtp_alert),
    "notify_priority_changes": h_flag(SyncGroupDraft.notify_priority_changes),
    "global_tracking": h_deprecated(
        h_flag(SyncGroupDraft.global_tracking, args="ignored"),
        "global_tracking is deprecated. Use track_interface/script/file on the sync group",
    ),
    "sync_group_tracking_weight": h_flag(SyncGroupDraft.sync_group_tracking_weight, args="ignored"),
}


def _vrrp_sync_group(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    d = b.walk(node, "vrrp_sync_group", SyncGroupDraft())
    if name is None:
        return
    d.notify = d.commands()
    b.sync_groups.append(VrrpSyncGroup(name=name, location=loc(node), **d.values))


SCRIPT_HANDLERS: dict[str, Handler[ScriptDraft]] = {
    "script": h_script(ScriptDraft.script),
    "interval": h_seconds_int(ScriptDraft.interval, 1, 4294),
    "timeout": h_seconds_int(ScriptDraft.timeout, 1, 4294),
    "weight": h_weight(ScriptDraft.weight, -253, 253, ScriptDraft.weight_reverse),
    "rise": h_int(ScriptDraft.rise, 1, 2**31 - 1),
    "fall": h_int(ScriptDraft.fall, 1, 2**31 - 1),
    "user": h_run_as(ScriptDraft.user, ScriptDraft.group),
    "init_fail": h_flag(ScriptDraft.init_fail, args="ignored"),
}


def _vrrp_script(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    d = b.walk(node, "vrrp_script", ScriptDraft())
    if name is None:
        return
    script = d.script
    if script is None:
        if node.children is not None:
            b.report(node, Code.MISSING_VALUE, f"vrrp_script {name} has no 'script'")
        return
    if d.user is not None:
        d.script = dataclasses.replace(script, user=d.user, group=d.group)
    if d.timeout is None:
        d.timeout = d.interval if d.interval is not None else 1.0
    b.scripts.append(VrrpScript(name=name, location=loc(node), **d.values))


def _init_file(b: Builder, node: Node, d: TrackFileDraft) -> None:
    d.init_file = True
    for tok in node.args:
        if tok.text == "overwrite":
            d.init_overwrite = True
        else:
            value = b.convert(node, lambda t=tok.text: parse_int(t, -(2**31), 2**31 - 1))  # type: ignore[misc]
            if value is not None:
                d.init_value = value


TRACK_FILE_HANDLERS: dict[str, Handler[TrackFileDraft]] = {
    "file": h_str(TrackFileDraft.file),
    "weight": h_weight(TrackFileDraft.weight, -254, 254, TrackFileDraft.weight_reverse),
    "init_file": _init_file,
}


def _track_file_block(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    d = b.walk(node, "track_file", TrackFileDraft())
    if name is None:
        return
    if d.file is None:
        if node.children is not None:
            b.report(node, Code.MISSING_VALUE, f"track_file {name} has no 'file'")
        return
    b.track_files.append(TrackFile(name=name, location=loc(node), **d.values))


def _static_ipaddress(b: Builder, node: Node, _: Draft) -> None:
    for entry in b.entries(node):
        vip = parse_vip(b, entry)
        if vip is not None:
            b.static_ips.append(vip)


def _static_routes(b: Builder, node: Node, _: Draft) -> None:
    for entry in b.entries(node):
        route = parse_route(b, entry)
        if route is not None:
            b.static_routes.append(route)


def _static_rules(b: Builder, node: Node, _: Draft) -> None:
    for entry in b.entries(node):
        rule = parse_rule(b, entry, static=True)
        if rule is not None:
            b.static_rules.append(rule)


VRRP_ROOT_HANDLERS: dict[str, Handler[Draft]] = {
    "vrrp_instance": opens("vrrp_instance", _vrrp_instance),
    "vrrp_sync_group": opens("vrrp_sync_group", _vrrp_sync_group),
    "vrrp_script": opens("vrrp_script", _vrrp_script),
    "track_file": opens("track_file", _track_file_block),
    "vrrp_track_file": opens("track_file", _track_file_block),
    "static_ipaddress": opens(LIST, _static_ipaddress),
    "static_routes": opens(LIST, _static_routes),
    "static_rules": opens(LIST, _static_rules),
}
