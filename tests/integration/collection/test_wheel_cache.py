"""The controller's wheel cache is keyed by the runtime's source, not only its version.

A wheel built from other source under the same version (a development tree, a patched
collection, a runtime whose supported Pythons changed) must be rebuilt, never shipped: the
runtime role's wheelhouse tasks run here against localhost on a scratch copy of runtime/,
three times: a first build, a no-change run that builds nothing, and a run after one source
file changed, which builds again. pip builds the wheel for real (setuptools from the index).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent

PLAY = """
- hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Preflight (the shipped version)
      ansible.builtin.include_role:
        name: runtime
        tasks_from: preflight
    - name: The controller's wheelhouse
      ansible.builtin.include_role:
        name: runtime
        tasks_from: wheelhouse
"""


def _run(tmp_path: Path, source: Path, wheelhouse: Path, **more: object) -> str:
    play = tmp_path / "wheels.yml"
    play.write_text(PLAY)
    env = {
        **os.environ,
        "ANSIBLE_ROLES_PATH": str(ROOT / "roles"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_LOCALHOST_WARNING": "0",
        "ANSIBLE_INVENTORY_UNPARSED_WARNING": "0",
    }
    extra = {
        "ansible_python_interpreter": sys.executable,
        "runtime_source": str(source),
        "runtime_controller_wheelhouse": str(wheelhouse),
        **more,
    }
    res = subprocess.run(
        [BIN / "ansible-playbook", "-i", "localhost,", "-v", play, "-e", json.dumps(extra)],
        capture_output=True,
        text=True,
        check=False,
        env=env,
        timeout=300,
    )
    out = res.stdout + res.stderr
    assert res.returncode == 0, out
    return out


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_wheel_of_other_source_under_the_same_version_is_rebuilt(tmp_path: Path) -> None:
    source = tmp_path / "runtime"
    shutil.copytree(
        ROOT / "runtime",
        source,
        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", ".mypy_cache"),
    )
    wheelhouse = tmp_path / "wheelhouse"
    out = _run(tmp_path, source, wheelhouse)
    assert "TASK [runtime : Build the wheels]" in out and "changed: [localhost]" in out
    (wheel,) = wheelhouse.glob("vipkeeper-*-py3-none-any.whl")
    stamp = wheel.with_name(wheel.name.split("-py3")[0] + ".source")
    first, fingerprint = _digest(wheel), stamp.read_text()
    assert len(fingerprint.strip()) == 64

    out = _run(tmp_path, source, wheelhouse)  # nothing changed: nothing built
    build = out.split("TASK [runtime : Build the runtime wheels on the controller]")[1]
    build = build.split("TASK [")[0]
    assert "skipping: [localhost]" in build and "changed:" not in build, out
    assert "TASK [runtime : Build the wheels]" not in out, out
    assert _digest(wheel) == first and stamp.read_text() == fingerprint

    cli = source / "src" / "vipkeeper" / "cli.py"
    cli.write_text(cli.read_text() + "\n# another build of the same version\n")
    out = _run(tmp_path, source, wheelhouse)
    build = out.split("TASK [runtime : Build the wheels]")[1].split("TASK [")[0]
    assert "changed: [localhost]" in build, out
    assert _digest(wheel) != first, "the wheel was rebuilt from the changed source"
    assert stamp.read_text() != fingerprint


def test_offline_metrics_build_prometheus_client_into_the_wheelhouse(tmp_path: Path) -> None:
    """Offline hosts install the metrics extra from the wheelhouse: a cache built without it is
    built again once a host turns metrics on; with metrics off it is not needed."""
    source = tmp_path / "runtime"
    shutil.copytree(
        ROOT / "runtime",
        source,
        ignore=shutil.ignore_patterns("tests", "__pycache__", "*.egg-info", ".mypy_cache"),
    )
    wheelhouse = tmp_path / "wheelhouse"
    _run(tmp_path, source, wheelhouse, runtime_offline=True)
    assert not list(wheelhouse.glob("prometheus_client-*.whl")), "built with metrics off"
    (wheel,) = wheelhouse.glob("vipkeeper-*-py3-none-any.whl")
    stamp = wheel.with_name(wheel.name.split("-py3")[0] + ".source")
    fingerprint = stamp.read_text()

    metrics = {"runtime_offline": True, "runtime_metrics": {"enabled": True}}
    out = _run(tmp_path, source, wheelhouse, **metrics)
    build = out.split("TASK [runtime : Build the wheels]")[1].split("TASK [")[0]
    assert "changed: [localhost]" in build and "[metrics]" in build, out
    assert list(wheelhouse.glob("prometheus_client-*.whl")), "no prometheus_client wheel"
    assert stamp.read_text() == fingerprint, "the same source"

    out = _run(tmp_path, source, wheelhouse, **metrics)  # the cache has it now: no build
    assert "TASK [runtime : Build the wheels]" not in out, out
    # online hosts fetch the extra from the index: nothing to build for them
    out = _run(tmp_path, source, tmp_path / "online", runtime_metrics={"enabled": True})
    assert not list((tmp_path / "online").glob("prometheus_client-*.whl"))
