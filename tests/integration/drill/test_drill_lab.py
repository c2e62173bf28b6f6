"""The failover drill end to end on a real lab (tests/lab: systemd-nspawn Debian hosts over SSH).

One lab (2 load balancers + a client) per module run: deploy a vipkeeper cluster with
`vipkeeper.vrrp.site`, drill every fault, then redeploy the same cluster on Debian's keepalived
and drill every fault keepalived supports, then on both (lb1 vipkeeper, lb2 keepalived: a mixed
cluster) with HTTP probes. Each drill's JSON report is checked against the VRRP
bounds (docs/drills.md): the takeover, the client-visible outage, the final holder.

Run: `.venv/bin/python -m pytest -q tests/integration/drill` (root; builds the lab base once).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
LAB = [sys.executable, str(ROOT / "tests" / "lab" / "lab.py")]
pytestmark = [pytest.mark.netns]

ADVERT = 1.0
BACKUP_PRIORITY = 140  # vipkeeper_priority_base 150 - step 10: the second host
SKEW = (256 - BACKUP_PRIORITY) / 256 * ADVERT
MASTER_DOWN = 3 * ADVERT + SKEW  # RFC 3768/5798 Master_Down_Interval
PROBE = 0.1  # probe interval: the resolution of the client outage
SLACK = 1.0  # GARP, ARP cache, scheduling on a shared 2-core machine

# fault -> the longest client outage the protocol allows (seconds).
BOUND = {
    "stop": SKEW + PROBE + SLACK,  # priority-0 advert: the backup waits only its skew time
    "demote": SKEW + PROBE + SLACK,
    "kill": MASTER_DOWN + PROBE + SLACK,  # silence: Master_Down_Interval
    "link": MASTER_DOWN + PROBE + SLACK,
    "service": 2 * ADVERT + MASTER_DOWN + PROBE + SLACK,  # track script (interval 1, fall 1)
    "isolate": MASTER_DOWN + PROBE + SLACK,  # split brain; the client follows the GARP
}


def _run(
    argv: list[str], env: dict[str, str] | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    if check and done.returncode != 0:
        raise AssertionError(
            f"{' '.join(argv)} failed ({done.returncode}):\n"
            f"{done.stdout[-6000:]}\n{done.stderr[-3000:]}"
        )
    return done


class Lab:
    """A lab, an inventory with one cluster, and ansible-playbook against it."""

    def __init__(self, name: str, work: Path) -> None:
        self.name = name
        self.work = work
        coll = work / "collections" / "ansible_collections" / "vipkeeper"
        coll.mkdir(parents=True)
        (coll / "vrrp").symlink_to(ROOT)
        self.inv = work / "inventory"
        (self.inv / "group_vars").mkdir(parents=True)
        self.env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(work / "collections"),
            "ANSIBLE_HOST_KEY_CHECKING": "false",
            "ANSIBLE_LOCAL_TEMP": str(work / "tmp"),
            "ANSIBLE_NOCOLOR": "1",
        }

    def up(self) -> None:
        out = _run([*LAB, "up", self.name, "--lbs", "2", "--owner-pid", str(os.getpid())]).stdout
        inventory = out.strip().splitlines()[-1]
        shutil.copy(inventory, self.inv / "hosts.yml")

    def down(self) -> None:
        _run([*LAB, "down", self.name], check=False)

    def deploy(self, daemon: str, **host_daemons: str) -> None:
        """Deploy the cluster on `daemon`; `lb2="keepalived"` gives one host its own daemon."""
        host_vars = self.inv / "host_vars"
        shutil.rmtree(host_vars, ignore_errors=True)
        host_vars.mkdir()
        for lb, own in host_daemons.items():
            own_vars = yaml.safe_dump({"vipkeeper_daemon": own})
            (host_vars / f"{self.name}-{lb}.yml").write_text(own_vars)
        group_vars = {
            "vipkeeper_offline": True,
            "vipkeeper_daemon": daemon,
            "vipkeeper_clusters": [
                {
                    "name": "web",
                    "hosts": "{{ groups['lb'] }}",
                    "interface": "{{ lab_interface }}",
                    "vips": ["{{ lab_vips[0] }}"],
                    "track": [
                        {
                            "name": "nginx",
                            "script": "/usr/bin/pgrep -x nginx",
                            "interval": 1,
                            "fall": 1,
                            "rise": 1,
                            "weight": -60,
                        }
                    ],
                }
            ],
        }
        (self.inv / "group_vars" / "all.yml").write_text(yaml.safe_dump(group_vars))
        self.playbook("vipkeeper.vrrp.site")

    def playbook(
        self, name: str, *args: str, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        return _run(
            [str(BIN / "ansible-playbook"), name, "-i", str(self.inv / "hosts.yml"), *args],
            env=self.env,
            check=check,
        )

    def assert_placement(self, *args: str) -> None:
        """vipkeeper.vrrp.assert passes, within the time an election takes after a (re)start."""
        for _attempt in range(10):
            done = self.playbook("vipkeeper.vrrp.assert", *args, check=False)
            if done.returncode == 0:
                return
            time.sleep(1)
        raise AssertionError(f"placement never settled:\n{done.stdout[-4000:]}")

    def drill(
        self, fault: str, *args: str
    ) -> tuple[dict[str, Any], subprocess.CompletedProcess[str]]:
        reports = self.work / f"reports-{fault}-{len(list(self.work.glob('reports-*')))}"
        done = self.playbook(
            "vipkeeper.vrrp.drill",
            "-e",
            f"vipkeeper_drill_fault={fault}",
            "-e",
            f"drill_report_dir={reports}",
            *args,
            check=False,
        )
        found = sorted(reports.glob("drill-*.json"))
        assert found, f"no report from the {fault} drill:\n{done.stdout[-6000:]}"
        assert sorted(reports.glob("drill-*.md")), "no Markdown report"
        return json.loads(found[-1].read_text()), done


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    work = Path(tempfile.mkdtemp(prefix="vkdrill-"))
    lab = Lab(f"drill{os.getpid()}", work)
    try:
        lab.up()
        yield lab
    finally:
        lab.down()
        shutil.rmtree(work, ignore_errors=True)


def _check(
    report: dict[str, Any], fault: str, done: subprocess.CompletedProcess[str], daemon: str
) -> dict[str, Any]:
    [web] = report["clusters"]
    assert web["verdict"] == "pass", f"{web}\n{done.stdout[-4000:]}"
    assert done.returncode == 0, done.stdout[-4000:]
    assert web["fault"] == fault and web["daemon"] == daemon
    assert web["daemons"][web["old_master"]] == daemon
    assert web["old_master"].endswith("-lb1") and web["new_master"].endswith("-lb2")
    assert web["final_holder"] == web["final_expected"] == web["old_master"]  # preempt
    assert web["detection_seconds"] is not None and web["vip_moved_seconds"] is not None, web
    assert 0 < web["detection_seconds"] <= BOUND[fault], web
    assert 0 < web["vip_moved_seconds"] <= BOUND[fault] + 0.5, web
    assert (
        web["client_outage_seconds"] is not None and web["client_outage_seconds"] <= BOUND[fault]
    ), web
    assert web["probes_sent"] > 0
    print(
        f"{daemon} {fault}: detection {web['detection_seconds']}s, VIP moved "
        f"{web['vip_moved_seconds']}s, client outage {web['client_outage_seconds']}s "
        f"({web['lost_probes']}/{web['probes_sent']} lost), bound {BOUND[fault]:.2f}s"
    )
    return web


VIPKEEPER_FAULTS = ["stop", "kill", "isolate", "service", "demote", "link"]
# Not "isolate" on keepalived: after the heal its old master never changes state, so it sends no
# gratuitous ARP and a client may keep the backup's MAC (keepalived's known split-brain bug
# class, seen here as "client still could not reach the VIP after the restore"). The drill
# reports that as a finding; vipkeeper's isolate drill above covers the heal (parting advert).
KEEPALIVED_FAULTS = ["stop", "kill", "service", "link"]


def test_vipkeeper_cluster_every_fault(lab: Lab) -> None:
    lab.deploy("vipkeeper")
    plan = lab.playbook("vipkeeper.vrrp.drill", "--check", "-e", "vipkeeper_drill_fault=kill")
    assert "Show the drill plan" in plan.stdout and '"fault": "kill"' in plan.stdout
    assert "Inject the fault" not in plan.stdout  # check mode: the plan only, nothing injected
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")
    for fault in VIPKEEPER_FAULTS:
        extra = ["-e", "drill_allow_link_down=true"] if fault == "link" else []
        report, done = lab.drill(fault, *extra)
        _check(report, fault, done, "vipkeeper")
        lab.assert_placement("-e", "vipkeeper_assert_preferred=true")


def test_drill_refuses_link_without_permission_and_an_unhealthy_cluster(lab: Lab) -> None:
    done = lab.playbook("vipkeeper.vrrp.drill", "-e", "vipkeeper_drill_fault=link", check=False)
    assert done.returncode != 0 and "drill_allow_link_down" in done.stdout
    # A split brain before the drill: refused, named, nothing injected.
    lb1 = f"{lab.name}-lb1"
    lab_vip = yaml.safe_load((lab.inv / "hosts.yml").read_text())["all"]["vars"]["lab_vip"]
    _run([*LAB, "exec", lab.name, "lb2", "ip", "addr", "add", lab_vip, "dev", "host0"])
    try:
        report, done = lab.drill("stop")
        [web] = report["clusters"]
        assert web["verdict"] == "refused" and done.returncode != 0
        assert "split brain" in " ".join(web["problems"]) and lb1 in " ".join(web["problems"])
        assert web["injected_at"] is None
    finally:
        _run(
            [*LAB, "exec", lab.name, "lb2", "ip", "addr", "del", lab_vip, "dev", "host0"],
            check=False,
        )
    lab.assert_placement()


@pytest.mark.keepalived
def test_keepalived_cluster_every_fault(lab: Lab) -> None:
    lab.deploy("keepalived")
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")
    for fault in KEEPALIVED_FAULTS:
        extra = ["-e", "drill_allow_link_down=true"] if fault == "link" else []
        report, done = lab.drill(fault, *extra)
        _check(report, fault, done, "keepalived")
    done = lab.playbook("vipkeeper.vrrp.drill", "-e", "vipkeeper_drill_fault=demote", check=False)
    assert done.returncode != 0 and "keepalived has no demote" in done.stdout


@pytest.mark.keepalived
def test_mixed_cluster_with_http_probes(lab: Lab) -> None:
    """lb1 vipkeeper, lb2 keepalived in one group; HTTP probes see what ICMP cannot."""
    lab.deploy("vipkeeper", lb2="keepalived")
    lab.assert_placement("-e", "vipkeeper_assert_preferred=true")
    daemons = {f"{lab.name}-lb1": "vipkeeper", f"{lab.name}-lb2": "keepalived"}
    for fault in ["stop", "kill", "service"]:
        report, done = lab.drill(fault, "-e", "drill_probe_mode=http")
        web = _check(report, fault, done, "vipkeeper")
        assert web["daemons"] == daemons and web["probe_mode"] == "http"
        if fault == "service":
            # nginx is down on the master that still holds the VIP: ICMP is answered throughout
            # (docs/performance.md, 0 lost), HTTP is not until lb2 takes over - at least the
            # track script's interval (1 s) - and the client sees that.
            assert web["client_outage_seconds"] >= ADVERT and web["lost_probes"] > 0, web
        lab.assert_placement("-e", "vipkeeper_assert_preferred=true")
