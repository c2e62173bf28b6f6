# Allocation of what must be unique or ordered among clusters: VRIDs (unique per family among
# instances sharing a broadcast domain, never a foreign router's, stable through the lock; see
# allocate.py for the rules), multicast groups (the default group, or unique per domain from a
# pool), and each member's priority, initial state and unicast peers.
"""VRIDs, multicast groups, priorities and peers of the planned clusters."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.allocate import (
    Request,
    allocate,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    InterfaceFacts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.geometry import (
    Geometry,
    domain,
    networks,
    source,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import (
    FAMILIES,
    Member,
    Problems,
    Settings,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.schema import ClusterSpec


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _label(spec: ClusterSpec, family: str) -> str:
    return f"cluster {spec.name} ({family}; hosts {', '.join(h.name for h in spec.hosts)})"


def _locked(lock: Mapping[str, Any], name: str, family: str, key: str) -> Any:
    entry = lock.get(name)
    if not isinstance(entry, Mapping):
        return None
    fam = entry.get(family)
    return fam.get(key) if isinstance(fam, Mapping) else None


AVOID_KEYS = frozenset({"vrid", "family", "interface", "host", "network"})
FOREIGN = "a foreign VRRP router (vipkeeper_avoid_vrids)"


def _avoid_entry(
    index: int, entry: Any, problems: Problems
) -> tuple[int, str, str | None, str | None, Any] | None:
    """One checked avoid_vrids entry: (vrid, family, interface, host, network)."""
    where = f"vipkeeper_avoid_vrids[{index}]"
    if not isinstance(entry, Mapping):
        problems.error(f"{where}: must be a mapping with vrid, family and interface or network")
        return None
    unknown = sorted(set(map(str, entry)) - AVOID_KEYS)
    if unknown:
        problems.error(f"{where}: unknown keys {', '.join(unknown)}")
        return None
    vrid: Any = entry.get("vrid")
    if not _is_int(vrid) or not 1 <= int(vrid) <= 255:
        problems.error(f"{where}: vrid must be an integer 1..255, not {vrid!r}")
        return None
    interface, host, network = entry.get("interface"), entry.get("host"), entry.get("network")
    if (interface is None) == (network is None) or (host is not None and interface is None):
        problems.error(f"{where}: give exactly one of interface (optionally with host) or network")
        return None
    net = None
    if network is not None:
        try:
            net = ipaddress.ip_network(str(network), strict=False)
        except ValueError:
            problems.error(f"{where}: network {network!r} is not a network")
            return None
    family = entry.get("family", None if net is None else f"ipv{net.version}")
    if family not in FAMILIES:
        problems.error(f"{where}: family must be ipv4 or ipv6, not {family!r}")
        return None
    iface = None if interface is None else str(interface)
    return int(vrid), str(family), iface, None if host is None else str(host), net


def avoided(
    entries: Sequence[Any],
    specs: Sequence[ClusterSpec],
    geometry: Geometry,
    hosts: Mapping[str, HostFacts],
    problems: Problems,
) -> dict[str, dict[str, dict[int, str]]]:
    """Per family, the domains' VRIDs that foreign routers use (Settings.avoid_vrids)."""
    out: dict[str, dict[str, dict[int, str]]] = {family: {} for family in FAMILIES}
    if isinstance(entries, (str, bytes)) or not isinstance(entries, Sequence):
        problems.error("vipkeeper_avoid_vrids must be a list")
        return out
    checked = [_avoid_entry(i, e, problems) for i, e in enumerate(entries)]
    for spec in specs:
        for family in FAMILIES:
            if (spec.name, family) not in geometry:
                continue
            ifaces = geometry[(spec.name, family)][1]
            for h in spec.hosts:
                dom = domain(hosts[h.name], ifaces[h.name], family)
                nets = networks(ifaces[h.name], family) or networks(ifaces[h.name], "ipv4")
                for item in checked:
                    if item is None or dom is None or item[1] != family:
                        continue
                    vrid, _family, interface, host, net = item
                    if net is not None:
                        hit = net in nets
                    else:
                        hit = interface == h.interface and host in (None, h.name)
                    if hit:
                        out[family].setdefault(f"{family}:{dom}", {})[vrid] = FOREIGN
    return out


def allocate_vrids(
    specs: Sequence[ClusterSpec],
    geometry: Geometry,
    lock: Mapping[str, Any],
    problems: Problems,
    reserved: Mapping[str, Mapping[str, Mapping[int, str]]],
) -> dict[tuple[str, str], int]:
    """The VRID of every cluster and family, never one `reserved` in its domains."""
    out: dict[tuple[str, str], int] = {}
    for family in FAMILIES:
        requests = []
        for spec in specs:
            if (spec.name, family) not in geometry:
                continue
            pinned = spec.options["vrid"]  # an integer, or None (schema.py)
            locked = _locked(lock, spec.name, family, "vrid")
            requests.append(
                Request(
                    key=spec.name,
                    domains=geometry[(spec.name, family)][0],
                    pinned=pinned,
                    locked=locked if _is_int(locked) else None,
                    label=_label(spec, family),
                )
            )
        result = allocate(
            requests, first=1, last=255, what="VRID", reserved=reserved.get(family, {})
        )
        problems.errors.extend(result.errors)
        problems.warnings.extend(result.warnings)
        out.update({(name, family): vrid for name, vrid in result.slots.items()})
    return out


