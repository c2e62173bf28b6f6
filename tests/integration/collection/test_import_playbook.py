"""vipkeeper.vrrp.import against two namespaces of a throwaway lab (runtime/tests/netlab.py):
the keepalived_import action runs the runtime's parser with each host's Python (an include and
an @id line resolved there), the playbook writes the fragment (check mode writes nothing), and
the imported inventory, rendered by vipkeeper.vrrp.render and checked on the host by
`vipkeeper check`, has the runtime dump of the hand-written config. Run by
`make test-collection-integration`."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / "runtime" / "tests"))
from netlab import NetLab

BIN = Path(sys.executable).parent
COLLECTIONS = os.environ.get("VIPKEEPER_COLLECTIONS_PATH", "/nonexistent")
pytestmark = [pytest.mark.netns]

MAIN = """
global_defs {
  router_id @lb1 LB1
  @lb2 router_id LB2
  script_user root
  enable_script_security
}
vrrp_script chk_web {
  script "/bin/true web"
  interval 2
  weight -30
}
include %(dir)s/conf.d/*.conf
"""
INSTANCE = """
vrrp_instance VI_1 {
@lb1 state MASTER
@lb2 state BACKUP
  interface eth0
  virtual_router_id 51
@lb1 priority 150
@lb2 priority 100
  authentication {
    auth_type PASS
    auth_pass oldpass1
  }
  virtual_ipaddress {
    10.213.43.100/24 label eth0:1
  }
  track_script {
    chk_web
  }
  garp_master_delay 1
}
"""

RENDER = """
- hosts: all
  gather_facts: true
  gather_subset: [network]
  tasks:
    - name: Render the imported inventory
      vipkeeper.vrrp.render:
        dest: "{{ out }}/{{ inventory_hostname }}.rendered.conf"
        validate: "%(bin)s/vipkeeper check -f %%s --json"
        global_defs: "{{ vrrp_global_defs }}"
        lock: "{{ lookup('file', out ~ '/import/vipkeeper-lock.yml') | from_yaml }}"
        mode: "0640"
"""


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    work = tmp_path_factory.mktemp("import")
    (work / "conf.d").mkdir()
    (work / "keepalived.conf").write_text(MAIN % {"dir": work})
    (work / "conf.d" / "vi_1.conf").write_text(INSTANCE)
    with NetLab() as lab:
        hosts: dict[str, Any] = {}
        for index, name in enumerate(("lb1", "lb2")):
            node = lab.add_node(f"i{name}", addrs=[f"10.213.43.{11 + index}/24"])
            wrapper = work / f"py-{name}"
            wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {node.ns} {sys.executable} "$@"\n')
            wrapper.chmod(0o755)
            # the namespaces share this machine's host name: the config id of @lb1 lines
            hosts[name] = {
                "ansible_python_interpreter": str(wrapper),
                "vipkeeper_import_config_id": name,
            }
        inventory = {
            "all": {
                "vars": {
                    "ansible_connection": "local",
                    "out": str(work),
                    "vipkeeper_import_src": str(work / "keepalived.conf"),
                    "vipkeeper_import_dir": str(work / "import"),
                },
                "hosts": hosts,
            }
        }
        (work / "inventory.yml").write_text(yaml.safe_dump(inventory))
        (work / "render.yml").write_text(RENDER % {"bin": BIN})
        yield {"work": work, "inventory": inventory}


def play(inventory: Path, playbook: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "ANSIBLE_COLLECTIONS_PATH": COLLECTIONS,
        "ANSIBLE_NOCOLOR": "1",
        "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
        "ANSIBLE_RETRY_FILES_ENABLED": "0",
        "PATH": f"{BIN}:{os.environ['PATH']}",
    }
    argv = [str(BIN / "ansible-playbook"), "-i", str(inventory), playbook, *args]
    return subprocess.run(argv, capture_output=True, text=True, env=env, timeout=300, check=False)


def test_import_then_render_gives_the_same_config(site: dict[str, Any]) -> None:
    work = site["work"]
    checked = play(work / "inventory.yml", "vipkeeper.vrrp.import", "--check", "--diff")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert not (work / "import").exists()  # check mode wrote nothing
    assert "+  vrid: 51" in checked.stdout
    assert "oldpass1" not in checked.stdout  # the password file's diff is no_log

    real = play(work / "inventory.yml", "vipkeeper.vrrp.import")
    assert real.returncode == 0, real.stdout + real.stderr
    imported = work / "import"
    clusters = yaml.safe_load((imported / "group_vars/all/vipkeeper_clusters.yml").read_text())
    (web,) = clusters["vipkeeper_clusters"]
    assert web["vrid"] == 51
    assert [(h["name"], h["priority"], h["state"]) for h in web["hosts"]] == [
        ("lb1", 150, "MASTER"),
        ("lb2", 100, "BACKUP"),
    ]
    secrets = yaml.safe_load((imported / "group_vars/all/vipkeeper_auth_pass.yml").read_text())
    assert secrets == {"vipkeeper_auth_pass": {"VI_1": "oldpass1"}}
    assert oct((imported / "group_vars/all/vipkeeper_auth_pass.yml").stat().st_mode & 0o777) == (
        "0o600"
    )
    report = yaml.safe_load((imported / "import-report.yml").read_text())
    assert report["unsupported"] == []

    again = play(work / "inventory.yml", "vipkeeper.vrrp.import")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout.rsplit("PLAY RECAP", 1)[-1]

    # the imported inventory next to the lab's, rendered by the collection's render action
    inventory = site["inventory"]
    inventory["all"]["vars"].update(clusters)
    inventory["all"]["vars"].update(secrets)
    for host in ("lb1", "lb2"):
        defs = yaml.safe_load(
            (imported / "host_vars" / host / "vipkeeper_global_defs.yml").read_text()
        )
        inventory["all"]["hosts"][host].update(defs)
    (work / "inventory2.yml").write_text(yaml.safe_dump(inventory))
    rendered = play(work / "inventory2.yml", str(work / "render.yml"))
    assert rendered.returncode == 0, rendered.stdout + rendered.stderr

    sys.path.insert(0, COLLECTIONS)
    from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils import (
        test_import_roundtrip as rt,
    )
    from vipkeeper.config import load

    for host in ("lb1", "lb2"):
        before = load(work / "keepalived.conf", host, check_scripts=False)
        after = load(work / f"{host}.rendered.conf", host, check_scripts=False)
        assert before.ok and after.ok
        assert "auth_pass oldpass1" in (work / f"{host}.rendered.conf").read_text()
        assert rt._canon(after.config, {"VI_1"}) == rt._canon(before.config, {"VI_1"})
