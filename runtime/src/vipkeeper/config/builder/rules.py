"""The checks keepalived -t makes on `static_rules` and `virtual_rules` lines.

vipkeeper does not apply IP rules (the keywords are unsupported: a warning), but an invalid
rule is still a config error for keepalived -t (vrrp_iprule.c, alloc_rule): an address after
`from` or `to` that does not parse ("Invalid rule from address X"), IPv4 mixed with IPv6, a
rule with no action, and a rule with no preference (keepalived picks one and says so; -t
exits 5). These are reported alike, so `check` gives keepalived's verdict; keepalived
skips such a rule and runs, so they are `defaulted` errors that do not stop `run`.
"""

from __future__ import annotations

import ipaddress

from vipkeeper.config.builder.core import Builder
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.parser import Node

_ANY = frozenset({"default", "any", "all"})
_PREFERENCE = frozenset({"preference", "order", "priority"})
_ACTIONS = frozenset(
    {"table", "lookup", "goto", "nop", "type", "blackhole", "prohibit", "unreachable"}
)


def _family(text: str) -> int | None:
    """The family of a rule address (0 for default/any/all), None when it does not parse."""
    if text in _ANY:
        return 0
    try:
        return ipaddress.ip_interface(text).version
    except ValueError:
        return None


def check_rule(b: Builder, node: Node) -> None:
    """One rule line: report what keepalived -t reports about it."""
    words = node.words
    family = 0
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("from", "to") and i + 1 < len(words):
            text = words[i + 1]
            got = _family(text)
            if got is None:
                b.report(
                    node, Code.DEFAULTED, f"Invalid rule {word} address {text}; the rule is skipped"
                )
                return
            if got and family and got != family:
                b.report(
                    node, Code.DEFAULTED, "rule specification has mixed IPv4 and IPv6; skipped"
                )
                return
            family = family or got
            i += 2
            continue
        i += 1
    if not _ACTIONS & set(words):
        b.report(node, Code.DEFAULTED, "No action specified for rule - ignoring")
        return
    if not _PREFERENCE & set(words):
        msg = "Rule has no preference specified; keepalived picks one (probably not what you want)"
        b.report(node, Code.DEFAULTED, msg)


def check_rules(b: Builder, node: Node) -> None:
    """Every line of a `static_rules` or `virtual_rules` block."""
    for child in node.children or []:
        check_rule(b, child)
