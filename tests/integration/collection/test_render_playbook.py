"""The render action, vrrp_plan filter, config_check module and the vrrp role's plan step,
driven by ansible-playbook against two namespaces of a throwaway lab (runtime/tests/netlab.py).

Each inventory host runs its modules inside its namespace through a python wrapper, so facts,
interfaces and `vipkeeper check` are the namespace's own. Run by `make test-collection-integration`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "runtime" / "tests"))
from netlab import NetLab

BIN = Path(sys.executable).parent
pytestmark = [pytest.mark.netns]

RENDER = """
- hosts: all
  gather_facts: true
  gather_subset: [network]
  tasks:
    - name: Render
      vipkeeper.vrrp.render:
        dest: "{{ out }}/{{ inventory_hostname }}.conf"
        validate: "%(bin)s/vipkeeper check -f %%s --json"
        secrets: "{{ vipkeeper_secrets }}"
        global_defs: "{{ extra_defs | default({}) }}"
        daemon: "{{ render_daemon | default('vipkeeper') }}"
        mode: "0640"
        backup: true
      register: rendered
    - name: Check what landed
      vipkeeper.vrrp.config_check:
        path: "{{ out }}/{{ inventory_hostname }}.conf"
        executable: "%(bin)s/vipkeeper"
      when: not ansible_check_mode
    - name: Report
      ansible.builtin.copy:
        content: "{{ rendered | to_json }}"
        dest: "{{ out }}/{{ inventory_hostname }}.result.json"
        mode: "0644"
      check_mode: false
      changed_when: false
