"""The `global_defs` block: daemon-wide settings and the defaults instances inherit.

Several `global_defs` blocks may appear; each is parsed into its own draft, and a keyword of
a later block replaces the earlier value (a list such as notification_email included).
"""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from vipkeeper.config.builder.core import MAX_TIME, TINY, Builder, Draft, Field, loc
from vipkeeper.config.builder.handlers import (
    h_flag,
    h_float,
    h_int,
    h_script,
    h_str,
)
from vipkeeper.config.builder.registry import LIST, Handler, opens
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import (
    FifoOwner,
    GlobalDefs,
    IPAddress,
    Location,
    LvsFlushOnStop,
    ScriptCommand,
)
from vipkeeper.config.parser import Node
from vipkeeper.config.values import ValueError_, parse_int, parse_ip

DEFAULT_NFT_TABLE = "keepalived"


class GlobalDraft(Draft):
    """The fields of `GlobalDefs` that keywords set."""

    router_id: Field[str] = Field()
    notification_email: Field[tuple[str, ...]] = Field()
    notification_email_from: Field[str] = Field()
    smtp_server: Field[str] = Field()
    smtp_server_port: Field[int] = Field()
    smtp_helo_name: Field[str] = Field()
    smtp_connect_timeout: Field[float] = Field()
    smtp_alert: Field[bool] = Field()
    smtp_alert_vrrp: Field[bool] = Field()
    smtp_alert_checker: Field[bool] = Field()
    no_email_faults: Field[bool] = Field()
    no_checker_emails: Field[bool] = Field()
    vrrp_notify_priority_changes: Field[bool] = Field()
    default_interface: Field[str] = Field()
    dynamic_interfaces: Field[bool] = Field()
    v3_checksum_as_v2: Field[bool] = Field()
    lvs_flush: Field[bool] = Field()
    lvs_flush_on_stop: Field[LvsFlushOnStop] = Field()
    vrrp_mcast_group4: Field[IPv4Address] = Field()
    vrrp_mcast_group6: Field[IPv6Address] = Field()
    vrrp_garp_master_delay: Field[float] = Field()
    vrrp_garp_master_repeat: Field[int] = Field()
    vrrp_garp_master_refresh: Field[float] = Field()
    vrrp_garp_master_refresh_repeat: Field[int] = Field()
    vrrp_garp_lower_prio_delay: Field[float] = Field()
    vrrp_garp_lower_prio_repeat: Field[int] = Field()
    vrrp_down_timer_adverts: Field[int] = Field()
    vrrp_garp_interval: Field[float] = Field()
    vrrp_gna_interval: Field[float] = Field()
    vrrp_min_garp: Field[bool] = Field()
    vrrp_lower_prio_no_advert: Field[bool] = Field()
    vrrp_higher_prio_send_advert: Field[bool] = Field()
    vrrp_version: Field[int] = Field()
    vrrp_check_unicast_src: Field[bool] = Field()
    vrrp_skip_check_adv_addr: Field[bool] = Field()
    vrrp_strict: Field[bool] = Field()
    vrrp_startup_delay: Field[float] = Field()
    notify_fifo: Field[str] = Field()
    notify_fifo_owner: Field[FifoOwner] = Field()
    notify_fifo_script: Field[ScriptCommand] = Field()
    vrrp_notify_fifo: Field[str] = Field()
    vrrp_notify_fifo_owner: Field[FifoOwner] = Field()
    vrrp_notify_fifo_script: Field[ScriptCommand] = Field()
    lvs_notify_fifo: Field[str] = Field()
    lvs_notify_fifo_owner: Field[FifoOwner] = Field()
    lvs_notify_fifo_script: Field[ScriptCommand] = Field()
    script_user: Field[str] = Field()
    script_group: Field[str] = Field()
    enable_script_security: Field[bool] = Field()
    nftables: Field[str] = Field()
    nftables_priority: Field[int] = Field()
    nftables_counters: Field[bool] = Field()
    nftables_ifindex: Field[bool] = Field()
    location: Field[Location] = Field()


