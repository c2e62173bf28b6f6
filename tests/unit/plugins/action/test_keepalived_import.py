"""keepalived_import's parser zip: the runtime's config package and the exporter, run by a
plain Python as on a managed host, read a config with its includes like the in-process load."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.action.keepalived_import import (
    interfaces,
    parser_zip,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper import kaexport

pytest.importorskip("vipkeeper.config", reason="the runtime package is not installed")


def test_the_zip_reads_the_config_and_its_includes(tmp_path: Path) -> None:
    (tmp_path / "conf.d").mkdir()
    (tmp_path / "conf.d" / "web.conf").write_text(
        "vrrp_instance web {\n  interface eth0\n  virtual_router_id 51\n"
        "@lb1 priority 150\n@^lb1 priority 100\n  virtual_ipaddress {\n    10.0.0.5/24\n  }\n}\n"
    )
    main = tmp_path / "keepalived.conf"
    main.write_text(f"global_defs {{\n  router_id lb\n}}\ninclude {tmp_path}/conf.d/*.conf\n")
    app = tmp_path / "import.zip"
    app.write_bytes(parser_zip())
    # -I: nothing from the environment or the user's site: only the zip on the path
    ran = subprocess.run(
        [sys.executable, "-I", str(app), str(main), "lb1"],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    data = json.loads(ran.stdout)
    assert data == json.loads(json.dumps(kaexport.read(str(main), "lb1")))
    assert data["ok"] is True
    assert data["files"] == [str(main), str(tmp_path / "conf.d" / "web.conf")]
    (inst,) = data["config"]["vrrp_instances"]
    assert (inst["name"], inst["priority"], inst["virtual_router_id"]) == ("web", 150, 51)
    assert "priority" in inst[kaexport.SET]
    assert "nopreempt" not in inst[kaexport.SET]


def test_a_missing_config_is_reported_not_raised(tmp_path: Path) -> None:
    app = tmp_path / "import.zip"
    app.write_bytes(parser_zip())
    ran = subprocess.run(
        [sys.executable, "-I", str(app), str(tmp_path / "none.conf")],
        capture_output=True,
        text=True,
        check=True,
    )
    data = json.loads(ran.stdout)
    assert data["config"] is None
    assert data["diagnostics"]


def test_interfaces_come_from_the_facts() -> None:
    facts = {
        "interfaces": ["eth0", "br-x"],
        "eth0": {"ipv4": {"address": "10.0.0.1", "prefix": "24"}, "mtu": 1500},
        "br_x": {"ipv6": [{"address": "fd00::1", "prefix": "64", "scope": "global"}]},
    }
    assert interfaces({"ansible_facts": facts}) == {
        "eth0": {"ipv4": {"address": "10.0.0.1", "prefix": "24"}},
        "br-x": {"ipv6": [{"address": "fd00::1", "prefix": "64", "scope": "global"}]},
    }
