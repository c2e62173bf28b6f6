# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The import of a live keepalived fleet into the inventory model (docs/migration.md).
# Input: per host, the model of its keepalived config as kaexport.export() gives it (parsed by
# the runtime's config package; no second parser here) and its interface facts. Output: the
# `vipkeeper_clusters` fragment with every value pinned, the lock, the VRRPv2 passwords (a
# separate, vaultable variable), each host's global_defs, and a list of what could not be
# expressed, by name. Instances of one VRRP domain on several hosts (same family and VRID, and
# the same network for multicast, or unicast peers that name each other) become one cluster; an
# IPv4 and an IPv6 domain whose instances form a two-member sync group on every host become one
# dual-stack cluster.
"""Turn the keepalived configs of several hosts into a pinned vipkeeper inventory."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.geometry import (
    networks,
    source,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.import_common import (
    Report,
    command,
    marked,
    number,
    plain,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.import_lvs import (
    attach_virtual_servers,
)

AUTH_VAR = "vipkeeper_auth_pass"  # the secrets file's variable: {cluster: VRRPv2 password}
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")

# vrrp_instance fields the cluster model carries in its own keys (or derives identically).
_INSTANCE_MODELLED = frozenset(
    {
        "name",
        "state",
        "interface",
        "virtual_router_id",
        "priority",
        "advert_int",
        "version",
        "nopreempt",
        "preempt_delay",
        "authentication",
        "virtual_ipaddresses",
        "unicast_src_ip",
        "unicast_peers",
        "mcast_dst_ip",
        "track_interfaces",
        "track_scripts",
        "notify",
        "sync_group",
    }
)
# vrrp_instance fields passed through as instance_options (the keyword has the field's name).
_INSTANCE_OPTIONS = (
    "garp_master_delay",
    "garp_master_repeat",
    "garp_master_refresh",
    "garp_master_refresh_repeat",
    "garp_lower_prio_delay",
    "garp_lower_prio_repeat",
    "lower_prio_no_advert",
    "higher_prio_send_advert",
    "down_timer_adverts",
    "skip_check_adv_addr",
    "check_unicast_src",
    "strict_mode",
    "vmac_xmit_base",
    "dont_track_primary",
    "promote_secondaries",
    "debug",
    "smtp_alert",
    "unicast_ttl",
)
# global_defs fields with a keyword of the same name (the rest are reported).
_GLOBAL_KEYWORDS = (
    "router_id",
    "notification_email",
    "notification_email_from",
    "smtp_server",
    "smtp_helo_name",
    "smtp_connect_timeout",
    "smtp_alert",
    "smtp_alert_vrrp",
    "smtp_alert_checker",
    "default_interface",
    "dynamic_interfaces",
    "vrrp_mcast_group4",
    "vrrp_mcast_group6",
    "vrrp_garp_master_delay",
    "vrrp_garp_master_repeat",
    "vrrp_garp_master_refresh",
    "vrrp_garp_master_refresh_repeat",
    "vrrp_garp_lower_prio_delay",
    "vrrp_garp_lower_prio_repeat",
    "vrrp_garp_interval",
    "vrrp_gna_interval",
    "vrrp_min_garp",
    "vrrp_down_timer_adverts",
    "vrrp_lower_prio_no_advert",
    "vrrp_higher_prio_send_advert",
    "vrrp_version",
    "vrrp_strict",
    "vrrp_check_unicast_src",
    "vrrp_skip_check_adv_addr",
    "vrrp_startup_delay",
    "script_user",
    "enable_script_security",
    "lvs_flush",
    "lvs_flush_on_stop",
)
# A VIP's fields and their keyword after the address (True: a bare flag).
_VIP_WORDS = (
    ("broadcast", "brd"),
    ("scope", "scope"),
    ("label", "label"),
    ("peer", "peer"),
    ("home", "home"),
    ("nodad", "-nodad"),
    ("noprefixroute", "noprefixroute"),
    ("autojoin", "autojoin"),
    ("no_track", "no_track"),
    ("track_group", "track_group"),
    ("preferred_lft", "preferred_lft"),
)


def _family(inst: Mapping[str, Any]) -> str:
    vips = inst.get("virtual_ipaddresses") or []
    if vips:
        return "ipv6" if ":" in vips[0]["address"] else "ipv4"
    src = inst.get("unicast_src_ip")
    return "ipv6" if src and ":" in src else "ipv4"


# ------------------------------------------------------------------------------- grouping


class _Node:
    """One vrrp_instance on one host."""

    def __init__(self, host: str, inst: Mapping[str, Any], facts: HostFacts) -> None:
        self.host = host
        self.inst = inst
        self.family = _family(inst)
        iface = facts.interface(str(inst.get("interface")))
        self.networks = (
            [str(n) for n in networks(iface, self.family) or networks(iface, "ipv4")]
            if iface is not None
            else []
        )
        src = inst.get("unicast_src_ip")
        self.source = src or (source(iface, self.family, None) if iface is not None else None)
        self.peers = {p["address"] for p in inst.get("unicast_peers") or []}

    @property
    def key(self) -> tuple[str, int, int]:
        return (self.family, int(self.inst["virtual_router_id"]), int(self.inst["version"]))

    def linked(self, other: _Node) -> bool:
        if self.host == other.host or self.key != other.key:
            return False
        if self.peers or other.peers:
            return (other.source in self.peers) or (self.source in other.peers)
        same_net = (
            bool(set(self.networks) & set(other.networks))
            if self.networks and other.networks
            else self.inst.get("interface") == other.inst.get("interface")
        )
        return same_net and self.inst.get("mcast_dst_ip") == other.inst.get("mcast_dst_ip")


def _components(nodes: Sequence[_Node]) -> list[list[_Node]]:
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(nodes):
        for j in range(i + 1, len(nodes)):
            if a.linked(nodes[j]):
                parent[find(j)] = find(i)
    groups: dict[int, list[_Node]] = {}
    for i, node in enumerate(nodes):
        groups.setdefault(find(i), []).append(node)
    return list(groups.values())


def _sync_group_fields(host: str, group: Mapping[str, Any], report: Report) -> None:
    """A modelled sync group has no settings of its own: the model renders only its members
    (and sync_group_tracking_weight where a weight is tracked, checked per cluster)."""
    for field in sorted(marked(group) - {"name", "group", "sync_group_tracking_weight"}):
        report.no(f"{host}: vrrp_sync_group {group['name']}: {field} is not modelled")


def _pair_sync_groups(
    comps: list[list[_Node]], configs: Mapping[str, Mapping[str, Any]], report: Report
) -> list[list[list[_Node]]]:
    """Components joined into clusters: an IPv4 and an IPv6 domain that are one two-member sync
    group on every host become one cluster; any other sync group is reported."""
    where: dict[tuple[str, str], int] = {}
    for index, comp in enumerate(comps):
        for node in comp:
            where[(node.host, node.inst["name"])] = index
    partner: dict[int, int] = {}
    for host, config in configs.items():
        for group in config.get("vrrp_sync_groups") or []:
            members = [where.get((host, name)) for name in group.get("group") or []]
            fams = sorted(comps[m][0].family for m in members if m is not None)
            if len(members) == 2 and None not in members and fams == ["ipv4", "ipv6"]:
                a, b = sorted(m for m in members if m is not None)
                if partner.get(a, b) == b and partner.get(b, a) == a:
                    partner[a], partner[b] = b, a
                    _sync_group_fields(host, group, report)
                    continue
            report.no(
                f"{host}: vrrp_sync_group {group['name']}: only a sync group of one IPv4 and"
                " one IPv6 instance of the same hosts is modelled (its members are imported as"
                " separate clusters)"
            )
    out: list[list[list[_Node]]] = []
    done: set[int] = set()
    for index, comp in enumerate(comps):
        if index in done:
            continue
        other = partner.get(index)
        if other is not None and {n.host for n in comps[other]} == {n.host for n in comp}:
            done.update({index, other})
            out.append(sorted([comp, comps[other]], key=lambda c: c[0].family))
        else:
            done.add(index)
            out.append([comp])
    return out


# ------------------------------------------------------------------------------- values


def _vip_text(vip: Mapping[str, Any], interface: str | None) -> str:
    words: list[str] = []
    dev = vip.get("dev")
    if dev and dev != interface:
        words += ["dev", dev]
    for field, word in _VIP_WORDS:
        value = vip.get(field)
        if value is True:
            words.append(word)
        elif value not in (None, False):
            words += [word, str(value)]
    return " ".join(words)


def _instance_view(
    node: _Node, config: Mapping[str, Any], report: Report
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the cluster-wide keys this instance asks for, this host's entry)."""
    inst = node.inst
    name = f"{node.host}: vrrp_instance {inst['name']}"
    changed = marked(inst)
    view: dict[str, Any] = {
        "advert_int": number(inst["advert_int"]),
        "preempt": not inst["nopreempt"],
        "unicast": bool(inst.get("unicast_peers")),
    }
    if node.family == "ipv4":
        view["version"] = inst["version"]
    if inst.get("preempt_delay"):
        delay = number(inst["preempt_delay"])
        if not isinstance(delay, int):
            report.no(f"{name}: preempt_delay {delay} is not whole seconds (rounded)")
        view["preempt_delay"] = round(delay)
    if inst.get("mcast_dst_ip"):
        view["mcast_group" if node.family == "ipv4" else "mcast_group6"] = inst["mcast_dst_ip"]
    auth = inst.get("authentication")
    if auth:
        if auth["auth_type"] != "PASS":
            report.no(f"{name}: authentication {auth['auth_type']} is not modelled (PASS only)")
        elif node.family == "ipv4" and inst["version"] == 2:
            view["@auth_pass"] = auth["auth_pass"]
        else:
            report.no(f"{name}: authentication on a VRRPv3 instance is not rendered (RFC 5798)")
    vips, vip_options = [], {}
    for vip in inst.get("virtual_ipaddresses") or []:
        vips.append(vip["address"])
        text = _vip_text(vip, inst.get("interface"))
        if text:
            vip_options[vip["address"]] = text
    view["vips"] = vips
    if vip_options:
        view["vip_options"] = vip_options
    track = []
    for ref in inst.get("track_scripts") or []:
        script = next(
            (s for s in config.get("vrrp_scripts") or [] if s["name"] == ref["name"]), None
        )
        if script is None:
            report.no(f"{name}: track_script {ref['name']} names no vrrp_script")
            continue
        track.append(_track(script, ref, name, report))
    if track:
        view["track"] = track
    tracked = []
    for ti in inst.get("track_interfaces") or []:
        if ti.get("reverse"):
            report.no(f"{name}: track_interface {ti['name']} reverse is not modelled")
        tracked.append({"name": ti["name"], "weight": ti["weight"]} if ti["weight"] else ti["name"])
    if tracked:
        view["track_interfaces"] = tracked
    notify, options = _notify(inst.get("notify") or {}, name, report)
    if notify:
        view["notify"] = notify
    for field in _INSTANCE_OPTIONS:
        if field in changed:
            options[field] = number(inst[field])
    if "accept" in changed:
        options["no_accept" if not inst["accept"] else "accept"] = True
    if inst.get("use_vmac"):
        options["use_vmac"] = inst.get("vmac_name") or True
    if inst.get("mcast_src_ip"):
        report.no(f"{name}: mcast_src_ip {inst['mcast_src_ip']} is host-specific: not modelled")
    handled = _INSTANCE_MODELLED | set(_INSTANCE_OPTIONS) | {"accept", "use_vmac", "vmac_name"}
    for field in sorted(changed - handled - {"mcast_src_ip"}):
        report.no(f"{name}: {field} is not modelled")
    if options:
        view["instance_options"] = options
    host: dict[str, Any] = {
        "name": node.host,
        "priority": inst["priority"],
        "state": inst["state"],
        "interface": inst.get("interface"),
    }
    if view["unicast"] and node.source:
        host["address"] = node.source
    return view, host


