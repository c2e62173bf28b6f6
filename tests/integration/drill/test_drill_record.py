"""The drill role's record (roles/drill/templates/record.json.j2) for step 10, without a lab.

The client's reachability after the restore decides whether a split brain healed for the client:
a drill must name the post-heal outage (the heal finding) precisely, and must not fail on one
lost probe. The template is rendered by ansible-playbook on localhost with the registered
results a drill would hold; the lab test (test_drill_lab.py) meets the same path on real hosts.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[3]
TEMPLATE = ROOT / "roles" / "drill" / "templates" / "record.json.j2"
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - ansible.builtin.copy:
        content: "{{ lookup('ansible.builtin.template', record_template) | from_json | to_json }}"
        dest: "{{ record_out }}"
        mode: "0644"
"""
VIP = "10.0.0.100"
LB1, LB2 = "lab-lb1", "lab-lb2"
MAC1, MAC2 = "aa:bb:cc:00:00:01", "aa:bb:cc:00:00:02"
FAULT_AT, RESTORED_AT = 1000.0, 1010.0
HEAL = "the surviving master sent no gratuitous ARP after the split brain healed"


def _probe(windows: list[dict[str, Any]], sent: int, start: float, end: float) -> dict[str, Any]:
    """A vip_probe result: its loss windows (start, end or None, lost) over [start, end]."""
    lost = sum(w["lost"] for w in windows)
    for w in windows:
        w["seconds"] = None if w["end"] is None else round(w["end"] - w["start"], 3)
    timeline: list[dict[str, Any]] = []
    cursor = start
    for w in windows:
        if w["start"] > cursor:
            timeline.append({"state": "ok", "from": cursor, "to": w["start"] - 0.2, "count": 1})
        timeline.append({"state": "lost", "from": w["start"], "to": w["start"], "count": w["lost"]})
        cursor = w["end"] if w["end"] is not None else end + 1
    if cursor <= end:
        timeline.append({"state": "ok", "from": cursor, "to": end, "count": 1})
    return {
        "changed": False,
        "sent": sent,
        "lost": lost,
        "received": sent - lost,
        "recovered": all(w["end"] is not None for w in windows),
        "windows": windows,
        "timeline": timeline,
        "started_at": start,
        "ended_at": end,
    }


def _links(host: str, mac: str) -> dict[str, Any]:
    links = [
        {"ifname": "lo", "address": "00:00:00:00:00:00"},
        {"ifname": "host0", "address": mac.upper()},
    ]
    return {"item": host, "rc": 0, "stdout": json.dumps(links)}


def _neigh(entry: dict[str, Any]) -> dict[str, Any]:
    return {"rc": 0, "stdout": json.dumps([{"dst": VIP, "dev": "eth0", **entry}])}


