"""From the block tree to the typed model: one handler per implemented keyword.

Handlers are small functions kept in per-context tables (HANDLERS). Keywords that are
recognized but not implemented get a warning; unknown keywords get an error with a
suggestion. Defaults and inheritance (global -> instance, virtual_server -> real_server ->
checker) are resolved here, so the model is final.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
import re
from collections.abc import Callable
from typing import Any, cast

from vipkeeper.config import keywords
from vipkeeper.config.checkdefaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELAY_LOOP,
    NOT_POLLED,
    resolve_timing,
)
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.lexer import Token
from vipkeeper.config.model import (
    Authentication,
    AuthType,
    BfdCheck,
    Checker,
    Config,
    DnsCheck,
    FifoOwner,
    FileCheck,
    GlobalDefs,
    HttpCheck,
    HttpUrl,
    LbKind,
    Location,
    LvsFlushOnStop,
    MiscCheck,
    Notify,
    PingCheck,
    Protocol,
    RealServer,
    SmtpCheck,
    SorryServer,
    State,
    TcpCheck,
    TrackFile,
    TrackFileRef,
    TrackInterface,
    TrackScriptRef,
    UdpCheck,
    UnicastPeer,
    VirtualIP,
    VirtualRoute,
    VirtualServer,
    VirtualServerGroup,
    VrrpInstance,
    VrrpScript,
    VrrpSyncGroup,
    VsgEntry,
)
from vipkeeper.config.parser import Node
from vipkeeper.config.values import (
    ValueError_,
    parse_bool,
    parse_float,
    parse_int,
    parse_interface,
    parse_ip,
    parse_port,
    parse_script,
)

Handler = Callable[["Builder", Node, dict[str, Any]], None]
Kwargs = dict[str, Any]

MAX_TIME = 1e6
TINY = 1e-6  # keepalived's smallest time: "must be greater than 0"
SCHEDULERS = frozenset(
    ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "mh", "sed", "nq", "fo", "ovf", "twos")
)
ROUTE_FLAGS = frozenset({"no_track", "onlink", "pervasive"})
VIP_SCOPES = frozenset({"site", "link", "host", "nowhere", "global"})
ROUTE_TYPES = frozenset(
    {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local"}
    | {"broadcast", "multicast", "nat", "anycast"}
)


def loc(node: Node | Token) -> Location:
    """The location of a node or token."""
    if isinstance(node, Node):
        node = node.keyword
    return Location(file=node.file, line=node.line, column=node.column)


class Builder:
    """Walks the tree, calling handlers and collecting diagnostics."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics
        self.global_defs: Kwargs = {}
        self.global_node: Node | None = None
        self.instances: list[tuple[Node, Kwargs]] = []
        self.sync_groups: list[VrrpSyncGroup] = []
        self.scripts: list[VrrpScript] = []
        self.track_files: list[TrackFile] = []
        self.vs_groups: list[VirtualServerGroup] = []
        self.virtual_servers: list[VirtualServer] = []
        self.static_ips: list[VirtualIP] = []
        self.static_routes: list[VirtualRoute] = []
        self.vs_nodes: list[tuple[Node, Kwargs]] = []

    # ------------------------------------------------------------------ diagnostics

    def report(
        self, where: Node | Token, code: Code, message: str, *, warning: bool = False
    ) -> None:
        """Record a diagnostic at `where`."""
        tok = where.keyword if isinstance(where, Node) else where
        sev = Severity.WARNING if warning else Severity.ERROR
        self.diagnostics.append(Diagnostic(tok.file, tok.line, tok.column, sev, message, code))

    def bad(self, where: Node | Token, message: str) -> None:
        """Record a bad-value error."""
        self.report(where, Code.BAD_VALUE, message)

    # ------------------------------------------------------------------ argument helpers

    def arg(self, node: Node, what: str = "a value", index: int = 0) -> str | None:
        """Argument `index` of `node`, or an error when it is missing."""
        if len(node.args) <= index:
            self.report(node, Code.MISSING_VALUE, f"'{node.name}' needs {what}")
            return None
        return node.args[index].text

    def only(self, node: Node, count: int) -> None:
        """Warn about arguments beyond `count`."""
        if len(node.args) > count:
            extra = " ".join(t.text for t in node.args[count:])
            self.report(
                node.args[count],
                Code.BAD_VALUE,
                f"'{node.name}': extra arguments ignored: {extra}",
                warning=True,
            )

    def convert(self, node: Node, fn: Callable[[], Any]) -> Any:
        """Run a value parser, turning ValueError_ into a diagnostic (returns None)."""
        try:
            return fn()
        except ValueError_ as exc:
            self.bad(node, f"{node.name}: {exc}")
            return None

    def flag(self, node: Node) -> bool | None:
        """A flag: bare means true; an optional boolean argument."""
        if not node.args:
            return True
        self.only(node, 1)
        return cast("bool | None", self.convert(node, lambda: parse_bool(node.args[0].text)))

    def entries(self, node: Node) -> list[Node]:
        """The entries of a list block (error when the block is missing)."""
        if node.children is None:
            self.report(node, Code.MISSING_BLOCK, f"'{node.name}' needs a block {{ ... }}")
            return []
        out = []
        for child in node.children:
            if child.children is not None:
                self.report(child, Code.UNEXPECTED_BRACE, f"unexpected block after '{child.name}'")
            out.append(child)
        return out

    # ------------------------------------------------------------------ tree walking

    def walk(self, node: Node, context: str) -> Kwargs:
        """Apply the handlers of `context` to the statements of `node`'s block."""
        kw: Kwargs = {}
        if node.children is None:
            self.report(node, Code.MISSING_BLOCK, f"'{node.name}' needs a block {{ ... }}")
            return kw
        self.statements(node.children, context, kw)
        return kw

    def statements(self, nodes: list[Node], context: str, kw: Kwargs) -> None:
        """Dispatch each statement to its handler."""
        for child in nodes:
            spec = keywords.lookup(context, child.name)
            if spec is None:
                self.unknown(child, context)
                continue
            if spec.block is None and child.children is not None:
                self.report(child, Code.UNEXPECTED_BRACE, f"'{child.name}' does not take a block")
                continue
            if not spec.supported:
                self.report(
                    child,
                    Code.UNSUPPORTED,
                    f"keyword '{child.name}' is not supported by vipkeeper",
                    warning=True,
                )
                if (
                    spec.block is not None
                    and spec.block != keywords.LIST
                    and child.children is not None
                ):
                    self.check_names(child.children, spec.block)
                continue
            HANDLERS[context][child.name](self, child, kw)

    def check_names(self, nodes: list[Node], context: str) -> None:
        """Flag unknown keywords inside a skipped (unsupported) block."""
        for child in nodes:
            spec = keywords.lookup(context, child.name)
            if spec is None:
                self.unknown(child, context)
            elif (
                spec.block is not None
                and spec.block != keywords.LIST
                and child.children is not None
            ):
                self.check_names(child.children, spec.block)

    def unknown(self, node: Node, context: str) -> None:
        """An unknown keyword: error with a suggestion."""
        where = "at top level" if context == "root" else f"in {context}"
        msg = f"unknown keyword '{node.name}' {where}"
        hint = keywords.suggest(context, node.name)
        if hint:
            msg += f" - did you mean '{hint}'?"
        self.report(node, Code.UNKNOWN_KEYWORD, msg)

    def build_root(self, nodes: list[Node]) -> None:
        """Handle the top-level statements."""
        self.statements(nodes, "root", {})


