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
  vars_files: [{defaults}, {role_vars}]
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
            role_vars=ROLE / "vars" / "main.yml",
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
    analyze = _analyze()
    unit = render(tmp_path, runtime_unit_hardening=hardening)
    result = subprocess.run(
        [analyze, "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    # verify exits 0 on unknown keys too, with a warning: any output is a finding.
    assert (result.returncode, result.stdout, result.stderr) == (0, "", ""), result


def _analyze() -> str:
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed here (systemd package)")
    return analyze


def exposure(unit: Path) -> float:
    """`systemd-analyze security --offline=true`'s overall exposure level of a unit file."""
    result = subprocess.run(
        [_analyze(), "security", "--offline=true", "--no-pager", str(unit)],
        capture_output=True,
        text=True,
        check=False,
    )
    found = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout + result.stderr)
    assert found, result
    return float(found.group(1))


def sandbox(unit: Path) -> list[tuple[str, str]]:
    """The settings after the unit's sandbox comment, up to [Install]."""
    text = unit.read_text()
    assert "# Sandbox (docs/runtime.md" in text
    return settings(text.split("# Sandbox (docs/runtime.md", 1)[1].split("[Install]", 1)[0])


# Measured with systemd 252: 9.6 without the sandbox, 5.6 with the sandbox before #17 (no
# SystemCallFilter, UMask, PrivateDevices, ...), 3.5 with today's (docs/runtime.md says so).
MEASURED = 3.5
EXPOSURE_LIMIT = MEASURED + 0.1


def test_the_sandbox_keeps_the_exposure_score_low(tmp_path: Path) -> None:
    hardened = exposure(render(tmp_path))
    (tmp_path / "off").mkdir()
    plain = exposure(render(tmp_path / "off", runtime_unit_hardening=False))
    assert hardened <= EXPOSURE_LIMIT, hardened
    assert plain > 9, plain


def test_the_sandbox_filters_system_calls_and_the_umask(tmp_path: Path) -> None:
    unit = dict(sandbox(render(tmp_path)))
    assert unit["SystemCallFilter"] == "@system-service"  # has @setuid: scripts as other users
    assert unit["SystemCallErrorNumber"] == "EPERM"
    assert unit["UMask"] == "0077"
    assert unit["MemoryDenyWriteExecute"] == "true"
    assert unit["PrivateDevices"] == "true"
    assert "ProtectKernelTunables" not in unit  # scripts may write sysctls; opt in (docs)
    caps = set(unit["CapabilityBoundingSet"].split())
    assert {"CAP_NET_ADMIN", "CAP_NET_RAW", "CAP_SETUID", "CAP_SETGID", "CAP_KILL"} <= caps
    assert "CAP_SYS_MODULE" not in caps and "CAP_SYS_ADMIN" not in caps


def test_overrides_replace_drop_and_add_settings(tmp_path: Path) -> None:
    overrides = {
        "MemoryDenyWriteExecute": False,
        "SystemCallFilter": None,
        "ProtectKernelTunables": True,
        "ReadWritePaths": ["/var/lib/a", "/var/lib/b"],
    }
    unit = render(tmp_path, runtime_unit_overrides=overrides)
    got = sandbox(unit)
    keys = [pair[0] for pair in got]
    assert ("MemoryDenyWriteExecute", "false") in got
    assert keys.index("MemoryDenyWriteExecute") < keys.index("SystemCallArchitectures")  # in place
    assert "SystemCallFilter" not in keys
    assert keys[-3:] == ["ProtectKernelTunables", "ReadWritePaths", "ReadWritePaths"]
    assert got[-3:] == [
        ("ProtectKernelTunables", "true"),
        ("ReadWritePaths", "/var/lib/a"),
        ("ReadWritePaths", "/var/lib/b"),
    ]
    verify = subprocess.run(
        [_analyze(), "verify", "--man=no", str(unit)], capture_output=True, text=True, check=False
    )
    assert (verify.returncode, verify.stdout, verify.stderr) == (0, "", ""), verify
    # Without the sandbox the overrides are the only settings after the comment.
    (tmp_path / "plain").mkdir()
    plain = render(
        tmp_path / "plain", runtime_unit_hardening=False, runtime_unit_overrides={"UMask": "0027"}
    )
    assert sandbox(plain) == [("UMask", "0027")]
    (tmp_path / "none").mkdir()
    bare = render(tmp_path / "none", runtime_unit_hardening=False).read_text()
    assert "# Sandbox" not in bare
    assert "SystemCallFilter" not in bare and "UMask" not in bare


PREFLIGHT = """
- hosts: localhost
  connection: local
  gather_facts: false
  vars_files: [{defaults}]
  tasks:
    - name: Preflight
      ansible.builtin.include_role:
        name: {role}
        tasks_from: preflight.yml
"""


@pytest.mark.parametrize(
    ("overrides", "ok"),
    [
        ({"MemoryDenyWriteExecute": False, "ReadWritePaths": ["/a"], "UMask": None}, True),
        ({"Bad Key": "x"}, False),
        ({"ExecStartPost": "/bin/true\nExecStart=/bin/evil"}, False),
        ({"ReadWritePaths": ["/a", "/b\n[Unit]"]}, False),
        ({"Environment": {"A": "b"}}, False),
    ],
)
def test_preflight_refuses_overrides_that_are_not_settings(
    tmp_path: Path, overrides: dict[str, object], ok: bool
) -> None:
    play = tmp_path / "preflight.yml"
    play.write_text(PREFLIGHT.format(defaults=ROLE / "defaults" / "main.yml", role=ROLE))
    extra = {"runtime_unit_overrides": overrides, "ansible_python_interpreter": sys.executable}
    result = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", json.dumps(extra)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    assert (result.returncode == 0) is ok, result.stdout[-3000:]
    if not ok:
        assert "runtime_unit_overrides maps [Service] setting names" in result.stdout


def test_docs_list_every_sandbox_setting_as_the_unit_writes_it(tmp_path: Path) -> None:
    docs = (ROOT / "docs" / "runtime.md").read_text()
    section = docs.split("### Hardening", 1)[1].split("\n## ", 1)[0]
    table = section.split("Left out on purpose", 1)[0]
    for key, value in sandbox(render(tmp_path)):
        assert f"`{key}={value}`" in table, f"{key}={value} is not in docs/runtime.md"
    assert f"rates it {MEASURED}" in section
    assert "ProtectKernelTunables" in section.split("Left out on purpose", 1)[1]


def exec_start_metrics(unit: Path) -> list[str]:
    """The `--metrics` argument(s) of the unit's ExecStart."""
    argv = dict(settings(unit.read_text()))["ExecStart"].split()
    return [argv[i + 1] for i, arg in enumerate(argv) if arg == "--metrics"]


@pytest.mark.parametrize(
    ("metrics", "listen"),
    [
        ({}, None),
        ({"enabled": False, "port": 9100}, None),
        ({"enabled": True}, "127.0.0.1:9650"),
        ({"enabled": True, "address": "0.0.0.0", "port": 9100}, "0.0.0.0:9100"),
        ({"enabled": True, "address": "::"}, "[::]:9650"),
        ({"enabled": True, "address": "fd00::5", "port": 9650}, "[fd00::5]:9650"),
    ],
)
def test_runtime_metrics_turns_the_daemons_endpoint_on(
    tmp_path: Path, metrics: dict[str, object], listen: str | None
) -> None:
    unit = render(tmp_path, runtime_metrics=metrics)
    assert exec_start_metrics(unit) == ([listen] if listen else [])
    if listen:
        # the daemon reads it as the role meant it (its own parser, this tree)
        sys.path.insert(0, str(ROOT / "runtime" / "src"))
        try:
            from vipkeeper.daemon.metrics import parse_listen
        finally:
            sys.path.remove(str(ROOT / "runtime" / "src"))
        want = metrics.get("address", "127.0.0.1"), metrics.get("port", 9650)
        assert parse_listen(listen) == want


def test_the_inventory_variable_vipkeeper_metrics_turns_it_on(tmp_path: Path) -> None:
    unit = render(tmp_path, vipkeeper_metrics={"enabled": True, "port": 9101})
    assert exec_start_metrics(unit) == ["127.0.0.1:9101"]


@pytest.mark.parametrize(
    ("metrics", "ok"),
    [
        ({"enabled": True, "address": "10.0.0.5", "port": 9650}, True),
        ({"enabled": "yes"}, True),
        ({"enabled": True, "port": 0}, False),
        ({"enabled": True, "port": 70000}, False),
        ({"enabled": True, "port": "x"}, False),
        ({"enabled": True, "address": "[::1]"}, False),
        ({"enabled": True, "address": "1.2.3.4 --evil"}, False),
        ({"enabled": "maybe"}, False),
        ({"enable": True}, False),
        ("9650", False),
    ],
)
def test_preflight_refuses_bad_metrics_settings(tmp_path: Path, metrics: object, ok: bool) -> None:
    play = tmp_path / "preflight.yml"
    play.write_text(PREFLIGHT.format(defaults=ROLE / "defaults" / "main.yml", role=ROLE))
    extra = {"runtime_metrics": metrics, "ansible_python_interpreter": sys.executable}
    result = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", play, "-e", json.dumps(extra)],
        capture_output=True,
        text=True,
        env={**os.environ, "ANSIBLE_NOCOLOR": "1"},
        check=False,
    )
    assert (result.returncode == 0) is ok, result.stdout[-3000:]
    if not ok:
        assert "runtime_metrics (or vipkeeper_metrics) on localhost takes enabled" in result.stdout
