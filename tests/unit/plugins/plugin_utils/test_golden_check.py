"""Every golden render passes `keepalived -t` (and `vipkeeper check`) on a host that has
its interfaces: a throwaway network namespace from runtime/tests/netlab.py, always removed."""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import (
    CASE_IDS,
    CASES,
    Scenario,
)


def _netlab_dir() -> Path:
    """runtime/tests of this checkout; ansible-test's copy of the collection lacks runtime/,
    so fall back to the checkout the (editable) runtime package is installed from."""
    here = Path(__file__).resolve().parents[4] / "runtime" / "tests"
    if (here / "netlab.py").is_file():
        return here
    import vipkeeper

    return Path(vipkeeper.__file__).resolve().parents[2] / "tests"


sys.path.insert(0, str(_netlab_dir()))
from netlab import NetLab  # noqa: E402

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]


@pytest.fixture(scope="module")
def lab() -> Iterator[NetLab]:
    with NetLab() as the_lab:
        yield the_lab


_NODES: dict[tuple[str, str], Any] = {}


def host_node(lab: NetLab, scenario: Scenario, host: str) -> Any:
    """A namespace with the host's interfaces: the first on the bridge, others veth stubs."""
    key = (scenario.name, host)
    if key in _NODES and _NODES[key].lab is lab:
        return _NODES[key]
    names = list(scenario.hosts[host])
    v4, v6 = scenario.hosts[host][names[0]]
    node = lab.add_node(f"g{len(lab.nodes)}", ifname=names[0], addrs=[a for a in (v4, v6) if a])
    for index, extra in enumerate(names[1:]):
        # this kernel may lack the dummy driver: a veth pair inside the namespace instead
        subprocess.run(
            [
                "ip",
                "-n",
                node.ns,
                "link",
                "add",
                extra,
                "type",
                "veth",
                "peer",
                "name",
                f"x{index}",
            ],
            check=True,
        )
        subprocess.run(["ip", "-n", node.ns, "link", "set", extra, "up"], check=True)
    _NODES[key] = node
    return node


def checker(name: str) -> str:
    path = shutil.which(name, path=f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin")
    assert path, f"{name} is not installed (make deps installs it)"
    return path


@pytest.mark.parametrize(("scenario", "host"), CASES, ids=CASE_IDS)
def test_golden_passes_keepalived_t(lab: NetLab, scenario: Scenario, host: str) -> None:
    node = host_node(lab, scenario, host)
    conf = scenario.golden(host)
    done = node.run([checker("keepalived"), "-t", "-f", str(conf)], check=False)
    assert (done.returncode, done.stderr.strip()) == (0, "")


@pytest.mark.parametrize(("scenario", "host"), CASES, ids=CASE_IDS)
def test_golden_passes_vipkeeper_check(lab: NetLab, scenario: Scenario, host: str) -> None:
    node = host_node(lab, scenario, host)
    conf = scenario.golden(host)
    done = node.run([checker("vipkeeper"), "check", "-f", str(conf), "--json"], check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report = __import__("json").loads(done.stdout)
    assert report["ok"] is True
    assert [d for d in report["diagnostics"] if d["severity"] == "error"] == []


def test_namespaces_are_removed_after_use() -> None:
    with NetLab() as temp:
        node = temp.add_node("gone", addrs=["10.213.99.1/24"])
        ns = node.ns
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True)
    assert ns not in listed.stdout
