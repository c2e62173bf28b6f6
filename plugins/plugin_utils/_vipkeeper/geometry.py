# The broadcast domains of each cluster and family, from the host facts: a host's domain is
# the network of its VRRP interface (the first global IPv6 network for IPv6, else the IPv4
# network), qualified by the hostvar `vipkeeper_segment` when set. Also the VIP-inside-the-
# network check and the unicast source address.
"""Interfaces, networks and broadcast domains of the clusters' hosts."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    InterfaceFacts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import Problems
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.schema import ClusterSpec

Geometry = Mapping[tuple[str, str], tuple[frozenset[str], Mapping[str, InterfaceFacts]]]
"""(cluster, family) -> (its domains, each host's VRRP interface)."""


def networks(iface: InterfaceFacts, family: str) -> Sequence[Any]:
    """The networks of an interface's addresses of one family."""
    return [a.network for a in (iface.ipv4 if family == "ipv4" else iface.ipv6)]


def domain(host: HostFacts, iface: InterfaceFacts, family: str) -> str | None:
    """A host's broadcast domain for a family, or None when its interface has no address."""
    nets = networks(iface, family) or networks(iface, "ipv4")
    if not nets:
        return None
    prefix = f"{host.segment}/" if host.segment else ""
    return f"{prefix}{nets[0]}"


def facts_ok(
    spec: ClusterSpec, hosts: Mapping[str, HostFacts], problems: Problems
) -> dict[str, InterfaceFacts] | None:
    """Each host's VRRP interface facts; None (with errors) when any is missing."""
    ifaces: dict[str, InterfaceFacts] = {}
    for h in spec.hosts:
        facts = hosts[h.name]
        if facts.interfaces is None:
            problems.error(
                f"cluster {spec.name}: missing facts for host {h.name} (gather facts first)"
            )
            continue
        iface = facts.interface(h.interface)
        if iface is None:
            problems.error(
                f"cluster {spec.name}: missing facts: host {h.name} has no interface {h.interface}"
            )
            continue
        ifaces[h.name] = iface
    return ifaces if len(ifaces) == len(spec.hosts) else None


def check_vips(
    spec: ClusterSpec, family: str, ifaces: Mapping[str, InterfaceFacts], problems: Problems
) -> None:
    """Every VIP of the family must be inside the network of every host's interface."""
    if spec.options["check_vip_network"] is False:
        return
    for h in spec.hosts:
        nets = networks(ifaces[h.name], family)
        if not nets:
            problems.error(
                f"cluster {spec.name}: missing facts: host {h.name} has no {family} address"
                f" on {h.interface}"
            )
            continue
        for vip in spec.vips[family]:
            if not any(vip.ip in net for net in nets):
                shown = ", ".join(str(n) for n in nets)
                problems.error(
                    f"cluster {spec.name}: VIP {vip} is outside the network of"
                    f" {h.interface} on host {h.name} ({shown})"
                )


def source(iface: InterfaceFacts, family: str, pinned: str | None) -> str | None:
    """A member's unicast source: the pinned address, else the interface's first."""
    if pinned:
        return pinned
    addrs = iface.ipv4 if family == "ipv4" else iface.ipv6
    return str(addrs[0].ip) if addrs else None


def of_cluster(
    spec: ClusterSpec, hosts: Mapping[str, HostFacts], problems: Problems
) -> dict[tuple[str, str], tuple[frozenset[str], dict[str, InterfaceFacts]]]:
    """The domains and interfaces of each family of a cluster; empty when facts are missing."""
    out: dict[tuple[str, str], tuple[frozenset[str], dict[str, InterfaceFacts]]] = {}
    ifaces = facts_ok(spec, hosts, problems)
    if ifaces is None:
        return out
    for family in sorted(spec.vips):
        check_vips(spec, family, ifaces, problems)
        domains = set()
        for h in spec.hosts:
            dom = domain(hosts[h.name], ifaces[h.name], family)
            if dom is not None:
                domains.add(f"{family}:{dom}")
        if len(domains) > 1 and not spec.options["unicast"]:
            problems.error(
                f"cluster {spec.name}: hosts {', '.join(h.name for h in spec.hosts)} span"
                f" several networks ({', '.join(sorted(domains))}); multicast VRRP needs one"
                " broadcast domain: set unicast: true"
            )
        out[(spec.name, family)] = (frozenset(domains), ifaces)
    return out