# ---------------------------------------------------------------------- handler factories


def h_int(field: str, lo: int, hi: int) -> Handler:
    """`keyword N` into an int field."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "a number")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_int(text, lo, hi))
            if value is not None:
                kw[field] = value

    return handle


def h_float(field: str, lo: float = 0.0, hi: float = MAX_TIME) -> Handler:
    """`keyword SECONDS` into a float field."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "a number")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_float(text, lo, hi))
            if value is not None:
                kw[field] = value

    return handle


def h_seconds_int(field: str, lo: int, hi: int) -> Handler:
    """`keyword N`: whole seconds (keepalived refuses fractions here), stored as float."""
    inner = h_int(field, lo, hi)

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        inner(b, node, kw)
        if field in kw:
            kw[field] = float(kw[field])

    return handle


def h_flag(field: str, value: bool = True) -> Handler:
    """A bare (or boolean) flag; `value=False` for negative keywords like no_accept."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        got = b.flag(node)
        if got is not None:
            kw[field] = got if value else not got

    return handle


def h_str(field: str) -> Handler:
    """`keyword WORD` into a str field."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node)
        if text is not None:
            b.only(node, 1)
            kw[field] = text

    return handle


def h_ip(field: str) -> Handler:
    """`keyword ADDRESS`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "an IP address")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_ip(text))
            if value is not None:
                kw[field] = value

    return handle


def h_script(field: str) -> Handler:
    """`keyword "command args" [user [group]]`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        if b.arg(node, "a command") is not None:
            value = b.convert(node, lambda: parse_script([t.text for t in node.args]))
            if value is not None:
                kw[field] = dataclasses.replace(value, location=loc(node))

    return handle


def h_choice(field: str, choices: dict[str, Any], *, exact: bool = False) -> Handler:
    """`keyword WORD` where WORD is one of `choices` (case-insensitive unless `exact`)."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node)
        if text is None:
            return
        b.only(node, 1)
        value = choices.get(text if exact else text.upper())
        if value is None:
            b.bad(node, f"{node.name}: '{text}' is not one of {', '.join(choices)}")
        else:
            kw[field] = value

    return handle


def h_weight(field: str, lo: int, hi: int, reverse_field: str | None) -> Handler:
    """`weight N [reverse]`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "a number")
        if text is None:
            return
        value = b.convert(node, lambda: parse_int(text, lo, hi))
        if value is not None:
            kw[field] = value
        rest = [t.text for t in node.args[1:]]
        if rest == ["reverse"] and reverse_field:
            kw[reverse_field] = True
        elif rest:
            b.bad(node, f"{node.name}: unexpected '{' '.join(rest)}'")

    return handle


def h_deprecated(alias_of: Handler, note: str) -> Handler:
    """A deprecated name: an error for `-t` (as keepalived), then it acts like `alias_of`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        b.report(node, Code.DEPRECATED, note)
        alias_of(b, node, kw)

    return handle


def h_list(field: str, parse: Callable[[Builder, Node], Any]) -> Handler:
    """A list block whose entries `parse` turns into model items (None = skipped)."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        items = list(kw.get(field, ()))
        for entry in b.entries(node):
            item = parse(b, entry)
            if item is not None:
                items.append(item)
        kw[field] = tuple(items)

    return handle


def h_words(field: str) -> Handler:
    """A list block of plain words (every word of every line)."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        words = list(kw.get(field, ()))
        for entry in b.entries(node):
            words.extend(entry.words)
        kw[field] = tuple(words)

    return handle


def h_block(field: str, context: str, make: Callable[[Builder, Node, Kwargs], Any]) -> Handler:
    """A sub-block parsed in `context` then turned into a model item by `make`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        sub = b.walk(node, context)
        item = make(b, node, sub)
        if item is not None:
            kw[field] = item

    return handle


# ---------------------------------------------------------------------- entry parsers


def parse_vip(b: Builder, node: Node) -> VirtualIP | None:
    """`ADDR[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] ...`."""
    words = node.words
    addr = b.convert(node, lambda: parse_interface(words[0]))
    if addr is None:
        return None
    kw: Kwargs = {"address": addr, "location": loc(node)}
    i = 1
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word in ("home", "-nodad", "nodad", "noprefixroute", "autojoin", "no_track"):
            kw[word.lstrip("-")] = True
            i += 1
            continue
        if value is None:
            b.bad(node, f"virtual address option '{word}' needs a value")
            return None
        if word in ("brd", "broadcast"):
            if value in ("+", "-"):
                pass
            else:
                brd = b.convert(node, lambda v=value: parse_ip(v))  # type: ignore[misc]
                if brd is None:
                    return None
                if brd.version != 4 or addr.version != 4:
                    b.bad(node, "a broadcast address is IPv4 only")
                    return None
                kw["broadcast"] = brd
        elif word == "dev":
            kw["dev"] = value
        elif word == "scope":
            if value not in VIP_SCOPES and not value.isdigit():
                b.bad(node, f"unknown scope '{value}'")
                return None
            kw["scope"] = value
        elif word == "label":
            kw["label"] = value
        elif word == "peer":
            peer = b.convert(node, lambda v=value: parse_interface(v))  # type: ignore[misc]
            if peer is None:
                return None
            if "/" in words[0]:
                b.bad(node, "cannot give an address prefix together with a peer address")
                return None
            kw["peer"] = peer
        elif word == "track_group":
            kw["track_group"] = value
        elif word == "preferred_lft":
            lft = b.convert(node, lambda v=value: parse_int(v, 0, 2**32 - 1))  # type: ignore[misc]
            if lft is None:
                return None
            kw["preferred_lft"] = lft
        else:
            b.bad(node, f"unknown virtual address option '{word}'")
            return None
        i += 2
    return VirtualIP(**kw)


def parse_route(b: Builder, node: Node) -> VirtualRoute | None:
    """`[TYPE] [src IP] [to] PREFIX|default [via|gw IP] [dev IF] [scope S] [table N] ...`."""
    words = node.words
    kw: Kwargs = {"location": loc(node)}
    options: list[str] = []
    i = 0
    if words[0] in ROUTE_TYPES:
        kw["type"] = words[0]
        i = 1
    dest_seen = False
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else None
        if word == "to":
            i += 1
            continue
        if not dest_seen and word not in ("src", "from"):
            text = word
            if text == "default":
                text = "0.0.0.0/0"
            dest = b.convert(node, lambda t=text: parse_interface(t))  # type: ignore[misc]
            if dest is None:
                return None
            kw["destination"] = ipaddress.ip_interface(f"{dest.network}")
            dest_seen = True
            i += 1
            continue
        if value is None or word in ROUTE_FLAGS:
            options.append(word)
            i += 1
            continue
        try:
            if word in ("src", "from"):
                kw["source"] = parse_ip(value.split("/")[0])
            elif word in ("via", "gw"):
                kw["via"] = parse_ip(value)
            elif word == "dev":
                kw["dev"] = value
            elif word == "scope":
                kw["scope"] = value
            elif word == "table":
                kw["table"] = parse_int(value, 0, 2**32 - 1) if value.isdigit() else 0
                if not value.isdigit():
                    options.extend([word, value])
            elif word == "metric":
                kw["metric"] = parse_int(value, 0, 2**32 - 1)
            else:
                options.extend([word, value])
        except ValueError_ as exc:
            b.bad(node, f"virtual route: {exc}")
            return None
        i += 2
    if not dest_seen:
        b.bad(node, "virtual route without a destination")
        return None
    family = kw["destination"].version
    for key in ("source", "via"):
        if key in kw and kw[key].version != family:
            b.bad(node, "virtual route: cannot mix IPv4 and IPv6 addresses")
            return None
    kw["options"] = tuple(options)
    return VirtualRoute(**kw)


