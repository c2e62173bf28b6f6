"""Host facts the planner needs, extracted from Ansible's interface facts."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

IPv4If = ipaddress.IPv4Interface
IPv6If = ipaddress.IPv6Interface


@dataclass(frozen=True)
class InterfaceFacts:
    """The addresses of one interface: primary IPv4 first, global IPv6 only."""

    name: str
    ipv4: tuple[IPv4If, ...] = ()
    ipv6: tuple[IPv6If, ...] = ()


@dataclass(frozen=True)
class HostFacts:
    """What the planner knows about one inventory host."""

    name: str
    interfaces: Mapping[str, InterfaceFacts] | None  # None: facts were not gathered
    segment: str = ""  # optional hostvar `vipkeeper_segment`: qualifies the network's name

    def interface(self, name: str) -> InterfaceFacts | None:
        """The facts of one interface, or None when unknown."""
        if self.interfaces is None:
            return None
        return self.interfaces.get(name)


def _fact_key(name: str) -> str:
    return name.replace("-", "_").replace(".", "_").replace(":", "_")


def _ipv4(entry: Any) -> IPv4If | None:
    if not isinstance(entry, Mapping) or not entry.get("address"):
        return None
    mask = entry.get("prefix") or entry.get("netmask") or "32"
    try:
        return ipaddress.IPv4Interface(f"{entry['address']}/{mask}")
    except ValueError:
        return None


def _ipv6(entry: Any) -> IPv6If | None:
    if not isinstance(entry, Mapping) or not entry.get("address"):
        return None
    if str(entry.get("scope", "global")) not in ("global", "site"):
        return None
    try:
        return ipaddress.IPv6Interface(f"{entry['address']}/{entry.get('prefix', 128)}")
    except ValueError:
        return None


def interface_facts(name: str, fact: Mapping[str, Any]) -> InterfaceFacts:
    """Build InterfaceFacts from one `ansible_facts[<iface>]` dictionary."""
    v4: list[IPv4If] = []
    primary = _ipv4(fact.get("ipv4"))
    if primary is not None:
        v4.append(primary)
    for entry in fact.get("ipv4_secondaries") or ():
        extra = _ipv4(entry)
        if extra is not None:
            v4.append(extra)
    v6 = [a for a in (_ipv6(e) for e in fact.get("ipv6") or ()) if a is not None]
    return InterfaceFacts(name, tuple(v4), tuple(v6))


def host_facts(name: str, hostvars: Mapping[str, Any] | None, wanted: set[str]) -> HostFacts:
    """Extract the facts of the `wanted` interfaces from one host's hostvars."""
    if hostvars is None:
        return HostFacts(name, None)
    segment = str(hostvars.get("vipkeeper_segment") or "")
    facts = hostvars.get("ansible_facts")
    if not isinstance(facts, Mapping) or not facts.get("interfaces"):
        return HostFacts(name, None, segment)
    found: dict[str, InterfaceFacts] = {}
    for iface in wanted:
        fact = facts.get(iface)
        if not isinstance(fact, Mapping):
            fact = facts.get(_fact_key(iface))
        if isinstance(fact, Mapping):
            found[iface] = interface_facts(iface, fact)
    return HostFacts(name, found, segment)
