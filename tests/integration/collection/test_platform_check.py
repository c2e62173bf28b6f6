"""The roles refuse a platform they are not tested on, before they touch the host (issue #17).

Each case runs the role's own platform tasks (tasks_from: platform) against localhost with the
distribution and Python facts faked by set_fact: no container, a second or two per case. The
roles' main entry points import platform.yml first (checked below), so what passes here is
what gates everything else.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ROLES = ("runtime", "vrrp")

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Fake the facts of the platform under test
      ansible.builtin.set_fact:
        ansible_facts: "{{{{ fake_facts }}}}"
    - name: The role's platform check
      ansible.builtin.include_role:
        name: {role}
        tasks_from: platform
    - name: Reached only when the check let the host go on
      ansible.builtin.debug:
        msg: WENT-ON
"""


def facts(distribution: str, family: str, major: str, python: tuple[int, int]) -> dict[str, object]:
    """The facts setup's distribution and python subsets give (the ones the check reads)."""
    return {
        "distribution": distribution,
        "os_family": family,
        "distribution_major_version": major,
        "distribution_version": major,
        "python": {"version": {"major": python[0], "minor": python[1], "micro": 2}},
    }


def run(tmp_path: Path, role: str, fake: dict[str, object], **extra: object) -> tuple[int, str]:
    """ansible-playbook of PLAY for ROLE with FAKE facts: (exit code, output)."""
    play = tmp_path / f"platform-{role}.yml"
    play.write_text(PLAY.format(role=role))
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    extra_vars = {"fake_facts": fake, "ansible_python_interpreter": sys.executable, **extra}
    res = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", json.dumps(extra_vars)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    return res.returncode, res.stdout + res.stderr


SUPPORTED = "Debian 11 (bullseye), 12 (bookworm) and 13 (trixie) with Python 3.9 or newer"

REFUSED = {
    "rhel9": (facts("RedHat", "RedHat", "9", (3, 9)), "runs RedHat 9 (RedHat family)"),
    "rocky9": (facts("Rocky", "RedHat", "9", (3, 9)), "runs Rocky 9 (RedHat family)"),
    "ubuntu2204": (facts("Ubuntu", "Debian", "22", (3, 10)), "runs Ubuntu 22 (Debian family)"),
    "debian10": (facts("Debian", "Debian", "10", (3, 7)), "runs Debian 10 (Debian family)"),
    "debian12-py38": (facts("Debian", "Debian", "12", (3, 8)), "with Python 3.8."),
}
ACCEPTED = {
    "debian11": facts("Debian", "Debian", "11", (3, 9)),
    "debian12": facts("Debian", "Debian", "12", (3, 11)),
    "debian13": facts("Debian", "Debian", "13", (3, 13)),
}


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", sorted(REFUSED))
def test_an_unsupported_platform_is_refused_with_the_supported_ones_named(
    tmp_path: Path, role: str, case: str
) -> None:
    fake, names_host = REFUSED[case]
    rc, out = run(tmp_path, role, fake)
    assert rc != 0, out
    assert "WENT-ON" not in out, out
    assert SUPPORTED in out, out
    assert names_host in out, out
    assert "vipkeeper_allow_unsupported_platform" in out, out


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("case", sorted(ACCEPTED))
def test_debian_11_12_13_go_on_without_a_warning(tmp_path: Path, role: str, case: str) -> None:
    rc, out = run(tmp_path, role, ACCEPTED[case])
    assert rc == 0, out
    assert "WENT-ON" in out and "WARNING: The vipkeeper.vrrp" not in out, out


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(
    "override",
    [
        {"vipkeeper_allow_unsupported_platform": True},
        {"vipkeeper_allow_unsupported_platform": "yes"},
    ],
)
def test_the_override_goes_on_with_a_warning(
    tmp_path: Path, role: str, override: dict[str, object]
) -> None:
    rc, out = run(tmp_path, role, REFUSED["rhel9"][0], **override)
    assert rc == 0, out
    assert "WENT-ON" in out, out
    assert "WARNING: The vipkeeper.vrrp" in out and "at your own risk" in out, out


@pytest.mark.parametrize("role", ROLES)
def test_the_role_variable_overrides_too_and_false_still_refuses(tmp_path: Path, role: str) -> None:
    rc, out = run(
        tmp_path, role, REFUSED["rhel9"][0], **{f"{role}_allow_unsupported_platform": True}
    )
    assert rc == 0 and "WENT-ON" in out, out
    rc, out = run(tmp_path, role, REFUSED["rhel9"][0], vipkeeper_allow_unsupported_platform=False)
    assert rc != 0 and "WENT-ON" not in out, out


def test_facts_are_gathered_when_the_play_has_none(tmp_path: Path) -> None:
    """gather_facts: false and no facts: the check gathers what it needs (this machine: Debian)."""
    play = tmp_path / "gather.yml"
    play.write_text(PLAY.format(role="runtime").replace('"{{ fake_facts }}"', "{}"))
    env = {**os.environ, "ANSIBLE_ROLES_PATH": str(ROOT / "roles"), "ANSIBLE_NOCOLOR": "1"}
    extra_vars = json.dumps({"ansible_python_interpreter": sys.executable})
    res = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", extra_vars],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=120,
    )
    out = res.stdout + res.stderr
    gather = re.search(r"TASK \[runtime : Gather the distribution[^\n]*\n(\S+): \[localhost\]", out)
    assert gather and gather.group(1) == "ok", out
    # This machine decides the verdict; either way the check ran on real facts.
    assert "Tell whether the host runs a supported platform" in out, out
    assert ("WENT-ON" in out) == (res.returncode == 0), out


@pytest.mark.parametrize("role", ROLES)
def test_the_platform_check_comes_first_and_is_declared(role: str) -> None:
    main = yaml.safe_load((ROOT / "roles" / role / "tasks" / "main.yml").read_text())
    assert main[0]["ansible.builtin.import_tasks"] == "platform.yml"
    spec = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
    option = spec["argument_specs"]["main"]["options"][f"{role}_allow_unsupported_platform"]
    assert option["type"] == "bool" and option["default"] is False
    assert "vipkeeper_allow_unsupported_platform" in " ".join(option["description"])
    meta = yaml.safe_load((ROOT / "roles" / role / "meta" / "main.yml").read_text())
    assert meta["galaxy_info"]["platforms"] == [
        {"name": "Debian", "versions": ["bullseye", "bookworm", "trixie"]}
    ]
