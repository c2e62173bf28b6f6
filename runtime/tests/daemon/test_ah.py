"""auth_type AH in the daemon: the protocol-51 socket, a configured group, and a reload.

Two vipkeeper nodes in a lab; keepalived interop is in runtime/tests/interop.
"""

from __future__ import annotations

import signal
import time

import pytest
from daemon.vkd import config, holders, instance_conf, start_vipkeeper, stays
from netlab import NetLab

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns

DOWN = master_down_interval(2, 100, 1)


def ah_conf(priority: int, *, auth_type: str = "AH", globals_: str = "") -> str:
    return config(
        instance_conf(priority=priority, auth="s3cr3tAH", auth_type=auth_type), globals_=globals_
    )


def test_ah_group_with_a_configured_multicast_group(lab: NetLab) -> None:
    """The AH packet is re-signed for the configured group (its address is in the ICV)."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    group = "vrrp_mcast_group4 224.0.0.19"
    va = start_vipkeeper(lab, a, ah_conf(150, globals_=group))
    assert va.wait_state("MASTER", DOWN + 2) is not None, va.log()
    vb = start_vipkeeper(lab, b, ah_conf(100, globals_=group))
    assert vb.wait_state("BACKUP", 2) is not None, vb.log()
    assert stays(lambda: holders([a, b]) == ["a"], 3 * 1.0), vb.log()
    counters = vb.instance()["counters"]
    assert counters["adverts_received"] >= 2 and counters["drops"] == {}, counters


def test_reload_from_pass_to_ah_and_back(lab: NetLab) -> None:
    """A reload moves an instance onto the protocol-51 socket and back, keeping its state.

    Between the two reloads the backup hears nothing it listens for (an interface with AH
    instances only has no protocol-112 socket, as in keepalived); once both have reloaded
    within its down interval, the master's adverts are accepted and nothing is dropped.
    """
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    va = start_vipkeeper(lab, a, ah_conf(150, auth_type="PASS"))
    assert va.wait_state("MASTER", DOWN + 2) is not None, va.log()
    vb = start_vipkeeper(lab, b, ah_conf(100, auth_type="PASS"))
    assert vb.wait_state("BACKUP", 2) is not None, vb.log()
    for kind in ("AH", "PASS"):
        vb.write_config(ah_conf(100, auth_type=kind))
        va.write_config(ah_conf(150, auth_type=kind))
        vb.signal(signal.SIGHUP)
        va.signal(signal.SIGHUP)
        time.sleep(1.5)
        before = vb.instance()["counters"]
        assert stays(lambda: holders([a, b]) == ["a"], 3.0), vb.log()
        after = vb.instance()["counters"]
        assert after["drops"] == {}, after
        assert after["adverts_received"] >= before["adverts_received"] + 2, (before, after)
        assert va.state() == "MASTER" and vb.state() == "BACKUP", vb.log()
        assert va.instance()["counters"]["drops"] == {}