def parse_peer(b: Builder, node: Node) -> UnicastPeer | None:
    """`ADDR [min_ttl N] [max_ttl N]`."""
    words = node.words
    addr = b.convert(node, lambda: parse_ip(words[0]))
    if addr is None:
        return None
    kw: Kwargs = {"address": addr, "location": loc(node)}
    rest = words[1:]
    while rest:
        if rest[0] in ("min_ttl", "max_ttl") and len(rest) >= 2:
            ttl = b.convert(node, lambda v=rest[1]: parse_int(v, 0, 255))  # type: ignore[misc]
            if ttl is None:
                return None
            kw[rest[0]] = ttl
            rest = rest[2:]
        else:
            b.bad(node, f"unicast_peer: unexpected '{rest[0]}'")
            return None
    return UnicastPeer(**kw)


def _tracked(b: Builder, node: Node, lo: int, hi: int) -> Kwargs | None:
    """`NAME [weight N [reverse]]` shared by track_interface/script/file entries."""
    words = node.words
    kw: Kwargs = {"name": words[0], "location": loc(node)}
    rest = words[1:]
    if rest and rest[0] == "weight":
        if len(rest) < 2:
            b.bad(node, f"'{words[0]}': weight needs a number")
            return None
        weight = b.convert(node, lambda: parse_int(rest[1], lo, hi))
        if weight is None:
            return None
        kw["weight"] = weight
        rest = rest[2:]
    if rest and rest[0] == "reverse":
        kw["reverse"] = True
        rest = rest[1:]
    if rest:
        b.bad(node, f"'{words[0]}': unexpected '{' '.join(rest)}'")
        return None
    return kw


def parse_track_interface(b: Builder, node: Node) -> TrackInterface | None:
    """A track_interface entry."""
    kw = _tracked(b, node, -254, 254)
    return TrackInterface(**kw) if kw is not None else None


def parse_track_script(b: Builder, node: Node) -> TrackScriptRef | None:
    """A track_script entry (weight -253..253: keepalived refuses +/-254 here)."""
    kw = _tracked(b, node, -253, 253)
    return TrackScriptRef(**kw) if kw is not None else None


def parse_track_file(b: Builder, node: Node) -> TrackFileRef | None:
    """A track_file entry."""
    kw = _tracked(b, node, -254, 254)
    return TrackFileRef(**kw) if kw is not None else None


_VSG_RANGE = re.compile(r"^(.+)-([0-9a-fA-F]+)$")


def parse_vsg_entry(b: Builder, node: Node) -> VsgEntry | None:
    """`IP PORT`, `IP-LAST PORT` or `fwmark N`."""
    words = node.words
    if words[0] == "fwmark":
        if len(words) != 2:
            b.bad(node, "virtual_server_group: 'fwmark' needs one number")
            return None
        mark = b.convert(node, lambda: parse_int(words[1], 1, 2**32 - 1))
        return VsgEntry(fwmark=mark, location=loc(node)) if mark is not None else None
    if len(words) != 2:
        b.bad(node, "virtual_server_group entry must be 'IP PORT' or 'fwmark N'")
        return None
    first, last = words[0], None
    m = _VSG_RANGE.match(words[0])
    if m and ":" not in words[0]:
        first, last = m.group(1), m.group(2)
    addr = b.convert(node, lambda: parse_ip(first))
    port = b.convert(node, lambda: parse_port(words[1]))
    if addr is None or port is None:
        return None
    end = None
    if last is not None:
        try:
            octet = int(last)
            if addr.version != 4 or not 0 <= octet <= 255:
                raise ValueError
            end = ipaddress.IPv4Address((int(addr) & ~0xFF) | octet)
        except ValueError:
            b.bad(node, f"bad address range '{words[0]}'")
            return None
    return VsgEntry(address=addr, range_end=end, port=port, location=loc(node))


# ---------------------------------------------------------------------- global_defs


def _smtp_server(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "an address")
    if text is None:
        return
    kw["smtp_server"] = text
    if len(node.args) > 1:
        port = b.convert(node, lambda: parse_port(node.args[1].text))
        if port is not None:
            kw["smtp_server_port"] = port
    b.only(node, 2)


def _lvs_flush_on_stop(b: Builder, node: Node, kw: Kwargs) -> None:
    if not node.args:
        kw["lvs_flush_on_stop"] = LvsFlushOnStop.ALL
        return
    b.only(node, 1)
    word = node.args[0].text
    if word == "VS":
        kw["lvs_flush_on_stop"] = LvsFlushOnStop.VS
        return
    b.bad(node, f"{node.name}: unknown type '{word}' (only 'VS' may follow)")


def _mcast(field: str, version: int) -> Handler:
    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "a multicast address")
        if text is None:
            return
        addr = b.convert(node, lambda: parse_ip(text))
        if addr is None:
            return
        if addr.version != version or not addr.is_multicast:
            b.bad(node, f"{node.name}: '{text}' is not an IPv{version} multicast address")
            return
        if version == 6 and not str(addr).startswith("ff02:"):
            b.bad(node, f"{node.name}: [{text}] should be link-local multicast (ff02::/16)")
            return
        kw[field] = addr

    return handle


def _script_user(b: Builder, node: Node, kw: Kwargs) -> None:
    user = b.arg(node, "a user name")
    if user is not None:
        kw["script_user"] = user
        if len(node.args) > 1:
            kw["script_group"] = node.args[1].text
        b.only(node, 2)