def _track(
    script: Mapping[str, Any], ref: Mapping[str, Any], where: str, report: Report
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": script["name"],
        "script": command(script["script"], f"{where}: vrrp_script {script['name']}", report),
    }
    changed = marked(script)
    for key in ("interval", "timeout", "fall", "rise", "weight"):
        if key in changed:
            entry[key] = number(script[key])
    user = (script.get("script") or {}).get("user")
    if user:
        entry["user"] = user
    if script.get("init_fail"):
        entry["options"] = {"init_fail": True}
    if script.get("weight_reverse"):
        report.no(f"{where}: vrrp_script {script['name']}: weight reverse is not modelled")
    if ref.get("weight") is not None or ref.get("reverse"):
        report.no(f"{where}: track_script {ref['name']}: a weight in the reference is not modelled")
    if not _NAME_RE.match(script["name"]):
        report.no(f"{where}: vrrp_script name {script['name']!r} is not a valid track name")
    return entry


def _notify(
    notify: Mapping[str, Any], where: str, report: Report
) -> tuple[dict[str, str], dict[str, Any]]:
    out: dict[str, str] = {}
    options: dict[str, Any] = {}
    for field, key in (
        ("master", "master"),
        ("backup", "backup"),
        ("fault", "fault"),
        ("stop", "stop"),
        ("generic", "notify"),
    ):
        cmd = command(notify.get(field), f"{where}: notify {key}", report)
        if cmd is not None:
            out[key] = cmd
    for field in ("deleted", "master_rx_lower_pri"):
        cmd = command(notify.get(field), f"{where}: notify_{field}", report)
        if cmd is not None:
            options[f"notify_{field}"] = cmd
    # a bare `notify_deleted` (no command) still tells the notify scripts DELETED, not FAULT
    if notify.get("send_deleted") and "notify_deleted" not in options:
        options["notify_deleted"] = True
    return out, options


