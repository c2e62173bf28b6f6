# Controller-side planning of every VRRP cluster at once (pure Python, no Ansible imports).
#
# The inventory lists clusters (docs/inventory.md); the planner derives, for each cluster and
# address family, one VRRP instance:
#   - VRID unique among instances of the same family whose hosts share a broadcast domain
#     (the interface's network, optionally qualified by the hostvar `vipkeeper_segment`);
#     stable through the lock (see allocate.py); never a VRID a foreign router uses in that
#     domain (Settings.avoid_vrids, e.g. from vrrp_scan): a pin on one is an error;
#   - the multicast group (default group, or unique per domain from a pool), or unicast peers;
#   - priorities and initial state from host order, or pinned per host;
#   - a v2 PASS secret (8 chars) derived by HMAC-SHA256 from the cluster's vaulted secret;
#   - version 2 for IPv4 (configurable), always 3 for IPv6.
# Every problem is collected and raised at once, naming the clusters and hosts involved.
"""Compute the VRRP plan of all clusters from the inventory and host facts."""

from __future__ import annotations

import base64
import hmac
import ipaddress
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.allocate import (
    Request,
    allocate,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    InterfaceFacts,
)

FAMILIES = ("ipv4", "ipv6")
DEFAULT_GROUP = {"ipv4": "224.0.0.18", "ipv6": "ff02::12"}
AUTH_PASS_LEN = 8  # VRRPv2 simple password: at most 8 octets (RFC 2338 5.3.10)
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")
STATES = ("MASTER", "BACKUP")
NOTIFY_KEYS = ("master", "backup", "fault", "stop", "notify")
CLUSTER_KEYS = frozenset(
    {
        "name",
        "hosts",
        "interface",
        "vips",
        "vrid",
        "version",
        "advert_int",
        "preempt",
        "preempt_delay",
        "unicast",
        "mcast_group",
        "mcast_group6",
        "track",
        "track_interfaces",
        "notify",
        "virtual_servers",
        "secret",
        "allow_single_host",
        "check_vip_network",
        "instance_options",
    }
)
HOST_KEYS = frozenset({"name", "priority", "state", "address", "interface"})
TRACK_KEYS = frozenset(
    {"name", "script", "interval", "timeout", "fall", "rise", "weight", "user", "options"}
)


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
            }
        return {"clusters": clusters, "lock": self.lock(), "warnings": list(self.warnings)}


def _instance_dict(inst: Instance, redact: bool) -> dict[str, Any]:
    secret = inst.auth_pass
    if secret is not None and redact:
        secret = "********"
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


def derive_auth_pass(secret: str, cluster: str) -> str:
    """The VRRPv2 PASS for a cluster: HMAC-SHA256(secret, cluster), 8 base64url chars."""
    mac = hmac.new(secret.encode("utf-8"), b"vipkeeper-vrrp-auth-v1\0" + cluster.encode(), "sha256")
    return base64.urlsafe_b64encode(mac.digest()).decode("ascii")[:AUTH_PASS_LEN]


# --- input normalisation -------------------------------------------------------------------


@dataclass(frozen=True)
class _HostSpec:
    name: str
    interface: str
    priority: int | None = None
    state: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class _ClusterSpec:
    name: str
    hosts: tuple[_HostSpec, ...]
    vips: dict[str, tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]]
    raw: Mapping[str, Any]


