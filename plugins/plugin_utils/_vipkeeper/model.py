# The plan model: what the planner derives for every cluster, as frozen dataclasses, and its
# JSON-friendly form (Plan.to_dict / plan_from_dict) that the vrrp_plan filter returns and the
# render action reads back.
"""The plan of every cluster: instances, members, scripts, warnings and the lock."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

FAMILIES = ("ipv4", "ipv6")
DEFAULT_GROUP = {"ipv4": "224.0.0.18", "ipv6": "ff02::12"}


class PlanError(Exception):
    """The inventory cannot be planned; `errors` lists every problem found."""

    def __init__(self, errors: Sequence[str], warnings: Sequence[str] = ()) -> None:
        self.errors = tuple(errors)
        self.warnings = tuple(warnings)
        super().__init__("; ".join(self.errors))


@dataclass(frozen=True)
class Settings:
    """Site-wide planning options (the `vipkeeper_*` inventory variables)."""

    mcast_unique: bool = False
    mcast_pool4: str = "239.255.213.0/24"
    mcast_pool6: str = "ff02::5650:0/120"
    priority_base: int = 150
    priority_step: int = 10
    single_host: str = "warn"  # warn | error | allow
    advert_int: float = 1
    version4: int = 2
    secret: str = ""  # site-wide fallback secret; HMAC with the cluster name keeps them apart
    # VRIDs foreign routers use: {vrid, family, interface (optionally host) or network}
    avoid_vrids: Sequence[Mapping[str, Any]] = ()


@dataclass(frozen=True)
class Member:
    """One host's part in one instance."""

    host: str
    interface: str
    priority: int
    state: str
    address: str | None
    peers: tuple[str, ...] = ()


@dataclass(frozen=True)
class Instance:
    """One VRRP instance: a cluster's VIPs of one address family."""

    name: str
    cluster: str
    family: str
    vrid: int
    version: int
    advert_int: float
    preempt: bool
    preempt_delay: int | None
    unicast: bool
    mcast_group: str | None
    auth_pass: str | None
    vips: tuple[str, ...]
    domains: tuple[str, ...]
    members: tuple[Member, ...]
    track_scripts: tuple[str, ...] = ()
    track_interfaces: tuple[tuple[str, int | None], ...] = ()
    notify: tuple[tuple[str, str], ...] = ()
    options: tuple[tuple[str, Any], ...] = ()
    vip_options: tuple[str, ...] = ()  # per VIP (same order), keepalived syntax; "" for none

    def vip_lines(self, interface: str) -> tuple[str, ...]:
        """Each VIP's virtual_ipaddress line, with `dev` the interface unless its options say."""
        out = []
        for index, vip in enumerate(self.vips):
            extra = self.vip_options[index] if index < len(self.vip_options) else ""
            dev = "" if "dev" in extra.split() else f" dev {interface}"
            out.append(f"{vip}{dev}{' ' + extra if extra else ''}")
        return tuple(out)

    def member(self, host: str) -> Member | None:
        """This host's membership, if any."""
        return next((m for m in self.members if m.host == host), None)


@dataclass(frozen=True)
class Script:
    """A vrrp_script, named `<cluster>_<name>` in the rendered config."""

    name: str
    script: str
    interval: float | None = None
    timeout: float | None = None
    fall: int | None = None
    rise: int | None = None
    weight: int | None = None
    user: str | None = None
    options: tuple[tuple[str, Any], ...] = ()


@dataclass(frozen=True)
class ClusterPlan:
    """Everything planned for one cluster."""

    name: str
    hosts: tuple[str, ...]
    instances: tuple[Instance, ...]
    scripts: tuple[Script, ...] = ()
    virtual_servers: tuple[Mapping[str, Any], ...] = ()
    # the cluster's split_brain settings, checked (splitbrain.py); the vipkeeper daemon only
    split_brain: tuple[tuple[str, Any], ...] = ()

    @property
    def sync_group(self) -> str | None:
        """Instances of both families move together in one sync group."""
        return f"{self.name}_group" if len(self.instances) > 1 else None

    @property
    def weighted_tracking(self) -> bool:
        """A script or tracked interface has a weight: sync groups must allow it."""
        scripts = any(s.weight for s in self.scripts)
        return scripts or any(t[1] for i in self.instances for t in i.track_interfaces)


@dataclass(frozen=True)
class Plan:
    """The plan of every cluster, warnings, and the lock to keep it stable."""

    clusters: tuple[ClusterPlan, ...]
    warnings: tuple[str, ...] = ()

    def for_host(self, host: str) -> tuple[ClusterPlan, ...]:
        """The clusters this host is a member of, in plan order."""
        return tuple(c for c in self.clusters if host in c.hosts)

    def lock(self) -> dict[str, dict[str, dict[str, Any]]]:
        """Assignments to feed back as the lock so later plans keep them."""
        out: dict[str, dict[str, dict[str, Any]]] = {}
        for cluster in self.clusters:
            fams = out.setdefault(cluster.name, {})
            for inst in cluster.instances:
                entry: dict[str, Any] = {"vrid": inst.vrid}
                if inst.mcast_group is not None:
                    entry["mcast_group"] = inst.mcast_group
                fams[inst.family] = entry
        return out

    def to_dict(self, redact: bool = True) -> dict[str, Any]:
        """A JSON-friendly view; secrets are replaced unless `redact` is false."""
        clusters: dict[str, Any] = {}
        for cluster in self.clusters:
            clusters[cluster.name] = {
                "hosts": list(cluster.hosts),
                "sync_group": cluster.sync_group,
                "instances": [_instance_dict(i, redact) for i in cluster.instances],
                "scripts": [_script_dict(s) for s in cluster.scripts],
                "virtual_servers": [dict(v) for v in cluster.virtual_servers],
                "split_brain": dict(cluster.split_brain),
            }
        return {"clusters": clusters, "lock": self.lock(), "warnings": list(self.warnings)}