def _fifo(field: str) -> Handler:
    """`notify_fifo PATH [USER [GROUP]]`."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = b.arg(node, "a path")
        if text is None:
            return
        kw[field] = text
        b.only(node, 3)
        if len(node.args) > 1:
            group = node.args[2].text if len(node.args) > 2 else None
            kw[f"{field}_owner"] = FifoOwner(node.args[1].text, group, loc(node))

    return handle


def _vrrp_version(field: str) -> Handler:
    return h_int(field, 2, 3)


GLOBAL_HANDLERS: dict[str, Handler] = {
    "router_id": h_str("router_id"),
    "notification_email": h_words("notification_email"),
    "notification_email_from": h_str("notification_email_from"),
    "smtp_server": _smtp_server,
    "smtp_helo_name": h_str("smtp_helo_name"),
    "smtp_connect_timeout": h_float("smtp_connect_timeout", TINY, MAX_TIME),
    "smtp_alert": h_flag("smtp_alert"),
    "smtp_alert_vrrp": h_flag("smtp_alert_vrrp"),
    "smtp_alert_checker": h_flag("smtp_alert_checker"),
    "default_interface": h_str("default_interface"),
    "dynamic_interfaces": h_flag("dynamic_interfaces"),
    "v3_checksum_as_v2": h_flag("v3_checksum_as_v2"),
    "lvs_flush": h_flag("lvs_flush"),
    "lvs_flush_on_stop": _lvs_flush_on_stop,
    "lvs_flush_onstop": _lvs_flush_on_stop,
    "vrrp_mcast_group4": _mcast("vrrp_mcast_group4", 4),
    "vrrp_mcast_group6": _mcast("vrrp_mcast_group6", 6),
    "vrrp_garp_master_delay": h_float("vrrp_garp_master_delay", 0.0, 3600.0),
    "vrrp_garp_master_repeat": h_int("vrrp_garp_master_repeat", 1, 65535),
    "vrrp_garp_master_refresh": h_float("vrrp_garp_master_refresh", 0.0, MAX_TIME),
    "vrrp_garp_master_refresh_repeat": h_int("vrrp_garp_master_refresh_repeat", 1, 65535),
    "vrrp_garp_lower_prio_delay": h_float("vrrp_garp_lower_prio_delay", 0.0, 3600.0),
    "vrrp_garp_lower_prio_repeat": h_int("vrrp_garp_lower_prio_repeat", 0, 65535),
    "vrrp_down_timer_adverts": h_int("vrrp_down_timer_adverts", 1, 100),
    "vrrp_garp_interval": h_float("vrrp_garp_interval", TINY, 4294.0),
    "vrrp_gna_interval": h_float("vrrp_gna_interval", TINY, 4294.0),
    "vrrp_min_garp": h_flag("vrrp_min_garp"),
    "vrrp_lower_prio_no_advert": h_flag("vrrp_lower_prio_no_advert"),
    "vrrp_higher_prio_send_advert": h_flag("vrrp_higher_prio_send_advert"),
    "vrrp_version": _vrrp_version("vrrp_version"),
    "vrrp_check_unicast_src": h_flag("vrrp_check_unicast_src"),
    "vrrp_skip_check_adv_addr": h_flag("vrrp_skip_check_adv_addr"),
    "vrrp_strict": h_flag("vrrp_strict"),
    "vrrp_startup_delay": h_float("vrrp_startup_delay", 0.001, 4294.0),
    "notify_fifo": _fifo("notify_fifo"),
    "notify_fifo_script": h_script("notify_fifo_script"),
    "vrrp_notify_fifo": _fifo("vrrp_notify_fifo"),
    "vrrp_notify_fifo_script": h_script("vrrp_notify_fifo_script"),
    "lvs_notify_fifo": _fifo("lvs_notify_fifo"),
    "lvs_notify_fifo_script": h_script("lvs_notify_fifo_script"),
    "script_user": _script_user,
    "enable_script_security": h_flag("enable_script_security"),
}


# ---------------------------------------------------------------------- vrrp_instance


def _authentication(b: Builder, node: Node, sub: Kwargs) -> Authentication | None:
    auth_type = sub.get("auth_type")
    if auth_type is None:
        b.report(node, Code.MISSING_VALUE, "authentication needs auth_type PASS|AH")
        return None
    password = sub.get("auth_pass", "")
    raw = password.encode()
    if len(raw) > 8:
        # keepalived truncates it, and its -t counts that as a config error. The message never
        # carries the secret: it lands in logs, CI output and Ansible results.
        b.report(
            node, Code.TRUNCATED, f"auth_pass is {len(raw)} bytes, longer than 8; truncated to 8"
        )
        password = raw[:8].decode(errors="ignore")
    return Authentication(auth_type=auth_type, auth_pass=password)


def _auth_pass(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "a password")
    if text is not None:
        b.only(node, 1)
        kw["auth_pass"] = text


AUTH_HANDLERS: dict[str, Handler] = {
    "auth_type": h_choice("auth_type", {"PASS": AuthType.PASS, "AH": AuthType.AH}),
    "auth_pass": _auth_pass,
}


def _use_vmac(b: Builder, node: Node, kw: Kwargs) -> None:
    kw["use_vmac"] = True
    if node.args:
        kw["vmac_name"] = node.args[0].text
    b.only(node, 1)


def _debug(b: Builder, node: Node, kw: Kwargs) -> None:
    if b.arg(node, "a level 0-4") is None:
        return
    value = b.convert(node, lambda: parse_int(node.args[0].text, 0, 4))
    if value is not None:
        kw["debug"] = value


def _preempt(b: Builder, node: Node, kw: Kwargs) -> None:
    kw["nopreempt"] = False
    b.only(node, 0)


def _priority(b: Builder, node: Node, kw: Kwargs) -> None:
    h_int("priority", 1, 255)(b, node, kw)
    kw["_priority_node"] = node


def _vrid(b: Builder, node: Node, kw: Kwargs) -> None:
    h_int("virtual_router_id", 1, 255)(b, node, kw)
    kw["_vrid_node"] = node


def _remember(field: str, inner: Handler) -> Handler:
    """Run `inner` and keep the node, so validation can point at it."""

    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        inner(b, node, kw)
        kw[f"_{field}_node"] = node

    return handle


NOTIFY_HANDLERS: dict[str, Handler] = {
    "notify_master": h_script("notify_master"),
    "notify_backup": h_script("notify_backup"),
    "notify_fault": h_script("notify_fault"),
    "notify_stop": h_script("notify_stop"),
    "notify": h_script("notify"),
}

TRACK_HANDLERS: dict[str, Handler] = {
    "track_interface": h_list("track_interfaces", parse_track_interface),
    "track_script": h_list("track_scripts", parse_track_script),
    "track_file": h_list("track_files", parse_track_file),
}

INSTANCE_HANDLERS: dict[str, Handler] = {
    **NOTIFY_HANDLERS,
    **TRACK_HANDLERS,
    "state": _remember(
        "state", h_choice("state", {"MASTER": State.MASTER, "BACKUP": State.BACKUP}, exact=True)
    ),
    "interface": _remember("interface", h_str("interface")),
    "virtual_router_id": _vrid,
    "priority": _priority,
    "advert_int": _remember("advert_int", h_float("advert_int", 0.01, 255.0)),
    "version": _remember("version", h_int("version", 2, 3)),
    "preempt": _preempt,
    "nopreempt": _remember("nopreempt", h_flag("nopreempt")),
    "preempt_delay": _remember("preempt_delay", h_float("preempt_delay", 0.0, 1000.0)),
    "authentication": _remember(
        "authentication", h_block("authentication", "authentication", _authentication)
    ),
    "virtual_ipaddress": h_list("virtual_ipaddresses", parse_vip),
    "virtual_ipaddress_excluded": h_list("virtual_ipaddresses_excluded", parse_vip),
    "virtual_routes": h_list("virtual_routes", parse_route),
    "unicast_src_ip": _remember("unicast_src_ip", h_ip("unicast_src_ip")),
    "unicast_peer": _remember("unicast_peer", h_list("unicast_peers", parse_peer)),
    "unicast_ttl": h_int("unicast_ttl", 1, 255),
    "mcast_src_ip": h_ip("mcast_src_ip"),
    "mcast_dst_ip": h_ip("mcast_dst_ip"),
    "notify_deleted": h_script("notify_deleted"),
    "notify_master_rx_lower_pri": h_script("notify_master_rx_lower_pri"),
    "smtp_alert": h_flag("smtp_alert"),
    "garp_master_delay": h_float("garp_master_delay", 0.0, 3600.0),
    "garp_master_repeat": h_int("garp_master_repeat", 1, 65535),
    "garp_master_refresh": h_float("garp_master_refresh", 0.0, MAX_TIME),
    "garp_master_refresh_repeat": h_int("garp_master_refresh_repeat", 1, 65535),
    "garp_lower_prio_delay": h_float("garp_lower_prio_delay", 0.0, 3600.0),
    "garp_lower_prio_repeat": h_int("garp_lower_prio_repeat", 0, 65535),
    "lower_prio_no_advert": h_flag("lower_prio_no_advert"),
    "higher_prio_send_advert": h_flag("higher_prio_send_advert"),
    "down_timer_adverts": h_int("down_timer_adverts", 1, 100),
    "skip_check_adv_addr": h_flag("skip_check_adv_addr"),
    "check_unicast_src": h_flag("check_unicast_src"),
    "strict_mode": h_flag("strict_mode"),
    "use_vmac": _use_vmac,
    "vmac_xmit_base": h_flag("vmac_xmit_base"),
    "dont_track_primary": h_flag("dont_track_primary"),
    "accept": h_flag("accept"),
    "no_accept": h_flag("accept", value=False),
    "promote_secondaries": h_flag("promote_secondaries"),
    "debug": _debug,
    "v3_checksum_as_v2": h_flag("v3_checksum_as_v2"),
}


def _notify(kw: Kwargs) -> Notify:
    return Notify(
        master=kw.pop("notify_master", None),
        backup=kw.pop("notify_backup", None),
        fault=kw.pop("notify_fault", None),
        stop=kw.pop("notify_stop", None),
        deleted=kw.pop("notify_deleted", None),
        generic=kw.pop("notify", None),
        master_rx_lower_pri=kw.pop("notify_master_rx_lower_pri", None),
    )


def public(kw: Kwargs) -> Kwargs:
    """`kw` without the private `_...` bookkeeping keys."""
    return {k: v for k, v in kw.items() if not k.startswith("_")}


def name_of(b: Builder, node: Node) -> str | None:
    """The single name argument of a named block."""
    name = b.arg(node, "a name")
    if name is not None:
        b.only(node, 1)
    return name


def _vrrp_instance(b: Builder, node: Node, _: Kwargs) -> None:
    name = name_of(b, node)
    kw = b.walk(node, "vrrp_instance")
    if name is None:
        return
    kw["name"] = name
    kw["location"] = loc(node)
    b.instances.append((node, kw))


def finish_instance(g: GlobalDefs, kw: Kwargs) -> VrrpInstance:
    """Apply global defaults to an instance's raw keywords."""
    data = public(kw)
    data["notify"] = _notify(data)
    data.setdefault("version", g.vrrp_version)
    vips = data.get("virtual_ipaddresses", ())
    if vips and vips[0].family == 6:
        data["version"] = 3  # VRRPv2 has no IPv6: keepalived uses v3 for IPv6 instances
    data.setdefault("garp_master_delay", g.vrrp_garp_master_delay)
    data.setdefault("garp_master_repeat", g.vrrp_garp_master_repeat)
    data.setdefault("garp_master_refresh", g.vrrp_garp_master_refresh)
    data.setdefault("garp_master_refresh_repeat", g.vrrp_garp_master_refresh_repeat)
    lower_delay = g.vrrp_garp_lower_prio_delay
    lower_repeat = g.vrrp_garp_lower_prio_repeat
    data.setdefault(
        "garp_lower_prio_delay",
        data["garp_master_delay"] if lower_delay is None else lower_delay,
    )
    data.setdefault(
        "garp_lower_prio_repeat",
        data["garp_master_repeat"] if lower_repeat is None else lower_repeat,
    )
    data.setdefault("lower_prio_no_advert", g.vrrp_lower_prio_no_advert)
    data.setdefault("higher_prio_send_advert", g.vrrp_higher_prio_send_advert)
    data.setdefault("down_timer_adverts", g.vrrp_down_timer_adverts)
    data.setdefault("skip_check_adv_addr", g.vrrp_skip_check_adv_addr)
    data.setdefault("check_unicast_src", g.vrrp_check_unicast_src)
    data.setdefault("strict_mode", g.vrrp_strict)
    data.setdefault("v3_checksum_as_v2", g.v3_checksum_as_v2)
    data.setdefault("smtp_alert", g.smtp_alert or g.smtp_alert_vrrp)
    data.setdefault("accept", not data["strict_mode"])
    if data.get("preempt_delay") and (
        data["strict_mode"] or data.get("nopreempt") or data.get("state") is State.MASTER
    ):
        data["preempt_delay"] = 0.0  # keepalived clears it (validate reports the clash)
    if "interface" not in data and g.default_interface:
        data["interface"] = g.default_interface
    return VrrpInstance(**data)


