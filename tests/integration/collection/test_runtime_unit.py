"""The runtime role's systemd unit: rendered by ansible, checked by `systemd-analyze verify`, and
in agreement with the daemon's defaults and docs/runtime.md (issue #15: the dumps, control
socket and VIP record live in the unit's RuntimeDirectory, which survives a stop or crash).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
ROLE = ROOT / "roles" / "runtime"
VENV = Path(sys.executable).parent.parent  # has bin/vipkeeper: verify checks ExecStart

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{defaults}]
  tasks:
    - name: Render the unit
      ansible.builtin.template:
        src: {template}
        dest: "{{{{ out }}}}"
        mode: "0644"
"""


def render(tmp_path: Path, **extra: object) -> Path:
    """The role's unit rendered with its defaults (plus `extra`), as the role writes it."""
    play = tmp_path / "play.yml"
    play.write_text(
        PLAY.format(
            defaults=ROLE / "defaults" / "main.yml",
            template=ROLE / "templates" / "vipkeeper.service.j2",
        )
    )
    unit = tmp_path / "vipkeeper.service"
    extra_vars = {
        "out": str(unit),
        "runtime_venv": str(VENV),
        "ansible_python_interpreter": sys.executable,
        **extra,
    }
    subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", json.dumps(extra_vars)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
    )
    return unit


def settings(text: str) -> list[tuple[str, str]]:
    """(key, value) of every setting line of a unit file."""
    return [
        (m.group(1), m.group(2)) for m in re.finditer(r"^([A-Za-z]+)=(.*)$", text, re.MULTILINE)
    ]


def run_defaults() -> dict[str, str]:
    """`vipkeeper run`'s option defaults, from this tree."""
    code = (
        "import argparse, json; from vipkeeper.daemon import runcmd;"
        "p = argparse.ArgumentParser(); runcmd.add_arguments(p);"
        "print(json.dumps(vars(p.parse_args([]))))"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "runtime" / "src")}
    env.pop("VIPKEEPER_METRICS", None)
    out = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env
    )
    return dict(json.loads(out.stdout))


def test_the_unit_keeps_the_daemons_files_where_the_docs_say(tmp_path: Path) -> None:
    unit = dict(settings(render(tmp_path).read_text()))
    assert unit["RuntimeDirectory"] == "vipkeeper"
    assert unit["RuntimeDirectoryMode"] == "0750"
    assert unit["RuntimeDirectoryPreserve"] == "yes", "vips.json must survive a crash"
    assert unit["PrivateTmp"] == "true"
    run_dir = f"/run/{unit['RuntimeDirectory']}"
    defaults = run_defaults()
    assert defaults["dump_dir"] == run_dir, "dumps in /tmp would vanish into PrivateTmp"
    assert defaults["state_dir"] == run_dir
    assert Path(defaults["control_socket"]).parent == Path(run_dir)
    assert defaults["metrics"] is None
    # docs/runtime.md's example unit says the same about the runtime directory.
    docs = (ROOT / "docs" / "runtime.md").read_text()
    example = docs.split("## systemd", 1)[1].split("```ini", 1)[1].split("```", 1)[0]
    documented = {k: v for k, v in settings(example) if k.startswith("RuntimeDirectory")}
    assert documented == {k: v for k, v in unit.items() if k.startswith("RuntimeDirectory")}
    option = "`--dump-dir` | where the SIGUSR1 / SIGUSR2 / JSON dumps are written"
    assert f"{option} (default `{run_dir}`" in docs


@pytest.mark.parametrize("hardening", [True, False])
def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path, hardening: bool) -> None:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (systemd package)")
    unit = render(tmp_path, runtime_unit_hardening=hardening)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    # verify exits 0 on unknown keys too, with a warning: any output is a finding.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result
