"""A lab Prometheus: the shipped alert rules fire and clear in real drills, the dashboard has data.

One lab (2 load balancers + a client, systemd-nspawn hosts over SSH) deployed by
`vipkeeper.vrrp.site` with metrics on, served on each host's lab address. Debian's Prometheus
(/usr/bin/prometheus) runs here as a child process: scrape and evaluation every second, the
shipped rules (extensions/prometheus/vipkeeper-alerts.yml, unchanged), a temp storage directory,
127.0.0.1 and a free port. Then, asserted from Prometheus's HTTP API (/api/v1/alerts):

- a `stop` drill held for longer than VipkeeperDown's `for: 1m` (drill_probe_settle): the old
  master's daemon does not answer scrapes, VipkeeperDown goes pending then firing for it and
  for no other host, and resolves once the drill restores the daemon;
- an `isolate` drill (VRRP dropped both ways on the master) held for longer than the split-brain
  rules' `for: 30s`: both hosts are MASTER and hold the VIP, VipkeeperSplitBrain,
  VipkeeperVipHeldTwice and VipkeeperVipConflict fire, and resolve after the heal;
- every query of the Grafana dashboard (extensions/grafana/vipkeeper.json, its variables
  replaced as runtime/tests/daemon/test_grafana_dashboard.py does) succeeds against this
  Prometheus, and the VRRP, VIP, check and daemon panels return data from the lab.

No shipped rule is shortened for the test: the drills hold their fault long enough instead.
Run: `.venv/bin/python -m pytest -q tests/integration/drill/test_drill_prometheus_lab.py` (root).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_drill_lab import ROOT, Lab, _check, _client_forgets_the_vip, booted_lab

pytestmark = [pytest.mark.netns]

PROMETHEUS = Path("/usr/bin/prometheus")
RULES = ROOT / "extensions" / "prometheus" / "vipkeeper-alerts.yml"
DASHBOARD = ROOT / "extensions" / "grafana" / "vipkeeper.json"
PORT = 9650  # the daemon's metrics port on every lab host
# Grafana's variables, as runtime/tests/daemon/test_grafana_dashboard.py replaces them.
VARIABLES = {
    "$__rate_interval": "1m",
    "$__interval": "15s",
    "$__range": "1h",
    "$cluster": ".*",
    "$instance": ".*",
    "$vrrp_instance": ".*",
}
# Panels that must show data from a lab cluster with one VIP and one vrrp_script (no LVS,
# track_process or track_file there, so those panels may be empty, but their queries must run).
PANELS_WITH_DATA = {
    "Masters per VRID",
    "Hosts holding each VIP",
    "Daemons up",
    "VRRP state per host and instance",
    "VIP held per host",
    "Priority (effective and base)",
    "Transitions",
    "Adverts sent and received",
    "vrrp_script status",
    "Build and uptime",
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Prometheus:
    """Debian's Prometheus as a child process, scraping the lab's load balancers."""

    def __init__(self, targets: list[str], work: Path) -> None:
        self.work = work
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(RULES)],
            "scrape_configs": [
                {
                    "job_name": "vipkeeper",
                    "scrape_timeout": "1s",
                    "static_configs": [{"targets": targets, "labels": {"cluster": "web"}}],
                }
            ],
        }
        (work / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = (work / "prometheus.log").open("w")
        self.proc = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={work / 'prometheus.yml'}",
                f"--storage.tsdb.path={work / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
            ],
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def api(self, path: str, **params: str) -> Any:
        query = f"?{urllib.parse.urlencode(params)}" if params else ""
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}{query}", timeout=5) as r:
            body = json.loads(r.read())
        assert body["status"] == "success", body
        return body["data"]

    def wait_up(self, timeout: float = 60) -> None:
        """Every target scraped and up, and both hosts' VRRP state in the TSDB."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            assert self.proc.poll() is None, (self.work / "prometheus.log").read_text()[-3000:]
            try:
                targets = self.api("targets")["activeTargets"]
                states = self.api("query", query="vipkeeper_vrrp_state")["result"]
            except OSError as exc:
                last = exc
            else:
                last = targets
                if (
                    targets
                    and all(t["health"] == "up" for t in targets)
                    and len({s["metric"]["instance"] for s in states}) == len(targets)
                ):
                    return
            time.sleep(0.5)
        raise AssertionError(f"Prometheus targets never all up: {last}")

    def alerts(self) -> list[dict[str, Any]]:
        return list(self.api("alerts")["alerts"])


