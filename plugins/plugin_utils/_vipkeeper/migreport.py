# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The migration report: what a client probing each cluster's VIP saw, step by step.

playbooks/migrate.yml (and migrate_rollback.yml) probe each cluster's first VIP from a client
(vipkeeper.vrrp.vip_probe, as a drill does) while the rolling step switches one member at a time,
and the rolling step notes each host's turn (roles/vrrp/tasks/rolling_host.yml:
`_vrrp_rolling_log`). This module joins the two into the drill report's format (docs/drills.md):
one record per cluster with the client's figures, its loss windows split by step, and the bound,
one handover. Pure: no I/O, no clock.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

# Slack on top of the protocol's handover time, as the drills' SLOs: gratuitous ARP, the client's
# ARP cache, scheduling on a loaded machine.
DEFAULT_SLACK = 1.0


def _float(value: Any) -> float | None:
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


def _address(vip: Any) -> str:
    return str(vip).split("/", 1)[0]


def action(step: Mapping[str, Any]) -> str:
    """A step's action in words: `handover, keepalived -> vipkeeper`, `restart vipkeeper`."""
    what = (
        f"{step.get('from')} -> {step.get('to')}"
        if step.get("switch")
        else f"restart {step.get('to')}"
    )
    return ("handover, " if step.get("handover") else "") + what


def handover_bound(
    cluster: Mapping[str, Any], master: str | None, interval: float, slack: float
) -> dict[str, Any]:
    """One handover: the skew time of the member that takes over from `master`.

    After the master's priority-0 advert, the backup of the highest priority takes over after its
    skew time, (256 - priority) / 256 x advert_int (RFC 3768 and 5798); the client's bound adds
    one probe interval (the probe resolution) and `slack`.
    """
    instances = cluster.get("instances") or [{}]
    inst = instances[0]
    advert = float(inst.get("advert_int") or 1)
    others = [m for m in inst.get("members") or [] if m.get("host") != master]
    best = max(others, key=lambda m: int(m.get("priority") or 0), default=None)
    priority = int(best.get("priority") or 0) if best else None
    skew = round((256 - priority) / 256 * advert, 3) if priority is not None else None
    seconds = round((skew or 0.0) + interval + slack, 3)
    return {
        "seconds": seconds,
        "master": master,
        "takes_over": best.get("host") if best else None,
        "priority": priority,
        "advert_int": advert,
        "skew_seconds": skew,
        "probe_interval": interval,
        "slack_seconds": slack,
    }


def _master(
    cluster: Mapping[str, Any], name: str, steps: Sequence[Mapping[str, Any]]
) -> str | None:
    """The member that handed this cluster over, else the one the plan puts first."""
    for step in steps:
        if name in (step.get("handover") or []):
            return str(step.get("host"))
    members = ((cluster.get("instances") or [{}])[0]).get("members") or []
    best = max(members, key=lambda m: int(m.get("priority") or 0), default=None)
    return str(best.get("host")) if best else None


def _step_of(window: Mapping[str, Any], steps: Sequence[Mapping[str, Any]]) -> int | None:
    start = _float(window.get("start"))
    if start is None:
        return None
    for index, step in enumerate(steps):
        began, ended = _float(step.get("began")), _float(step.get("ended"))
        if began is not None and ended is not None and began <= start <= ended:
            return index
    return None


def _gap(windows: Sequence[Mapping[str, Any]]) -> float | None:
    """The longest loss window; None when one never ended."""
    if any(w.get("seconds") is None for w in windows):
        return None
    return max((float(w["seconds"]) for w in windows), default=0.0)


