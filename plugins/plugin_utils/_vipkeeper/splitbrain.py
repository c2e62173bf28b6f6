# The vipkeeper daemon's split-brain settings (docs/split-brain.md) from the inventory: the
# site-wide `vipkeeper_split_brain` and each cluster's `split_brain`. The runtime reads them from
# one top-level `vipkeeper { }` block, global to the daemon, so a host gets the merge of the
# site-wide value and the values of its clusters: a cluster's key replaces the site-wide one, and
# two clusters of one host that set one key differently are an error naming both. keepalived
# rejects the block (`keepalived -t` exits 5): a keepalived host gets it never, and a setting
# that reaches one is an error naming the host (docs/inventory.md).
"""Check and merge the split-brain settings into one host's `vipkeeper { }` block."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import (
    ClusterPlan,
    PlanError,
    Problems,
)

# The order of the rendered keywords, and the runtime's bounds
# (runtime/src/vipkeeper/config/builder/extensions.py).
KEYS = ("conflict_detection", "conflict_interval", "takeover_guard", "conflict_notify")
INTERVAL_MIN, INTERVAL_MAX = 1, 3600
GUARD_MIN, GUARD_MAX = 0.005, 1
SITE = "vipkeeper_split_brain"


def _number(value: Any) -> float | None:
    """A number (a numeric string too, as Ansible converts it); None for anything else."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
    else:
        return None
    return number if math.isfinite(number) else None


def _whole(number: float) -> int | float:
    return int(number) if number.is_integer() else number


def check_split_brain(given: Any, where: str, problems: Problems) -> dict[str, Any]:
    """The settings given, normalised (`off` for no guard; whole numbers stay whole); every bad
    key is an error naming `where` and is left out. Only the keys given are in the result."""
    if given is None:
        return {}
    if not isinstance(given, Mapping):
        problems.error(f"{where} must be a mapping, got {given!r}")
        return {}
    unknown = sorted(str(k) for k in given if k not in KEYS)
    if unknown:
        problems.error(f"{where}: unknown keys {', '.join(unknown)} (known: {', '.join(KEYS)})")
    out: dict[str, Any] = {}
    for key in KEYS:
        value = given.get(key)
        if value is None:
            continue
        normal = _NORMALISE[key](value)
        if normal is None:
            problems.error(f"{where}: {key} must be {_WANTED[key]}, got {value!r}")
        else:
            out[key] = normal
    return out


def _detection(value: Any) -> str | None:
    # YAML 1.1 reads a bare `off` as false and `on` as true.
    if value is True or (isinstance(value, str) and value.strip().lower() == "report"):
        return "report"
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return "off"
    return None


def _interval(value: Any) -> int | float | None:
    number = _number(value)
    if number is None or not INTERVAL_MIN <= number <= INTERVAL_MAX:
        return None
    return _whole(number)


def _guard(value: Any) -> str | float | None:
    if value is False or (isinstance(value, str) and value.strip().lower() == "off"):
        return "off"
    number = _number(value)
    if number == 0:
        return "off"
    if number is None or not GUARD_MIN <= number <= GUARD_MAX:
        return None
    return number


def _notify(value: Any) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    if any(c in value for c in "\n\r{}") or ('"' in value and "'" in value):
        return None
    return value.strip()


_NORMALISE = {
    "conflict_detection": _detection,
    "conflict_interval": _interval,
    "takeover_guard": _guard,
    "conflict_notify": _notify,
}
_WANTED = {
    "conflict_detection": "report or off",
    "conflict_interval": f"a number of seconds in {INTERVAL_MIN}..{INTERVAL_MAX}",
    "takeover_guard": f"off (or 0), or a number of seconds in {GUARD_MIN:g}..{GUARD_MAX:g}",
    "conflict_notify": "a command (one line, no braces, not both quote characters)",
}


def cluster_conflicts(
    clusters: Iterable[ClusterPlan], problems: Problems, hosts: Iterable[str] | None = None
) -> None:
    """An error for every host two of whose clusters set one key differently."""
    clusters = tuple(clusters)
    names = hosts if hosts is not None else sorted({h for c in clusters for h in c.hosts})
    for host in names:
        seen: dict[str, tuple[str, Any]] = {}
        for cluster in clusters:
            if host not in cluster.hosts:
                continue
            for key, value in cluster.split_brain:
                first = seen.setdefault(key, (cluster.name, value))
                if first[1] != value:
                    problems.error(
                        f"host {host}: clusters {first[0]} and {cluster.name} set split_brain"
                        f" {key} differently ({first[1]} and {value}); the vipkeeper block is"
                        f" one per daemon: give both the same value, or set it once in {SITE}"
                    )


def host_block(
    clusters: Iterable[ClusterPlan], host: str, daemon: str, site: Any
) -> dict[str, Any]:
    """The `vipkeeper { }` keywords of `host` (empty: no block); PlanError on bad settings."""
    problems = Problems()
    clusters = tuple(c for c in clusters if host in c.hosts)
    block = check_split_brain(site, f"{SITE} (host {host})", problems)
    sources = [SITE] if block else []
    cluster_conflicts(clusters, problems, [host])
    for cluster in clusters:
        if cluster.split_brain:
            sources.append(f"cluster {cluster.name}")
            block.update(cluster.split_brain)
    if daemon == "keepalived" and (block or sources):
        problems.error(
            f"host {host} runs keepalived (vipkeeper_daemon), which rejects the vipkeeper block"
            f" (keepalived -t exits 5), but split-brain settings reach it from"
            f" {', '.join(sources)}: set them only for vipkeeper hosts, or run vipkeeper on {host}"
        )
    if problems.errors:
        raise PlanError(problems.errors)
    return {key: block[key] for key in KEYS if key in block}
