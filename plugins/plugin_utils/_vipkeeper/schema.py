# The inventory schema. Its reference is the vrrp role's argument spec: the options of
# `vrrp_clusters` in roles/vrrp/meta/argument_specs.yml (keys, types, choices, defaults and
# descriptions; `ansible-doc -t role vipkeeper.vrrp.vrrp` shows them). Each cluster, and each
# host, track and track_interfaces entry in it, is checked level by level with Ansible's
# ArgumentSpecValidator, so every error is collected and names its cluster (and host, script or
# interface). Ansible's conversions apply (`vrid: "7"` is 7, `preempt: "no"` is false), except
# that true and false are never numbers. What a spec cannot express stays here in Python:
# the name pattern, non-empty lists, ranges, addresses, and the entries that are a name or a
# mapping. Cross-field and site-wide rules (VRID clashes, networks, facts) are the planner's.
"""Check each cluster of the inventory against the vrrp role's argument spec."""

from __future__ import annotations

import copy
import functools
import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.validation import check_type_list
from ansible.module_utils.errors import (
    ArgumentTypeError,
    ArgumentValueError,
    RequiredError,
    UnsupportedError,
)

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import HostFacts
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import (
    Problems,
    Script,
)

# plugins/plugin_utils/_vipkeeper/schema.py -> the collection's root
SPEC_FILE = Path(__file__).resolve().parents[3] / "roles" / "vrrp" / "meta" / "argument_specs.yml"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "str": (str,),
    "int": (int,),
    "float": (int, float),
    "bool": (bool,),
    "list": (list,),
    "dict": (dict,),
    "raw": (object,),
}
_WANTED = {
    "str": "a string",
    "int": "an integer",
    "float": "a number",
    "bool": "true or false",
    "list": "a list",
    "dict": "a mapping",
}
# Reported in our own words below (with the key and the value given); anything else Ansible
# finds (an entry of a list that cannot be converted) is passed on as it says it.
_REWORDED = (ArgumentTypeError, ArgumentValueError, RequiredError, UnsupportedError)


@functools.cache
def cluster_options() -> Mapping[str, Any]:
    """The options of one cluster, from the vrrp role's argument spec."""
    with SPEC_FILE.open(encoding="utf-8") as stream:
        data = yaml.safe_load(stream)
    return data["argument_specs"]["main"]["options"]["vrrp_clusters"]["options"]


def notify_keys() -> tuple[str, ...]:
    """The notify commands, in the order they are rendered."""
    return tuple(cluster_options()["notify"]["options"])


def as_list(value: Any) -> list[Any] | None:
    """A list option as Ansible converts it (`a,b` is two entries); None when it cannot be."""
    try:
        return check_type_list(value)
    except TypeError:
        return None


_VALIDATORS: dict[int, tuple[Mapping[str, Any], ArgumentSpecValidator]] = {}


def _validator(options: Mapping[str, Any]) -> ArgumentSpecValidator:
    """A validator of one level of a spec; nested options are checked entry by entry instead,
    so that each error can name its entry."""
    cached = _VALIDATORS.get(id(options))
    if cached is None or cached[0] is not options:
        level = {key: {k: v for k, v in o.items() if k != "options"} for key, o in options.items()}
        cached = _VALIDATORS[id(options)] = (options, ArgumentSpecValidator(level))
    return cached[1]


def check_options(
    options: Mapping[str, Any], given: Mapping[Any, Any], where: str, problems: Problems
) -> dict[str, Any]:
    """`given` checked against one level of `options`: every spec key in the result, converted
    or defaulted; a key that is wrong has its default (None without one) and an error that
    names `where` and the key."""
    params = {k: v for k, v in given.items() if v is not None}  # null is unset, as before
    # Ansible takes true for 1: not here, where a number is a priority or a time.
    booleans = {
        k: params.pop(k)
        for k, v in list(params.items())
        if isinstance(v, bool) and options.get(k, {}).get("type") in ("int", "float")
    }
    result = _validator(options).validate(params)
    if result.unsupported_parameters:
        unknown = sorted(str(k) for k in result.unsupported_parameters)
        problems.error(f"{where}: unknown keys {', '.join(unknown)}")
    for error in result.errors:
        if not isinstance(error, _REWORDED):
            problems.error(f"{where}: {error}")
    out = dict(result.validated_parameters)
    for key, opts in options.items():
        value = out.get(key)
        if key in booleans:
            problems.error(f"{where}: {key} must be {_WANTED[opts['type']]}, got {booleans[key]!r}")
            out[key] = copy.deepcopy(opts.get("default"))
            continue
        if value is None:
            if opts.get("required"):
                problems.error(f"{where}: missing required key {key}")
            continue
        wanted = opts.get("type", "str")
        if not isinstance(value, _PYTHON_TYPES[wanted]):
            problems.error(f"{where}: {key} must be {_WANTED[wanted]}, got {params[key]!r}")
            out[key] = copy.deepcopy(opts.get("default"))
            continue
        choices = opts.get("choices")
        if choices is not None and value not in choices:
            shown = ", ".join(str(c) for c in choices)
            problems.error(f"{where}: {key} must be one of {shown}, got {params[key]!r}")
            out[key] = copy.deepcopy(opts.get("default"))
            continue
        if wanted == "float" and isinstance(params.get(key), int):
            out[key] = params[key]  # a whole number stays whole (advert_int 1, not 1.0)
    return {key: out.get(key) for key in options}


