"""The Prometheus metric set: every family `/metrics` serves, built from one status snapshot.

The figures are the daemon's own (`vipkeeper status --json`, dumps.snapshot): nothing here
counts anything, it only renames. docs/monitoring.md lists every metric; keep the two in step.

The instance's name is the `vrrp_instance` label, not `instance`: Prometheus gives every scraped
series an `instance` target label (host:port), and a scraped `instance` label would be renamed
`exported_instance`.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.metrics_core import Metric

STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")
INSTANCE_LABELS = ["vrrp_instance", "vrid", "interface", "family"]
# The daemon-wide counters of the snapshot ("counters"): key -> (metric name, help).
DAEMON_COUNTERS = {
    "send_errors": ("vipkeeper_vrrp_send_errors", "VRRP adverts the kernel refused to send"),
    "unknown_vrid": ("vipkeeper_vrrp_unknown_vrid", "VRRP packets for a VRID not configured here"),
    "not_vrrp": ("vipkeeper_vrrp_not_vrrp", "Packets on the VRRP sockets that were not VRRP"),
    "reloads": ("vipkeeper_reloads", "Reloads (SIGHUP) attempted"),
    "reload_failures": ("vipkeeper_reload_failures", "Reloads that kept the running config"),
    "kernel_errors": ("vipkeeper_kernel_errors", "Address and route changes the kernel refused"),
    "garps_sent": ("vipkeeper_garps_sent", "Gratuitous ARP and unsolicited NA packets sent"),
    "notifies_run": ("vipkeeper_notifies_run", "Notify scripts started"),
    "notifies_killed": ("vipkeeper_notifies_killed", "Notify scripts killed at their timeout"),
    "smtp_sent": ("vipkeeper_smtp_alerts_sent", "SMTP alerts the server accepted"),
    "smtp_failed": ("vipkeeper_smtp_alerts_failed", "SMTP alerts that failed (logged)"),
    "smtp_dropped": ("vipkeeper_smtp_alerts_dropped", "SMTP alerts dropped: the queue was full"),
    "vip_conflicts": ("vipkeeper_vip_conflicts", "VIP conflicts begun: another MAC claimed a VIP"),
    "vip_conflict_answers": (
        "vipkeeper_vip_conflict_answers",
        "Claims of our VIPs heard from another MAC",
    ),
    "takeovers_held": (
        "vipkeeper_takeovers_held",
        "Takeovers the takeover guard held back: another host answered for the VIPs",
    ),
}


def _instance_labels(inst: dict[str, Any]) -> list[str]:
    family = "ipv6" if inst["family"] == 6 else "ipv4"
    return [inst["name"], str(inst["vrid"]), inst["interface"], family]


def families(snap: dict[str, Any]) -> Iterator[Metric]:
    """The metric families of one snapshot (dumps.snapshot), in a stable order."""
    yield from _process(snap)
    yield from _instances(snap.get("instances", []))
    yield from _checks(snap)
    yield from _lvs(snap.get("lvs"))


def _process(snap: dict[str, Any]) -> Iterator[Metric]:
    info = InfoMetricFamily("vipkeeper_build", "The running vipkeeper")
    info.add_metric([], {"version": snap["version"], "python": platform.python_version()})
    yield info
    up = GaugeMetricFamily("vipkeeper_up", "1 while the daemon answers (0 never: absent instead)")
    up.add_metric([], 1.0)
    yield up
    started = GaugeMetricFamily("vipkeeper_start_time_seconds", "When the daemon started (Unix)")
    started.add_metric([], snap["started_at"])
    yield started
    last = snap.get("last_reload") or {}
    ok = GaugeMetricFamily(
        "vipkeeper_config_last_reload_successful",
        "0 when the last reload kept the running config (1 also before any reload)",
    )
    ok.add_metric([], 1.0 if last.get("ok", True) else 0.0)
    yield ok
    errors = GaugeMetricFamily(
        "vipkeeper_config_errors", "Errors in the config file the last reload read"
    )
    errors.add_metric([], float(last.get("errors", 0) or 0))
    yield errors
    not_started = GaugeMetricFamily(
        "vipkeeper_vrrp_instances_not_started",
        "Configured VRRP instances the daemon could not start",
    )
    not_started.add_metric([], float(len(snap.get("not_started", {}))))
    yield not_started
    counters = snap.get("counters", {})
    for key, (name, doc) in DAEMON_COUNTERS.items():
        if key in counters:
            family = CounterMetricFamily(name, doc)
            family.add_metric([], counters[key])
            yield family


def _instances(instances: Iterable[dict[str, Any]]) -> Iterator[Metric]:
    labels = INSTANCE_LABELS
    state = GaugeMetricFamily(
        "vipkeeper_vrrp_state", "1 for the instance's current state", labels=[*labels, "state"]
    )
    prio = GaugeMetricFamily(
        "vipkeeper_vrrp_priority",
        "Priority: kind=base as configured, kind=effective after tracking",
        labels=[*labels, "kind"],
    )
    sent = CounterMetricFamily("vipkeeper_vrrp_adverts_sent", "Adverts sent", labels=labels)
    recv = CounterMetricFamily("vipkeeper_vrrp_adverts_received", "Adverts received", labels=labels)
    drops = CounterMetricFamily(
        "vipkeeper_vrrp_adverts_dropped", "Adverts dropped", labels=[*labels, "reason"]
    )
    zero_recv = CounterMetricFamily(
        "vipkeeper_vrrp_priority_zero_received",
        "Adverts of priority 0 received (a master letting go)",
        labels=labels,
    )
    zero_sent = CounterMetricFamily(
        "vipkeeper_vrrp_priority_zero_sent",
        "Adverts of priority 0 sent (letting go as master)",
        labels=labels,
    )
    trans = CounterMetricFamily(
        "vipkeeper_vrrp_transitions",
        "State transitions",
        labels=[*labels, "from_state", "to_state", "reason"],
    )
    last = GaugeMetricFamily(
        "vipkeeper_vrrp_last_transition_timestamp_seconds",
        "When the instance last changed state (Unix; absent before its first change)",
        labels=labels,
    )
    master = InfoMetricFamily(
        "vipkeeper_vrrp_master", "The master this instance knows of", labels=labels
    )
    held = GaugeMetricFamily(
        "vipkeeper_vip_held",
        "1 while this host holds the virtual address",
        labels=[*labels, "vip"],
    )
    conflict = GaugeMetricFamily(
        "vipkeeper_vip_conflict",
        "1 while another MAC claims the VIP (split brain seen from the data plane)",
        labels=[*labels, "address", "mac", "vip_interface"],
    )
    for inst in instances:
        values = _instance_labels(inst)
        for cf in inst.get("conflicts", []):
            conflict.add_metric([*values, cf["address"], cf["mac"], cf["interface"]], 1.0)
        for st in STATES:
            state.add_metric([*values, st], 1.0 if inst["state"] == st else 0.0)
        prio.add_metric([*values, "base"], inst["base_priority"])
        prio.add_metric([*values, "effective"], inst["effective_priority"])
        c = inst["counters"]
        sent.add_metric(values, c["adverts_sent"])
        recv.add_metric(values, c["adverts_received"])
        for reason, count in c.get("drops", {}).items():
            drops.add_metric([*values, reason], count)
        zero_recv.add_metric(values, c["priority_zero_received"])
        zero_sent.add_metric(values, c["priority_zero_sent"])
        for edge in c.get("transitions_by", []):
            trans.add_metric([*values, edge["from"], edge["to"], edge["reason"]], edge["count"])
        if inst.get("last_transition"):
            last.add_metric(values, inst["last_transition"]["at"])
        if inst.get("master_address"):
            master.add_metric(values, {"master": inst["master_address"]})
        for vip, is_held in inst.get("vips_held", {}).items():
            held.add_metric([*values, vip], 1.0 if is_held else 0.0)
    yield from (state, prio, sent, recv, drops, zero_recv, zero_sent, trans, last, master, held)
    yield conflict


def _checks(snap: dict[str, Any]) -> Iterator[Metric]:
    ok = GaugeMetricFamily(
        "vipkeeper_vrrp_script_ok", "1 while the vrrp_script counts as succeeding", labels=["name"]
    )
    runs = CounterMetricFamily("vipkeeper_vrrp_script_runs", "vrrp_script runs", labels=["name"])
    fails = CounterMetricFamily(
        "vipkeeper_vrrp_script_failures", "vrrp_script runs that failed", labels=["name"]
    )
    timeouts = CounterMetricFamily(
        "vipkeeper_vrrp_script_timeouts",
        "vrrp_script runs killed at their timeout (also counted as failures)",
        labels=["name"],
    )
    for script in snap.get("scripts", []):
        name = [script["name"]]
        ok.add_metric(name, 1.0 if script["ok"] else 0.0)
        runs.add_metric(name, script["runs"])
        fails.add_metric(name, script["failures"])
        timeouts.add_metric(name, script.get("timeouts", 0))
    yield from (ok, runs, fails, timeouts)
    quorum = GaugeMetricFamily(
        "vipkeeper_track_process_up",
        "1 while the vrrp_track_process has its quorum of processes",
        labels=["name"],
    )
    count = GaugeMetricFamily(
        "vipkeeper_track_process_processes",
        "Processes matching the vrrp_track_process",
        labels=["name"],
    )
    for name, proc in snap.get("track_processes", {}).items():
        quorum.add_metric([name], 1.0 if proc["quorum"] else 0.0)
        count.add_metric([name], proc["processes"])
    yield from (quorum, count)
    value = GaugeMetricFamily(
        "vipkeeper_track_file_value", "The number the track_file holds", labels=["name"]
    )
    for name, number in snap.get("track_files", {}).items():
        value.add_metric([name], number)
    yield value


def _lvs(lvs: dict[str, Any] | None) -> Iterator[Metric]:
    """Virtual servers, real servers and their checkers (none without LVS)."""
    vs_labels = ["virtual_server"]
    rs_labels = ["virtual_server", "real_server"]
    ck_labels = [*rs_labels, "checker", "target"]
    quorum = GaugeMetricFamily(
        "vipkeeper_lvs_virtual_server_quorum_up",
        "1 while the alive real servers' weights reach the quorum",
        labels=vs_labels,
    )
    live = GaugeMetricFamily(
        "vipkeeper_lvs_virtual_server_live_weight",
        "Sum of the alive real servers' weights",
        labels=vs_labels,
    )
    sorry = GaugeMetricFamily(
        "vipkeeper_lvs_virtual_server_sorry_server_active",
        "1 while the sorry server takes the traffic",
        labels=vs_labels,
    )
    suspended = GaugeMetricFamily(
        "vipkeeper_lvs_virtual_server_suspended",
        "1 while ha_suspend holds the service back (no local interface has its address)",
        labels=vs_labels,
    )
    rs_up = GaugeMetricFamily(
        "vipkeeper_lvs_real_server_up", "1 while the real server is alive", labels=rs_labels
    )
    weight = GaugeMetricFamily(
        "vipkeeper_lvs_real_server_weight",
        "Weight: kind=configured, kind=effective (after MISC_CHECK dynamic weights)",
        labels=[*rs_labels, "kind"],
    )
    ck_up = GaugeMetricFamily(
        "vipkeeper_lvs_checker_up", "1 while the health checker counts as up", labels=ck_labels
    )
    attempts = CounterMetricFamily(
        "vipkeeper_lvs_checker_attempts", "Health check attempts", labels=ck_labels
    )
    failures = CounterMetricFamily(
        "vipkeeper_lvs_checker_failures", "Health check attempts that failed", labels=ck_labels
    )
    for vs in (lvs or {}).get("virtual_servers", []):
        vs_name = [vs["name"]]
        quorum.add_metric(vs_name, 1.0 if vs["quorum_up"] else 0.0)
        live.add_metric(vs_name, vs["live_weight"])
        sorry.add_metric(vs_name, 1.0 if vs["sorry_server_active"] else 0.0)
        suspended.add_metric(vs_name, 1.0 if vs["suspended"] else 0.0)
        for rs in vs["real_servers"]:
            rs_name = [*vs_name, rs["name"]]
            rs_up.add_metric(rs_name, 1.0 if rs["alive"] else 0.0)
            weight.add_metric([*rs_name, "configured"], rs["weight"])
            weight.add_metric([*rs_name, "effective"], rs["effective_weight"])
            for ck in rs["checkers"]:
                ck_name = [*rs_name, ck["kind"], ck["target"]]
                ck_up.add_metric(ck_name, 1.0 if ck["up"] else 0.0)
                attempts.add_metric(ck_name, ck["attempts"])
                failures.add_metric(ck_name, ck["failures"])
    yield from (quorum, live, sorry, suspended, rs_up, weight, ck_up, attempts, failures)
