#!/usr/bin/env python3
"""make demo / make demo-down: an HA nginx VIP on a local lab, a failover drill, a short report.

demo.py up     bring the lab `demo` up (or reuse it), deploy, drill, print the report
demo.py down   tear the lab down, stop the demo's Prometheus, remove the demo's files

VIPKEEPER_DEMO_PROMETHEUS=1: the hosts serve metrics on their lab addresses and Debian's
Prometheus runs on this machine, scraping them with the shipped alert rules, from before the
drill until `make demo-down` (docs/monitoring.md#in-the-lab).

Everything the demo writes outside the lab lives in $VIPKEEPER_DEMO_DIR (/var/tmp/vipkeeper-demo):
the playbook logs, the drill report, the VRID lock and the link that makes this tree the
collection `vipkeeper.vrrp` for ansible-playbook.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
LAB_PY = ROOT / "tests" / "lab" / "lab.py"
DEMO = Path(__file__).resolve().parent
LAB = os.environ.get("VIPKEEPER_DEMO_LAB", "demo")
DIR = Path(os.environ.get("VIPKEEPER_DEMO_DIR", "/var/tmp/vipkeeper-demo"))
BIN = Path(sys.executable).parent
PROMETHEUS = Path("/usr/bin/prometheus")
RULES = ROOT / "extensions" / "prometheus" / "vipkeeper-alerts.yml"
METRICS_PORT = 9650  # the runtime role's default


FAULTS = {
    "stop": "its VRRP daemon stopped",
    "kill": "its VRRP daemon killed with SIGKILL",
    "service": "nginx stopped, the tracked check fails",
    "isolate": "its VRRP traffic dropped",
    "demote": "a planned switchover",
    "link": "its link down",
}


class DemoError(Exception):
    """A step failed; the message says which and where its log is."""


def say(msg: str = "") -> None:
    """One line of progress, at once."""
    print(msg, flush=True)


def lab(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run tests/lab/lab.py with this Python."""
    proc = subprocess.run(
        [sys.executable, str(LAB_PY), *args], text=True, capture_output=True, check=False
    )
    if check and proc.returncode != 0:
        raise DemoError(f"lab.py {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}")
    return proc


def collections_path() -> Path:
    """A collections dir where vipkeeper.vrrp is this tree (a symlink, so edits count)."""
    base = DIR / "collections"
    link = base / "ansible_collections" / "vipkeeper" / "vrrp"
    link.parent.mkdir(parents=True, exist_ok=True)
    if not (link.is_symlink() and link.resolve() == ROOT):
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(ROOT)
    return base


def inventory_dir(lab_inventory: str) -> Path:
    """The demo's inventory: the lab's generated one plus the cluster (inventory/group_vars)."""
    inv = DIR / "inventory"
    inv.mkdir(parents=True, exist_ok=True)
    for name, target in (
        ("lab.yml", Path(lab_inventory)),
        ("group_vars", DEMO / "inventory" / "group_vars"),
    ):
        link = inv / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(target)
    return inv


