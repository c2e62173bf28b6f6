"""Migration steps from keepalived to vipkeeper on one node, with keepalived as the reference.

A node whose keepalived died hard (SIGKILL, OOM, a crash) keeps its VIPs on the interface. When
the node's daemon starts again in BACKUP, keepalived 2.2.7 removes the configured VIPs at once
("(VI_1) removing VIPs."), so the group never has two holders. vipkeeper, started in its place
with the same file, must do the same: its crash record under /run/vipkeeper covers only its own
runs, so this clean-up is what protects a node migrated from keepalived. The keepalived case is the
reference that shows the expected behaviour.
"""

from __future__ import annotations

import os
import signal

import pytest
from daemon.vkd import Vipkeeper, config, instance_conf, start_vipkeeper
from interop.kad import Keepalived, keepalived_in
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = [pytest.mark.netns, pytest.mark.keepalived, pytest.mark.timeout(120)]

VIP = "10.213.1.100"
ADVERT = 1


def _conf(priority: int, notify: str = "") -> str:
    # nopreempt: the restarted node must stay BACKUP, so only the start-up clean-up can remove
    # the leftover VIP (a preempting node would take it legitimately).
    return config(instance_conf(priority=priority, advert=ADVERT, extra=f"nopreempt\n  {notify}"))


@pytest.mark.parametrize("replacement", ["keepalived", "vipkeeper"])
def test_restart_after_keepalived_crash_removes_leftover_vip(lab: NetLab, replacement: str) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    ka = keepalived_in(lab, a)
    kb = keepalived_in(lab, b)
    ka.start(_conf(150))
    kb.start(_conf(100))
    assert wait_for(lambda: a.has_address(VIP) and not b.has_address(VIP), 10) is not None

    # keepalived on a dies hard: its VIP stays behind, b takes over after master_down_interval.
    vrrp_child = ka.vrrp_pid()
    assert ka.proc is not None
    os.kill(vrrp_child, signal.SIGKILL)
    ka.proc.kill()
    ka.proc.wait(5)
    down = master_down_interval(2, 100, ADVERT)
    assert wait_for(lambda: b.has_address(VIP), down + 2) is not None, kb.log()
    assert a.has_address(VIP), "a hard-killed keepalived leaves its VIP"

    # The node's daemon comes back (the same config) and stays BACKUP under nopreempt.
    again: Keepalived | Vipkeeper
    if replacement == "keepalived":
        again = Keepalived(a, ka.workdir.parent / "ka-a-again")
        again.start(_conf(150, again.notify_line))
    else:
        again = start_vipkeeper(lab, a, _conf(150))
    gone = wait_for(lambda: not a.has_address(VIP), 2 * ADVERT)
    assert gone is not None, f"the leftover VIP is still on a:\n{again.log()[-3000:]}"
    assert b.has_address(VIP), "b stays master"
    assert again.wait_state("BACKUP", 2) is not None, again.log()[-3000:]