# ---------------------------------------------------------------------- sync group, script, file


SYNC_GROUP_HANDLERS: dict[str, Handler] = {
    **NOTIFY_HANDLERS,
    **TRACK_HANDLERS,
    "group": h_words("group"),
    "smtp_alert": h_flag("smtp_alert"),
    "global_tracking": h_flag("global_tracking"),
    "sync_group_tracking_weight": h_flag("sync_group_tracking_weight"),
}


def _vrrp_sync_group(b: Builder, node: Node, _: Kwargs) -> None:
    name = name_of(b, node)
    kw = b.walk(node, "vrrp_sync_group")
    if name is None:
        return
    data = public(kw)
    data["notify"] = _notify(data)
    b.sync_groups.append(VrrpSyncGroup(name=name, location=loc(node), **data))


def _script_run_as(b: Builder, node: Node, kw: Kwargs) -> None:
    user = b.arg(node, "a user name")
    if user is not None:
        kw["user"] = user
        kw["group"] = node.args[1].text if len(node.args) > 1 else None
        b.only(node, 2)


SCRIPT_HANDLERS: dict[str, Handler] = {
    "script": h_script("script"),
    "interval": h_seconds_int("interval", 1, 4294),
    "timeout": h_seconds_int("timeout", 1, 4294),
    "weight": h_weight("weight", -253, 253, "weight_reverse"),
    "rise": h_int("rise", 1, 2**31 - 1),
    "fall": h_int("fall", 1, 2**31 - 1),
    "user": _script_run_as,
    "init_fail": h_flag("init_fail"),
}