def allocate_groups(
    *,
    specs: Sequence[ClusterSpec],
    geometry: Geometry,
    vrids: Mapping[tuple[str, str], int],
    settings: Settings,
    lock: Mapping[str, Any],
    problems: Problems,
) -> dict[tuple[str, str], str]:
    """The multicast group of every cluster and family that does not use the default group."""
    out: dict[tuple[str, str], str] = {}
    for family in FAMILIES:
        pool_text = settings.mcast_pool4 if family == "ipv4" else settings.mcast_pool6
        try:
            pool = ipaddress.ip_network(pool_text)
        except ValueError:
            problems.error(f"multicast pool {pool_text!r} is not a network")
            continue
        if pool.version != int(family[-1]) or not pool.is_multicast:
            problems.error(f"multicast pool {pool} is not an {family} multicast network")
            continue
        size = min(pool.num_addresses, 1 << 16)
        requests = []
        for spec in specs:
            key = (spec.name, family)
            if key not in geometry or key not in vrids or spec.options["unicast"]:
                continue
            pin_key = "mcast_group" if family == "ipv4" else "mcast_group6"
            pinned_text = spec.options[pin_key]
            pinned: int | None = None
            if pinned_text:
                try:
                    addr = ipaddress.ip_address(str(pinned_text))
                except ValueError:
                    problems.error(
                        f"cluster {spec.name}: {pin_key} {pinned_text!r} is not an address"
                    )
                    continue
                if addr.version != pool.version or not addr.is_multicast:
                    problems.error(
                        f"cluster {spec.name}: {pin_key} {addr} is not an {family} multicast group"
                    )
                    continue
                if addr not in pool:  # outside the pool: used as given, like the default group
                    out[key] = str(addr)
                    continue
                pinned = int(addr) - int(pool.network_address)
            elif not settings.mcast_unique:
                continue
            locked_text = _locked(lock, spec.name, family, "mcast_group")
            locked: int | None = None
            try:
                if locked_text and ipaddress.ip_address(str(locked_text)) in pool:
                    locked = int(ipaddress.ip_address(str(locked_text))) - int(pool.network_address)
            except ValueError:
                locked = None
            requests.append(
                Request(
                    key=spec.name,
                    domains=geometry[key][0],
                    pinned=pinned,
                    locked=locked,
                    preferred=vrids[key] % size,
                    label=_label(spec, family),
                )
            )
        result = allocate(requests, first=0, last=size - 1, what="multicast group")
        problems.errors.extend(result.errors)
        problems.warnings.extend(result.warnings)
        for name, slot in result.slots.items():
            out[(name, family)] = str(pool.network_address + slot)
    return out


def members(
    *,
    spec: ClusterSpec,
    family: str,
    ifaces: Mapping[str, InterfaceFacts],
    preempt: bool,
    delayed: bool,
    unicast: bool,
    settings: Settings,
    problems: Problems,
) -> tuple[Member, ...]:
    """Each host's priority and initial state (by host order unless pinned), source and peers."""
    where = f"cluster {spec.name}"
    sources: dict[str, str | None] = {}
    for h in spec.hosts:
        pinned = h.address if h.address and (":" in h.address) == (family == "ipv6") else None
        sources[h.name] = source(ifaces[h.name], family, pinned)
        if unicast and sources[h.name] is None:
            problems.error(
                f"{where}: missing facts: host {h.name} has no {family} address on"
                f" {h.interface} for unicast"
            )
    out = []
    for index, h in enumerate(spec.hosts):
        priority = h.priority
        if priority is None:
            priority = max(1, settings.priority_base - index * settings.priority_step)
        # keepalived ignores nopreempt and preempt_delay unless the initial state is BACKUP
        state = h.state or ("MASTER" if index == 0 and preempt and not delayed else "BACKUP")
        if not preempt and state == "MASTER":
            problems.error(f"{where}: host {h.name}: preempt: false needs state BACKUP")
        if delayed and state == "MASTER":
            problems.error(f"{where}: host {h.name}: preempt_delay needs state BACKUP")
        if priority == 255 and not preempt:
            problems.error(
                f"{where}: host {h.name}: priority 255 (address owner) with preempt: false"
            )
        peers = tuple(
            s for other, s in sources.items() if unicast and other != h.name and s is not None
        )
        out.append(Member(h.name, h.interface, priority, state, sources[h.name], peers))
    return tuple(out)