def _global_defs(host: str, config: Mapping[str, Any], report: Report) -> dict[str, Any]:
    gd = config.get("global_defs") or {}
    changed = marked(gd)
    out: dict[str, Any] = {}
    for key in _GLOBAL_KEYWORDS:
        if key in changed:
            out[key] = number(gd[key])
    for key in sorted(changed - set(_GLOBAL_KEYWORDS)):
        report.no(f"{host}: global_defs {key} is not modelled")
    # the render's own defaults (router_id = host name, script security) are overridden:
    # null and false are left out of the rendered block, as they are out of the original
    out.setdefault("router_id", gd.get("router_id"))
    out.setdefault("enable_script_security", gd.get("enable_script_security", False))
    out.setdefault("script_user", gd.get("script_user"))
    return out


# ------------------------------------------------------------------------------- clusters


def _unique_name(wanted: str, taken: set[str]) -> str:
    base = re.sub(r"[^A-Za-z0-9_.-]", "_", wanted).lstrip("_.-") or "cluster"
    name, n = base, 2
    while name in taken:
        name, n = f"{base}_{n}", n + 1
    taken.add(name)
    return name


def _merge_cluster(
    name: str,
    comps: list[list[_Node]],
    configs: Mapping[str, Mapping[str, Any]],
    facts: Mapping[str, HostFacts],
    report: Report,
) -> tuple[dict[str, Any], str | None]:
    """One cluster's entry (and its VRRPv2 password) from its instances on every host."""
    cluster: dict[str, Any] = {"name": name}
    hosts: dict[str, dict[str, Any]] = {}
    auth: str | None = None
    vips: list[str] = []
    for comp in comps:
        views = []
        for node in sorted(comp, key=lambda n: n.host):
            view, host = _instance_view(node, configs[node.host], report)
            views.append((node, view))
            entry = hosts.setdefault(node.host, dict(host))
            if entry["priority"] != host["priority"] or entry["state"] != host["state"]:
                report.no(
                    f"{node.host}: vrrp_instance {node.inst['name']}: priority/state differ"
                    " from its sync group partner (the IPv4 instance's are kept)"
                )
        family = comp[0].family
        cluster[f"@vrid_{family}"] = comp[0].inst["virtual_router_id"]
        first_node, first = views[0]
        for node, view in views[1:]:
            for key in sorted(set(view) | set(first)):
                if plain(view.get(key)) != plain(first.get(key)):
                    report.no(
                        f"cluster {name}: {key} differs between {first_node.host} and"
                        f" {node.host} ({first_node.host}'s is imported)"
                    )
        for key, value in first.items():
            if key == "@auth_pass":
                auth = value
            elif key == "vips":
                vips += value
            elif key in ("vip_options", "instance_options", "notify"):
                cluster.setdefault(key, {}).update(value)
            elif key == "track":
                known = {t["name"] for t in cluster.get("track", [])}
                cluster.setdefault("track", []).extend(t for t in value if t["name"] not in known)
            elif key == "track_interfaces":
                cluster.setdefault(key, [])
                cluster[key] += [t for t in value if t not in cluster[key]]
            elif key not in cluster:
                cluster[key] = value
        for node in comp:
            if node.peers:
                wanted = {n.source for n in comp if n is not node}
                extra = sorted(node.peers - wanted)
                if extra:
                    report.no(
                        f"{node.host}: vrrp_instance {node.inst['name']}: unicast peers"
                        f" {', '.join(extra)} are not imported hosts of this cluster"
                    )
    cluster["vips"] = vips
    if len(comps) > 1 and cluster.get("version") == 2:
        # the planner refuses version: 2 next to IPv6 VIPs; 2 is the IPv4 instance's default
        # (vipkeeper_vrrp_version), which a site that imports keepalived keeps
        del cluster["version"]
    vrids = {cluster.pop(k) for k in list(cluster) if k.startswith("@vrid_")}
    cluster["vrid"] = vrids.pop()
    if vrids:
        report.no(f"cluster {name}: IPv4 and IPv6 VRIDs differ; the model pins one VRID")
    ordered = sorted(hosts.values(), key=lambda h: (-int(h["priority"]), h["name"]))
    iface = ordered[0]["interface"]
    cluster["interface"] = iface
    cluster["hosts"] = [_host_entry(h, iface) for h in ordered]
    if len(ordered) == 1:
        cluster["allow_single_host"] = True
    if not _vips_inside(cluster, ordered, facts):
        cluster["check_vip_network"] = False
    if auth is not None:
        cluster["auth_pass"] = "{{ " + AUTH_VAR + "[" + repr(name) + "] }}"
    return cluster, auth


