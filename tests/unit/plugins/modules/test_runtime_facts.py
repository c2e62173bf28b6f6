"""runtime_facts: the readers of one host's state (units, packages, paths, wheels, venv)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import hoststate

SHOW = """Id=vipkeeper.service
LoadState=loaded
ActiveState=active
UnitFileState=enabled

Id=keepalived.service
LoadState=not-found
ActiveState=inactive
UnitFileState=
"""


def test_one_systemctl_call_reads_every_unit() -> None:
    calls: list[list[str]] = []

    def run(argv: list[str]) -> tuple[int, str, str]:
        calls.append(argv)
        return 0, SHOW, ""

    states = hoststate.service_states(run, ["vipkeeper", "keepalived"])
    assert len(calls) == 1
    assert calls[0][-2:] == ["vipkeeper.service", "keepalived.service"]
    assert states == {
        "vipkeeper": {"exists": True, "load": "loaded", "active": "active", "enabled": "enabled"},
        "keepalived": {"exists": False, "load": "not-found", "active": "inactive", "enabled": ""},
    }


def test_no_systemctl_is_none() -> None:
    def run(argv: list[str]) -> tuple[int, str, str]:
        raise OSError("no systemctl")

    assert hoststate.service_states(run, ["vipkeeper"]) is None


def test_only_the_named_packages_are_asked_and_unknown_ones_are_missing() -> None:
    def run(argv: list[str]) -> tuple[int, str, str]:
        assert argv[-2:] == ["python3-venv", "keepalived"]
        return 1, "installed\t3.11.2-1+b1\tpython3-venv\n", "no packages found matching keepalived"

    assert hoststate.package_states(run, ["python3-venv", "keepalived"]) == {
        "python3-venv": {"status": "installed", "version": "3.11.2-1+b1"},
        "keepalived": {"status": "unknown", "version": None},
    }
    assert hoststate.package_states(run, []) == {}


def test_paths_and_wheels_with_sha1(tmp_path: Path) -> None:
    wheel = tmp_path / "vipkeeper-1.0-py3-none-any.whl"
    wheel.write_bytes(b"wheel")
    wheel.chmod(0o644)
    (tmp_path / "sub").mkdir(mode=0o750)
    os.chmod(tmp_path / "sub", 0o750)
    (tmp_path / "link").symlink_to("/opt/vipkeeper/bin/vipkeeper")
    sha1 = hashlib.sha1(b"wheel").hexdigest()

    assert hoststate.wheels(str(tmp_path)) == [
        {"name": wheel.name, "checksum": sha1, "mode": "0644"}
    ]
    assert hoststate.wheels(str(tmp_path / "none")) is None
    assert hoststate.path_state(str(wheel))["checksum"] == sha1
    assert hoststate.path_state(str(tmp_path / "sub"))["type"] == "directory"
    assert hoststate.path_state(str(tmp_path / "sub"))["mode"] == "0750"
    link = hoststate.path_state(str(tmp_path / "link"))
    assert (link["type"], link["target"]) == ("link", "/opt/vipkeeper/bin/vipkeeper")
    assert hoststate.path_state(str(tmp_path / "gone")) == {"exists": False}


def test_the_venv_version_comes_from_its_dist_info(tmp_path: Path) -> None:
    def run(argv: list[str]) -> tuple[int, str, str]:
        raise AssertionError("no interpreter start when the dist-info is clear")

    assert hoststate.venv_state(run, str(tmp_path), "vipkeeper") == {
        "exists": False,
        "version": None,
    }
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    info = tmp_path / "lib" / "python3.11" / "site-packages" / "vipkeeper-0.2.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: vipkeeper\nVersion: 0.2.0\n\nText\n"
    )
    assert hoststate.venv_state(run, str(tmp_path), "vipkeeper") == {
        "exists": True,
        "version": "0.2.0",
    }


def test_several_dist_infos_ask_the_interpreter(tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    (tmp_path / "bin" / "python").write_text("")
    for version in ("0.1.0", "0.2.0"):
        info = tmp_path / "lib" / "python3.11" / "site-packages" / f"vipkeeper-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Version: {version}\n")

    def run(argv: list[str]) -> tuple[int, str, str]:
        return 0, "0.2.0\n", ""

    assert hoststate.venv_state(run, str(tmp_path), "vipkeeper")["version"] == "0.2.0"


def test_no_control_socket_is_not_running(tmp_path: Path) -> None:
    assert hoststate.running_state(str(tmp_path / "control.sock")) is None


def test_an_extra_distribution_is_read_by_its_normalised_name(tmp_path: Path) -> None:
    # the role asks for prometheus-client (the metrics extra); pip writes prometheus_client-*
    assert hoststate.dist_version(str(tmp_path), "prometheus-client") is None
    info = tmp_path / "lib" / "python3.11" / "site-packages" / "prometheus_client-0.21.1.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Name: prometheus_client\nVersion: 0.21.1\n")
    assert hoststate.dist_version(str(tmp_path), "prometheus-client") == "0.21.1"
