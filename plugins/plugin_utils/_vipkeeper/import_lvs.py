# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The import of keepalived's virtual servers, real servers and checkers (docs/migration.md):
# each virtual server goes to the cluster that holds its address as a VIP.

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.import_common import (
    Report,
    command,
    marked,
    number,
    plain,
)

_VS_KEYWORDS = (
    "lb_algo",
    "lb_kind",
    "protocol",
    "persistence_timeout",
    "persistence_granularity",
    "quorum",
    "hysteresis",
    "ops",
    "delay_loop",
    "connect_timeout",
    "retry",
    "delay_before_retry",
    "warmup",
    "ha_suspend",
    "alpha",
    "omega",
    "virtualhost",
    "inhibit_on_failure",
    "sorry_server_inhibit",
    "smtp_alert",
)
_RS_KEYWORDS = (
    "weight",
    "lvs_method",
    "inhibit_on_failure",
    "uthreshold",
    "lthreshold",
    "alpha",
    "smtp_alert",
    "virtualhost",
)
# Every checker gets these explicitly: they are inherited (virtual_server, real_server, the
# checker type's defaults), so an explicit value keeps them whatever the block around it says.
_CHECKER_TIMING = ("connect_timeout", "retry", "delay_before_retry", "warmup", "delay_loop")
_CHECKER_KEYWORDS = (
    "connect_ip",
    "connect_port",
    "bindto",
    "bind_port",
    "bind_if",
    "fwmark",
    "alpha",
    "log_all_failures",
    "virtualhost",
    "http_protocol",
    "enable_sni",
    "sni_name",
    "tls_compliant",
    "fast_recovery",
    "misc_timeout",
    "misc_dynamic",
    "type",
    "name",
)


def _checker(chk: Mapping[str, Any], where: str, report: Report) -> tuple[str, dict[str, Any]]:
    kind = "SSL_GET" if chk.get("ssl") else str(chk["kind"])
    changed = marked(chk)
    out: dict[str, Any] = {key: number(chk[key]) for key in _CHECKER_TIMING if key in chk}
    for key in _CHECKER_KEYWORDS:
        if key in changed and key in chk and key != "kind":
            out[key] = number(chk[key])
    if chk.get("misc_path"):
        out["misc_path"] = command(chk["misc_path"], f"{where}: misc_path", report)
    urls = []
    for url in chk.get("urls") or []:
        entry: dict[str, Any] = {"path": url["path"]}
        codes = url.get("status_codes") or []
        if codes != [[200, 299]]:
            if len(codes) == 1:
                lo, hi = codes[0]
                entry["status_code"] = lo if lo == hi else f"{lo}-{hi}"
            else:
                report.no(f"{where}: url {url['path']}: several status_code ranges")
        if url.get("digest"):
            entry["digest"] = url["digest"]
        if url.get("virtualhost"):
            entry["virtualhost"] = url["virtualhost"]
        urls.append(entry)
    if urls:
        out["url"] = urls
    # tls: the root SSL block, reported once per host; sni_host: derived from the virtualhosts
    derived = {"tls", "sni_host"}
    handled = set(_CHECKER_TIMING) | set(_CHECKER_KEYWORDS) | {"kind", "ssl", "urls", "misc_path"}
    handled |= derived
    for key in sorted(changed - handled):
        report.no(f"{where}: {kind} {key} is not modelled")
    return kind, out


def _virtual_server(vs: Mapping[str, Any], where: str, report: Report) -> dict[str, Any] | None:
    name = f"{where}: virtual_server {vs.get('address')} {vs.get('port')}"
    if vs.get("address") is None or vs.get("port") is None:
        report.no(f"{where}: virtual_server fwmark/group {vs.get('fwmark') or vs.get('group')}")
        return None
    changed = marked(vs)
    out: dict[str, Any] = {"address": vs["address"], "port": vs["port"]}
    for key in _VS_KEYWORDS:
        if key in changed or key == "protocol":  # keepalived requires the protocol
            out[key] = number(vs[key])
    for key in ("quorum_up", "quorum_down"):
        if vs.get(key):
            out[key] = command(vs[key], f"{name}: {key}", report)
    handled = set(_VS_KEYWORDS) | {"address", "port", "real_servers", "quorum_up", "quorum_down"}
    for key in sorted(changed - handled):
        report.no(f"{name}: {key} is not modelled")
    reals = []
    for rs in vs.get("real_servers") or []:
        rname = f"{name}: real_server {rs['address']} {rs.get('port')}"
        entry: dict[str, Any] = {"address": rs["address"], "port": rs.get("port")}
        rchanged = marked(rs)
        for key in _RS_KEYWORDS:
            if key in rchanged:
                entry[key] = number(rs[key])
        for key in ("notify_up", "notify_down"):
            if rs.get(key):
                entry[key] = command(rs[key], f"{rname}: {key}", report)
        for chk in rs.get("checkers") or []:
            kind, block = _checker(chk, rname, report)
            if kind in entry:
                prev = entry[kind]
                entry[kind] = [*prev, block] if isinstance(prev, list) else [prev, block]
            else:
                entry[kind] = block
        rhandled = set(_RS_KEYWORDS) | {"address", "port", "checkers", "notify_up", "notify_down"}
        for key in sorted(rchanged - rhandled):
            report.no(f"{rname}: {key} is not modelled")
        reals.append(entry)
    out["real_servers"] = reals
    return out


def attach_virtual_servers(
    clusters: list[dict[str, Any]], configs: Mapping[str, Mapping[str, Any]], report: Report
) -> None:
    """Each virtual server goes to the cluster that holds its address as a VIP, on its hosts."""
    for cluster in clusters:
        members = [h["name"] for h in cluster["hosts"]]
        addresses = {str(ipaddress.ip_interface(v).ip) for v in cluster["vips"]}
        chosen: dict[tuple[Any, Any], tuple[str, dict[str, Any]]] = {}
        for host in members:
            for vs in configs[host].get("virtual_servers") or []:
                if vs.get("address") not in addresses:
                    continue
                key = (vs["address"], vs["port"])
                built = _virtual_server(vs, host, report)
                if built is None:
                    continue
                if key in chosen and plain(chosen[key][1]) != plain(built):
                    report.no(
                        f"cluster {cluster['name']}: virtual_server {key[0]} {key[1]} differs"
                        f" between {chosen[key][0]} and {host} ({chosen[key][0]}'s is imported)"
                    )
                chosen.setdefault(key, (host, built))
        for host in members:
            have = {
                (vs.get("address"), vs.get("port"))
                for vs in configs[host].get("virtual_servers") or []
            }
            for key in chosen:
                if key not in have:
                    report.no(
                        f"{host}: virtual_server {key[0]} {key[1]} is rendered on every host"
                        f" of cluster {cluster['name']}, and {host} had none"
                    )
        if chosen:
            cluster["virtual_servers"] = [built for _host, built in chosen.values()]
    attached = {
        (vs["address"], vs["port"]) for c in clusters for vs in c.get("virtual_servers", [])
    }
    for host, config in configs.items():
        for vs in config.get("virtual_servers") or []:
            if (vs.get("address"), vs.get("port")) not in attached:
                report.no(
                    f"{host}: virtual_server {vs.get('address')} {vs.get('port')}: its address is"
                    " no VIP of an imported cluster: not imported"
                )