"""

PLAN = """
- hosts: all
  gather_facts: false
  tasks:
    - name: Plan only
      ansible.builtin.import_role:
        name: vipkeeper.vrrp.vrrp
        tasks_from: plan
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("site")
    with NetLab() as lab:
        hosts: dict[str, Any] = {}
        for index, name in enumerate(("lb1", "lb2")):
            node = lab.add_node(name, addrs=[f"10.213.41.{11 + index}/24"])
            wrapper = work / f"py-{name}"
            wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {node.ns} {sys.executable} "$@"\n')
            wrapper.chmod(0o755)
            hosts[name] = {"ansible_python_interpreter": str(wrapper)}
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "out": str(work),
                    "vipkeeper_lock_file": str(work / "lock.yml"),
                    "vipkeeper_secrets": {"web": "topsecret"},
                    "vipkeeper_clusters": [
                        {
                            "name": "web",
                            "hosts": ["lb1", "lb2"],
                            "interface": "eth0",
                            "vips": ["10.213.41.100/24"],
                        },
                        {
                            "name": "api",
                            "hosts": ["lb2", "lb1"],
                            "interface": "eth0",
                            "vips": ["10.213.41.101/24"],
                            "vrid": 77,
                        },
                    ],
                },
                "hosts": hosts,
            }
        }
        (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
        (work / "render.yml").write_text(RENDER % {"bin": BIN})
        (work / "plan.yml").write_text(PLAN)
        yield {"work": work}


def play(site: dict[str, Any], playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": os.environ.get("VIPKEEPER_COLLECTIONS_PATH", "/nonexistent"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    work = site["work"]
    argv = [str(BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"), str(work / playbook)]
    return subprocess.run(
        [*argv, *args], capture_output=True, text=True, env=env, timeout=300, check=False
    )


def recap(output: str) -> dict[str, dict[str, int]]:
    stats: dict[str, dict[str, int]] = {}
    for line in output.rsplit("PLAY RECAP", maxsplit=1)[-1].splitlines()[1:]:
        if ":" not in line:
            continue
        host, rest = line.split(":", 1)
        stats[host.strip()] = {k: int(v) for k, v in (p.split("=") for p in rest.split())}
    return stats


def test_render_check_mode_then_real_then_idempotent(site: dict[str, Any]) -> None:
    work = site["work"]
    first_check = play(site, "render.yml", "--check", "--diff")
    assert first_check.returncode == 0, first_check.stdout + first_check.stderr
    assert recap(first_check.stdout)["lb1"]["changed"] == 1
    assert not (work / "lb1.conf").exists()  # check mode changed nothing
    assert "+  virtual_router_id 77" in first_check.stdout  # the diff shows the new file

    real = play(site, "render.yml")
    assert real.returncode == 0, real.stdout + real.stderr
    assert recap(real.stdout)["lb1"]["changed"] == 1
    lb1 = (work / "lb1.conf").read_text()
    lb2 = (work / "lb2.conf").read_text()
    assert oct((work / "lb1.conf").stat().st_mode & 0o777) == "0o640"
    assert "vrrp_instance web {\n  state MASTER" in lb1
    assert "vrrp_instance api {\n  state BACKUP" in lb1
    assert "vrrp_instance web {\n  state BACKUP" in lb2
    result = json.loads((work / "lb1.result.json").read_text())
    assert {i["name"]: i["vrid"] for i in result["instances"]}["api"] == 77

    for extra in ((), ("--check",)):
        again = play(site, "render.yml", *extra)
        assert again.returncode == 0, again.stdout + again.stderr
        assert recap(again.stdout)["lb1"]["changed"] == 0
        assert recap(again.stdout)["lb2"]["changed"] == 0


def test_invalid_config_fails_in_check_mode_and_real_run_and_keeps_the_file(
    site: dict[str, Any],
) -> None:
    work = site["work"]
    play(site, "render.yml")
    before = (work / "lb1.conf").read_text()
    for extra in (("--check",), ()):
        bad = play(site, "render.yml", "-e", '{"extra_defs": {"bogus_kw": 1}}', *extra)
        assert bad.returncode != 0
        assert "unknown keyword 'bogus_kw' in global_defs" in bad.stdout
        assert (work / "lb1.conf").read_text() == before


def test_plan_errors_stop_before_any_change(site: dict[str, Any]) -> None:
    clusters = json.dumps(
        {
            "vipkeeper_clusters": [
                {
                    "name": "a",
                    "hosts": ["lb1", "lb2"],
                    "interface": "eth0",
                    "vips": ["10.213.41.5/24"],
                    "vrid": 9,
                },
                {
                    "name": "b",
                    "hosts": ["lb2", "ghost"],
                    "interface": "eth0",
                    "vips": ["10.9.9.9/24"],
                    "vrid": 9,
                },
            ]
        }
    )
    failed = play(site, "render.yml", "-e", clusters)
    assert failed.returncode != 0
    assert "cluster b: unknown host ghost (not in the inventory)" in failed.stdout


def test_plan_step_writes_a_lock_that_keeps_vrids(site: dict[str, Any]) -> None:
    work = site["work"]
    lock_file = work / "lock.yml"
    lock_file.unlink(missing_ok=True)
    first = play(site, "plan.yml")
    assert first.returncode == 0, first.stdout + first.stderr
    lock = yaml.safe_load(lock_file.read_text())
    assert lock["api"]["ipv4"]["vrid"] == 77
    web_vrid = lock["web"]["ipv4"]["vrid"]
    # Pin a lock value by hand: the next plan keeps it, and rewriting the lock is a no-op.
    lock["web"]["ipv4"]["vrid"] = 200 if web_vrid != 200 else 201
    lock_file.write_text(yaml.safe_dump(lock))
    second = play(site, "plan.yml")
    assert second.returncode == 0, second.stdout + second.stderr
    assert (
        yaml.safe_load(lock_file.read_text())["web"]["ipv4"]["vrid"] == lock["web"]["ipv4"]["vrid"]
    )
    third = play(site, "plan.yml")
    assert recap(third.stdout)["lb1"]["changed"] == 0


def test_plan_step_avoids_foreign_vrids(site: dict[str, Any]) -> None:
    work = site["work"]
    lock_file = work / "lock.yml"
    lock_file.unlink(missing_ok=True)
    first = play(site, "plan.yml")
    assert first.returncode == 0, first.stdout + first.stderr
    web = yaml.safe_load(lock_file.read_text())["web"]["ipv4"]["vrid"]
    # the shape vrrp_scan returns: web moves off its (locked) VRID with a warning, api stays
    scanned = {"vipkeeper_avoid_vrids": [{"vrid": web, "family": "ipv4", "interface": "eth0"}]}
    moved = play(site, "plan.yml", "-e", json.dumps(scanned))
    assert moved.returncode == 0, moved.stdout + moved.stderr
    lock = yaml.safe_load(lock_file.read_text())
    assert lock["web"]["ipv4"]["vrid"] not in (web, 77)
    assert lock["api"]["ipv4"]["vrid"] == 77
    said = " ".join((moved.stdout + moved.stderr).split())  # warnings may be wrapped
    assert f"locked VRID {web} is now held by a foreign VRRP router" in said
    pinned = {"vipkeeper_avoid_vrids": [{"vrid": 77, "network": "10.213.41.0/24"}]}
    failed = play(site, "plan.yml", "-e", json.dumps(pinned))
    assert failed.returncode != 0
    assert (
        "cluster api (ipv4; hosts lb2, lb1): pinned VRID 77 is used by a foreign VRRP router"
        " (vipkeeper_avoid_vrids) in domain ipv4:10.213.41.0/24" in failed.stdout
    ), failed.stdout[-3000:]


def test_split_brain_settings_render_for_vipkeeper_and_pass_the_check(
    site: dict[str, Any],
) -> None:
    work = site["work"]
    site_wide = {"vipkeeper_split_brain": {"conflict_interval": 2, "takeover_guard": 0.03}}
    done = play(site, "render.yml", "-e", json.dumps(site_wide))
    assert done.returncode == 0, done.stdout + done.stderr  # config_check ran on each file
    for host in ("lb1", "lb2"):
        text = (work / f"{host}.conf").read_text()
        assert "\nvipkeeper {\n  conflict_interval 2\n  takeover_guard 0.03\n}\n" in text
    # a keepalived host must never get the block: its render fails, naming it
    refused = play(
        site, "render.yml", "-e", json.dumps({**site_wide, "render_daemon": "keepalived"})
    )
    assert refused.returncode != 0
    for host in ("lb1", "lb2"):
        assert f"host {host} runs keepalived (vipkeeper_daemon)" in refused.stdout, refused.stdout
    assert "\nvipkeeper {" in (work / "lb1.conf").read_text()  # the file was left alone
    play(site, "render.yml")  # back to the file without the block


def test_plan_step_names_two_clusters_that_disagree_on_split_brain(site: dict[str, Any]) -> None:
    clusters = [
        {"name": "web", "hosts": ["lb1", "lb2"], "interface": "eth0",
         "vips": ["10.213.41.100/24"], "split_brain": {"takeover_guard": 0.03}},
        {"name": "api", "hosts": ["lb2", "lb1"], "interface": "eth0",
         "vips": ["10.213.41.101/24"], "split_brain": {"takeover_guard": "off"}},
    ]  # fmt: skip
    failed = play(site, "plan.yml", "-e", json.dumps({"vipkeeper_clusters": clusters}))
    assert failed.returncode != 0
    assert (
        "host lb1: clusters web and api set split_brain takeover_guard differently (0.03 and off)"
        in failed.stdout
    ), failed.stdout