def in_range(
    values: Mapping[str, Any], key: str, where: str, problems: Problems, *, lo: float, hi: float
) -> Any:
    """values[key] if it is in lo..hi (or None), else None with an error."""
    value = values.get(key)
    if value is None or lo <= value <= hi:
        return value
    problems.error(f"{where}: {key} must be a number in {lo:g}..{hi:g}, got {value!r}")
    return None


@dataclass(frozen=True)
class HostSpec:
    """One host entry of a cluster, checked."""

    name: str
    interface: str
    priority: int | None = None
    state: str | None = None
    address: str | None = None


@dataclass(frozen=True)
class ClusterSpec:
    """One cluster of the inventory, checked: `options` holds every key of the spec."""

    name: str
    hosts: tuple[HostSpec, ...]
    vips: dict[str, tuple[ipaddress.IPv4Interface | ipaddress.IPv6Interface, ...]]
    options: Mapping[str, Any]
    scripts: tuple[Script, ...] = ()
    track_interfaces: tuple[tuple[str, int | None], ...] = ()
    notify: tuple[tuple[str, str], ...] = ()
    virtual_servers: tuple[Mapping[str, Any], ...] = ()


def parse_vip(text: Any) -> ipaddress.IPv4Interface | ipaddress.IPv6Interface:
    raw = str(text).strip()
    if "/" not in raw:  # keepalived's default for a bare address is a host route
        raw += "/128" if ":" in raw else "/32"
    return ipaddress.ip_interface(raw)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_cluster(
    raw: Any, index: int, hosts: Mapping[str, HostFacts], problems: Problems
) -> ClusterSpec | None:
    """One cluster checked against the spec; None when it cannot be planned at all."""
    where = f"vipkeeper_clusters[{index}]"
    if not isinstance(raw, Mapping):
        problems.error(f"{where}: a cluster must be a mapping, got {type(raw).__name__}")
        return None
    name = raw.get("name")
    if not isinstance(name, str) or not NAME_RE.match(name):
        problems.error(f"{where}: name must match {NAME_RE.pattern}, got {name!r}")
        return None
    where = f"cluster {name}"
    spec = cluster_options()
    opts = check_options(spec, raw, where, problems)
    host_list = opts["hosts"]
    if host_list is None:
        return None
    if not host_list:
        problems.error(f"{where}: hosts must be a non-empty list of inventory hosts")
        return None
    specs = _hosts(host_list, opts["interface"], spec["hosts"]["options"], where, problems)
    seen: set[str] = set()
    for h in specs:
        if h.name in seen:
            problems.error(f"{where}: host {h.name} is listed twice")
        seen.add(h.name)
    missing = [h.name for h in specs if h.name not in hosts]
    if missing:
        problems.error(f"{where}: unknown host {', '.join(missing)} (not in the inventory)")
    vip_list = opts["vips"]
    if vip_list is None:
        return None
    if not vip_list:
        problems.error(f"{where}: vips must be a non-empty list of addresses")
        return None
    vips: dict[str, list[ipaddress.IPv4Interface | ipaddress.IPv6Interface]] = {}
    for text in vip_list:
        try:
            vip = parse_vip(text)
        except ValueError:
            problems.error(f"{where}: {text!r} is not an IP address")
            continue
        vips.setdefault(f"ipv{vip.version}", []).append(vip)
    opts["advert_int"] = in_range(opts, "advert_int", where, problems, lo=0.01, hi=255)
    opts["preempt_delay"] = in_range(opts, "preempt_delay", where, problems, lo=0, hi=1000)
    scripts = _scripts(name, opts["track"], spec["track"]["options"], where, problems)
    track_ifaces = _track_interfaces(
        opts["track_interfaces"], spec["track_interfaces"]["options"], where, problems
    )
    notify = check_options(spec["notify"]["options"], opts["notify"], f"{where}: notify", problems)
    if missing or not vips:
        return None
    return ClusterSpec(
        name=name,
        hosts=tuple(specs),
        vips={k: tuple(v) for k, v in vips.items()},
        options=opts,
        scripts=scripts,
        track_interfaces=track_ifaces,
        notify=tuple((k, str(v)) for k, v in notify.items() if v),
        virtual_servers=_virtual_servers(opts["virtual_servers"], vips, where, problems),
    )


