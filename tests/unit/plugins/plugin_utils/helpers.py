"""Builders for planner inputs: Ansible-shaped interface facts and host maps."""

from __future__ import annotations

from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    host_facts,
)


def iface_fact(v4: str | None = None, v6: str | None = None) -> dict[str, Any]:
    """One `ansible_facts[<iface>]` entry; addresses as CIDR strings."""
    fact: dict[str, Any] = {"active": True, "ipv6": []}
    if v4:
        address, prefix = v4.split("/")
        fact["ipv4"] = {"address": address, "prefix": prefix}
    if v6:
        address, prefix = v6.split("/")
        fact["ipv6"] = [
            {"address": "fe80::1", "prefix": "64", "scope": "link"},
            {"address": address, "prefix": prefix, "scope": "global"},
        ]
    return fact


def hostvars(
    name: str, ifaces: dict[str, tuple[str | None, str | None]], **extra: Any
) -> dict[str, Any]:
    """A host's hostvars with gathered facts for the given interfaces."""
    facts: dict[str, Any] = {"interfaces": [*ifaces, "lo"]}
    for iface, (v4, v6) in ifaces.items():
        facts[iface.replace("-", "_").replace(".", "_")] = iface_fact(v4, v6)
    return {"inventory_hostname": name, "ansible_facts": facts, **extra}


def hosts(
    spec: dict[str, str | tuple[str | None, str | None]], iface: str = "eth0"
) -> dict[str, HostFacts]:
    """HostFacts for `{host: v4 or (v4, v6)}` on one interface name."""
    out = {}
    for name, addrs in spec.items():
        v4, v6 = (addrs, None) if isinstance(addrs, str) else addrs
        out[name] = host_facts(name, hostvars(name, {iface: (v4, v6)}), {iface})
    return out