G = GlobalDraft


def _smtp_server(b: Builder, node: Node, d: GlobalDraft) -> None:
    """`smtp_server ADDRESS|NAME [PORT]` (keepalived's smtpserver_handler)."""
    text = b.arg(node, "an address")
    if text is None:
        return
    port_text = node.args[1].text if len(node.args) > 1 else "25"
    port = b.convert(node, lambda: parse_int(port_text, 1, 65535))
    if port is None or not _host_like(text):
        b.bad(node, f"Invalid smtp server {text} {port_text}")
        return
    d.smtp_server = text
    d.smtp_server_port = port


def _host_like(text: str) -> bool:
    """An IP address, or a word that may be a host name (keepalived resolves it; a
    malformed address, such as 10.0.0.300, is neither)."""
    try:
        parse_ip(text)
        return True
    except ValueError_:
        pass
    if ":" in text or all(part.isdigit() for part in text.split(".")):
        return False
    return all(part and all(c.isalnum() or c in "-_" for c in part) for part in text.split("."))


def _smtp_connect_timeout(b: Builder, node: Node, d: GlobalDraft) -> None:
    """Whole seconds 0..4294; 0 is an error that sets 1 (keepalived's smtpto_handler)."""
    text = b.arg(node, "a number")
    if text is None:
        return
    b.only(node, 1)
    value = b.convert(node, lambda: parse_int(text, 0, 4294))
    if value == 0:
        b.bad(node, "smtp_connect_timeout must be greater than 0, setting to 1")
        value = 1
    if value is not None:
        d.smtp_connect_timeout = float(value)


def _notification_email(b: Builder, node: Node, d: GlobalDraft) -> None:
    """The recipients; an empty block is keepalived's config error (and keeps the list)."""
    words = [w for entry in b.entries(node) for w in entry.words]
    if not words:
        if node.children is not None:
            b.bad(node, "Warning - empty notification_email block")
        return
    d.notification_email = (*(d.notification_email or ()), *words)


def _lvs_flush_on_stop(b: Builder, node: Node, d: GlobalDraft) -> None:
    if not node.args:
        d.lvs_flush_on_stop = LvsFlushOnStop.ALL
        return
    b.only(node, 1)
    word = node.args[0].text
    if word == "VS":
        d.lvs_flush_on_stop = LvsFlushOnStop.VS
        return
    b.bad(node, f"{node.name}: unknown type '{word}' (only 'VS' may follow)")


def _dynamic_interfaces(b: Builder, node: Node, d: GlobalDraft) -> None:
    """`dynamic_interfaces [allow_if_changes]`: keepalived sets the flag whatever follows."""
    d.dynamic_interfaces = True
    if node.args and node.args[0].text != "allow_if_changes":
        b.bad(node.args[0], f"Unknown dynamic_interfaces option '{node.args[0].text}'")


def _mcast_group(b: Builder, node: Node, version: int) -> IPAddress | None:
    """The multicast group of `vrrp_mcast_group4/6`, or None after reporting why not."""
    text = b.arg(node, "a multicast address")
    if text is None:
        return None
    addr = b.convert(node, lambda: parse_ip(text))
    if addr is None:
        return None
    if addr.version != version or not addr.is_multicast:
        b.bad(node, f"{node.name}: '{text}' is not an IPv{version} multicast address")
        return None
    if version == 6 and not str(addr).startswith("ff02:"):
        b.bad(node, f"{node.name}: [{text}] should be link-local multicast (ff02::/16)")
        return None
    return addr


def _mcast4(b: Builder, node: Node, d: GlobalDraft) -> None:
    addr = _mcast_group(b, node, 4)
    if isinstance(addr, IPv4Address):
        d.vrrp_mcast_group4 = addr


def _mcast6(b: Builder, node: Node, d: GlobalDraft) -> None:
    addr = _mcast_group(b, node, 6)
    if isinstance(addr, IPv6Address):
        d.vrrp_mcast_group6 = addr


