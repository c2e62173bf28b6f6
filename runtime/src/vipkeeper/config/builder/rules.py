"""`static_rules` and `virtual_rules` entries: `ip rule` words, read as keepalived reads them.

keepalived's `alloc_rule` (vrrp_iprule.c) reads the words left to right. A rule it cannot use
is reported as a config error and skipped, and keepalived runs without it: such errors are
`defaulted` here, so `check` gives keepalived -t's verdict (exit 5) and `run` starts. A word
missing its value is keepalived's "missing a parameter" (exit 2). A rule with no preference
gets one (16384 downwards, per family, in config order) with the same error, as keepalived.

Names of tables, dsfields, realms and interface groups are looked up in the iproute2 files
(`/etc/iproute2/NAME` and `NAME.d/*.conf`), ipproto names in `/etc/protocols`.
"""

from __future__ import annotations

import ipaddress
import re
from pathlib import Path
from typing import Any

from vipkeeper.config.builder.core import Builder, loc
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import IpRule
from vipkeeper.config.parser import Node

__all__ = ["RTPROT_KEEPALIVED", "RULE_START_PRIORITY", "parse_rule"]

RULE_START_PRIORITY = 16384  # keepalived's first preference for a rule without one
RTPROT_KEEPALIVED = 18  # the protocol of a tracked rule
IPROUTE_DIRS = (Path("/etc/iproute2"), Path("/usr/share/iproute2"))
PROTOCOLS = Path("/etc/protocols")
U32 = 2**32 - 1
_ANY = frozenset({"default", "any", "all"})
_TABLES = {"default": 253, "main": 254, "local": 255}
_RTN_ACTIONS = {"prohibit": "prohibit", "unreachable": "unreachable", "blackhole": "blackhole"}
_RTN_OTHER = frozenset(
    {"local", "nat", "broadcast", "brd", "anycast", "multicast", "xresolve", "unicast", "throw"}
)
_RTN_NUMBERS = {6: "blackhole", 7: "unreachable", 8: "prohibit"}
Kwargs = dict[str, Any]
_PORTS = re.compile(r"^\s*\+?(\d+)(?:-\+?(\d+))?")


class _Skip(Exception):
    """The rule is not used (the message says why)."""


class _Missing(Exception):
    """A word is missing its value (keepalived's "missing a parameter")."""


def strtoul(text: str) -> int | None:
    """C's strtoul(text, &end, 0) when all of `text` is the number, else None."""
    m = re.fullmatch(r"\s*([+-]?)(0[xX][0-9a-fA-F]+|0[0-7]*|[1-9][0-9]*)", text)
    if m is None:
        return None
    digits = m.group(2)
    if digits[:2] in ("0x", "0X"):
        value = int(digits, 16)
    elif digits.startswith("0"):
        value = int(digits, 8)
    else:
        value = int(digits)
    if value > 2**64 - 1:
        return 2**64 - 1
    return (2**64 - value) % 2**64 if m.group(1) == "-" else value


def _names(file: str) -> dict[str, int]:
    """`ID NAME` lines of an iproute2 file and its `.d/*.conf` (the first directory found)."""
    out: dict[str, int] = {}
    for base in IPROUTE_DIRS:
        if not base.is_dir():
            continue
        drop_in = base / f"{file}.d"
        paths = [base / file]
        if drop_in.is_dir():
            paths += sorted(drop_in.glob("*.conf"))
        for path in paths:
            try:
                text = path.read_text(errors="replace")
            except OSError:
                continue
            for line in text.splitlines():
                words = line.split("#", 1)[0].split()
                if len(words) >= 2:
                    num = strtoul(words[0])
                    if num is not None:
                        out.setdefault(words[1], num)
        break
    return out


def _find(name: str, file: str, limit: int, defaults: dict[str, int] | None = None) -> int | None:
    """keepalived's find_entry: a number (truncated to 32 bits) up to `limit`, or a name."""
    num = strtoul(name)
    if num is not None:
        num &= U32
        return num if num <= limit else None
    if defaults and name in defaults:
        return defaults[name]
    return _names(file).get(name)


def _realms(text: str) -> int | None:
    """`[SRC/]DST` realms (names from rt_realms), as FRA_FLOW."""
    src, sep, dst = text.partition("/")
    if not sep:
        src, dst = "", text
    out = 0
    for shift, part in ((16, src), (0, dst)):
        if not part:
            continue
        num = _find(part, "rt_realms", 255)
        if num is None:
            return None
        out |= num << shift
    return out