def _check_tracking_weight(
    cluster: Mapping[str, Any],
    group: list[list[_Node]],
    configs: Mapping[str, Mapping[str, Any]],
    report: Report,
) -> None:
    """The render adds sync_group_tracking_weight exactly when a weight is tracked."""
    weighted = any(t.get("weight") for t in cluster.get("track", [])) or any(
        isinstance(t, Mapping) and t.get("weight") for t in cluster.get("track_interfaces", [])
    )
    for node in group[0]:
        name = node.inst.get("sync_group")
        sg = next(
            (g for g in configs[node.host].get("vrrp_sync_groups") or [] if g["name"] == name),
            None,
        )
        if sg is not None and bool(sg.get("sync_group_tracking_weight")) != weighted:
            report.no(
                f"{node.host}: vrrp_sync_group {name}: sync_group_tracking_weight is"
                f" {'rendered' if weighted else 'not rendered'} for cluster {cluster['name']}"
                " (the model sets it exactly when a tracked script or interface has a weight)"
            )


def _host_entry(host: Mapping[str, Any], iface: str) -> dict[str, Any]:
    entry = {"name": host["name"], "priority": host["priority"], "state": host["state"]}
    if host["interface"] != iface:
        entry["interface"] = host["interface"]
    if host.get("address"):
        entry["address"] = host["address"]
    return entry