def _script_user(b: Builder, node: Node, d: GlobalDraft) -> None:
    user = b.arg(node, "a user name")
    if user is not None:
        d.script_user = user
        if len(node.args) > 1:
            d.script_group = node.args[1].text
        b.only(node, 2)


def _fifo(path: Field[str], owner: Field[FifoOwner]) -> Handler[Draft]:
    """`notify_fifo PATH [USER [GROUP]]`."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "a path")
        if text is None:
            return
        d.set(path, text)
        b.only(node, 3)
        if len(node.args) > 1:
            group = node.args[2].text if len(node.args) > 2 else None
            d.set(owner, FifoOwner(node.args[1].text, group, loc(node)))

    return handle


NFT_TABLE_MAXNAMELEN = 256  # the kernel's, with the NUL


def _nftables(b: Builder, node: Node, d: GlobalDraft) -> None:
    """`nftables [NAME]` (keepalived's vrrp_nftables_handler): the first one wins, and it
    resets the priority that an earlier nftables_priority set."""
    if d.nftables is not None:
        b.report(node, Code.DEFAULTED, "nftables already specified - ignoring")
        return
    name = node.args[0].text if node.args else DEFAULT_NFT_TABLE
    if len(name) >= NFT_TABLE_MAXNAMELEN or not name:  # 2.2.7's message, and its limit
        b.bad(node, f"nftables table name {'empty' if not name else 'too long'} - ignoring")
        return
    d.nftables = name
    d.nftables_priority = -1


def _vrrp_iptables(b: Builder, node: Node, d: GlobalDraft) -> None:
    """keepalived 2.2.7 is built without iptables: `vrrp_iptables` is a config error and
    turns on nftables with the default table, whatever its arguments. A corrected error:
    `check` fails as `keepalived -t` does, `run` logs it and starts."""
    b.report(
        node,
        Code.DEPRECATED,
        "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and "
        "'vrrp_ipsets' with 'nftables' config option",
    )
    d.nftables = DEFAULT_NFT_TABLE
    d.nftables_priority = -1


def _nftables_priority(b: Builder, node: Node, d: GlobalDraft) -> None:
    text = b.arg(node, "a number")
    if text is None:
        return
    try:
        d.nftables_priority = parse_int(text, -(2**31), 2**31 - 1)
    except ValueError_:
        b.bad(node, f"invalid nftables chain priority '{text}'")


GLOBAL_HANDLERS: dict[str, Handler[GlobalDraft]] = {
    "router_id": h_str(G.router_id),
    "notification_email": opens(LIST, _notification_email),
    "notification_email_from": h_str(G.notification_email_from),
    "smtp_server": _smtp_server,
    "smtp_helo_name": h_str(G.smtp_helo_name),
    "smtp_connect_timeout": _smtp_connect_timeout,
    "smtp_alert": h_flag(G.smtp_alert),
    "smtp_alert_vrrp": h_flag(G.smtp_alert_vrrp),
    "smtp_alert_checker": h_flag(G.smtp_alert_checker),
    "no_email_faults": h_flag(G.no_email_faults, args="ignored"),
    "no_checker_emails": h_flag(G.no_checker_emails),
    "vrrp_notify_priority_changes": h_flag(G.vrrp_notify_priority_changes),
    "default_interface": h_str(G.default_interface),
    "dynamic_interfaces": _dynamic_interfaces,
    "v3_checksum_as_v2": h_flag(G.v3_checksum_as_v2, args="ignored"),
    "lvs_flush": h_flag(G.lvs_flush, args="ignored"),
    "lvs_flush_on_stop": _lvs_flush_on_stop,
    "lvs_flush_onstop": _lvs_flush_on_stop,
    "vrrp_mcast_group4": _mcast4,
    "vrrp_mcast_group6": _mcast6,
    "vrrp_garp_master_delay": h_float(G.vrrp_garp_master_delay, 0.0, 3600.0),
    "vrrp_garp_master_repeat": h_int(G.vrrp_garp_master_repeat, 1, 65535),
    "vrrp_garp_master_refresh": h_float(G.vrrp_garp_master_refresh, 0.0, MAX_TIME),
    "vrrp_garp_master_refresh_repeat": h_int(G.vrrp_garp_master_refresh_repeat, 1, 65535),
    "vrrp_garp_lower_prio_delay": h_float(G.vrrp_garp_lower_prio_delay, 0.0, 3600.0),
    "vrrp_garp_lower_prio_repeat": h_int(G.vrrp_garp_lower_prio_repeat, 0, 65535),
    "vrrp_down_timer_adverts": h_int(G.vrrp_down_timer_adverts, 1, 100),
    "vrrp_garp_interval": h_float(G.vrrp_garp_interval, TINY, 4294.0),
    "vrrp_gna_interval": h_float(G.vrrp_gna_interval, TINY, 4294.0),
    "vrrp_min_garp": h_flag(G.vrrp_min_garp),
    "vrrp_lower_prio_no_advert": h_flag(G.vrrp_lower_prio_no_advert),
    "vrrp_higher_prio_send_advert": h_flag(G.vrrp_higher_prio_send_advert),
    "vrrp_version": h_int(G.vrrp_version, 2, 3),
    "vrrp_check_unicast_src": h_flag(G.vrrp_check_unicast_src, args="ignored"),
    "vrrp_skip_check_adv_addr": h_flag(G.vrrp_skip_check_adv_addr, args="ignored"),
    "vrrp_strict": h_flag(G.vrrp_strict, args="ignored"),
    "vrrp_startup_delay": h_float(G.vrrp_startup_delay, 0.001, 4294.0),
    "notify_fifo": _fifo(G.notify_fifo, G.notify_fifo_owner),
    "notify_fifo_script": h_script(G.notify_fifo_script),
    "vrrp_notify_fifo": _fifo(G.vrrp_notify_fifo, G.vrrp_notify_fifo_owner),
    "vrrp_notify_fifo_script": h_script(G.vrrp_notify_fifo_script),
    "lvs_notify_fifo": _fifo(G.lvs_notify_fifo, G.lvs_notify_fifo_owner),
    "lvs_notify_fifo_script": h_script(G.lvs_notify_fifo_script),
    "script_user": _script_user,
    "enable_script_security": h_flag(G.enable_script_security, args="ignored"),
    "nftables": _nftables,
    "vrrp_iptables": _vrrp_iptables,
    "nftables_priority": _nftables_priority,
    "nftables_counters": h_flag(G.nftables_counters, args="ignored"),
    "nftables_ifindex": h_flag(G.nftables_ifindex, args="ignored"),
}


def _global_defs(b: Builder, node: Node, _: Draft) -> None:
    b.only(node, 0)
    block = b.walk(node, "global_defs", GlobalDraft())
    if b.global_defs is None:
        b.global_defs = block
    else:
        b.global_defs.update(block)
    b.global_node = node


GLOBAL_DEFS = opens("global_defs", _global_defs)


def finish_global_defs(b: Builder) -> GlobalDefs:
    """The global_defs of the whole config (keepalived's defaults when there is none)."""
    d = b.global_defs.copy() if b.global_defs is not None else GlobalDraft()
    if b.global_node is not None:
        d.location = loc(b.global_node)
    if d.vrrp_min_garp:
        # keepalived's vrrp_min_garp: one gratuitous ARP/NA a burst and no delayed second
        # burst, unless those are set (global_parser.c; it also zeroes the refresh repeat,
        # which only matters with a refresh, and a written refresh is kept here too)
        d.default(G.vrrp_garp_master_repeat, 1)
        d.default(G.vrrp_garp_master_delay, 0.0)
    # smtp_alert is keepalived's default for the unset smtp_alert_vrrp and smtp_alert_checker
    if d.smtp_alert is not None:
        d.default(G.smtp_alert_vrrp, d.smtp_alert)
        d.default(G.smtp_alert_checker, d.smtp_alert)
    return GlobalDefs(**d.values)