def _hosts(
    entries: Sequence[Any],
    interface: str | None,
    options: Mapping[str, Any],
    where: str,
    problems: Problems,
) -> list[HostSpec]:
    out: list[HostSpec] = []
    for entry in entries:
        if isinstance(entry, str):
            entry = {"name": entry}
        if not isinstance(entry, Mapping) or not isinstance(entry.get("name"), str):
            problems.error(f"{where}: a host entry must be a name or a mapping with name")
            continue
        hw = f"{where}: host {entry['name']}"
        if isinstance(entry.get("state"), str):  # MASTER or BACKUP, in any case
            entry = {**entry, "state": entry["state"].upper()}
        host = check_options(options, entry, hw, problems)
        iface = interface if host["interface"] is None else host["interface"]
        if not iface:
            problems.error(f"{hw}: no interface (set interface)")
            continue
        priority = host["priority"]
        if priority is not None and not 1 <= priority <= 255:
            problems.error(f"{hw}: priority must be 1..255, got {priority!r}")
            priority = None
        out.append(HostSpec(host["name"], iface, priority, host["state"], host["address"] or None))
    return out


def _scripts(
    cluster: str,
    entries: Sequence[Any],
    options: Mapping[str, Any],
    where: str,
    problems: Problems,
) -> tuple[Script, ...]:
    out: list[Script] = []
    for index, entry in enumerate(entries):
        name = entry.get("name")
        sw = (
            f"{where}: track {name}"
            if isinstance(name, str) and name
            else f"{where}: track[{index}]"
        )
        track = check_options(options, entry, sw, problems)
        if not track["name"] or not track["script"]:
            if track["script"] == "":
                problems.error(f"{sw}: script must not be empty")
            continue
        if not NAME_RE.match(track["name"]):
            problems.error(f"{sw}: name must match {NAME_RE.pattern}")
        out.append(
            Script(
                name=f"{cluster}_{track['name']}",
                script=track["script"],
                interval=in_range(track, "interval", sw, problems, lo=0.001, hi=86400),
                timeout=in_range(track, "timeout", sw, problems, lo=0.001, hi=86400),
                fall=in_range(track, "fall", sw, problems, lo=1, hi=1000),
                rise=in_range(track, "rise", sw, problems, lo=1, hi=1000),
                weight=in_range(track, "weight", sw, problems, lo=-253, hi=253),
                user=track["user"] or None,
                options=tuple(track["options"].items()),
            )
        )
    names = [s.name for s in out]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.error(f"{where}: track script {dup} is defined twice")
    return tuple(out)


def _track_interfaces(
    entries: Sequence[Any], options: Mapping[str, Any], where: str, problems: Problems
) -> tuple[tuple[str, int | None], ...]:
    out: list[tuple[str, int | None]] = []
    for entry in entries:
        if isinstance(entry, str):
            out.append((entry, None))
        elif isinstance(entry, Mapping) and isinstance(entry.get("name"), str):
            tw = f"{where}: track_interfaces {entry['name']}"
            tracked = check_options(options, entry, tw, problems)
            weight = in_range(tracked, "weight", tw, problems, lo=-253, hi=253)
            out.append((entry["name"], weight))
        else:
            problems.error(f"{where}: track_interfaces entries are names or {{name, weight}}")
    return tuple(out)


def _virtual_servers(
    entries: Sequence[Mapping[str, Any]],
    vips: Mapping[str, Sequence[ipaddress.IPv4Interface | ipaddress.IPv6Interface]],
    where: str,
    problems: Problems,
) -> tuple[Mapping[str, Any], ...]:
    first_vip = next((v for fam in sorted(vips) for v in vips[fam]), None)
    out: list[Mapping[str, Any]] = []
    for vs in entries:
        if not _is_int(vs.get("port")):
            problems.error(f"{where}: each virtual server needs a port")
            continue
        entry = dict(vs)
        if first_vip is not None:
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
