"""preempt_delay against initial state MASTER, nopreempt and strict mode, as keepalived -t judges.

keepalived 2.2.7 (`keepalived -t`, exit 5) reports each clash and runs with preempt_delay
cleared, e.g. "(VI_1) Warning - preempt delay will not work with initial state MASTER -
clearing"; vipkeeper reports a `defaulted` error and its model holds 0.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from netlab import NetLab, Node

from vipkeeper.config import load, load_text
from vipkeeper.config.diagnostics import Code

BASE = """%s
vrrp_instance VI_1 {
%s
    interface eth0
    virtual_router_id 10
    virtual_ipaddress {
        10.213.0.1/24
    }
}
"""
STRICT = "global_defs {\n    vrrp_strict\n}"

# id: (global lines, instance lines, rejected, message)
CASES = {
    "master": ("", "    state MASTER\n    preempt_delay 5", True, "initial state MASTER"),
    "master-fraction": ("", "    state MASTER\n    preempt_delay 0.5", True, "state MASTER"),
    "master-zero": ("", "    state MASTER\n    preempt_delay 0", False, ""),
    "backup": ("", "    state BACKUP\n    preempt_delay 5", False, ""),
    "default-state": ("", "    preempt_delay 5", False, ""),
    "nopreempt": ("", "    nopreempt\n    preempt_delay 5", True, "incompatible with nopreempt"),
    "strict": (STRICT, "    preempt_delay 5", True, "incompatible with strict mode"),
}


def text(case: str) -> str:
    glob, inst, _, _ = CASES[case]
    return BASE % (glob, inst)


@pytest.mark.parametrize("case", sorted(CASES))
def test_clash_is_a_corrected_error(case: str) -> None:
    _, _, rejected, message = CASES[case]
    res = load_text(text(case), interface_exists={"eth0"}.__contains__)
    assert res.config is not None
    [inst] = res.config.vrrp_instances
    clashes = [d for d in res.errors if "preempt_delay" in d.message]
    if rejected:
        line = next(n for n, t in enumerate(text(case).splitlines(), 1) if "preempt_delay" in t)
        assert [(d.code, d.line) for d in clashes] == [(Code.DEFAULTED, line)]
        assert message in clashes[0].message
        assert res.exit_code == 5
        assert inst.preempt_delay == 0.0  # what keepalived runs with
    else:
        assert clashes == [] and res.ok
        assert inst.preempt_delay == float(CASES[case][1].split()[-1])  # kept as written


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    if os.geteuid() != 0:
        pytest.fail("the differential test needs root for network namespaces")
    with NetLab() as lab:
        yield lab.add_node("pd", addrs=["10.213.0.5/24"])


@pytest.mark.netns
@pytest.mark.keepalived
@pytest.mark.parametrize("case", sorted(CASES))
def test_keepalived_agrees(node: Node, case: str) -> None:
    path = Path(node.lab.workdir) / f"pd-{case}.conf"
    path.write_text(text(case))
    proc = node.run(["keepalived", "-t", "-f", str(path)], check=False, timeout=60)
    res = load(path, "node1", interface_exists={"eth0", "lo"}.__contains__)
    assert (proc.returncode == 0) == res.ok == (not CASES[case][2]), (
        f"keepalived -t exit {proc.returncode}: {proc.stderr}\n"
        f"vipkeeper: {[d.format() for d in res.diagnostics]}"
    )
    if CASES[case][2]:
        assert proc.returncode == res.exit_code == 5
        assert "preempt" in proc.stderr.lower()