def _ipproto(text: str) -> int | None:
    """A protocol number (0..127, as keepalived's inet_proto_a2n) or a name from /etc/protocols."""
    text = text.lstrip()
    if not text or text[0] == "-":
        return None
    m = re.match(r"\d+", text)
    if m:
        num = int(m.group())
        if num > 127:
            return None
        if m.end() == len(text):
            return num
    try:
        lines = PROTOCOLS.read_text(errors="replace").splitlines()
    except OSError:
        return None
    for line in lines:
        words = line.split("#", 1)[0].split()
        if len(words) >= 2 and text in (words[0], *words[2:]) and words[1].isdigit():
            return int(words[1])
    return None


def _ports(text: str) -> tuple[int, int] | None:
    """`START-END` as sscanf("%hu-%hu") reads it (a trailing remainder is ignored)."""
    m = _PORTS.match(text)
    if m is None or m.group(2) is None:
        return None
    return int(m.group(1)) & 0xFFFF, int(m.group(2)) & 0xFFFF


def _address(
    b: Builder, node: Node, text: str
) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface | int | None:
    """A from/to address: 0 for all/any/default, else the address (keepalived's parse_route)."""
    if text in _ANY:
        return 0
    addr, sep, plen = text.partition("/")
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return None
    full = 32 if ip.version == 4 else 128
    length = full
    if sep and plen:
        num = strtoul(plen)
        if num is None or num > full or plen.lstrip().startswith("-"):
            b.report(
                node,
                Code.DEFAULTED,
                f"Invalid address prefix len {plen} for address {text} - using {full}",
            )
        else:
            length = num
    return ipaddress.ip_interface(f"{ip}/{length}")


def parse_rule(b: Builder, node: Node, *, static: bool) -> IpRule | None:
    """One rule line; None (after reporting why) when keepalived skips it."""
    try:
        return _parse(b, node, static=static)
    except _Skip as exc:
        b.report(node, Code.DEFAULTED, str(exc))
    except _Missing as exc:
        b.report(node, Code.MISSING_PARAMETER, str(exc))
    return None