def _cluster_record(
    name: str,
    cluster: Mapping[str, Any],
    probe: Mapping[str, Any],
    steps: Sequence[Mapping[str, Any]],
    *,
    migrate_to: str,
    slack: float,
) -> dict[str, Any]:
    hosts = list(cluster.get("hosts") or [])
    mine = sorted(
        (s for s in steps if s.get("host") in hosts),
        key=lambda s: _float(s.get("began")) or 0.0,
    )
    result = probe.get("result") or {}
    ran = result.get("sent") is not None and not result.get("failed")
    interval = float(result.get("interval") or probe.get("interval") or 0.1)
    master = _master(cluster, name, mine)
    bound = handover_bound(cluster, master, interval, slack)
    windows = list(result.get("windows") or []) if ran else []
    rows: list[dict[str, Any]] = []
    for step in mine:
        began, ended = _float(step.get("began")), _float(step.get("ended"))
        rows.append(
            {
                "host": step.get("host"),
                "action": action(step),
                "from": step.get("from"),
                "to": step.get("to"),
                "handover": name in (step.get("handover") or []),
                "began_at": began,
                "ended_at": ended,
                "seconds": round(ended - began, 1)
                if began is not None and ended is not None
                else None,
                "windows": [],
            }
        )
    outside: list[dict[str, Any]] = []
    for window in windows:
        index = _step_of(window, mine)
        (outside if index is None else rows[index]["windows"]).append(dict(window))
    for row in rows:
        row["lost_probes"] = sum(int(w.get("lost") or 0) for w in row["windows"]) if ran else None
        row["longest_gap_seconds"] = _gap(row["windows"]) if ran else None
    problems: list[str] = []
    total = _float(result.get("total_outage_seconds")) if ran else None
    gap = _gap(windows) if ran else None
    if not ran:
        problems.append("no probe result" + (f": {result.get('msg')}" if result.get("msg") else ""))
    elif not result.get("recovered", True):
        problems.append("the client had not reached the VIP again when the probes ended")
    if total is not None and total > bound["seconds"]:
        problems.append(
            f"the client lost {total}s ({result.get('lost')} probes), more than one handover"
            f" ({bound['seconds']}s)"
        )
    if not mine:
        problems.append("no step of the rolling switch touched this cluster")
    return {
        "cluster": name,
        "hosts": hosts,
        "vip": probe.get("vip"),
        "fault": "migrate",
        "migrate_to": migrate_to,
        "daemon": migrate_to,
        "daemons": dict.fromkeys(hosts, migrate_to),
        "old_master": master,
        "new_master": bound["takes_over"],
        "client_outage_seconds": gap,
        "client_total_outage_seconds": total,
        "lost_probes": result.get("lost") if ran else None,
        "probes_sent": result.get("sent") if ran else None,
        "client_recovered": bool(result.get("recovered")) if ran else None,
        "client_windows": windows,
        "client_timeline": list(result.get("timeline") or []) if ran else [],
        "probe_mode": result.get("mode") or probe.get("mode"),
        "probe_interval": interval,
        "probe_started_at": result.get("started_at") if ran else None,
        "probe_ended_at": result.get("ended_at") if ran else None,
        "steps": rows,
        "outside_steps": outside,
        "bound": bound,
        "slo_seconds": bound["seconds"],
        "verdict": "pass" if not problems else "fail",
        "problems": problems,
    }


def build_report(
    plan: Mapping[str, Any],
    probes: Sequence[Mapping[str, Any]],
    steps: Sequence[Mapping[str, Any]],
    *,
    started_at: str,
    migrate_from: str,
    migrate_to: str,
    client: str = "",
    slack: float = DEFAULT_SLACK,
) -> dict[str, Any]:
    """The report: `probes` holds one {cluster, vip, mode, interval, result} per probed cluster
    (`result` is vip_probe's), `steps` each host's turn of the rolling step ({host, from, to,
    switch, handover: [cluster], began, ended}, Unix times)."""
    clusters = plan.get("clusters", plan)
    records = []
    for probe in probes:
        name = str(probe.get("cluster"))
        records.append(
            _cluster_record(
                name,
                clusters.get(name) or {},
                probe,
                steps,
                migrate_to=migrate_to,
                slack=float(slack),
            )
        )
    ordered = sorted(steps, key=lambda s: _float(s.get("began")) or 0.0)
    bounds = [r["slo_seconds"] for r in records]
    return {
        "started_at": started_at,
        "fault": "migrate",
        "migrate_from": migrate_from,
        "migrate_to": migrate_to,
        "client": client,
        "slo_seconds": max(bounds) if bounds else None,
        "steps": [
            {
                "host": s.get("host"),
                "action": action(s),
                "clusters": list(s.get("clusters") or []),
                "began_at": _float(s.get("began")),
                "ended_at": _float(s.get("ended")),
            }
            for s in ordered
        ],
        "clusters": records,
    }