def _record(tmp_path: Path, fault: str, **after: Any) -> dict[str, Any]:
    """Render one record: a takeover lb1 -> lb2 that went well, then `after` (step 10)."""
    facts: dict[str, Any] = {
        "_drill_cluster": {
            "name": "web",
            "hosts": [LB1, LB2],
            "vips": [VIP],
            "probe_vip": VIP,
            "preempt": True,
            "slo": 5.0,
            "daemons": {LB1: "keepalived", LB2: "keepalived"},
        },
        "drill_fault": fault,
        "drill_takeover_timeout": 20,
        "drill_probe_mode": "icmp",
        "drill_probe_interval": 0.1,
        "_drill_injected": True,
        "_drill_refused": "",
        "_drill_error": "",
        "_drill_old_master": LB1,
        "_drill_new_master": LB2,
        "_drill_new_info": {
            "vips": [{"address": VIP, "instance": "web_1"}],
            "instances": [{"name": "web_1", "last_transition": {"at": 1003.0, "to": "MASTER"}}],
            "wait": {"held_at": 1003.1, "seconds": 5.0},
        },
        "_drill_fault_result": {"at": FAULT_AT, "daemon": "keepalived"},
        "_drill_probe": _probe([], 100, 998.0, 1008.0) | {"outage_seconds": 0.0},
        "_drill_probe_reaped": {},
        "_drill_restore": {"changed": True, "at": RESTORED_AT},
        "_drill_final": {"ok": True, "placement": [{"vip": VIP, "holder": LB1}], "problems": []},
        "_drill_final_expected": LB1,
        "_drill_client_wait": {"changed": False, "skipped": True},
        "_drill_client_neigh": {"changed": False, "skipped": True},
        "_drill_host_links": {"results": []},
        "record_template": str(TEMPLATE),
        "record_out": str(tmp_path / "record.json"),
        **after,
    }
    (tmp_path / "facts.json").write_text(json.dumps(facts))
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_NOCOLOR": "1"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c"]
    argv += ["local", "-e", f"ansible_python_interpreter={sys.executable}"]
    argv += ["-e", f"@{tmp_path / 'facts.json'}", str(tmp_path / "play.yml")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    record: dict[str, Any] = json.loads((tmp_path / "record.json").read_text())
    return record


def test_first_look_answered_the_drill_passes(tmp_path: Path) -> None:
    r = _record(tmp_path, "isolate", _drill_client_first=_probe([], 10, 1012.0, 1014.0))
    assert r["verdict"] == "pass" and r["problems"] == [], r["problems"]
    assert r["client_reached_after_restore"] is True
    after = r["client_after_restore"]
    assert after["seconds"] == 0.0 and after["lost_probes"] == 0 and after["arp_entry"] is None


def test_one_lost_probe_after_the_restore_is_within_the_slo(tmp_path: Path) -> None:
    first = _probe([{"start": 1012.2, "end": 1012.4, "lost": 1}], 10, 1012.0, 1014.0)
    r = _record(
        tmp_path,
        "stop",
        _drill_client_first=first,  # its last 1.6 s answered: no wait
        _drill_client_neigh=_neigh({"lladdr": MAC1, "state": ["REACHABLE"]}),
        _drill_host_links={"results": [_links(LB1, MAC1), _links(LB2, MAC2)]},
    )
    assert r["verdict"] == "pass" and r["problems"] == [], r["problems"]
    after = r["client_after_restore"]
    assert after["seconds"] == 0.2 and after["lost_probes"] == 1 and after["reached"] is True
    assert after["arp_entry"] == {"mac": MAC1, "host": LB1, "state": ["REACHABLE"]}


def test_never_reached_after_a_heal_names_the_stale_arp_entry(tmp_path: Path) -> None:
    r = _record(
        tmp_path,
        "isolate",
        _drill_client_first=_probe(
            [{"start": 1012.0, "end": None, "lost": 10}], 10, 1012.0, 1014.0
        ),
        _drill_client_neigh=_neigh({"lladdr": MAC2, "state": ["REACHABLE"]}),
        _drill_host_links={"results": [_links(LB1, MAC1), _links(LB2, MAC2)]},
        _drill_client_wait=_probe(
            [{"start": 1015.0, "end": None, "lost": 150}], 150, 1015.0, 1045.0
        ),
    )
    assert r["verdict"] == "fail" and r["client_reached_after_restore"] is False
    assert r["problems"] == [
        "after the restore the client still could not reach the VIP (33.0s of lost probes from"
        " 2.0s after the restore; 160 of 160 lost): the client's ARP entry for the VIP still"
        f" named {LB2} ({MAC2}), which had given the VIP up - {HEAL}"
    ]
    after = r["client_after_restore"]
    assert after["seconds"] is None and after["arp_entry"]["host"] == LB2
    # The takeover itself is recorded as it was.
    assert r["detection_seconds"] == 3.0 and r["final_holder"] == LB1


def test_reached_later_than_the_slo_after_a_heal_is_a_finding(tmp_path: Path) -> None:
    r = _record(
        tmp_path,
        "isolate",
        _drill_client_first=_probe(
            [{"start": 1012.0, "end": None, "lost": 10}], 10, 1012.0, 1014.0
        ),
        _drill_client_neigh=_neigh({"state": ["FAILED"]}),  # re-resolving: no address to name
        _drill_host_links={"results": [_links(LB1, MAC1), _links(LB2, MAC2)]},
        _drill_client_wait=_probe(
            [{"start": 1015.0, "end": 1027.4, "lost": 62}], 73, 1015.0, 1029.5
        ),
    )
    assert r["verdict"] == "fail" and r["client_reached_after_restore"] is True
    assert r["problems"] == [
        "the client could not reach the VIP for 15.4s after the restore (2.0s to 17.4s after it;"
        " 72 of 83 probes lost), more than the SLO of 5.0s: most likely"
        f" {HEAL}, so the client kept the MAC address of the host that gave the VIP up"
    ]
    assert r["client_after_restore"]["seconds"] == 15.4


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_a_stale_entry_after_other_faults_is_named_without_a_split_brain(
    tmp_path: Path, fault: str
) -> None:
    r = _record(
        tmp_path,
        fault,
        _drill_client_first=_probe(
            [{"start": 1012.0, "end": None, "lost": 10}], 10, 1012.0, 1014.0
        ),
        _drill_client_neigh=_neigh({"lladdr": MAC2, "state": ["STALE"]}),
        _drill_host_links={"results": [_links(LB1, MAC1), _links(LB2, MAC2)]},
        _drill_client_wait=_probe(
            [{"start": 1015.0, "end": 1021.0, "lost": 30}], 40, 1015.0, 1023.0
        ),
    )
    [problem] = r["problems"]
    assert problem.startswith("the client could not reach the VIP for 9.0s after the restore")
    assert problem.endswith(f"still named {LB2} ({MAC2}), which had given the VIP up"), problem
    assert "split brain" not in problem


def _conflicts(host: str, *conflicts: dict[str, Any], state: str = "MASTER") -> dict[str, Any]:
    """One vip_info result of the conflict read before the restore."""
    inst = {"name": "web_1", "state": state, "conflicts": list(conflicts)}
    return {"item": host, "changed": False, "instances": [inst]}


SEEN = {"address": VIP, "mac": MAC2, "interface": "host0", "first_seen_ago": 4.0}


def test_the_record_names_a_vip_conflict_a_vipkeeper_host_reported(tmp_path: Path) -> None:
    r = _record(
        tmp_path,
        "isolate",
        _drill_client_first=_probe([], 10, 1012.0, 1014.0),
        _drill_conflicts={"results": [_conflicts(LB1, SEEN), _conflicts(LB2, state="MASTER")]},
        _drill_host_links={"results": [_links(LB1, MAC1), _links(LB2, MAC2)]},
    )
    assert r["vip_conflicts"] == [
        {
            "host": LB1,
            "instance": "web_1",
            "state": "MASTER",
            "address": VIP,
            "mac": MAC2,
            "interface": "host0",
            "mac_host": LB2,
        }
    ]
    # A report, not a failure: the drill's verdict stays the client's and the placement's.
    assert r["verdict"] == "pass", r["problems"]


def test_no_conflict_read_or_a_failed_read_records_none(tmp_path: Path) -> None:
    r = _record(tmp_path, "isolate", _drill_client_first=_probe([], 10, 1012.0, 1014.0))
    assert r["vip_conflicts"] == []
    failed = {"item": LB1, "failed": True, "msg": "cannot reach vipkeeper"}
    r = _record(
        tmp_path,
        "isolate",
        _drill_client_first=_probe([], 10, 1012.0, 1014.0),
        _drill_conflicts={"results": [failed]},
    )
    assert r["vip_conflicts"] == []


def test_the_markdown_report_names_the_conflict(tmp_path: Path) -> None:
    record = _record(
        tmp_path,
        "isolate",
        _drill_client_first=_probe([], 10, 1012.0, 1014.0),
        _drill_conflicts={"results": [_conflicts(LB1, SEEN)]},
    )
    facts = {
        "_drill_started_at": "20261204T143000",
        "drill_fault": "isolate",
        "drill_max_outage": 5,
        "drill_probe_mode": "icmp",
        "drill_probe_interval": 0.1,
        "drill_client": "lab-client",
        "_drill_results": [record],
        "record_template": str(TEMPLATE.parent / "report.md.j2"),
        "record_out": str(tmp_path / "report.md"),
    }
    (tmp_path / "facts-md.json").write_text(json.dumps(facts))
    play = PLAYBOOK.replace("| from_json | to_json ", "")
    (tmp_path / "play-md.yml").write_text(play)
    env = {**os.environ, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp"), "ANSIBLE_NOCOLOR": "1"}
    argv = [str(Path(sys.executable).parent / "ansible-playbook"), "-i", "localhost,", "-c"]
    argv += ["local", "-e", f"ansible_python_interpreter={sys.executable}"]
    argv += ["-e", f"@{tmp_path / 'facts-md.json'}", str(tmp_path / "play-md.yml")]
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    text = (tmp_path / "report.md").read_text()
    assert (
        f"**web**: split brain seen from the data plane - {LB1} (MASTER of web_1) reported"
        f" {VIP} also held by {MAC2} on host0"
    ) in text
