"""The shipped Grafana dashboard (extensions/grafana/vipkeeper.json) against this daemon's metrics.

Every query of the dashboard (panels, annotations, the variables' label_values selectors), with
Grafana's variables replaced, is loaded as a recording rule by `promtool check rules`, which
parses PromQL as Prometheus does; every metric name it uses must be one metricset.py exports.
promtool comes with Debian's `prometheus` package (`make deps`): without it the test fails rather
than skips. Not checked here: a Grafana instance rendering it, and the queries against a live
Prometheus in the lab (issue 20).
"""

from __future__ import annotations

import inspect
import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("prometheus_client")  # the [metrics] extra; `make deps` installs it

from vipkeeper.daemon import metricset

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "extensions" / "grafana" / "vipkeeper.json"
VARIABLES = {"cluster", "instance", "vrrp_instance", "datasource"}
# Grafana's variables, as a query would see them once Grafana filled them in
SUBSTITUTE = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$cluster": ".*",
    "$instance": ".*",
    "$vrrp_instance": ".*",
}


def dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return data


def panels(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, rows' nested panels included, rows themselves excluded."""
    out = []
    for panel in data["panels"]:
        if panel["type"] == "row":
            out.extend(panel.get("panels", []))
        else:
            out.append(panel)
    return out


def queries(data: dict[str, Any]) -> list[tuple[str, str]]:
    """(where, PromQL) of every query: panels' targets, annotations, variables' selectors."""
    out = []
    for panel in panels(data):
        for target in panel["targets"]:
            out.append((f"panel {panel['title']!r} target {target['refId']}", target["expr"]))
    for note in data["annotations"]["list"]:
        if "expr" in note:
            out.append((f"annotation {note['name']!r}", note["expr"]))
    for var in data["templating"]["list"]:
        if var["type"] == "query":
            found = re.fullmatch(r"label_values\((.+), *(\w+)\)", var["query"]["query"])
            assert found, f"variable {var['name']}: {var['query']['query']}"
            out.append((f"variable {var['name']!r}", found.group(1)))
    return out


def exported() -> set[str]:
    """The sample names metricset.py exports: gauges as named, counters with _total, info with
    _info (prometheus_client's exposition), from its source and its table of daemon counters."""
    source = inspect.getsource(metricset)
    names = set()
    for kind, name in re.findall(r'(Gauge|Counter|Info)MetricFamily\(\s*"(vipkeeper_\w+)"', source):
        names.add(name + {"Gauge": "", "Counter": "_total", "Info": "_info"}[kind])
    names |= {name + "_total" for name, _help in metricset.DAEMON_COUNTERS.values()}
    return names


def promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("promtool")
    if tool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (make deps)")
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_exported_names_match_a_real_exposition() -> None:
    """exported() agrees with what prometheus_client writes for a snapshot (its derivation)."""
    from prometheus_client.core import CollectorRegistry
    from prometheus_client.exposition import generate_latest

    snap = {
        "version": "0.0.0",
        "started_at": 1.0,
        "counters": dict.fromkeys(metricset.DAEMON_COUNTERS, 1),
        "instances": [
            {"name": "VI_1", "vrid": 51, "interface": "eth0", "family": 4, "state": "MASTER",
             "base_priority": 150, "effective_priority": 150,
             "counters": {"adverts_sent": 3, "adverts_received": 0,
                          "priority_zero_received": 0, "priority_zero_sent": 0}},
        ],
    }  # fmt: skip

    class Collector:
        def collect(self) -> Any:
            yield from metricset.families(snap)

    registry = CollectorRegistry()
    registry.register(Collector())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    written = set(re.findall(r"^(vipkeeper_\w+?)(?:\{| )", text, re.M))
    assert "vipkeeper_vrrp_adverts_sent_total" in written and "vipkeeper_build_info" in written
    assert written <= exported(), written - exported()


def test_the_dashboard_is_well_formed() -> None:
    data = dashboard()
    assert data["uid"] == "vipkeeper-vrrp" and data["title"] == "vipkeeper"
    assert isinstance(data["schemaVersion"], int) and data["schemaVersion"] >= 36
    assert {v["name"] for v in data["templating"]["list"]} == VARIABLES
    every = panels(data)
    assert len(every) >= 15
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    boxes = []
    for panel in every:
        where = f"panel {panel['title']!r}"
        assert panel["targets"] and panel.get("description"), where
        assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, where
        grid = panel["gridPos"]
        assert grid["x"] >= 0 and grid["w"] > 0 and grid["x"] + grid["w"] <= 24, where
        boxes.append((where, grid))
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), where
    for i, (a, ga) in enumerate(boxes):  # no two panels overlap
        for b, gb in boxes[i + 1 :]:
            apart = (
                ga["x"] + ga["w"] <= gb["x"]
                or gb["x"] + gb["w"] <= ga["x"]
                or ga["y"] + ga["h"] <= gb["y"]
                or gb["y"] + gb["h"] <= ga["y"]
            )
            assert apart, f"{a} overlaps {b}"


def test_every_query_is_valid_promql(tmp_path: Path) -> None:
    rules = []
    for index, (where, expr) in enumerate(queries(dashboard())):
        for variable, value in SUBSTITUTE.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"{where}: a variable the test does not know: {expr}"
        rules.append({"record": f"dashboard:query_{index}", "expr": expr, "labels": {"at": where}})
    path = tmp_path / "dashboard-rules.yml"
    path.write_text(json.dumps({"groups": [{"name": "dashboard", "rules": rules}]}))
    done = promtool("check", "rules", path.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {len(rules)} rules found" in done.stdout, done.stdout


def test_every_metric_name_is_one_the_daemon_exports() -> None:
    names = exported()
    used: set[str] = set()
    for where, expr in queries(dashboard()):
        found = set(re.findall(r"\bvipkeeper_\w+", expr))
        assert found, f"{where} uses no vipkeeper metric: {expr}"
        assert found <= names, f"{where}: not exported by metricset.py: {sorted(found - names)}"
        used |= found
    # the dashboard covers the VRRP state, the VIPs, the checks, LVS and the daemon
    for name in (
        "vipkeeper_vrrp_state",
        "vipkeeper_vip_held",
        "vipkeeper_vrrp_transitions_total",
        "vipkeeper_vrrp_script_ok",
        "vipkeeper_lvs_real_server_up",
        "vipkeeper_up",
        "vipkeeper_reload_failures_total",
    ):
        assert name in used, name


def test_a_mistyped_metric_or_broken_query_is_caught(tmp_path: Path) -> None:
    """The two checks above fail on a bad dashboard (they are not vacuous)."""
    assert "vipkeeper_vrrp_stat" not in exported()
    bad = tmp_path / "bad.yml"
    bad.write_text(
        json.dumps({"groups": [{"name": "g", "rules": [{"record": "r", "expr": "sum by (x ("}]}]})
    )
    assert promtool("check", "rules", bad.name, cwd=tmp_path).returncode != 0