def _fmt(value: Any) -> str:
    return "-" if value is None else str(value)


def markdown(report: Mapping[str, Any]) -> str:
    """The report in Markdown, laid out like the drill's."""
    clusters = report.get("clusters") or []
    mode = next((c.get("probe_mode") for c in clusters if c.get("probe_mode")), "-")
    interval = next((c.get("probe_interval") for c in clusters), None)
    lines = [
        f"# vipkeeper migration {report.get('started_at')}",
        "",
        f"From {report.get('migrate_from')} to {report.get('migrate_to')}, one member of a cluster"
        " at a time. Bound: one handover, the client-visible outage of the master's priority-0"
        " handover (the best backup's skew time, plus one probe interval and"
        f" {DEFAULT_SLACK if not clusters else clusters[0]['bound']['slack_seconds']} s of slack).",
        f"Probes: {mode} every {_fmt(interval)} s from {report.get('client') or '-'}.",
        "",
        "| cluster | verdict | VIP | lost probes | client outage, total (s) | longest gap (s) |"
        " bound (s) |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in clusters:
        lines.append(
            f"| {c['cluster']} | {c['verdict']} | {_fmt(c.get('vip'))} |"
            f" {_fmt(c.get('lost_probes'))}/{_fmt(c.get('probes_sent'))} |"
            f" {_fmt(c.get('client_total_outage_seconds'))} |"
            f" {_fmt(c.get('client_outage_seconds'))} |"
            f" {c['slo_seconds']} |"
        )
    for c in clusters:
        started = _float(c.get("probe_started_at"))
        lines += [
            "",
            f"## {c['cluster']}",
            "",
            "| step | host | action | from probe start (s) | took (s) | lost probes |"
            " longest gap (s) |",
            "|---|---|---|---|---|---|---|",
        ]
        for index, row in enumerate(c.get("steps") or [], 1):
            began = _float(row.get("began_at"))
            offset = (
                round(began - started, 1) if began is not None and started is not None else None
            )
            lines.append(
                f"| {index} | {row['host']} | {row['action']} | {_fmt(offset)} |"
                f" {_fmt(row.get('seconds'))} | {_fmt(row.get('lost_probes'))} |"
                f" {_fmt(row.get('longest_gap_seconds'))} |"
            )
        outside = c.get("outside_steps") or []
        if outside:
            lost = sum(int(w.get("lost") or 0) for w in outside)
            lines.append(f"| - | - | outside the steps | - | - | {lost} | {_fmt(_gap(outside))} |")
        bound = c["bound"]
        lines += [
            "",
            f"Bound {bound['seconds']} s: {_fmt(bound['takes_over'])} (priority"
            f" {_fmt(bound['priority'])}) takes over from {_fmt(bound['master'])} after its skew"
            f" time {_fmt(bound['skew_seconds'])} s (advert_int {bound['advert_int']} s).",
        ]
        if c.get("problems"):
            lines += ["", f"**{c['cluster']}**: " + "; ".join(c["problems"])]
    lines += [
        "",
        "Lost probes and gaps are the client's; a loss window belongs to the step during which it"
        " began (the controller's clock for the steps, the client's for the probes).",
        "",
    ]
    return "\n".join(lines)