REDACTED = "********"


def redacted(data: Mapping[str, Any]) -> dict[str, Any]:
    """`Plan.to_dict(redact=False)` as `to_dict()` gives it: every password replaced.

    Copies what it changes (the clusters, their instances); the rest is shared with `data`.
    """
    clusters: dict[str, Any] = {}
    for name, cluster in data["clusters"].items():
        instances = [
            {**inst, "auth_pass": REDACTED} if inst.get("auth_pass") is not None else dict(inst)
            for inst in cluster["instances"]
        ]
        clusters[name] = {**cluster, "instances": instances}
    return {**data, "clusters": clusters}


def _instance_dict(inst: Instance, redact: bool) -> dict[str, Any]:
    secret = inst.auth_pass
    if secret is not None and redact:
        secret = REDACTED
    return {
        "name": inst.name,
        "family": inst.family,
        "vrid": inst.vrid,
        "version": inst.version,
        "advert_int": inst.advert_int,
        "preempt": inst.preempt,
        "preempt_delay": inst.preempt_delay,
        "unicast": inst.unicast,
        "mcast_group": inst.mcast_group or (None if inst.unicast else DEFAULT_GROUP[inst.family]),
        "auth_pass": secret,
        "vips": list(inst.vips),
        "vip_options": list(inst.vip_options),
        "domains": list(inst.domains),
        "members": [
            {
                "host": m.host,
                "interface": m.interface,
                "priority": m.priority,
                "state": m.state,
                "address": m.address,
                "peers": list(m.peers),
            }
            for m in inst.members
        ],
        "track_scripts": list(inst.track_scripts),
        "track_interfaces": [list(t) for t in inst.track_interfaces],
        "notify": dict(inst.notify),
        "options": dict(inst.options),
    }


def _script_dict(script: Script) -> dict[str, Any]:
    return {
        "name": script.name,
        "script": script.script,
        "interval": script.interval,
        "timeout": script.timeout,
        "fall": script.fall,
        "rise": script.rise,
        "weight": script.weight,
        "user": script.user,
        "options": dict(script.options),
    }


@dataclass
class Problems:
    """Errors and warnings collected while planning, reported all at once."""

    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        """Record one error."""
        self.errors.append(text)


def plan_from_dict(data: Mapping[str, Any]) -> Plan:
    """Rebuild a Plan from `Plan.to_dict(redact=False)` (the vrrp_plan filter's output)."""
    clusters = []
    for name, raw in data["clusters"].items():
        instances = []
        for inst in raw["instances"]:
            fam = inst["family"]
            group = inst.get("mcast_group")
            instances.append(
                Instance(
                    name=inst["name"],
                    cluster=name,
                    family=fam,
                    vrid=int(inst["vrid"]),
                    version=int(inst["version"]),
                    advert_int=inst["advert_int"],
                    preempt=bool(inst["preempt"]),
                    preempt_delay=inst.get("preempt_delay"),
                    unicast=bool(inst["unicast"]),
                    mcast_group=None if group == DEFAULT_GROUP[fam] else group,
                    auth_pass=inst.get("auth_pass"),
                    vips=tuple(inst["vips"]),
                    vip_options=tuple(inst.get("vip_options", ())),
                    domains=tuple(inst.get("domains", ())),
                    members=tuple(
                        Member(
                            m["host"],
                            m["interface"],
                            int(m["priority"]),
                            m["state"],
                            m.get("address"),
                            tuple(m.get("peers", ())),
                        )
                        for m in inst["members"]
                    ),
                    track_scripts=tuple(inst.get("track_scripts", ())),
                    track_interfaces=tuple((t[0], t[1]) for t in inst.get("track_interfaces", ())),
                    notify=tuple((inst.get("notify") or {}).items()),
                    options=tuple((inst.get("options") or {}).items()),
                )
            )
        scripts = tuple(
            Script(
                name=s["name"],
                script=s["script"],
                interval=s.get("interval"),
                timeout=s.get("timeout"),
                fall=s.get("fall"),
                rise=s.get("rise"),
                weight=s.get("weight"),
                user=s.get("user"),
                options=tuple((s.get("options") or {}).items()),
            )
            for s in raw.get("scripts", ())
        )
        clusters.append(
            ClusterPlan(
                name,
                tuple(raw["hosts"]),
                tuple(instances),
                scripts,
                tuple(raw.get("virtual_servers", ())),
                tuple((raw.get("split_brain") or {}).items()),
            )
        )
    return Plan(tuple(clusters), tuple(data.get("warnings", ())))