@dataclass
class _Problems:
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def error(self, text: str) -> None:
        self.errors.append(text)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_vip(text: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    raw = str(text).strip()
    if "/" not in raw:  # keepalived's default for a bare address is a host route
        raw += "/128" if ":" in raw else "/32"
    return ipaddress.ip_interface(raw)


def _normalise(
    raw: Any, index: int, hosts: Mapping[str, HostFacts], problems: _Problems
) -> _ClusterSpec | None:
    where = f"vipkeeper_clusters[{index}]"
    if not isinstance(raw, Mapping):
        problems.error(f"{where}: a cluster must be a mapping, got {type(raw).__name__}")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.error(f"{where}: name must match {NAME_RE.pattern}, got {name!r}")
        return None
    where = f"cluster {name}"
    unknown = sorted(set(raw) - CLUSTER_KEYS)
    if unknown:
        problems.error(f"{where}: unknown keys {', '.join(unknown)}")
    interface = raw.get("interface")
    host_list = raw.get("hosts")
    if not isinstance(host_list, Sequence) or isinstance(host_list, str | bytes) or not host_list:
        problems.error(f"{where}: hosts must be a non-empty list of inventory hosts")
        return None
    specs: list[_HostSpec] = []
    for entry in host_list:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            problems.error(f"{where}: a host entry must be a name or a mapping with name")
            continue
        bad = sorted(set(entry) - HOST_KEYS)
        if bad:
            problems.error(f"{where}: host {entry['name']}: unknown keys {', '.join(bad)}")
        iface = entry.get("interface", interface)
        if not isinstance(iface, str) or not iface:
            problems.error(f"{where}: host {entry['name']}: no interface (set interface)")
            continue
        state = entry.get("state")
        if state is not None and str(state).upper() not in STATES:
            problems.error(f"{where}: host {entry['name']}: state must be MASTER or BACKUP")
        priority = entry.get("priority")
        if priority is not None and (not _is_int(priority) or not 1 <= priority <= 255):
            problems.error(f"{where}: host {entry['name']}: priority must be 1..255")
            priority = None
        specs.append(
            _HostSpec(
                entry["name"],
                iface,
                priority,
                str(state).upper() if state is not None else None,
                str(entry["address"]) if entry.get("address") else None,
            )
        )
    seen: set[str] = set()
    for spec in specs:
        if spec.name in seen:
            problems.error(f"{where}: host {spec.name} is listed twice")
        seen.add(spec.name)
    missing = [s.name for s in specs if s.name not in hosts]
    if missing:
        problems.error(f"{where}: unknown host {', '.join(missing)} (not in the inventory)")
    vip_list = raw.get("vips")
    if not isinstance(vip_list, Sequence) or isinstance(vip_list, str | bytes) or not vip_list:
        problems.error(f"{where}: vips must be a non-empty list of addresses")
        return None
    vips: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
    for text in vip_list:
        try:
            vip = _parse_vip(text)
        except ValueError:
            problems.error(f"{where}: {text!r} is not an IP address")
            continue
        vips.setdefault(f"ipv{vip.version}", []).append(vip)
    if missing or not vips:
        return None
    return _ClusterSpec(name, tuple(specs), {k: tuple(v) for k, v in vips.items()}, raw)


# --- per-family geometry -------------------------------------------------------------------


def _iface(hosts: Mapping[str, HostFacts], spec: _HostSpec) -> InterfaceFacts | None:
    return hosts[spec.name].interface(spec.interface)


def _networks(iface: InterfaceFacts, family: str) -> Sequence[Any]:
    return [a.network for a in (iface.ipv4 if family == "ipv4" else iface.ipv6)]


def _domain(host: HostFacts, iface: InterfaceFacts, family: str) -> str | None:
    nets = _networks(iface, family) or _networks(iface, "ipv4")
    if not nets:
        return None
    prefix = f"{host.segment}/" if host.segment else ""
    return f"{prefix}{nets[0]}"


def _facts_ok(
    spec: _ClusterSpec, hosts: Mapping[str, HostFacts], problems: _Problems
) -> dict[str, InterfaceFacts] | None:
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


def _check_vips(
    spec: _ClusterSpec, family: str, ifaces: Mapping[str, InterfaceFacts], problems: _Problems
) -> None:
    if spec.raw.get("check_vip_network", True) is False:
        return
    for h in spec.hosts:
        nets = _networks(ifaces[h.name], family)
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


def _source(iface: InterfaceFacts, family: str, pinned: str | None) -> str | None:
    if pinned:
        return pinned
    addrs = iface.ipv4 if family == "ipv4" else iface.ipv6
    return str(addrs[0].ip) if addrs else None


# --- the planner ---------------------------------------------------------------------------


def plan(
    clusters: Iterable[Any],
    hosts: Mapping[str, HostFacts],
    settings: Settings | None = None,
    lock: Mapping[str, Any] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Plan:
    """Plan every cluster; raise PlanError naming every problem found."""
    settings = settings or Settings()
    lock = lock or {}
    secrets = secrets or {}
    problems = _Problems()
    if settings.single_host not in ("warn", "error", "allow"):
        problems.error(f"single_host must be warn, error or allow, not {settings.single_host!r}")
    specs: list[_ClusterSpec] = []
    names: set[str] = set()
    for index, raw in enumerate(clusters):
        spec = _normalise(raw, index, hosts, problems)
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
        ifaces = _facts_ok(spec, hosts, problems)
        if ifaces is None:
            continue
        for family in sorted(spec.vips):
            _check_vips(spec, family, ifaces, problems)
            domains = set()
            for h in spec.hosts:
                dom = _domain(hosts[h.name], ifaces[h.name], family)
                if dom is not None:
                    domains.add(f"{family}:{dom}")
            if len(domains) > 1 and not spec.raw.get("unicast", False):
                problems.error(
                    f"cluster {spec.name}: hosts {', '.join(h.name for h in spec.hosts)} span"
                    f" several networks ({', '.join(sorted(domains))}); multicast VRRP needs one"
                    " broadcast domain: set unicast: true"
                )
            geometry[(spec.name, family)] = (frozenset(domains), ifaces)
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)

    avoided = _avoided(settings.avoid_vrids, specs, geometry, hosts, problems)
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)
    vrids = _allocate_vrids(specs, geometry, lock, problems, avoided)
    groups = _allocate_groups(
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
    if problems.errors:
        raise PlanError(problems.errors, problems.warnings)
    return Plan(tuple(planned), tuple(problems.warnings))


def _label(spec: _ClusterSpec, family: str) -> str:
    return f"cluster {spec.name} ({family}; hosts {', '.join(h.name for h in spec.hosts)})"


def _check_single(spec: _ClusterSpec, settings: Settings, problems: _Problems) -> None:
    if len(spec.hosts) > 1 or spec.raw.get("allow_single_host", False) is True:
        return
    text = (
        f"cluster {spec.name} has one host ({spec.hosts[0].name}): no failover is possible"
        " (set allow_single_host: true on the cluster if intended)"
    )
    if settings.single_host == "error":
        problems.error(text)
    elif settings.single_host == "warn":
        problems.warnings.append(text)


def _locked(lock: Mapping[str, Any], name: str, family: str, key: str) -> Any:
    entry = lock.get(name)
    if not isinstance(entry, Mapping):
        return None
    fam = entry.get(family)
    return fam.get(key) if isinstance(fam, Mapping) else None


AVOID_KEYS = frozenset({"vrid", "family", "interface", "host", "network"})
FOREIGN = "a foreign VRRP router (vipkeeper_avoid_vrids)"


def _avoid_entry(
    index: int, entry: Any, problems: _Problems
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


def _avoided(
    entries: Sequence[Any],
    specs: Sequence[_ClusterSpec],
    geometry: Mapping[tuple[str, str], tuple[frozenset[str], Mapping[str, InterfaceFacts]]],
    hosts: Mapping[str, HostFacts],
    problems: _Problems,
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
                dom = _domain(hosts[h.name], ifaces[h.name], family)
                nets = _networks(ifaces[h.name], family) or _networks(ifaces[h.name], "ipv4")
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


def _allocate_vrids(
    specs: Sequence[_ClusterSpec],
    geometry: Mapping[tuple[str, str], tuple[frozenset[str], Any]],
    lock: Mapping[str, Any],
    problems: _Problems,
    avoided: Mapping[str, Mapping[str, Mapping[int, str]]],
) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for family in FAMILIES:
        requests = []
        for spec in specs:
            if (spec.name, family) not in geometry:
                continue
            pinned = spec.raw.get("vrid")
            if pinned is not None and not _is_int(pinned):
                problems.error(f"cluster {spec.name}: vrid must be an integer 1..255")
                continue
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
            requests, first=1, last=255, what="VRID", reserved=avoided.get(family, {})
        )
        problems.errors.extend(result.errors)
        problems.warnings.extend(result.warnings)
        out.update({(name, family): vrid for name, vrid in result.slots.items()})
    return out


def _allocate_groups(
    *,
    specs: Sequence[_ClusterSpec],
    geometry: Mapping[tuple[str, str], tuple[frozenset[str], Any]],
    vrids: Mapping[tuple[str, str], int],
    settings: Settings,
    lock: Mapping[str, Any],
    problems: _Problems,
) -> dict[tuple[str, str], str]:
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
            if key not in geometry or key not in vrids or spec.raw.get("unicast", False):
                continue
            pin_key = "mcast_group" if family == "ipv4" else "mcast_group6"
            pinned_text = spec.raw.get(pin_key)
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


def _number(
    raw: Mapping[str, Any], key: str, where: str, problems: _Problems, *, lo: float, hi: float
) -> Any:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        problems.error(f"{where}: {key} must be a number in {lo:g}..{hi:g}, got {value!r}")
        return None
    return value


def _scripts(spec: _ClusterSpec, problems: _Problems) -> tuple[Script, ...]:
    where = f"cluster {spec.name}"
    track = spec.raw.get("track") or []
    if not isinstance(track, list):
        problems.error(f"{where}: track must be a list of scripts")
        return ()
    out: list[Script] = []
    for entry in track:
        if not isinstance(entry, Mapping) or not entry.get("name") or not entry.get("script"):
            problems.error(f"{where}: each track entry needs a name and a script")
            continue
        bad = sorted(set(entry) - TRACK_KEYS)
        sw = f"{where}: track {entry['name']}"
        if bad:
            problems.error(f"{sw}: unknown keys {', '.join(bad)}")
        if not NAME_RE.match(str(entry["name"])):
            problems.error(f"{sw}: name must match {NAME_RE.pattern}")
        weight = _number(entry, "weight", sw, problems, lo=-253, hi=253)
        out.append(
            Script(
                name=f"{spec.name}_{entry['name']}",
                script=str(entry["script"]),
                interval=_number(entry, "interval", sw, problems, lo=0.001, hi=86400),
                timeout=_number(entry, "timeout", sw, problems, lo=0.001, hi=86400),
                fall=_number(entry, "fall", sw, problems, lo=1, hi=1000),
                rise=_number(entry, "rise", sw, problems, lo=1, hi=1000),
                weight=int(weight) if weight is not None else None,
                user=str(entry["user"]) if entry.get("user") else None,
                options=tuple((entry.get("options") or {}).items()),
            )
        )
    names = [s.name for s in out]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.error(f"{where}: track script {dup} is defined twice")
    return tuple(out)


def _plan_cluster(
    *,
    spec: _ClusterSpec,
    geometry: Mapping[tuple[str, str], tuple[frozenset[str], Mapping[str, InterfaceFacts]]],
    vrids: Mapping[tuple[str, str], int],
    groups: Mapping[tuple[str, str], str],
    settings: Settings,
    secrets: Mapping[str, str],
    problems: _Problems,
) -> ClusterPlan:
    raw = spec.raw
    where = f"cluster {spec.name}"
    preempt = raw.get("preempt", True)
    if not isinstance(preempt, bool):
        problems.error(f"{where}: preempt must be true or false")
        preempt = True
    unicast = bool(raw.get("unicast", False))
    preempt_delay = _number(raw, "preempt_delay", where, problems, lo=0, hi=1000)
    if preempt_delay is not None and not preempt:
        problems.error(f"{where}: preempt_delay needs preempt: true")
    advert = _number(raw, "advert_int", where, problems, lo=0.01, hi=255)
    advert = settings.advert_int if advert is None else advert
    version4 = raw.get("version", settings.version4)
    if version4 not in (2, 3):
        problems.error(f"{where}: version must be 2 or 3")
        version4 = 2
    secret = raw.get("secret") or secrets.get(spec.name) or settings.secret
    scripts = _scripts(spec, problems)
    track_ifaces = _track_interfaces(raw.get("track_interfaces"), where, problems)
    for h in spec.hosts:
        if any(tracked[0] == h.interface for tracked in track_ifaces):
            problems.error(
                f"{where}: track_interfaces names {h.interface}, the VRRP interface of host"
                f" {h.name}, which is always tracked (keepalived -t rejects it)"
            )
    notify = _notify(raw.get("notify"), where, problems)
    options = raw.get("instance_options") or {}
    if not isinstance(options, Mapping):
        problems.error(f"{where}: instance_options must be a mapping")
        options = {}
    vservers = _virtual_servers(raw.get("virtual_servers"), spec, problems)
    families = sorted(spec.vips)
    instances: list[Instance] = []
    for family in families:
        key = (spec.name, family)
        domains, ifaces = geometry[key]
        version = version4 if family == "ipv4" else 3
        if family == "ipv6" and raw.get("version") == 2:
            problems.error(f"{where}: VRRPv2 cannot carry IPv6 VIPs; drop version: 2")
        if version == 2 and advert != int(advert):
            problems.error(f"{where}: VRRPv2 advert_int must be whole seconds, got {advert}")
        members = _members(
            spec=spec,
            family=family,
            ifaces=ifaces,
            preempt=preempt,
            delayed=preempt_delay is not None,
            unicast=unicast,
            settings=settings,
            problems=problems,
        )
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
                auth_pass=derive_auth_pass(secret, spec.name) if secret and version == 2 else None,
                vips=tuple(str(v) for v in spec.vips[family]),
                domains=tuple(sorted(domains)),
                members=members,
                track_scripts=tuple(s.name for s in scripts),
                track_interfaces=track_ifaces,
                notify=notify,
                options=tuple(options.items()),
            )
        )
    return ClusterPlan(
        spec.name, tuple(h.name for h in spec.hosts), tuple(instances), scripts, vservers
    )


