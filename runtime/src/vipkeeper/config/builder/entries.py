"""Parsers of the entries of list blocks: addresses, routes, peers, tracked names, VSG members.

Each takes one entry line (`node.words`) and returns its model item, or None after reporting
why the entry is skipped. The words follow `ip address` and `ip route` as keepalived reads
them; options keepalived passes to the kernel without checking are kept verbatim.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Any

from vipkeeper.config.builder.core import Builder, loc
from vipkeeper.config.model import (
    TrackFileRef,
    TrackInterface,
    TrackScriptRef,
    UnicastPeer,
    VirtualIP,
    VirtualRoute,
    VsgEntry,
)
from vipkeeper.config.parser import Node
from vipkeeper.config.values import (
    ValueError_,
    parse_int,
    parse_interface,
    parse_ip,
    parse_port,
)

Kwargs = dict[str, Any]  # an entry's model arguments, gathered word by word

ROUTE_FLAGS = frozenset({"no_track", "onlink", "pervasive"})
VIP_SCOPES = frozenset({"site", "link", "host", "nowhere", "global"})
ROUTE_TYPES = frozenset(
    {"unicast", "blackhole", "unreachable", "prohibit", "throw", "local"}
    | {"broadcast", "multicast", "nat", "anycast"}
)


def parse_vip(b: Builder, node: Node) -> VirtualIP | None:
    """`ADDR[/LEN] [brd IP] [dev IF] [scope S] [label L] [peer IP] [home] [-nodad] ...`."""
    words = node.words
    if "-" in words[0].split("/")[0]:
        # keepalived 2.2.7's parse_ipaddress: "VRRP parsed invalid IP ... skipping IP"
        b.bad(node, f"'{words[0]}' is an address range; virtual_ipaddress takes one address a line")
        return None
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