def _vrrp_script(b: Builder, node: Node, _: Kwargs) -> None:
    name = name_of(b, node)
    kw = b.walk(node, "vrrp_script")
    if name is None:
        return
    script = kw.get("script")
    if script is None:
        if node.children is not None:
            b.report(node, Code.MISSING_VALUE, f"vrrp_script {name} has no 'script'")
        return
    user, group = kw.pop("user", None), kw.pop("group", None)
    if user is not None:
        script = dataclasses.replace(script, user=user, group=group)
    data = public(kw)
    data["script"] = script
    data.setdefault("timeout", data.get("interval", 1.0))
    b.scripts.append(VrrpScript(name=name, location=loc(node), **data))


def _init_file(b: Builder, node: Node, kw: Kwargs) -> None:
    kw["init_file"] = True
    for tok in node.args:
        if tok.text == "overwrite":
            kw["init_overwrite"] = True
        else:
            value = b.convert(node, lambda t=tok.text: parse_int(t, -(2**31), 2**31 - 1))  # type: ignore[misc]
            if value is not None:
                kw["init_value"] = value


TRACK_FILE_HANDLERS: dict[str, Handler] = {
    "file": h_str("file"),
    "weight": h_weight("weight", -254, 254, "weight_reverse"),
    "init_file": _init_file,
}


def _track_file_block(b: Builder, node: Node, _: Kwargs) -> None:
    name = name_of(b, node)
    kw = b.walk(node, "track_file")
    if name is None:
        return
    if "file" not in kw:
        if node.children is not None:
            b.report(node, Code.MISSING_VALUE, f"track_file {name} has no 'file'")
        return
    b.track_files.append(TrackFile(name=name, location=loc(node), **public(kw)))


# ---------------------------------------------------------------------- LVS


def _retry_handler(field: str = "retry") -> Handler:
    return h_int(field, 1, 2**32 - 1)


TIMING_HANDLERS: dict[str, Handler] = {
    "connect_timeout": h_float("connect_timeout", TINY, 4294.0),
    "delay_loop": h_float("delay_loop", TINY, MAX_TIME),
    "retry": _retry_handler(),
    "delay_before_retry": h_float("delay_before_retry", 0.0, MAX_TIME),
    "warmup": h_float("warmup", 0.0, MAX_TIME),
    "alpha": h_flag("alpha"),
}

LB_KINDS = {"NAT": LbKind.NAT, "DR": LbKind.DR, "TUN": LbKind.TUN}


def _lb_algo(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "a scheduler")
    if text is None:
        return
    b.only(node, 1)
    if text not in SCHEDULERS:
        hint = difflib.get_close_matches(text, sorted(SCHEDULERS), n=1)
        extra = f" - did you mean '{hint[0]}'?" if hint else ""
        b.bad(node, f"{node.name}: unknown scheduler '{text}'{extra}")
        return
    kw["lb_algo"] = text


def _sched_flag(b: Builder, node: Node, kw: Kwargs) -> None:
    b.only(node, 0)
    kw["scheduler_flags"] = (*kw.get("scheduler_flags", ()), node.name)


def _persistence_timeout(b: Builder, node: Node, kw: Kwargs) -> None:
    if not node.args:
        kw["persistence_timeout"] = 360
        return
    h_int("persistence_timeout", 1, 2678400)(b, node, kw)


def _sorry_server(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "an address")
    if text is None:
        return
    addr = b.convert(node, lambda: parse_ip(text))
    port = None
    if len(node.args) > 1:
        port = b.convert(node, lambda: parse_port(node.args[1].text))
    b.only(node, 2)
    if addr is not None:
        kw["_sorry"] = (addr, port)


def _ip_family(b: Builder, node: Node, kw: Kwargs) -> None:
    h_choice("ip_family", {"INET": 4, "INET6": 6})(b, node, kw)


def _granularity(b: Builder, node: Node, kw: Kwargs) -> None:
    """A netmask (`255.255.255.0`) or a prefix length (`24`, up to 128 for IPv6)."""
    text = b.arg(node, "a netmask or prefix length")
    if text is None:
        return
    b.only(node, 1)
    if text.isdigit():
        bits = b.convert(node, lambda: parse_int(text, 1, 128))
        if bits is not None:
            net = ipaddress.ip_network(f"{'0.0.0.0' if bits <= 32 else '::'}/{bits}")
            kw["persistence_granularity"] = net.netmask
        return
    value = b.convert(node, lambda: parse_ip(text))
    if value is not None:
        kw["persistence_granularity"] = value


VS_HANDLERS: dict[str, Handler] = {
    **TIMING_HANDLERS,
    "ip_family": _ip_family,
    "inhibit_on_failure": h_flag("inhibit_on_failure"),
    "lb_algo": _lb_algo,
    "lvs_sched": _lb_algo,
    "hashed": _sched_flag,
    "flag-1": _sched_flag,
    "flag-2": _sched_flag,
    "flag-3": _sched_flag,
    "sh-port": _sched_flag,
    "sh-fallback": _sched_flag,
    "mh-port": _sched_flag,
    "mh-fallback": _sched_flag,
    "ops": h_flag("ops"),
    "lb_kind": h_choice("lb_kind", LB_KINDS, exact=True),
    "lvs_method": h_choice("lb_kind", LB_KINDS, exact=True),
    "persistence_timeout": _persistence_timeout,
    "persistence_granularity": _granularity,
    "protocol": h_choice(
        "protocol", {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "SCTP": Protocol.SCTP}
    ),
    "ha_suspend": h_flag("ha_suspend"),
    "smtp_alert": h_flag("smtp_alert"),
    "virtualhost": h_str("virtualhost"),
    "omega": h_flag("omega"),
    "quorum_up": h_script("quorum_up"),
    "quorum_down": h_script("quorum_down"),
    "quorum": h_int("quorum", 1, 2**31 - 1),
    "hysteresis": h_int("hysteresis", 0, 2**31 - 1),
    "sorry_server": _sorry_server,
    "sorry_server_inhibit": h_flag("sorry_server_inhibit"),
    "sorry_server_lvs_method": h_choice("_sorry_method", LB_KINDS, exact=True),
}


def _real_server(b: Builder, node: Node, kw: Kwargs) -> None:
    addr_text = b.arg(node, "an address")
    sub = b.walk(node, "real_server")
    if addr_text is None:
        return
    addr = b.convert(node, lambda: parse_ip(addr_text))
    port = None
    if len(node.args) > 1:
        port = b.convert(node, lambda: parse_port(node.args[1].text))
    b.only(node, 2)
    if addr is None:
        return
    sub["address"] = addr
    sub["port"] = port
    sub["location"] = loc(node)
    sub["_node"] = node
    kw.setdefault("_real_servers", []).append(sub)


VS_HANDLERS["real_server"] = _real_server


def _checker(kind: str, context: str) -> Handler:
    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        b.only(node, 0)
        sub = b.walk(node, context)
        sub["_kind"] = kind
        sub["location"] = loc(node)
        sub["_node"] = node
        if kind in ("SMTP_CHECK", "BFD_CHECK"):
            b.report(
                node,
                Code.UNSUPPORTED,
                f"keyword '{kind}' is not supported by vipkeeper",
                warning=True,
            )
        if kind in ("HTTP_GET", "SSL_GET") and not sub.get("urls"):
            b.report(node, Code.MISSING_VALUE, f"{kind} checker has no urls specified")
        kw.setdefault("_checkers", []).append(sub)

    return handle