def _members(
    *,
    spec: _ClusterSpec,
    family: str,
    ifaces: Mapping[str, InterfaceFacts],
    preempt: bool,
    delayed: bool,
    unicast: bool,
    settings: Settings,
    problems: _Problems,
) -> tuple[Member, ...]:
    where = f"cluster {spec.name}"
    sources: dict[str, str | None] = {}
    for h in spec.hosts:
        pinned = h.address if h.address and (":" in h.address) == (family == "ipv6") else None
        sources[h.name] = _source(ifaces[h.name], family, pinned)
        if unicast and sources[h.name] is None:
            problems.error(
                f"{where}: missing facts: host {h.name} has no {family} address on"
                f" {h.interface} for unicast"
            )
    members = []
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
        members.append(Member(h.name, h.interface, priority, state, sources[h.name], peers))
    return tuple(members)


def _track_interfaces(
    value: Any, where: str, problems: _Problems
) -> tuple[tuple[str, int | None], ...]:
    if not value:
        return ()
    if not isinstance(value, list):
        problems.error(f"{where}: track_interfaces must be a list")
        return ()
    out: list[tuple[str, int | None]] = []
    for entry in value:
        if isinstance(entry, str):
            out.append((entry, None))
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            weight = _number(entry, "weight", where, problems, lo=-253, hi=253)
            out.append((entry["name"], int(weight) if weight is not None else None))
        else:
            problems.error(f"{where}: track_interfaces entries are names or {{name, weight}}")
    return tuple(out)


