"""vrrp_fault backend: the commands of each fault and restore, check mode, guards, demote."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import fault as fault_mod
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.fault import (
    Fault,
    descendants,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.module_docs import validation_errors
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import (
    ControlServer,
    Failed,
    FakeModule,
    wait_until,
)


@pytest.fixture(autouse=True)
def records(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Fault records go to a throwaway directory, never the host's /run."""
    path = tmp_path / "records"
    monkeypatch.setattr(fault_mod, "RECORD_DIR", str(path), raising=False)
    return path


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
    # The module's required_if refuses it before the backend runs.
    assert "tracked_service" in validation_errors("vrrp_fault", {"fault": "service"})
    m = module(fault="service", tracked_service="nginx")
    assert Fault(m).run()["commands"] == ["systemctl stop nginx"]


def test_isolate_feeds_the_ruleset_and_restore_deletes_the_table() -> None:
    m = module(fault="isolate")
    m.answers["nft list table"] = (1, "", "no such table")
    assert Fault(m).run()["commands"] == ["nft -f -"]
    m = module(fault="isolate", state="restored")
    assert Fault(m).run()["commands"] == ["nft delete table inet vipkeeper_drill"]


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


def _ended(pid: int) -> bool:
    """Reaped, or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        return True


def test_kill_sigkills_the_main_pid_and_its_descendants() -> None:
    tree = subprocess.Popen(["/bin/sh", "-c", "sleep 60 & sleep 60 & wait"])
    try:
        wait_until(lambda: len([p for p in descendants(tree.pid) if p != tree.pid]) == 2, 5)
        children = [p for p in descendants(tree.pid) if p != tree.pid]
        assert len(children) == 2
        m = module(fault="kill")
        m.answers["systemctl show"] = (0, f"{tree.pid}\n", "")
        result = Fault(m).run()
        assert result["killed_pid"] == tree.pid and sorted(result["killed_pids"]) == sorted(
            [tree.pid, *children]
        )
        assert tree.wait(timeout=5) == -9
        wait_until(lambda: all(_ended(pid) for pid in children), 5)
        for pid in children:
            with open(f"/proc/{pid}/stat") as handle:  # reaped by init, or a zombie at most
                assert handle.read().split(") ")[1][0] in "ZX"
    except FileNotFoundError:
        pass  # the child is gone: killed and reaped
    finally:
        if tree.poll() is None:
            tree.kill()


class Host:
    """A host for daemon=auto: its control socket, keepalived pidfile, configs and enabled units."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.socket = root / "control.sock"
        self.pidfile = root / "keepalived.pid"
        self.configs = {"vipkeeper": root / "vk.conf", "keepalived": root / "ka.conf"}
        self.enabled: set[str] = set()
        configs = {name: str(path) for name, path in self.configs.items()}
        monkeypatch.setattr(fault_mod, "CONFIGS", configs, raising=False)
        monkeypatch.setattr(fault_mod.daemons, "KEEPALIVED_PIDFILE", str(self.pidfile))

    def fault(self, check_mode: bool = False, **params: Any) -> tuple[FakeModule, Fault]:
        m = module(check_mode=check_mode, daemon="auto", socket=str(self.socket), **params)
        for unit in ("vipkeeper", "keepalived"):
            answer = (0, "enabled\n", "") if unit in self.enabled else (1, "disabled\n", "")
            m.answers[f"systemctl is-enabled {unit}"] = answer
        return m, Fault(m)


@pytest.fixture
def host(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Host:
    return Host(tmp_path, monkeypatch)


@pytest.mark.parametrize("fault", ["stop", "kill"])
def test_auto_restores_the_daemon_the_fault_stopped(host: Host, records: Path, fault: str) -> None:
    host.socket.touch()  # vipkeeper runs
    host.enabled = {"vipkeeper", "keepalived"}  # Debian enables keepalived when it installs it
    m, f = host.fault(fault=fault)
    victim = subprocess.Popen(["sleep", "60"])  # the daemon's main process, for kill
    try:
        m.answers["systemctl show"] = (0, f"{victim.pid}\n", "")
        injected = f.run()
    finally:
        victim.kill()
        victim.wait()
    assert injected["daemon"] == "vipkeeper" and injected["changed"]
    host.socket.unlink()  # a stopped vipkeeper takes its socket away
    m, f = host.fault(fault=fault, state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    result = f.run()
    assert result["daemon"] == "vipkeeper" and result["daemon_from"].startswith("recorded")
    assert m.calls[-1] == ["systemctl", "start", "vipkeeper"]
    assert not (records / f"{fault}.json").exists()


def test_the_record_keeps_the_unit_of_service_name(host: Host) -> None:
    host.socket.touch()
    m, f = host.fault(service_name="vipkeeper@lab")
    f.run()
    host.socket.unlink()
    m, f = host.fault(state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    f.run()
    assert m.calls[-1] == ["systemctl", "start", "vipkeeper@lab"]


def test_a_given_daemon_wins_over_the_record(host: Host, records: Path) -> None:
    host.socket.touch()
    host.fault()[1].run()
    m = module(daemon="keepalived", state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    Fault(m).run()
    assert m.calls[-1] == ["systemctl", "start", "keepalived"]
    assert not (records / "stop.json").exists()


def test_check_mode_leaves_no_record_and_keeps_one(host: Host, records: Path) -> None:
    host.socket.touch()
    host.fault(check_mode=True)[1].run()
    assert not (records / "stop.json").exists()
    host.fault()[1].run()
    host.socket.unlink()
    m, f = host.fault(check_mode=True, state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    assert f.run()["commands"][-1] == "systemctl start vipkeeper"
    assert (records / "stop.json").exists()


@pytest.mark.parametrize(
    ("enabled", "configs", "daemon"),
    [
        ({"vipkeeper"}, {"keepalived"}, "vipkeeper"),
        ({"keepalived"}, {"vipkeeper"}, "keepalived"),
        ({"vipkeeper", "keepalived"}, {"vipkeeper"}, "vipkeeper"),
        (set(), {"keepalived"}, "keepalived"),
    ],
)
def test_auto_without_a_record_takes_the_enabled_then_the_configured_daemon(
    host: Host, enabled: set[str], configs: set[str], daemon: str
) -> None:
    host.enabled = enabled
    for name in configs:
        host.configs[name].write_text("vrrp_instance web {}\n")
    m, f = host.fault(state="restored")
    m.answers["systemctl is-active"] = (3, "", "")
    result = f.run()
    assert result["daemon"] == daemon and m.calls[-1] == ["systemctl", "start", daemon]


def test_auto_takes_a_running_keepalived(host: Host) -> None:
    host.enabled = {"vipkeeper"}
    host.pidfile.write_text(f"{os.getpid()}\n")  # a live pid
    _m, f = host.fault(fault="kill", check_mode=True)
    assert f.daemon == "keepalived" and f.daemon_from == "it is running"


def test_auto_that_cannot_tell_fails_for_the_daemon_faults_only(host: Host) -> None:
    host.enabled = {"vipkeeper", "keepalived"}
    with pytest.raises(Failed, match="cannot tell which VRRP daemon"):
        host.fault(state="restored")
    _m, f = host.fault(fault="isolate", state="restored")
    assert f.run()["daemon"] == "unknown"
