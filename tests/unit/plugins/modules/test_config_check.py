"""config_check backend: parsing both checkers' output, and real runs of both checkers."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.check import (
    ConfigCheck,
    command,
    parse_keepalived,
    parse_vipkeeper,
)

GOOD = """vrrp_instance web {
  state MASTER
  interface lo
  virtual_router_id 9
  priority 100
  virtual_ipaddress {
    10.213.9.9/32
  }
}
"""
BAD = GOOD.replace("  priority 100\n", "  priority 100\n  bogus_keyword 1\n")


class FakeModule:
    """The slice of AnsibleModule the backend uses; run_command really runs."""

    def __init__(self, **params: Any) -> None:
        self.params = {
            "daemon": "vipkeeper",
            "executable": None,
            "config_id": None,
            "skip_interfaces": False,
            **params,
        }
        self.calls: list[list[str]] = []
        self.canned: tuple[int, str, str] | None = None

    def get_bin_path(self, name: str, required: bool = False, opt_dirs: Any = None) -> str:
        found = shutil.which(name, path=f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin")
        assert found, name
        return found

    def run_command(self, argv: list[str]) -> tuple[int, str, str]:
        self.calls.append(argv)
        if self.canned is not None:
            return self.canned
        done = subprocess.run(argv, capture_output=True, text=True, check=False)
        return done.returncode, done.stdout, done.stderr


def test_parse_keepalived_lines() -> None:
    text = (
        "(/etc/k.conf: Line 13) (web) cannot use a loopback interface (lo) for vrrp - ignoring\n"
        "(/etc/k.conf: Line 29) Unknown keyword 'bogus_kw'\n"
        "(web) Unknown interface!\n"
    )
    found = parse_keepalived(text, 5)
    assert found[1] == {
        "file": "/etc/k.conf",
        "line": 29,
        "column": None,
        "severity": "error",
        "message": "Unknown keyword 'bogus_kw'",
        "code": None,
    }
    assert (found[2]["file"], found[2]["line"], found[2]["message"]) == (
        None,
        None,
        "(web) Unknown interface!",
    )
    assert [d["severity"] for d in parse_keepalived("(f: Line 1) WARNING - x\n", 0)] == ["warning"]


def test_parse_keepalived_failure_without_lines_still_has_an_error() -> None:
    (only,) = parse_keepalived("", 4)
    assert (only["severity"], only["message"]) == ("error", "keepalived -t failed with exit code 4")


def test_parse_vipkeeper_json_and_garbage() -> None:
    report = {
        "ok": False,
        "exit_code": 5,
        "diagnostics": [
            {"file": "f", "line": 2, "column": 3, "severity": "error", "message": "m", "code": "c"}
        ],
    }
    assert parse_vipkeeper(json.dumps(report), "", 5) == report["diagnostics"]
    (only,) = parse_vipkeeper("Traceback?", "vipkeeper check: boom", 4)
    assert (only["severity"], only["message"]) == ("error", "vipkeeper check: boom")


def test_command_lines() -> None:
    assert command("keepalived", "/usr/sbin/keepalived", "/f", "lb1") == [
        "/usr/sbin/keepalived", "-t", "-f", "/f", "-i", "lb1"
    ]  # fmt: skip
    assert command("vipkeeper", "vk", "/f", None, True) == [
        "vk", "check", "-f", "/f", "--skip-interfaces", "--json"
    ]  # fmt: skip


def test_missing_file_is_fatal_without_running(tmp_path: Path) -> None:
    module = FakeModule(path=str(tmp_path / "nope.conf"))
    result = ConfigCheck(module).run()
    assert (result["ok"], result["rc"], module.calls) == (False, 4, [])
    assert (
        result["diagnostics"][0]["message"] == f"configuration file {tmp_path}/nope.conf not found"
    )


def test_canned_vipkeeper_output(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD)
    module = FakeModule(path=str(conf), executable="/opt/vipkeeper/bin/vipkeeper")
    diag = {
        "file": str(conf),
        "line": 1,
        "column": 1,
        "severity": "warning",
        "message": "w",
        "code": "x",
    }
    module.canned = (0, json.dumps({"ok": True, "exit_code": 0, "diagnostics": [diag]}), "")
    result = ConfigCheck(module).run()
    assert module.calls == [["/opt/vipkeeper/bin/vipkeeper", "check", "-f", str(conf), "--json"]]
    assert (result["ok"], result["warning_count"], result["error_count"]) == (True, 1, 0)


@pytest.mark.parametrize("daemon", ["vipkeeper", "keepalived"])
def test_real_checker_finds_the_bad_keyword(tmp_path: Path, daemon: str) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(BAD)
    result = ConfigCheck(FakeModule(path=str(conf), daemon=daemon, skip_interfaces=True)).run()
    assert result["ok"] is False
    assert result["rc"] in (4, 5)
    hits = [d for d in result["diagnostics"] if "bogus_keyword" in d["message"]]
    assert hits, result["diagnostics"]
    assert hits[0]["line"] == 6
    assert hits[0]["file"] == str(conf)