def _notify(value: Any, where: str, problems: _Problems) -> tuple[tuple[str, str], ...]:
    if not value:
        return ()
    if not isinstance(value, Mapping):
        problems.error(f"{where}: notify must be a mapping of {', '.join(NOTIFY_KEYS)}")
        return ()
    bad = sorted(set(value) - set(NOTIFY_KEYS))
    if bad:
        problems.error(f"{where}: notify: unknown keys {', '.join(bad)}")
    return tuple((k, str(value[k])) for k in NOTIFY_KEYS if value.get(k))


def _virtual_servers(
    value: Any, spec: _ClusterSpec, problems: _Problems
) -> tuple[Mapping[str, Any], ...]:
    where = f"cluster {spec.name}"
    if not value:
        return ()
    if not isinstance(value, list):
        problems.error(f"{where}: virtual_servers must be a list")
        return ()
    first_vip = next(iter(v for fam in sorted(spec.vips) for v in spec.vips[fam]))
    out: list[Mapping[str, Any]] = []
    for vs in value:
        if not isinstance(vs, Mapping) or not _is_int(vs.get("port")):
            problems.error(f"{where}: each virtual server needs a port")
            continue
        entry = dict(vs)
        entry.setdefault("address", str(first_vip.ip))
        reals = entry.get("real_servers") or []
        if not isinstance(reals, list) or any(
            not isinstance(r, Mapping) or not r.get("address") or not _is_int(r.get("port"))
            for r in reals
        ):
            problems.error(f"{where}: real_servers entries need an address and a port")
            continue
        out.append(entry)
    return tuple(out)


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
            )
        )
    return Plan(tuple(clusters), tuple(data.get("warnings", ())))