class AlertWatch:
    """Polls /api/v1/alerts while a drill runs: every (alert, instance) state seen, and when."""

    def __init__(self, prom: Prometheus) -> None:
        self.prom = prom
        self.seen: dict[tuple[str, str], dict[str, float]] = {}
        self.started = time.monotonic()

    def poll(self) -> list[dict[str, Any]]:
        alerts = self.prom.alerts()
        now = time.monotonic() - self.started
        for a in alerts:
            key = (a["labels"]["alertname"], a["labels"].get("instance", ""))
            self.seen.setdefault(key, {}).setdefault(a["state"], now)
        return alerts

    def during(self, action: Any) -> Any:
        """Run `action()` in a thread, polling every half second until it returns."""
        out: dict[str, Any] = {}

        def run() -> None:
            try:
                out["value"] = action()
            except BaseException as exc:  # re-raised below, in the test's thread
                out["error"] = exc

        worker = threading.Thread(target=run)
        worker.start()
        while worker.is_alive():
            self.poll()
            worker.join(0.5)
        if "error" in out:
            raise out["error"]
        return out["value"]

    def until_clear(self, names: set[str], timeout: float = 30) -> float:
        """Seconds until none of `names` is pending or firing any more."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout:
            if not {a["labels"]["alertname"] for a in self.poll()} & names:
                return time.monotonic() - t0
            time.sleep(0.5)
        raise AssertionError(f"{names} never resolved: {self.prom.alerts()}")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    with booted_lab("pdrill") as booted:
        yield booted


@pytest.fixture(scope="module")
def prom(lab: Lab) -> Iterator[Prometheus]:
    """The lab deployed with metrics on the hosts' lab addresses, and a Prometheus scraping it."""
    assert PROMETHEUS.exists(), "Debian's prometheus package is missing: run `make deps`"
    metrics = {"enabled": True, "address": "{{ ansible_host }}", "port": PORT}
    lab.deploy("vipkeeper", more_vars={"vipkeeper_metrics": metrics})
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")
    hosts = yaml.safe_load((lab.inv / "hosts.yml").read_text())["all"]["children"]["lb"]["hosts"]
    targets = [f"{h['ansible_host']}:{PORT}" for h in hosts.values()]
    work = Path(tempfile.mkdtemp(prefix="vkprom-"))
    prom = Prometheus(targets, work)
    try:
        prom.wait_up()
        yield prom
    finally:
        prom.stop()
        shutil.rmtree(work, ignore_errors=True)


def _target(lab: Lab, host: str) -> str:
    hosts = yaml.safe_load((lab.inv / "hosts.yml").read_text())["all"]["children"]["lb"]["hosts"]
    return f"{hosts[host]['ansible_host']}:{PORT}"


def test_no_alert_on_a_healthy_cluster(prom: Prometheus) -> None:
    # 3 s of evaluations after every target is up: nothing pending or firing
    time.sleep(3)
    assert prom.alerts() == [], prom.alerts()


def test_a_stop_drill_fires_and_clears_vipkeeper_down(lab: Lab, prom: Prometheus) -> None:
    """The old master's daemon stopped for > 1 m: VipkeeperDown fires for it, then resolves."""
    watch = AlertWatch(prom)
    # the fault lasts the takeover plus drill_probe_settle: longer than the rule's `for: 1m`
    report, done = watch.during(lambda: lab.drill("stop", "-e", "drill_probe_settle=70"))
    web = _check(report, "stop", done, "vipkeeper")
    old = _target(lab, web["old_master"])
    down = watch.seen.get(("VipkeeperDown", old), {})
    assert "pending" in down and "firing" in down, watch.seen
    assert down["firing"] - down["pending"] >= 55, down  # `for: 1m`, give or take a scrape
    assert {k for k in watch.seen if k[0] == "VipkeeperDown"} == {("VipkeeperDown", old)}
    # the new master took over at once: no host was without a MASTER long enough to fire
    assert not any(k[0] == "VipkeeperNoMaster" and "firing" in v for k, v in watch.seen.items())
    cleared = watch.until_clear({"VipkeeperDown"})
    print(f"stop: VipkeeperDown {down} (s from the drill's start), cleared {cleared:.1f}s after")
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")


def test_an_isolate_drill_fires_and_clears_the_split_brain_alerts(
    lab: Lab, prom: Prometheus
) -> None:
    """VRRP dropped on the master for > 30 s: two MASTERs, the VIP twice; both alerts resolve."""
    watch = AlertWatch(prom)
    report, done = watch.during(lambda: lab.drill("isolate", "-e", "drill_probe_settle=45"))
    web = _check(report, "isolate", done, "vipkeeper", heal_finding_allowed=True)
    _client_forgets_the_vip(lab, web)
    for name in ("VipkeeperSplitBrain", "VipkeeperVipHeldTwice"):
        states = watch.seen.get((name, ""), {})
        assert "pending" in states and "firing" in states, (name, watch.seen)
        assert states["firing"] - states["pending"] >= 25, (name, states)  # `for: 30s`
    # seen from the data plane too (docs/split-brain.md): each MASTER hears the other claim the
    # VIP, `for: 10s`
    conflicts = {k[1]: v for k, v in watch.seen.items() if k[0] == "VipkeeperVipConflict"}
    assert any("firing" in v for v in conflicts.values()), watch.seen
    assert not any(k[0] == "VipkeeperDown" for k in watch.seen), watch.seen  # scrapes went on
    cleared = watch.until_clear(
        {"VipkeeperSplitBrain", "VipkeeperVipHeldTwice", "VipkeeperVipConflict"}
    )
    print(f"isolate: {watch.seen}, cleared {cleared:.1f}s after the drill")
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")


def test_the_dashboard_queries_return_data_from_the_lab(prom: Prometheus) -> None:
    panels: list[dict[str, Any]] = []
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        panels += [panel, *panel.get("panels", [])]
    with_data: set[str] = set()
    for panel in panels:
        for target in panel.get("targets", []):
            expr = target["expr"]
            for variable, value in VARIABLES.items():
                expr = expr.replace(variable, value)
            assert "$" not in expr, f"{panel['title']}: an unknown variable: {expr}"
            result = prom.api("query", query=expr)["result"]  # a bad query raises (status error)
            if result:
                with_data.add(panel["title"])
    assert with_data >= PANELS_WITH_DATA, PANELS_WITH_DATA - with_data
    print(f"dashboard: {len(with_data)} panels with data: {sorted(with_data)}")
