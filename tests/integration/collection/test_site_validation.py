"""site.yml validates the vrrp role's options once per host (issue 25): its pre_tasks use the
role's entry point `site`, whose spec holds the options of `main`, `rolling` and `converge`, and
it includes `rolling` and `converge` without validating them again.

The entry point runs against localhost with no clusters (the plan is empty): no lab, a few
seconds per case. Run by `make test-collection-integration`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: The first step of site.yml
      ansible.builtin.include_role:
        name: vipkeeper.vrrp.vrrp
        tasks_from: site
    - name: Reached only when the options passed
      ansible.builtin.debug:
        msg: PLANNED
"""


def run(tmp_path: Path, **extra: object) -> tuple[int, str]:
    play = tmp_path / "site-step.yml"
    play.write_text(PLAY)
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": os.environ.get("VIPKEEPER_COLLECTIONS_PATH", "/nonexistent"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    extra_vars = {
        "ansible_python_interpreter": sys.executable,
        "vipkeeper_clusters": [],
        "vipkeeper_lock_file": "",
        **extra,
    }
    res = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", json.dumps(extra_vars)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=180,
    )
    return res.returncode, res.stdout + res.stderr


def test_good_options_pass_the_site_validation(tmp_path: Path) -> None:
    rc, out = run(tmp_path, vipkeeper_rolling_timeout=30, vipkeeper_converge_slack=2.5)
    assert rc == 0, out
    assert "Validating arguments against arg spec 'site'" in out, out
    assert "PLANNED" in out, out


@pytest.mark.parametrize(
    ("extra", "option"),
    [
        ({"vipkeeper_rolling_timeout": "soon"}, "vrrp_rolling_timeout"),  # rolling's
        ({"vipkeeper_rolling_parallel": "sometimes"}, "vrrp_rolling_parallel"),  # rolling's
        ({"vipkeeper_converge_slack": "plenty"}, "vrrp_converge_slack"),  # converge's
        ({"vrrp_config_backup": "maybe"}, "vrrp_config_backup"),  # main's
    ],
)
def test_bad_options_of_every_step_fail_the_site_validation(
    tmp_path: Path, extra: dict[str, object], option: str
) -> None:
    rc, out = run(tmp_path, **extra)
    assert rc != 0, out
    assert "PLANNED" not in out, out
    # the validation task itself fails, naming the option
    task = out.split("Validating arguments against arg spec 'site'", 1)[1].split("TASK [", 1)[0]
    assert "fatal: [localhost]" in task and option in task, out


def test_site_validates_what_it_no_longer_validates_per_step() -> None:
    specs = yaml.safe_load((ROOT / "roles/vrrp/meta/argument_specs.yml").read_text())
    specs = specs["argument_specs"]
    site = specs["site"]["options"]
    for step in ("main", "plan", "rolling", "converge"):
        for name, spec in specs[step]["options"].items():
            assert site.get(name) == spec, (step, name)
    play = yaml.safe_load((ROOT / "playbooks/site.yml").read_text())[0]
    assert play["pre_tasks"][1]["ansible.builtin.import_role"]["tasks_from"] == "site"
    included = {
        t["ansible.builtin.include_role"]["tasks_from"]: t["ansible.builtin.include_role"]
        for t in play["post_tasks"]
        if "ansible.builtin.include_role" in t
    }
    assert set(included) == {"rolling", "converge"}
    assert all(inc["rolespec_validate"] is False for inc in included.values())