def _parse(b: Builder, node: Node, *, static: bool) -> IpRule | None:
    words = node.words
    kw: Kwargs = {"location": loc(node)}
    family = 0
    action: str | None = None
    table_option = False
    i = 0

    def value() -> str:
        nonlocal i
        i += 1
        if i >= len(words):
            raise _Missing(
                f"Configuration line starting `{words[0]}` is missing a parameter after "
                f"keyword `{words[i - 1]}` at word position {i + 1}"
            )
        return words[i]

    def set_family(got: int, what: str) -> None:
        nonlocal family
        if family == 0:
            family = got
        elif got != family:
            raise _Skip(what)

    def set_action(new: str, many: str = "") -> None:
        nonlocal action
        if action is not None:
            raise _Skip(
                "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable"
                f"{many} for rule"
            )
        action = new

    while i < len(words):
        word = words[i]
        if word in ("inet", "inet6"):
            want = 4 if word == "inet" else 6
            if family not in (0, want):
                raise _Skip(f"{word} specified for IPv{10 - want} rule")
            family = want
            i += 1  # keepalived 2.2.7 steps twice here: the next word is not read
        elif word in ("from", "to"):
            text = value()
            addr = _address(b, node, text)
            if addr is None:
                raise _Skip(f"Invalid rule {word} address {text}")
            key = "source" if word == "from" else "destination"
            if isinstance(addr, int):
                kw.pop(key, None)
            else:
                set_family(addr.version, "rule specification has mixed IPv4 and IPv6")
                kw[key] = addr
        elif word in ("table", "lookup"):
            text = value()
            table = _find(text, "rt_tables", U32, _TABLES)
            if table is None:
                raise _Skip(f"Routing table {text} not found for rule")
            if table == 0:
                raise _Skip("Table 0 is not valid")
            kw["table"] = table
            set_action("table")
        elif word == "not":
            kw["invert"] = True
        elif word in ("preference", "order", "priority"):
            num = strtoul(value())
            if num is None or num > U32 or words[i].lstrip().startswith("-"):
                raise _Skip(f"Invalid rule preference {word} specified")
            kw["priority"] = num
        elif word in ("tos", "dsfield"):
            text = value()
            tos = _find(text, "rt_dsfield", 255)
            if tos is None:
                raise _Skip(f"TOS value {text} is invalid")
            kw["tos"] = tos
        elif word == "fwmark":
            text = value()
            mark, sep, mask = text.strip().partition("/")
            fw = strtoul(mark) if not mark.startswith("-") else None
            fm = 0
            if sep and mask:
                fm = strtoul(mask) if mask[0] not in "- \t" else None  # type: ignore[assignment]
            if fw is None or fw > U32 or fm is None or fm > U32:
                raise _Skip(f"Invalid rule fwmark {text} specified")
            kw["fwmark"] = fw
            if sep:
                kw["fwmask"] = fm
        elif word == "realms":
            text = value()
            realms = _realms(text)
            if realms is None:
                raise _Skip(f"invalid realms {text} for rule")
            kw["realms"] = realms
            table_option = True
            set_family(4, "realms is only valid for IPv4")
        elif word in ("suppress_prefixlength", "sup_pl"):
            num = strtoul(value())
            if num is None or num > 2**31 - 1 or words[i].lstrip().startswith("-"):
                raise _Skip(f"Invalid suppress_prefixlength {word} specified")
            kw["suppress_prefixlength"] = num
            table_option = True
        elif word in ("suppress_ifgroup", "sup_group"):
            text = value()
            group = _find(text, "group", 2**31 - 1)
            if group is None:
                raise _Skip(f"suppress_group {text} is invalid")
            kw["suppress_ifgroup"] = group
            table_option = True
        elif word in ("dev", "iif", "oif"):
            kw["oif" if word == "oif" else "iif"] = value()
        elif word == "tunnel-id":
            num = strtoul(value())
            if num is None or words[i].lstrip().startswith("-"):
                raise _Skip(f"Invalid tunnel-id {word} specified")
            kw["tunnel_id"] = num
        elif word == "uidrange":
            m = re.match(r"\s*\+?(\d+)-\+?(\d+)", value())
            if m is None:
                raise _Skip(f"Invalid uidrange {word} specified")
            kw["uid_range"] = (int(m.group(1)) & U32, int(m.group(2)) & U32)
        elif word == "l3mdev":
            kw["l3mdev"] = True
            set_action("table", "/l3mdev")
        elif word == "protocol":
            text = value()
            num = strtoul(text) if re.fullmatch(r"\s*\+?\d+", text) else None
            if num is None or num > 255:
                b.report(node, Code.DEFAULTED, f"Invalid protocol {text}")
            else:
                kw["protocol"] = num
        elif word == "ipproto":
            text = value()
            proto = _ipproto(text)
            if proto is None:
                b.report(node, Code.DEFAULTED, f"Invalid ipproto {text}")
            else:
                kw["ipproto"] = proto
        elif word in ("sport", "dport"):
            text = value()
            ports = _ports(text)
            if ports is None:
                b.report(node, Code.DEFAULTED, f"invalid {word} range {text}")
            else:
                kw[word] = ports
        elif word == "no_track":
            kw["no_track"] = True
        elif static and word == "track_group":
            name = value()
            if "track_group" in kw:
                b.report(node, Code.DEFAULTED, f"track_group {name} is a duplicate")
                break
            if name in b.track_groups:
                kw["track_group"] = name
            else:
                b.report(node, Code.DEFAULTED, f"track_group {name} not found")
        else:
            if word == "type":
                word = value()
            if word == "goto":
                num = strtoul(value())
                if num is None or num > U32 or words[i].lstrip().startswith("-"):
                    raise _Skip(f"Invalid target {word} specified")
                kw["goto"] = num
                set_action("goto", "/l3mdev")
            elif word == "nop":
                set_action("nop", "/l3mdev")
            elif word in _RTN_ACTIONS:
                set_action(_RTN_ACTIONS[word], "/l3mdev")
            elif word in _RTN_OTHER:
                raise _Skip(f"Invalid rule action {word}")
            else:
                num = strtoul(word) if not word.startswith("-") else None
                if num is None or num > 255:
                    raise _Skip(f"Unknown rule option {word}")
                if num not in _RTN_NUMBERS:
                    raise _Skip(f"Invalid rule action {word}")
                set_action(_RTN_NUMBERS[num], "/l3mdev")
        i += 1

    if action == "goto":
        if "priority" not in kw:
            raise _Skip(f"Invalid rule - goto target {kw['goto']} specified without preference")
        if kw["priority"] >= kw["goto"]:
            raise _Skip(f"Invalid rule - preference {kw['priority']} >= goto target {kw['goto']}")
    if action is None:
        raise _Skip("No action specified for rule - ignoring")
    if action != "table" and table_option:
        raise _Skip("suppressor/realm specified for non table action - skipping")
    if kw.get("l3mdev") and kw.get("table"):
        raise _Skip("table cannot be specified for l3mdev rules")
    if not kw.get("no_track"):
        if kw.get("protocol", RTPROT_KEEPALIVED) != RTPROT_KEEPALIVED:
            b.report(
                node,
                Code.DEFAULTED,
                "Rule cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), "
                "resetting protocol",
            )
        kw["protocol"] = RTPROT_KEEPALIVED
    if kw.get("track_group") and "iif" not in kw:
        b.report(
            node, Code.DEFAULTED, "Static rule cannot have track_group if dev/iif not specified"
        )
        kw.pop("track_group")
    family = family or 4
    if "priority" not in kw:
        kw["priority"] = b.rule_priority[family]
        b.rule_priority[family] -= 1
        b.report(
            node,
            Code.DEFAULTED,
            f"Rule has no preference specified - setting to {kw['priority']}. "
            "This is probably not what you want.",
        )
    return IpRule(family=family, action=action, **kw)
