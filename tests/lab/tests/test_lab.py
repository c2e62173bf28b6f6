"""The nspawn lab end to end: up, Ansible over SSH, isolation from the base, clean teardown."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
import yaml  # type: ignore[import-untyped]
from labhelpers import LAB_PY, lab_cli, leftovers
from vklab import procs
from vklab.state import STARTING, StateDir

pytestmark = [pytest.mark.netns, pytest.mark.slow, pytest.mark.timeout(600)]


def _ansible() -> str:
    local = Path(sys.executable).parent / "ansible"
    found = str(local) if local.exists() else shutil.which("ansible")
    assert found, "ansible not installed: run make deps"
    return found


def _ssh(name: str, host: str, command: str) -> str:
    res = subprocess.run(
        ["ssh", "-F", str(StateDir(name).ssh_config), "-o", "BatchMode=yes", host, command],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert res.returncode == 0, f"ssh {host} {command!r}: {res.stderr}"
    return res.stdout


def _up(name: str, *extra: str) -> Path:
    res = lab_cli("up", name, "--owner-pid", str(os.getpid()), *extra, timeout=900)
    assert res.returncode == 0, res.stderr
    return Path(res.stdout.strip().splitlines()[-1])


def _assert_gone(name: str, base: Path | None = None) -> None:
    left = leftovers(name, base)
    assert left.empty(), left


def test_up_ansible_isolation_down(lab_name: str) -> None:
    inv_path = _up(lab_name, "--lbs", "2")
    inv = yaml.safe_load(inv_path.read_text())
    lbs = inv["all"]["children"]["lb"]["hosts"]
    clients = inv["all"]["children"]["client"]["hosts"]
    assert sorted(lbs) == [f"{lab_name}-lb1", f"{lab_name}-lb2"]
    assert list(clients) == [f"{lab_name}-client"]
    hosts = {**lbs, **clients}
    lab_vars = inv["all"]["vars"]
    assert lab_vars["lab_interface"] == "host0"
    assert lab_vars["ansible_user"] == "root"
    net = lab_vars["lab_network"]
    assert net.startswith("10.213.") and net.endswith(".0/24")
    vip = lab_vars["lab_vip"].split("/")[0]
    assert vip not in {h["ansible_host"] for h in hosts.values()}

    # Ansible reaches every host over SSH with the lab key.
    res = subprocess.run(
        [_ansible(), "-i", str(inv_path), "all", "-m", "ping"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.count("SUCCESS") == 3, res.stdout

    # Each host has its own name, address and identity.
    addresses, host_keys, machine_ids = set(), set(), set()
    for host, hvars in hosts.items():
        out = _ssh(
            lab_name,
            host,
            "hostname; ip -4 -o addr show dev host0; cat /etc/machine-id;"
            " cat /etc/ssh/ssh_host_ed25519_key.pub",
        ).splitlines()
        assert out[0] == host
        assert f"inet {hvars['ansible_host']}/24" in out[1]
        addresses.add(hvars["ansible_host"])
        machine_ids.add(out[2])
        host_keys.add(out[3])
    assert len(addresses) == len(machine_ids) == len(host_keys) == 3
    # keepalived is installed but not started at boot; hosts resolve each other by name.
    lb1 = f"{lab_name}-lb1"
    res = lab_cli("exec", lab_name, "lb1", "hostname")
    assert res.returncode == 0 and res.stdout.strip() == lb1, res.stderr
    assert _ssh(lab_name, lb1, "systemctl is-enabled keepalived || true").strip() == "disabled"
    assert (
        _ssh(lab_name, lb1, f"getent hosts {lab_name}-client").split()[0]
        == (clients[f"{lab_name}-client"]["ansible_host"])
    )

    # Writes land in the container's own overlay: the base stays clean, other hosts see nothing.
    st = StateDir(lab_name).load()
    base = Path(st.base)
    probe = f"vk-probe-{uuid.uuid4().hex}"
    _ssh(lab_name, lb1, f"echo hi > /root/{probe}; echo hi > /etc/{probe}")
    assert _ssh(lab_name, lb1, f"cat /etc/{probe}").strip() == "hi"
    assert not (base / "root" / probe).exists()
    assert not (base / "etc" / probe).exists()
    assert not list((base / "etc/ssh").glob("ssh_host_*"))
    assert _ssh(
        lab_name, f"{lab_name}-lb2", f"ls /etc/{probe} 2>/dev/null || echo absent"
    ).strip() == ("absent")

    res = lab_cli("status", lab_name, "--json")
    assert res.returncode == 0, res.stderr
    doc = json.loads(res.stdout)
    assert doc["healthy"] and doc["inventory"] == str(inv_path)
    assert {h["name"]: h["address"] for h in doc["hosts"]} == {
        n: h["ansible_host"] for n, h in hosts.items()
    }

    # A second up reuses the running lab.
    pids = [h.nspawn for h in st.hosts]
    assert _up(lab_name, "--lbs", "2") == inv_path
    assert [h.nspawn for h in StateDir(lab_name).load().hosts] == pids

    res = lab_cli("down", lab_name)
    assert res.returncode == 0, res.stderr
    _assert_gone(lab_name, base)
    assert all(not procs.alive(p) for p in pids if p)


def _wait_recorded(name: str, hosts: int, timeout: float = 120) -> StateDir:
    """Wait until an up has spawned HOSTS containers and found their init processes."""
    sd = StateDir(name)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if sd.exists():
            st = sd.load()
            if len(st.hosts) == hosts and all(h.nspawn and h.init for h in st.hosts):
                return sd
        time.sleep(0.2)
    pytest.fail(f"lab {name}: containers not recorded after {timeout}s")


def _start_up(name: str, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, str(LAB_PY), "up", name, *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_killed_up_is_removed_by_down_stale(lab_name: str) -> None:
    up = _start_up(lab_name, "--lbs", "2", "--no-client")
    sd = _wait_recorded(lab_name, 2)
    up.kill()  # a crash: no handler runs
    up.communicate(timeout=30)
    st = sd.load()
    assert st.phase == STARTING
    assert all(h.nspawn and procs.alive(h.nspawn) for h in st.hosts)  # orphaned, still running

    res = lab_cli("down", "--stale")
    assert res.returncode == 0, res.stderr
    assert lab_name in res.stdout
    _assert_gone(lab_name, Path(st.base))


def test_down_after_crash_kills_orphaned_container_init(lab_name: str) -> None:
    up = _start_up(lab_name, "--lbs", "1", "--no-client")
    sd = _wait_recorded(lab_name, 1)
    up.kill()
    up.communicate(timeout=30)
    host = sd.load().hosts[0]
    assert host.nspawn and host.init
    # nspawn killed too: its container's init lives on, reparented, until down removes it.
    os.kill(host.nspawn.pid, signal.SIGKILL)
    assert procs.wait_gone([host.nspawn], 10) == []
    assert procs.alive(host.init)

    res = lab_cli("down", lab_name)
    assert res.returncode == 0, res.stderr
    assert not procs.alive(host.init)
    _assert_gone(lab_name)


def test_ctrl_c_during_up_tears_down(lab_name: str) -> None:
    up = _start_up(lab_name, "--lbs", "1")
    sd = _wait_recorded(lab_name, 2)
    base = Path(sd.load().base)
    up.send_signal(signal.SIGINT)
    _out, err = up.communicate(timeout=120)
    assert up.returncode == 130, err
    assert "tearing down" in err
    _assert_gone(lab_name, base)


def test_lab_of_a_dead_owner_is_stale(lab_name: str) -> None:
    owner = subprocess.Popen(["sleep", "600"])
    try:
        res = lab_cli("up", lab_name, "--lbs", "1", "--no-client", "--owner-pid", str(owner.pid))
        assert res.returncode == 0, res.stderr
        # While the owner lives, the sweep leaves the lab alone.
        assert lab_name not in lab_cli("down", "--stale").stdout
        assert lab_cli("status", lab_name).returncode == 0
    finally:
        owner.kill()
        owner.wait()
    res = lab_cli("down", "--stale")
    assert lab_name in res.stdout, res.stdout + res.stderr
    _assert_gone(lab_name)


def test_status_and_errors_without_traceback(lab_name: str) -> None:
    res = lab_cli("status", lab_name)
    assert res.returncode == 3 and "not up" in res.stdout
    res = lab_cli("inventory", lab_name)
    assert res.returncode == 1 and "is not up" in res.stderr
    res = lab_cli("up", "Bad_Name")
    assert res.returncode == 1 and "invalid lab name" in res.stderr
    assert "Traceback" not in res.stderr


def test_parallel_labs_get_their_own_network(lab_name: str) -> None:
    other = f"{lab_name}-b"
    try:
        ups = [_start_up(n, "--lbs", "1", "--no-client", "--owner-pid", str(os.getpid()))
               for n in (lab_name, other)]  # fmt: skip
        for up in ups:
            _out, err = up.communicate(timeout=300)
            assert up.returncode == 0, err
        a, b = StateDir(lab_name).load(), StateDir(other).load()
        assert a.network != b.network and a.bridge != b.bridge
        assert _ssh(lab_name, f"{lab_name}-lb1", "hostname").strip() == f"{lab_name}-lb1"
        assert _ssh(other, f"{other}-lb1", "hostname").strip() == f"{other}-lb1"
    finally:
        lab_cli("down", other)
    _assert_gone(other)


def test_bullseye_and_trixie_hosts_boot_with_sshd_python_and_venv(lab_name: str) -> None:
    """Debian 11 (systemd 247, Python 3.9) and 13 (systemd 257, Python 3.13) under this nspawn."""
    inv_path = _up(lab_name, "--lbs", "2", "--no-client", "--releases", "bullseye,trixie")
    lbs = yaml.safe_load(inv_path.read_text())["all"]["children"]["lb"]["hosts"]
    want = {
        f"{lab_name}-lb1": ("bullseye", "11", "3.9"),
        f"{lab_name}-lb2": ("trixie", "13", "3.13"),
    }
    assert {n: h["lab_release"] for n, h in lbs.items()} == {n: w[0] for n, w in want.items()}
    st = StateDir(lab_name).load()
    assert len({h.base for h in st.hosts}) == 2  # one base tree per release

    # Ansible's modules run on both interpreters, over SSH with the lab key.
    res = subprocess.run(
        [_ansible(), "-i", str(inv_path), "lb", "-m", "ping"],
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )
    assert res.returncode == 0 and res.stdout.count("SUCCESS") == 2, res.stdout + res.stderr

    for host, (_release, version, python) in want.items():
        out = _ssh(
            lab_name,
            host,
            ". /etc/os-release; echo $VERSION_ID;"
            " python3 -c 'import sys; print(\"%d.%d\" % sys.version_info[:2])';"
            " systemctl is-system-running --wait || true;"
            " systemctl is-active ssh; systemctl is-enabled keepalived || true;"
            " python3 -m venv /tmp/venv && /tmp/venv/bin/python -m pip --version >/dev/null"
            " && echo venv-ok",
        ).split()
        assert out[:2] == [version, python], out
        # A container may be "degraded" by units that need what nspawn does not give; sshd and
        # the venv the runtime role builds (python3-venv, offline) are what the roles need.
        assert out[2] in ("running", "degraded"), out
        assert out[3:] == ["active", "disabled", "venv-ok"], out

    # Asking for other releases does not reuse this lab: it refuses, naming the running shape.
    res = lab_cli("up", lab_name, "--lbs", "2", "--no-client", "--releases", "bookworm")
    assert res.returncode == 1 and "releases bullseye,trixie" in res.stderr, res.stderr

    res = lab_cli("down", lab_name)
    assert res.returncode == 0, res.stderr
    for base in {h.base for h in st.hosts}:
        _assert_gone(lab_name, Path(base))