RS_HANDLERS: dict[str, Handler] = {
    **TIMING_HANDLERS,
    "weight": h_int("weight", 0, 65535),
    "lvs_method": h_choice("lvs_method", LB_KINDS, exact=True),
    "inhibit_on_failure": h_flag("inhibit_on_failure"),
    "notify_up": h_script("notify_up"),
    "notify_down": h_script("notify_down"),
    "uthreshold": h_int("uthreshold", 0, 2**31 - 1),
    "lthreshold": h_int("lthreshold", 0, 2**31 - 1),
    "smtp_alert": h_flag("smtp_alert"),
    "virtualhost": h_str("virtualhost"),
    "TCP_CHECK": _checker("TCP_CHECK", "TCP_CHECK"),
    "HTTP_GET": _checker("HTTP_GET", "HTTP_GET"),
    "SSL_GET": _checker("SSL_GET", "HTTP_GET"),
    "MISC_CHECK": _checker("MISC_CHECK", "MISC_CHECK"),
    "DNS_CHECK": _checker("DNS_CHECK", "DNS_CHECK"),
    "UDP_CHECK": _checker("UDP_CHECK", "UDP_CHECK"),
    "PING_CHECK": _checker("PING_CHECK", "PING_CHECK"),
    "FILE_CHECK": _checker("FILE_CHECK", "FILE_CHECK"),
    "SMTP_CHECK": _checker("SMTP_CHECK", "SMTP_CHECK"),
    "BFD_CHECK": _checker("BFD_CHECK", "BFD_CHECK"),
}

CHECKER_COMMON: dict[str, Handler] = {
    **TIMING_HANDLERS,
    "retry": h_int("retry", 0, 2**32 - 1),  # a checker may retry 0 times; a service not
    "connect_ip": h_ip("connect_ip"),
    "connect_port": h_int("connect_port", 1, 65535),
    "bindto": h_ip("bindto"),
    "bind_port": h_int("bind_port", 1, 65535),
    "bind_if": h_str("bind_if"),
    "fwmark": h_int("fwmark", 0, 2**32 - 1),
    "log_all_failures": h_flag("log_all_failures"),
}

_STATUS_RE = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def _status_code(b: Builder, node: Node, kw: Kwargs) -> None:
    if b.arg(node, "a status code") is None:
        return
    ranges = list(kw.get("status_codes", ()))
    for tok in node.args:
        for part in tok.text.split(","):
            m = _STATUS_RE.match(part)
            lo = int(m.group(1)) if m else 0
            hi = int(m.group(2) or lo) if m else 0
            if not m or not 100 <= lo <= hi <= 599:
                b.bad(node, f"status_code: '{part}' is not a status code or range")
                continue
            ranges.append((lo, hi))
    kw["status_codes"] = tuple(ranges)


_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


def _digest(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "an MD5 digest")
    if text is None:
        return
    if not _HEX.match(text):
        b.bad(node, f"digest: '{text}' is not 32 hex digits")
        return
    kw["digest"] = text.lower()


def _url(b: Builder, node: Node, sub: Kwargs) -> HttpUrl:
    return HttpUrl(location=loc(node), **public(sub))


def _urls(b: Builder, node: Node, kw: Kwargs) -> None:
    sub = b.walk(node, "url")
    if "path" not in sub:
        b.report(node, Code.MISSING_VALUE, "HTTP/SSL_GET checker url has no path")
        return
    kw["urls"] = (*kw.get("urls", ()), _url(b, node, sub))


URL_HANDLERS: dict[str, Handler] = {
    "path": h_str("path"),
    "digest": _digest,
    "status_code": _status_code,
    "virtualhost": h_str("virtualhost"),
    "tls_compliant": h_flag("_tls_compliant"),
}


def _http_protocol(b: Builder, node: Node, kw: Kwargs) -> None:
    text = b.arg(node, "1.0, 1.0C, 1.0K or 1.1")
    if text is None:
        return
    if text.upper() not in ("1.0", "1.0C", "1.0K", "1.1"):
        b.bad(node, f"http_protocol: '{text}' is not 1.0, 1.0C, 1.0K or 1.1")
        return
    kw["http_protocol"] = text.upper()


def _hex_bytes(field: str) -> Handler:
    def handle(b: Builder, node: Node, kw: Kwargs) -> None:
        text = "".join(t.text for t in node.args)
        if not text:
            kw[field] = True if field == "require_reply" else b""
            return
        try:
            data = bytes.fromhex(text)
        except ValueError:
            b.bad(node, f"{node.name}: '{text}' is not hex data")
            return
        if field == "require_reply":
            kw["require_reply"] = True
            kw["reply_data"] = data
        else:
            kw[field] = data

    return handle


def _misc_user(b: Builder, node: Node, kw: Kwargs) -> None:
    _script_run_as(b, node, kw)


def _file_check_track(b: Builder, node: Node, kw: Kwargs) -> None:
    h_str("track_file")(b, node, kw)
    kw["_track_file_node"] = node


