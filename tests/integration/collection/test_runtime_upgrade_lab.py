"""The runtime role upgrades and downgrades idempotently, on one Debian 12 host of the nspawn lab.

Version A is this checkout's runtime; version B is a copy of it with another version, built into
its own controller wheelhouse (`runtime_source`, `runtime_controller_wheelhouse`). A -> B -> A:
each change installs the other version and restarts the running daemon
(`runtime_restart_on_upgrade`), and a second run of the same version changes nothing.

The lab (tests/lab/lab.py, docs/lab.md) is unique to this run and always torn down.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from runtimecopy import copy_runtime, shipped_version

ROOT = Path(__file__).resolve().parents[3]
LAB = ROOT / "tests" / "lab" / "lab.py"
BIN = Path(sys.executable).parent
RESTART = "RUNNING HANDLER [vipkeeper.vrrp.runtime : Restart vipkeeper after an upgrade]"
pytestmark = [pytest.mark.netns, pytest.mark.slow]


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAB), *args], capture_output=True, text=True, timeout=600, check=False
    )


@pytest.fixture(scope="module")
def site() -> Iterator[dict[str, Any]]:
    name = f"vkr-{os.getpid()}"
    work = Path(tempfile.mkdtemp(prefix=f"{name}-"))
    coll = work / "collections" / "ansible_collections" / "vipkeeper"
    coll.mkdir(parents=True)
    (coll / "vrrp").symlink_to(ROOT)
    version_a = shipped_version(ROOT / "runtime")
    version_b = "99.0.0"
    try:
        up = lab("up", name, "--lbs", "1", "--no-client", "--owner-pid", str(os.getpid()))
        assert up.returncode == 0, up.stdout + up.stderr
        yield {
            "name": name,
            "work": work,
            "inventory": up.stdout.strip().splitlines()[-1],
            "versions": {
                "A": (version_a, ROOT / "runtime", work / "wheels-a"),
                "B": (version_b, copy_runtime(work / "runtime-b", version_b), work / "wheels-b"),
            },
        }
    finally:
        lab("down", name)
        subprocess.run(["rm", "-rf", str(work)], check=False)


def vars_file(site: dict[str, Any], which: str) -> Path:
    _version, source, wheels = site["versions"][which]
    data = {
        "all": {
            "vars": {
                "vipkeeper_offline": True,
                "runtime_source": str(source),
                "runtime_controller_wheelhouse": str(wheels),
                "vipkeeper_hosts": "lb",
                "vipkeeper_lock_file": str(site["work"] / "lock.yml"),
                "vipkeeper_secrets": {"solo": "labsecret"},
                "vipkeeper_clusters": [
                    {
                        "name": "solo",
                        "hosts": "{{ groups['lb'] }}",
                        "interface": "host0",
                        "vips": ["{{ lab_vips[0] }}"],
                        "allow_single_host": True,
                    }
                ],
            }
        }
    }
    path = site["work"] / f"vars-{which}.yml"
    path.write_text(yaml.safe_dump(data))
    return path


def play(site: dict[str, Any], which: str) -> str:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": str(site["work"] / "collections"),
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_PIPELINING": "1",  # one SSH exec per task, as molecule and the demo
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    argv = [str(BIN / "ansible-playbook"), "vipkeeper.vrrp.site", "-i", site["inventory"]]
    done = subprocess.run(
        [*argv, "-i", str(vars_file(site, which))],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr
    return done.stdout


def changed(output: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", output, re.M)}


def on(site: dict[str, Any], command: str) -> str:
    done = lab("ssh", site["name"], "lb1", command)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.strip()


def main_pid(site: dict[str, Any]) -> str:
    """The daemon's pid once systemd reports it active (Type=notify: after READY=1)."""
    deadline = time.monotonic() + 30
    while on(site, "systemctl is-active vipkeeper || true") != "active":
        status = "systemctl status vipkeeper --no-pager || true"
        assert time.monotonic() < deadline, on(site, status)
        time.sleep(0.5)
    pid = on(site, "systemctl show vipkeeper -p MainPID --value")
    assert pid not in ("", "0")
    return pid


def test_upgrade_and_downgrade_are_idempotent(site: dict[str, Any]) -> None:
    version_a = site["versions"]["A"][0]
    version_b = site["versions"]["B"][0]
    assert version_a != version_b

    play(site, "A")
    assert on(site, "vipkeeper --version") == f"vipkeeper {version_a}"
    pid = main_pid(site)

    for which, version in (("B", version_b), ("A", version_a)):
        out = play(site, which)  # upgrade to B, then downgrade back to A
        assert on(site, "vipkeeper --version") == f"vipkeeper {version}"
        assert on(site, "/opt/vipkeeper/bin/pip show vipkeeper | grep ^Version:") == (
            f"Version: {version}"
        )
        # the running daemon was restarted onto the new code, and runs again
        assert RESTART in out, out[-4000:]
        new_pid = main_pid(site)
        assert new_pid != pid
        pid = new_pid

        again = play(site, which)
        assert set(changed(again).values()) == {0}, again[-4000:]
        assert RESTART not in again
        assert on(site, "vipkeeper --version") == f"vipkeeper {version}"
        assert main_pid(site) == pid  # nothing restarted
