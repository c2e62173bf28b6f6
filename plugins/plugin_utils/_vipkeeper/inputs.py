"""Turn Ansible variables (plain mappings) into planner inputs."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    host_facts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    Settings,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.schema import as_list

SETTING_KEYS = frozenset(Settings.__dataclass_fields__)


def settings_from(data: Mapping[str, Any] | None) -> Settings:
    """Settings from a mapping of the same names; unknown names are an error."""
    data = dict(data or {})
    unknown = sorted(set(data) - SETTING_KEYS)
    if unknown:
        raise PlanError([f"unknown planning settings: {', '.join(unknown)}"])
    return Settings(**{k: v for k, v in data.items() if v is not None})


def wanted_interfaces(clusters: Iterable[Any]) -> dict[str, set[str]]:
    """For every host named by a cluster, the interfaces whose facts are needed."""
    wanted: dict[str, set[str]] = {}
    for cluster in clusters:
        if not isinstance(cluster, Mapping):
            continue
        for entry in as_list(cluster.get("hosts")) or ():  # as the planner reads it (schema.py)
            name = entry if isinstance(entry, str) else (entry or {}).get("name")
            if not isinstance(name, str):
                continue
            iface = cluster.get("interface")
            if isinstance(entry, Mapping) and entry.get("interface"):
                iface = entry["interface"]
            names = wanted.setdefault(name, set())
            if isinstance(iface, str):
                names.add(iface)
    return wanted


def collect_facts(clusters: Iterable[Any], hostvars: Mapping[str, Any]) -> dict[str, HostFacts]:
    """HostFacts for every known host a cluster names (unknown hosts are left out)."""
    clusters = list(clusters)
    out: dict[str, HostFacts] = {}
    for name, ifaces in wanted_interfaces(clusters).items():
        if name not in hostvars:
            continue
        out[name] = host_facts(name, hostvars[name], ifaces)
    return out
