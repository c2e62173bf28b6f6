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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import Settings
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import (
    CASE_IDS,
    CASES,
    Scenario,
)


def _netlab_dir() -> Path:
    """runtime/tests of this checkout; ansible-test's copy of the collection lacks runtime/,
    so fall back to the checkout the (editable) runtime package is installed from."""
    here = Path(__file__).resolve().parents[3] / "runtime" / "tests"
    if (here / "netlab.py").is_file():
        return here
    import vipkeeper

    return Path(vipkeeper.__file__).resolve().parents[2] / "tests"


sys.path.insert(0, str(_netlab_dir()))
from netlab import NetLab

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]


@pytest.fixture
def lab() -> Iterator[NetLab]:
    # Per test: ansible-test runs each test in a fork of its own, where a module-scoped lab
    # would be set up again and never torn down.
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


# --- every plan the planner accepts, keepalived -t and vipkeeper check accept --------------------

FUZZ_HOSTS = {
    f"lb{i}": {"eth0": (f"10.213.60.{10 + i}/24", f"fd00:213:60::{10 + i}/64")} for i in (1, 2, 3)
}


@st.composite
def fuzz_cluster(draw: Any, index: int) -> dict[str, Any]:
    family = draw(st.sampled_from(["v4", "v6", "both"]))
    vips = []
    if family in ("v4", "both"):
        vips.append(f"10.213.60.{100 + index}/24")
    if family in ("v6", "both"):
        vips.append(f"fd00:213:60::{100 + index}/64")
    hosts: list[Any] = draw(st.permutations(["lb1", "lb2", "lb3"]))[: draw(st.integers(2, 3))]
    if draw(st.booleans()):
        hosts[-1] = {"name": hosts[-1], "priority": draw(st.integers(1, 254))}
    spec: dict[str, Any] = {"name": f"c{index}", "hosts": hosts, "interface": "eth0", "vips": vips}
    preempt = draw(st.booleans())
    spec["preempt"] = preempt
    if preempt and draw(st.booleans()):
        spec["preempt_delay"] = draw(st.integers(0, 1000))
    spec["unicast"] = draw(st.booleans())
    if family != "v6" and draw(st.booleans()):
        spec["version"] = 3
        spec["advert_int"] = draw(st.sampled_from([0.5, 1, 2.5]))
    else:
        spec["advert_int"] = draw(st.integers(1, 5))
    scripts = draw(st.integers(0, 2))
    spec["track"] = [
        {
            "name": f"s{n}",
            "script": "/usr/bin/pgrep -x sshd",
            "interval": draw(st.integers(1, 5)),
            "weight": draw(st.integers(-253, 253)),
            "fall": draw(st.integers(1, 3)),
        }
        for n in range(scripts)
    ]
    if draw(st.booleans()):
        spec["notify"] = {
            "master": "/usr/bin/logger -t vk master",
            "backup": "/usr/bin/logger backup",
        }
    if draw(st.booleans()):
        spec["secret"] = draw(st.text("abcdefgh0123456789", min_size=1, max_size=12))
    return spec


@st.composite
def fuzz_site(draw: Any) -> tuple[list[dict[str, Any]], Settings]:
    count = draw(st.integers(1, 4))
    return [draw(fuzz_cluster(i)) for i in range(count)], Settings(mcast_unique=draw(st.booleans()))


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fuzz_site())
def test_every_accepted_plan_passes_both_checkers(lab: NetLab, site: Any) -> None:
    clusters, opts = site
    scenario = Scenario("fuzz", FUZZ_HOSTS, clusters, ("lb1",), settings=opts)
    text = scenario.rendered("lb1")
    node = host_node(lab, scenario, "lb1")
    conf = Path(lab.workdir) / "fuzz.conf"
    conf.write_text(text)
    done = node.run([checker("keepalived"), "-t", "-f", str(conf)], check=False)
    assert (done.returncode, done.stderr.strip()) == (0, ""), text
    done = node.run([checker("vipkeeper"), "check", "-f", str(conf)], check=False)
    assert done.returncode == 0, text + done.stdout + done.stderr