CHECKER_HANDLERS: dict[str, dict[str, Handler]] = {
    "TCP_CHECK": CHECKER_COMMON,
    "PING_CHECK": CHECKER_COMMON,
    "HTTP_GET": {
        **CHECKER_COMMON,
        "nb_get_retry": h_deprecated(
            _retry_handler(), "nb_get_retry is deprecated - please use 'retry'"
        ),
        "virtualhost": h_str("virtualhost"),
        "http_protocol": _http_protocol,
        "enable_sni": h_flag("enable_sni"),
        "sni_name": h_str("sni_name"),
        "fast_recovery": h_flag("fast_recovery"),
        "tls_compliant": h_flag("tls_compliant"),
        "url": _urls,
    },
    "url": URL_HANDLERS,
    "MISC_CHECK": {
        **CHECKER_COMMON,
        "misc_path": h_script("misc_path"),
        "misc_timeout": h_float("misc_timeout", 0.0, MAX_TIME),
        "misc_dynamic": h_flag("misc_dynamic"),
        "user": _misc_user,
    },
    "DNS_CHECK": {
        **CHECKER_COMMON,
        "type": h_choice(
            "type",
            {t: t for t in ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")},
        ),
        "name": h_str("name"),
    },
    "UDP_CHECK": {
        **CHECKER_COMMON,
        "payload": _hex_bytes("payload"),
        "require_reply": _hex_bytes("require_reply"),
        "min_reply_length": h_int("min_reply_length", 0, 65535),
        "max_reply_length": h_int("max_reply_length", 0, 65535),
    },
    "FILE_CHECK": {
        **CHECKER_COMMON,
        "track_file": _file_check_track,
        "weight": h_weight("weight", -254, 254, "reverse"),
    },
    "SMTP_CHECK": {**CHECKER_COMMON, "helo_name": h_str("helo_name")},
    "BFD_CHECK": {**CHECKER_COMMON, "name": h_str("name")},
}

_CHECKER_TYPES: dict[str, type] = {
    "TCP_CHECK": TcpCheck,
    "HTTP_GET": HttpCheck,
    "SSL_GET": HttpCheck,
    "MISC_CHECK": MiscCheck,
    "DNS_CHECK": DnsCheck,
    "UDP_CHECK": UdpCheck,
    "PING_CHECK": PingCheck,
    "FILE_CHECK": FileCheck,
    "SMTP_CHECK": SmtpCheck,
    "BFD_CHECK": BfdCheck,
}

_INHERITED = ("connect_timeout", "delay_loop", "retry", "delay_before_retry", "warmup", "alpha")


def finish_checker(sub: Kwargs, rs: Kwargs, vs: Kwargs) -> Checker:
    """Build a checker: timings from it, its real server, its virtual server, else its type."""
    kind = sub["_kind"]
    data = public(sub)
    for key in _INHERITED:
        if key not in data:
            for parent in (rs, vs):
                if key in parent and parent[key] is not None:
                    data[key] = parent[key]
                    break
    data.setdefault("delay_loop", DEFAULT_DELAY_LOOP)
    data.setdefault("connect_timeout", DEFAULT_CONNECT_TIMEOUT)
    for key, value in resolve_timing(kind, data["delay_loop"]).items():
        if kind in NOT_POLLED:
            data[key] = value
        else:
            data.setdefault(key, value)
    if kind in ("HTTP_GET", "SSL_GET"):
        data["kind"] = kind
        data["ssl"] = kind == "SSL_GET"
        data.setdefault("virtualhost", rs.get("virtualhost", vs.get("virtualhost")))
    if kind == "MISC_CHECK":
        data.setdefault("misc_timeout", data.get("delay_loop", 60.0))
        user, group = data.pop("user", None), data.pop("group", None)
        path = data.get("misc_path")
        if path is not None and user is not None:
            data["misc_path"] = dataclasses.replace(path, user=user, group=group)
    return cast(Checker, _CHECKER_TYPES[kind](**data))


def finish_real_server(sub: Kwargs, vs: Kwargs) -> RealServer:
    """Build a real server with its checkers."""
    checkers = tuple(finish_checker(c, sub, vs) for c in sub.get("_checkers", ()))
    data = {k: v for k, v in public(sub).items() if k not in _INHERITED or k == "alpha"}
    data.setdefault("inhibit_on_failure", vs.get("inhibit_on_failure", False))
    return RealServer(checkers=checkers, **data)


def _virtual_server(b: Builder, node: Node, _: Kwargs) -> None:
    words = [t.text for t in node.args]
    head: Kwargs = {}
    if not words:
        b.report(
            node, Code.MISSING_VALUE, "virtual_server needs 'IP PORT', 'fwmark N' or 'group NAME'"
        )
    elif words[0] == "fwmark" and len(words) == 2:
        head["fwmark"] = b.convert(node, lambda: parse_int(words[1], 1, 2**32 - 1))
    elif words[0] == "group" and len(words) == 2:
        head["group"] = words[1]
    elif len(words) == 2:
        head["address"] = b.convert(node, lambda: parse_ip(words[0]))
        head["port"] = b.convert(node, lambda: parse_port(words[1]))
    else:
        b.bad(
            node,
            "virtual_server: expected 'IP PORT', 'fwmark N' or 'group NAME', "
            f"got '{' '.join(words)}'",
        )
    kw = b.walk(node, "virtual_server")
    if not head or any(v is None for v in head.values()):
        return
    real_servers = tuple(finish_real_server(rs, kw) for rs in kw.get("_real_servers", ()))
    data = public(kw)
    sorry = kw.get("_sorry")
    if sorry is not None:
        data["sorry_server"] = SorryServer(
            address=sorry[0], port=sorry[1], lvs_method=kw.get("_sorry_method")
        )
    data.setdefault("smtp_alert", False)
    b.virtual_servers.append(
        VirtualServer(location=loc(node), real_servers=real_servers, **head, **data)
    )
    b.vs_nodes.append((node, kw))


def _virtual_server_group(b: Builder, node: Node, _: Kwargs) -> None:
    name = name_of(b, node)
    members = tuple(m for m in (parse_vsg_entry(b, e) for e in b.entries(node)) if m is not None)
    if name is not None:
        b.vs_groups.append(VirtualServerGroup(name=name, members=members, location=loc(node)))


def _global_defs(b: Builder, node: Node, _: Kwargs) -> None:
    b.only(node, 0)
    b.global_defs.update(b.walk(node, "global_defs"))
    b.global_node = node


def _static_ipaddress(b: Builder, node: Node, _: Kwargs) -> None:
    kw: Kwargs = {}
    h_list("ips", parse_vip)(b, node, kw)
    b.static_ips.extend(kw.get("ips", ()))


def _static_routes(b: Builder, node: Node, _: Kwargs) -> None:
    kw: Kwargs = {}
    h_list("routes", parse_route)(b, node, kw)
    b.static_routes.extend(kw.get("routes", ()))


ROOT_HANDLERS: dict[str, Handler] = {
    "global_defs": _global_defs,
    "vrrp_instance": _vrrp_instance,
    "vrrp_sync_group": _vrrp_sync_group,
    "vrrp_script": _vrrp_script,
    "track_file": _track_file_block,
    "vrrp_track_file": _track_file_block,
    "virtual_server_group": _virtual_server_group,
    "virtual_server": _virtual_server,
    "static_ipaddress": _static_ipaddress,
    "static_routes": _static_routes,
}

HANDLERS: dict[str, dict[str, Handler]] = {
    "root": ROOT_HANDLERS,
    "global_defs": GLOBAL_HANDLERS,
    "vrrp_instance": INSTANCE_HANDLERS,
    "authentication": AUTH_HANDLERS,
    "vrrp_sync_group": SYNC_GROUP_HANDLERS,
    "vrrp_script": SCRIPT_HANDLERS,
    "track_file": TRACK_FILE_HANDLERS,
    "virtual_server": VS_HANDLERS,
    "real_server": RS_HANDLERS,
    **CHECKER_HANDLERS,
}


def build(nodes: list[Node], diagnostics: list[Diagnostic]) -> tuple[Config, Builder]:
    """Build the model from the tree; the Builder keeps nodes for validation."""
    b = Builder(diagnostics)
    b.build_root(nodes)
    g_data = public(b.global_defs)
    if b.global_node is not None:
        g_data["location"] = loc(b.global_node)
    g = GlobalDefs(**g_data)
    member_of: dict[str, str] = {}
    for group in b.sync_groups:
        for member in group.group:
            member_of.setdefault(member, group.name)
    instances = []
    for _, kw in b.instances:
        kw.setdefault("sync_group", member_of.get(kw["name"]))
        instances.append(finish_instance(g, kw))
    config = Config(
        global_defs=g,
        vrrp_scripts=tuple(b.scripts),
        track_files=tuple(b.track_files),
        vrrp_instances=tuple(instances),
        vrrp_sync_groups=tuple(b.sync_groups),
        virtual_server_groups=tuple(b.vs_groups),
        virtual_servers=tuple(b.virtual_servers),
        static_ipaddresses=tuple(b.static_ips),
        static_routes=tuple(b.static_routes),
    )
    return config, b
