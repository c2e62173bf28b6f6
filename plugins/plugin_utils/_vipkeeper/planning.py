# Controller-side planning of every VRRP cluster at once.
#
# The inventory lists clusters (docs/inventory.md; the reference is the vrrp role's argument
# spec, checked in schema.py); the planner derives, for each cluster and address family, one
# VRRP instance:
#   - VRID unique among instances of the same family whose hosts share a broadcast domain
#     (geometry.py: the interface's network, optionally qualified by the hostvar
#     `vipkeeper_segment`); stable through the lock (allocate.py); never a VRID a foreign router
#     uses in that domain (Settings.avoid_vrids, e.g. from vrrp_scan): a pin on one is an error;
#   - the multicast group (default group, or unique per domain from a pool), or unicast peers;
#   - priorities and initial state from host order, or pinned per host (assign.py);
#   - a v2 PASS secret (8 chars) derived by HMAC-SHA256 from the cluster's vaulted secret;
#   - version 2 for IPv4 (configurable), always 3 for IPv6.
# Every problem is collected and raised at once, naming the clusters and hosts involved.
# The plan itself (the dataclasses) is in model.py; this module re-exports it.
"""Compute the VRRP plan of all clusters from the inventory and host facts."""

from __future__ import annotations

import base64
import hmac
from collections.abc import Iterable, Mapping

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.assign import (
    allocate_groups,
    allocate_vrids,
    avoided,
    members,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    InterfaceFacts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.geometry import (
    Geometry,
    of_cluster,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import (
    DEFAULT_GROUP,
    FAMILIES,
    ClusterPlan,
    Instance,
    Member,
    Plan,
    PlanError,
    Problems,
    Script,
    Settings,
    plan_from_dict,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.splitbrain import (
    check_split_brain,
    cluster_conflicts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.schema import (
    NAME_RE,
    ClusterSpec,
    check_cluster,
    parse_vip,
)

__all__ = [
    "AUTH_PASS_LEN",
    "DEFAULT_GROUP",
    "FAMILIES",
    "NAME_RE",
    "ClusterPlan",
    "Instance",
    "Member",
    "Plan",
    "PlanError",
    "Script",
    "Settings",
    "derive_auth_pass",
    "plan",
    "plan_from_dict",
]

AUTH_PASS_LEN = 8  # VRRPv2 simple password: at most 8 octets (RFC 2338 5.3.10)


def derive_auth_pass(secret: str, cluster: str) -> str:
    """The VRRPv2 PASS for a cluster: HMAC-SHA256(secret, cluster), 8 base64url chars."""
    mac = hmac.new(secret.encode("utf-8"), b"vipkeeper-vrrp-auth-v1\0" + cluster.encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii")[:AUTH_PASS_LEN]


def plan(
    clusters: Iterable[object],
    hosts: Mapping[str, HostFacts],
    settings: Settings | None = None,
    lock: Mapping[str, object] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Plan:
    """Plan every cluster; raise PlanError naming every problem found."""
    settings = settings or Settings()
    lock = lock or {}
    secrets = secrets or {}
    problems = Problems()
    if settings.single_host not in ("warn", "error", "allow"):
        problems.error(f"single_host must be warn, error or allow, not {settings.single_host!r}")
    specs: list[ClusterSpec] = []
    names: set[str] = set()
    for index, raw in enumerate(clusters):
        spec = check_cluster(raw, index, hosts, problems)
        if spec is None:
            continue
        if spec.name in names:
            problems.error(f"cluster {spec.name} is defined twice")
            continue
        names.add(spec.name)
        specs.append(spec)
    geometry: dict[tuple[str, str], tuple[frozenset[str], dict[str, InterfaceFacts]]] = {}
    for spec in specs:
        _check_single(spec, settings, problems)
        geometry.update(of_cluster(spec, hosts, problems))
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)

    reserved = avoided(settings.avoid_vrids, specs, geometry, hosts, problems)
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)
    vrids = allocate_vrids(specs, geometry, lock, problems, reserved)
    groups = allocate_groups(
        specs=specs,
        geometry=geometry,
        vrids=vrids,
        settings=settings,
        lock=lock,
        problems=problems,
    )
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)

    planned = [
        _plan_cluster(
            spec=spec,
            geometry=geometry,
            vrids=vrids,
            groups=groups,
            settings=settings,
            secrets=secrets,
            problems=problems,
        )
        for spec in specs
    ]
    cluster_conflicts(planned, problems)
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)
    return Plan(tuple(planned), tuple(problems.warnings))


def _check_single(spec: ClusterSpec, settings: Settings, problems: Problems) -> None:
    if len(spec.hosts) > 1 or spec.options["allow_single_host"] is True:
        return
    text = (
        f"cluster {spec.name} has one host ({spec.hosts[0].name}): no failover is possible"
        " (set allow_single_host: true on the cluster if intended)"
    )
    if settings.single_host == "error":
        problems.error(text)
    elif settings.single_host == "warn":
        problems.warnings.append(text)


def _plan_cluster(
    *,
    spec: ClusterSpec,
    geometry: Geometry,
    vrids: Mapping[tuple[str, str], int],
    groups: Mapping[tuple[str, str], str],
    settings: Settings,
    secrets: Mapping[str, str],
    problems: Problems,
) -> ClusterPlan:
    """The instances of one cluster, with the cross-field rules a spec cannot express."""
    opts = spec.options
    where = f"cluster {spec.name}"
    preempt = opts["preempt"]
    unicast = opts["unicast"]
    preempt_delay = opts["preempt_delay"]
    if preempt_delay is not None and not preempt:
        problems.error(f"{where}: preempt_delay needs preempt: true")
    advert = settings.advert_int if opts["advert_int"] is None else opts["advert_int"]
    version4 = settings.version4 if opts["version"] is None else opts["version"]
    if version4 not in (2, 3):
        problems.error(f"{where}: version must be 2 or 3")
        version4 = 2
    secret = opts["secret"] or secrets.get(spec.name) or settings.secret
    pinned_pass = opts["auth_pass"] or None
    if pinned_pass is not None and len(pinned_pass.encode()) > AUTH_PASS_LEN:
        problems.error(f"{where}: auth_pass is longer than {AUTH_PASS_LEN} bytes")
    vip_options = _vip_options(spec, where, problems)
    for h in spec.hosts:
        if any(tracked[0] == h.interface for tracked in spec.track_interfaces):
            problems.error(
                f"{where}: track_interfaces names {h.interface}, the VRRP interface of host"
                f" {h.name}, which is always tracked (keepalived -t rejects it)"
            )
    families = sorted(spec.vips)
    instances: list[Instance] = []
    for family in families:
        key = (spec.name, family)
        domains, ifaces = geometry[key]
        version = version4 if family == "ipv4" else 3
        if family == "ipv6" and opts["version"] == 2:
            problems.error(f"{where}: VRRPv2 cannot carry IPv6 VIPs; drop version: 2")
        if version == 2 and advert != int(advert):
            problems.error(f"{where}: VRRPv2 advert_int must be whole seconds, got {advert}")
        name = spec.name if len(families) == 1 or family == "ipv4" else f"{spec.name}_v6"
        instances.append(
            Instance(
                name=name,
                cluster=spec.name,
                family=family,
                vrid=vrids[key],
                version=version,
                advert_int=advert,
                preempt=preempt,
                preempt_delay=int(preempt_delay) if preempt_delay is not None else None,
                unicast=unicast,
                mcast_group=groups.get(key),
                auth_pass=_auth_pass(pinned_pass, secret, spec.name) if version == 2 else None,
                vips=tuple(str(v) for v in spec.vips[family]),
                vip_options=tuple(vip_options.get(str(v), "") for v in spec.vips[family]),
                domains=tuple(sorted(domains)),
                members=members(
                    spec=spec,
                    family=family,
                    ifaces=ifaces,
                    preempt=preempt,
                    delayed=preempt_delay is not None,
                    unicast=unicast,
                    settings=settings,
                    problems=problems,
                ),
                track_scripts=tuple(s.name for s in spec.scripts),
                track_interfaces=spec.track_interfaces,
                notify=spec.notify,
                options=tuple(opts["instance_options"].items()),
            )
        )
    split_brain = check_split_brain(opts["split_brain"], f"{where}: split_brain", problems)
    return ClusterPlan(
        spec.name,
        tuple(h.name for h in spec.hosts),
        tuple(instances),
        spec.scripts,
        spec.virtual_servers,
        tuple(split_brain.items()),
    )


def _auth_pass(pinned: str | None, secret: str, cluster: str) -> str | None:
    """The pinned VRRPv2 password, else the one derived from the secret, else none."""
    if pinned is not None:
        return pinned
    return derive_auth_pass(secret, cluster) if secret else None


def _vip_options(spec: ClusterSpec, where: str, problems: Problems) -> dict[str, str]:
    """The cluster's vip_options, keyed by the VIP's normalised address/prefix."""
    out: dict[str, str] = {}
    for key, value in spec.options["vip_options"].items():
        try:
            vip = str(parse_vip(key))
        except ValueError:
            problems.error(f"{where}: vip_options key {key!r} is not an IP address")
            continue
        if not any(str(v) == vip for fam in spec.vips.values() for v in fam):
            problems.error(f"{where}: vip_options names {key}, which is not one of its vips")
            continue
        if not isinstance(value, str) or "{" in value or "}" in value or "\n" in value:
            problems.error(f"{where}: vip_options {key} must be a line of options, got {value!r}")
            continue
        out[vip] = " ".join(value.split())
    return out
