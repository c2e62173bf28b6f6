"""A VRRP socket that cannot be opened holds its instances in FAULT (issue #15).

An instance with no socket hears no master and is heard by nobody: left to its timers it
becomes a second MASTER and takes the VIP. keepalived starts no timer for it; vipkeeper holds
it in FAULT, says why, and retries until the socket opens. The fault is real: the running
daemon's file descriptor limit is lowered with prlimit, then its interface appears.
"""

from __future__ import annotations

import os
import resource

import pytest
from daemon.vkd import Vipkeeper, config, instance_conf, start_vipkeeper, stays
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
VIP2 = "10.213.2.100"
ADV = 0.1


def _fds(pid: int) -> set[int]:
    return {int(fd) for fd in os.listdir(f"/proc/{pid}/fd")}


def _lines(vk: Vipkeeper, text: str) -> list[str]:
    return [line for line in vk.log().splitlines() if text in line]


def test_an_instance_whose_socket_cannot_open_stays_in_fault_until_it_can(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    a.add_dummy("vk1")
    a.add_address("10.213.2.1/24", "vk1")
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV),
        instance_conf(name="VI_2", vrid=52, version=3, advert=ADV, interface="vk1",
                      vips=(f"{VIP2}/24",)),
    )  # fmt: skip
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", 3) is not None, va.log()
    assert va.wait_state("MASTER", 3, name="VI_2") is not None, va.log()
    assert va.proc is not None
    pid = va.proc.pid  # `ip netns exec` execs the daemon: the same process
    # vk1 is deleted (VI_2 resigns: FAULT), and comes back while no descriptor is left.
    a.run(["ip", "link", "del", "vk1"])
    assert va.wait_state("FAULT", 3, name="VI_2") is not None, va.log()
    assert VIP2 not in a.addresses()
    limits = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    held = _fds(pid)
    lowest_free = min(n for n in range(max(held) + 2) if n not in held)
    resource.prlimit(pid, resource.RLIMIT_NOFILE, (lowest_free, limits[1]))
    try:
        a.add_dummy("vk1", up=False)
        a.add_address("10.213.2.1/24", "vk1")
        a.run(["ip", "link", "set", "vk1", "up"])  # the interface is back: only the socket fails
        assert wait_for(lambda: _lines(va, "cannot open a VRRP socket on vk1"), 3), va.log()
        # Deaf and mute, it must not elect itself: no VIP over many down intervals.
        assert stays(lambda: VIP2 not in a.addresses("vk1"), 8 * master_down_interval(3, 100, ADV))
        assert len(_lines(va, "(VI_2) BACKUP -> MASTER")) == 1, va.log()  # the first, only
        assert not _lines(va, "(VI_2) FAULT -> "), va.log()
        assert "held in FAULT" in _lines(va, "cannot open a VRRP socket on vk1")[0]
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, limits)
    # The retry opens it: then VI_2 elects as after any fault, and takes its VIP.
    assert va.wait_state("MASTER", 5, name="VI_2") is not None, va.log()
    assert wait_for(lambda: VIP2 in a.addresses("vk1"), 2) is not None
    assert _lines(va, "VRRP socket on vk1 opened after"), va.log()
    assert _lines(va, "(VI_2) FAULT -> BACKUP"), va.log()
    assert va.instance("VI_2")["faults"] == []
    # The failed tries were logged once, not once a second.
    assert len(_lines(va, "cannot open a VRRP socket on vk1")) == 1, va.log()
    assert va.state() == "MASTER"  # VI_1 never noticed
    assert va.stop() == 0
