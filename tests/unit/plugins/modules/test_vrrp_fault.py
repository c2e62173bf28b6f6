"""vrrp_fault backend: the commands of each fault and restore, check mode, guards, demote."""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.fault import (
    Fault,
    descendants,
    nft_ruleset,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import (
    ControlServer,
    Failed,
    FakeModule,
)


def module(check_mode: bool = False, **params: Any) -> FakeModule:
    base = {
        "fault": "stop",
        "state": "present",
        "daemon": "vipkeeper",
        "service_name": None,
        "socket": "/nonexistent/control.sock",
        "instance": None,
        "hold": 10.0,
        "tracked_service": None,
        "table": "vipkeeper_drill",
        "interface": None,
        "allow_link_down": False,
        "restore_after": 0,
    }
    base.update(params)
    return FakeModule(check_mode=check_mode, **base)


def test_stop_an_active_daemon_is_timed() -> None:
    m = module()
    result = Fault(m).run()
    assert result["changed"] and result["commands"] == ["systemctl stop vipkeeper"]
    assert m.calls[-1] == ["systemctl", "stop", "vipkeeper"]
    assert result["at"] <= result["done_at"] and result["at_monotonic"] > 0


def test_stop_an_inactive_daemon_changes_nothing() -> None:
    m = module(daemon="keepalived")
    m.answers["systemctl is-active"] = (3, "", "")
    result = Fault(m).run()
    assert not result["changed"] and result["at"] is None
    assert m.calls == [["systemctl", "is-active", "--quiet", "keepalived"]]


def test_check_mode_reports_and_runs_nothing() -> None:
    m = module(check_mode=True, fault="kill")
    result = Fault(m).run()
    assert result["changed"] and result["at"] is None
    assert result["commands"] == ["kill -KILL <main pid of vipkeeper and its descendants>"]
    assert all(c[:2] == ["systemctl", "is-active"] for c in m.calls)


def test_kill_restore_starts_the_unit_again() -> None:
    m = module(fault="kill", state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    result = Fault(m).run()
    assert result["changed"]
    assert m.calls[-2:] == [
        ["systemctl", "reset-failed", "vipkeeper"],
        ["systemctl", "start", "vipkeeper"],
    ]


def test_service_fault_needs_the_tracked_service() -> None:
    with pytest.raises(Failed, match="tracked_service"):
        Fault(module(fault="service")).run()
    m = module(fault="service", tracked_service="nginx")
    assert Fault(m).run()["commands"] == ["systemctl stop nginx"]


def test_isolate_feeds_the_ruleset_and_restore_deletes_the_table() -> None:
    m = module(fault="isolate")
    m.answers["nft list table"] = (1, "", "no such table")
    assert Fault(m).run()["commands"] == ["nft -f -"]
    m = module(fault="isolate", state="restored")
    assert Fault(m).run()["commands"] == ["nft delete table inet vipkeeper_drill"]


@pytest.mark.netns
def test_ruleset_is_valid_nftables() -> None:
    nft = shutil.which("nft", path="/usr/sbin:/sbin")
    assert nft, "nftables is installed by make deps"
    done = subprocess.run(
        [nft, "-c", "-f", "-"],
        input=nft_ruleset("vipkeeper_drill_t"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


def test_link_down_needs_the_explicit_permission() -> None:
    with pytest.raises(Failed, match="allow_link_down"):
        Fault(module(fault="link", interface="lo")).run()
    result = Fault(
        module(check_mode=True, fault="link", interface="lo", allow_link_down=True)
    ).run()
    assert result["commands"] == ["ip link set lo down"] and result["changed"]


def test_demote_is_refused_for_keepalived() -> None:
    with pytest.raises(Failed, match="keepalived has no demote"):
        Fault(module(fault="demote", daemon="keepalived", instance="web")).run()


def test_demote_asks_the_control_socket(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ControlServer(
        path, lambda req: {"ok": True, "instance": req["instance"], "hold": req["hold"]}
    )
    try:
        result = Fault(module(fault="demote", socket=str(path), instance="web", hold=7.0)).run()
    finally:
        server.close()
    assert server.requests == [{"command": "demote", "instance": "web", "hold": 7.0}]
    assert result["answer"]["ok"] and result["at"] is not None


def test_demote_refused_by_the_daemon_fails(tmp_path: Path) -> None:
    path = tmp_path / "c.sock"
    server = ControlServer(path, lambda req: {"ok": False, "error": "no instance nope"})
    try:
        with pytest.raises(Failed, match="no instance nope"):
            Fault(module(fault="demote", socket=str(path), instance="nope")).run()
    finally:
        server.close()


def test_a_failing_command_fails_the_task() -> None:
    m = module()
    m.answers["systemctl stop"] = (5, "", "Unit vipkeeper.service not loaded.")
    with pytest.raises(Failed, match="not loaded"):
        Fault(m).run()


def test_kill_sigkills_the_main_pid_and_its_descendants() -> None:
    tree = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        time.sleep(0.2)
        children = [p for p in descendants(tree.pid) if p != tree.pid]
        assert len(children) == 2
        m = module(fault="kill")
        m.answers["systemctl show"] = (0, f"{tree.pid}\n", "")
        result = Fault(m).run()
        assert result["killed_pid"] == tree.pid and sorted(result["killed_pids"]) == sorted(
            [tree.pid, *children]
        )
        assert tree.wait(timeout=5) == -9
        time.sleep(0.1)
        for pid in children:
            with open(f"/proc/{pid}/stat") as handle:  # reaped by init, or a zombie at most
                assert handle.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        pass  # the child is gone: killed and reaped
    finally:
        if tree.poll() is None:
            tree.kill()