def playbook(step: str, play: str, inventory: str, log: Path, extra_env: dict[str, str]) -> str:
    """Run ansible-playbook into a log; return its recap, or raise with the log's tail."""
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(collections_path()),
        "ANSIBLE_FORCE_COLOR": "0",
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "ANSIBLE_PIPELINING": "1",
        "ANSIBLE_CALLBACK_RESULT_FORMAT": "yaml",
        "VIPKEEPER_DEMO_DIR": str(DIR),
        **extra_env,
    }
    started = time.monotonic()
    with log.open("w") as out:
        code = subprocess.call(
            [str(BIN / "ansible-playbook"), "-i", inventory, play],
            cwd=DEMO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    text = log.read_text(errors="replace")
    if code != 0:
        tail = "\n".join(text.splitlines()[-40:])
        raise DemoError(f"{step} failed (ansible-playbook exit {code}); log {log}:\n{tail}")
    changed = sum(int(w.split("=")[1]) for w in text.split() if w.startswith("changed="))
    return f"ok in {time.monotonic() - started:.0f}s, {changed} change(s); log {log}"


def lab_up() -> dict[str, Any]:
    """Bring the lab up (lab.py reuses a running one) and return its status document."""
    existed = lab("status", LAB, "--json", check=False).returncode == 0
    say(
        f"[1/4] lab {LAB}: "
        + ("running, reused" if existed else "booting 2 load balancers and a client ...")
    )
    up = lab("up", LAB, "--lbs", "2", "--client", check=False)
    if up.returncode != 0:
        raise DemoError(
            f"lab.py up {LAB} failed:\n{up.stdout}{up.stderr}"
            f"(a lab of another shape? `{sys.executable} {LAB_PY} down {LAB}`)"
        )
    doc: dict[str, Any] = json.loads(lab("status", LAB, "--json").stdout)
    for host in doc["hosts"]:
        say(f"      {host['name']:<14} {host['address']:<15} ({host['group']})")
    return doc


def shown(path: Path) -> str:
    """A path as the user types it: relative when it is under the current directory."""
    try:
        return str(path.relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def print_report(doc: dict[str, Any], status: dict[str, Any], record: Path) -> None:
    """The short report: who was master, who took over, the client's outage, where the VIP is."""
    rec = doc["clusters"][0]

    def secs(value: object) -> str:
        return "-" if value is None else f"{float(str(value)):.2f} s"

    say("[4/4] report")
    say(
        f"      VIP {rec['vip']} (cluster {rec['cluster']}, {rec['daemon']} on "
        + ", ".join(rec["hosts"])
        + ")"
    )
    say(f"      master before the drill : {rec['old_master']}")
    what = FAULTS.get(str(rec["fault"]), str(rec["fault"]))
    say(f"      fault                   : {rec['fault']} on {rec['old_master']} ({what})")
    say(
        f"      took over               : {rec['new_master']}, VIP moved after "
        f"{secs(rec.get('vip_moved_seconds'))}"
    )
    say(
        f"      client cut off          : {secs(rec.get('client_outage_seconds'))} "
        f"({rec.get('lost_probes')} of {rec.get('probes_sent')} {rec.get('probe_mode')} probes "
        f"every 0.1 s lost; SLO {secs(rec.get('slo_seconds'))})"
    )
    say(
        f"      VIP now on              : {rec['final_holder']} "
        + (
            "(the fault was restored and it preempted)"
            if rec["final_holder"] == rec["old_master"]
            else f"(expected {rec['final_expected']})"
        )
    )
    say(f"      verdict                 : {str(rec['verdict']).upper()}")
    cfg = status["ssh_config"]
    lb1 = status["hosts"][0]["name"]
    client = next(h["name"] for h in status["hosts"] if h["group"] == "client")
    vip = rec["vip"]
    say()
    say("The lab keeps running. Explore it:")
    say(f"  ssh -F {cfg} {lb1} vipkeeper status")
    say(f"  ssh -F {cfg} {client} curl -s http://{vip}/")
    say(f"  ssh -F {cfg} {lb1} systemctl stop vipkeeper    # curl again, then: systemctl start")
    say(
        f"  ANSIBLE_COLLECTIONS_PATH={DIR / 'collections'} "
        f"{shown(BIN / 'ansible-playbook')} -i {DIR / 'inventory'} vipkeeper.vrrp.assert"
    )
    say(f"Drill report: {record.with_suffix('.md')} (and .json); playbook logs: {DIR}/*.log")
    say(f"Drill timeline (open in a browser): {record.with_suffix('.svg')}")
    say("Run the demo again: make demo        Tear it down: make demo-down")


def prometheus_up(status: dict[str, Any]) -> str:
    """Start Debian's Prometheus (detached, pid in DIR) scraping the lab's load balancers."""
    prometheus_down()
    if not PROMETHEUS.exists():
        raise DemoError(f"{PROMETHEUS} is missing: install Debian's prometheus (make deps)")
    targets = [f"{h['address']}:{METRICS_PORT}" for h in status["hosts"] if h["group"] == "lb"]
    config = {  # JSON is YAML
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
    (DIR / "prometheus.yml").write_text(json.dumps(config, indent=2))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with (DIR / "prometheus.log").open("w") as log:
        proc = subprocess.Popen(
            [
                str(PROMETHEUS),
                f"--config.file={DIR / 'prometheus.yml'}",
                f"--storage.tsdb.path={DIR / 'prometheus'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # outlives `make demo`; demo-down stops it by its pid
        )
    (DIR / "prometheus.pid").write_text(f"{proc.pid}\n")
    url = f"http://127.0.0.1:{port}"
    for _attempt in range(60):
        if proc.poll() is not None:
            raise DemoError(f"prometheus exited ({proc.returncode}); log {DIR / 'prometheus.log'}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=2):
                return url
        except OSError:
            time.sleep(0.5)
    raise DemoError(f"prometheus never became ready; log {DIR / 'prometheus.log'}")


def prometheus_down() -> None:
    """Stop the demo's Prometheus by the pid it recorded, if that process is still it."""
    pidfile = DIR / "prometheus.pid"
    if not pidfile.exists():
        return
    pid = int(pidfile.read_text())
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        cmdline = b""
    if str(PROMETHEUS).encode() in cmdline and str(DIR).encode() in cmdline:
        os.kill(pid, signal.SIGTERM)
        say(f"stopped prometheus (pid {pid})")
    pidfile.unlink()


def up() -> int:
    """Lab, deploy, drill, report."""
    DIR.mkdir(parents=True, exist_ok=True)
    status = lab_up()
    inventory = str(inventory_dir(status["inventory"]))
    say("[2/4] deploy: nginx + ansible-playbook vipkeeper.vrrp.site (runtime, config, VIP) ...")
    say("      " + playbook("deploy", "site.yml", inventory, DIR / "deploy.log", {}))
    prometheus = ""
    if os.environ.get("VIPKEEPER_DEMO_PROMETHEUS") == "1":
        prometheus = prometheus_up(status)
        say(f"      prometheus {prometheus} scrapes both hosts, the shipped rules loaded")
    fault = os.environ.get("VIPKEEPER_DEMO_FAULT", "stop")
    say(f"[3/4] failover drill: vipkeeper.vrrp.drill, fault {fault} on the master ...")
    reports = DIR / "drill"
    shutil.rmtree(reports, ignore_errors=True)
    say(
        "      "
        + playbook(
            "drill",
            "vipkeeper.vrrp.drill",
            inventory,
            DIR / "drill.log",
            {"VIPKEEPER_DEMO_FAULT": fault},
        )
    )
    record = sorted(reports.glob("drill-*.json"))[-1]
    print_report(json.loads(record.read_text()), status, record)
    if prometheus:
        say(
            f"Prometheus: {prometheus}/alerts (alerts), {prometheus}/targets;"
            " `make demo-down` stops it"
        )
    return 0


def down() -> int:
    """Tear the lab down and remove the demo's directory."""
    prometheus_down()
    proc = lab("down", LAB, check=False)
    say((proc.stdout + proc.stderr).strip())
    if DIR.exists():
        shutil.rmtree(DIR)
        say(f"removed {DIR}")
    return proc.returncode


def main() -> int:
    """Entry point."""
    if len(sys.argv) != 2 or sys.argv[1] not in ("up", "down"):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return up() if sys.argv[1] == "up" else down()
    except DemoError as exc:
        print(f"make demo: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("make demo: interrupted (the lab stays; make demo-down removes it)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