def _vips_inside(
    cluster: Mapping[str, Any], hosts: Sequence[Mapping[str, Any]], facts: Mapping[str, HostFacts]
) -> bool:
    for h in hosts:
        iface = facts[h["name"]].interface(str(h["interface"]))
        if iface is None:
            return False
        for vip in cluster["vips"]:
            addr = ipaddress.ip_interface(vip)
            nets = networks(iface, f"ipv{addr.version}")
            if not any(addr.ip in n for n in nets):
                return False
    return True


def import_fleet(
    configs: Mapping[str, Mapping[str, Any]], facts: Mapping[str, HostFacts]
) -> dict[str, Any]:
    """The inventory fragment for these hosts' exported configs (kaexport.export)."""
    report = Report()
    nodes: list[_Node] = []
    for host in sorted(configs):
        for inst in configs[host].get("vrrp_instances") or []:
            if not inst.get("virtual_ipaddresses"):
                report.no(f"{host}: vrrp_instance {inst['name']} has no VIPs: not imported")
                continue
            nodes.append(_Node(host, inst, facts[host]))
    comps = _components(nodes)
    comps.sort(key=lambda c: (c[0].family, c[0].key[1], min(n.host for n in c)))
    taken: set[str] = set()
    clusters, secrets, lock = [], {}, {}
    for group in _pair_sync_groups(comps, configs, report):
        top = max(group[0], key=lambda n: (int(n.inst["priority"]), n.host))
        name = _unique_name(str(top.inst["name"]), taken)
        cluster, auth = _merge_cluster(name, group, configs, facts, report)
        for comp in group:
            for node in comp:
                want = name if comp is group[0] else f"{name}_v6"
                if node.inst["name"] != want:
                    report.renamed.append(
                        f"{node.host}: vrrp_instance {node.inst['name']} -> {want}"
                    )
        if len(group) > 1:
            report.renamed.append(f"vrrp_sync_group of cluster {name} -> {name}_group")
            _check_tracking_weight(cluster, group, configs, report)
        for track in cluster.get("track", []):
            report.renamed.append(f"vrrp_script {track['name']} -> {name}_{track['name']}")
        clusters.append(cluster)
        if auth is not None:
            secrets[name] = auth
        lock[name] = {}
        for comp in group:
            entry: dict[str, Any] = {"vrid": cluster["vrid"]}
            group_key = "mcast_group" if comp[0].family == "ipv4" else "mcast_group6"
            if group_key in cluster:
                entry["mcast_group"] = cluster[group_key]
            lock[name][comp[0].family] = entry
    attach_virtual_servers(clusters, configs, report)
    host_vars = {
        host: {"vrrp_global_defs": _global_defs(host, configs[host], report)} for host in configs
    }
    for host, config in configs.items():
        for key in (
            "static_ipaddresses",
            "static_routes",
            "virtual_server_groups",
            "track_files",
            "track_processes",
            "ssl",  # the root SSL block (SSL_GET's client certificate and CA files)
        ):
            if config.get(key):
                report.no(f"{host}: {key} is not modelled")
        # vipkeeper's own block: keepalived refuses it, and the import's first deploy may
        # still run keepalived, so it is named rather than carried over
        split_brain = sorted(marked(config.get("vipkeeper") or {}))
        if split_brain:
            report.no(
                f"{host}: the vipkeeper {{ }} block ({', '.join(split_brain)}) is not imported:"
                " set vipkeeper_split_brain for this host once it runs vipkeeper"
            )
    return {
        "vipkeeper_clusters": clusters,
        "lock": lock,
        "secrets": {AUTH_VAR: secrets},
        "host_vars": host_vars,
        "unsupported": report.unsupported,
        "renamed": report.renamed,
    }
