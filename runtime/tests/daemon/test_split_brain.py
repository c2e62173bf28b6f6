"""Split brain seen from the data plane: VIP conflict detection and the takeover guard.

- A second holder of the VIP (a plain `ip addr add`, or keepalived cut off from VRRP) is
  reported within one probe interval: status, counters, the error line and the hook.
- No false positive: our own answers to a neighbour's ARP, and our own gratuitous ARPs.
- The guard keeps a BACKUP cut off from VRRP from taking a VIP that another MAC answers for,
  and lets a real failover through within master_down_interval + the guard's window.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from daemon.vkd import (
    VIP,
    AddrWatch,
    Vipkeeper,
    config,
    holders,
    instance_conf,
    mac_of,
    start_vipkeeper,
    stays,
)
from interop.kad import keepalived_in
from netlab import NetLab, Node, wait_for

from vipkeeper.daemon.conflict import MASTER_GRACE
from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.2
INTERVAL = 1.0  # conflict_interval: the smallest allowed
# A claim is read when its answer arrives: a round trip on a veth bridge plus the event loop's
# turn, far below this on a loaded 2-core machine (the figure test_partition uses too).
SLACK = 0.1
# Detection: the probe goes out at the first tick after the second holder appears (at most one
# interval later), and the answer comes back within the slack.
DETECT_BOUND = INTERVAL + SLACK
WINDOW = 0.05  # takeover_guard

# The master of the guarded pair: vipkeeper, or Debian's keepalived (marker `keepalived`).
MASTERS = ["vipkeeper", pytest.param("keepalived", marks=pytest.mark.keepalived)]

NFT_DROP_VRRP = """
table inet vksb {
  chain vrrp_in { type filter hook input priority 0; meta l4proto 112 drop; }
  chain vrrp_out { type filter hook output priority 0; meta l4proto 112 drop; }
}
"""


def _partition(node: Node) -> None:
    node.run(["nft", "-f", "-"], input=NFT_DROP_VRRP)


def _vk_block(extra: str = "") -> str:
    return f"vipkeeper {{\n  conflict_interval {INTERVAL}\n  {extra}\n}}\n"


def _conflicts(vk: Vipkeeper) -> list[dict[str, object]]:
    return list(vk.instance()["conflicts"])


def _past_grace(vk: Vipkeeper) -> None:
    """Wait until the master's grace is over (claims heard sooner are the old master's)."""

    def over() -> bool:
        last = vk.instance()["last_transition"]
        return last is not None and time.time() - float(last["at"]) >= MASTER_GRACE

    assert wait_for(over, MASTER_GRACE + 2, 0.02) is not None


def _detected_within(vk: Vipkeeper, mac: str, since: float) -> float:
    """Seconds from `since` (time.monotonic) to the daemon's first claim heard from `mac`.

    The daemon's loop runs on the same monotonic clock; the status says how long ago the
    conflict began, so the test's polling does not count.
    """
    found = wait_for(lambda: any(c["mac"] == mac for c in _conflicts(vk)), 5, 0.02)
    assert found is not None, vk.log()
    asked = time.monotonic()
    [c] = [c for c in _conflicts(vk) if c["mac"] == mac]
    return asked - float(c["first_seen_ago"]) - since  # type: ignore[arg-type]


def test_a_plain_second_holder_is_reported(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    work = Path(lab.workdir)
    out = work / "conflict.out"
    hook = work / "hook.sh"
    hook.write_text(f'#!/bin/sh\necho "$*" >> {out}\n')
    hook.chmod(0o755)
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV),
        head=_vk_block(f'conflict_notify "{hook} vk"'),
    )
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", master_down_interval(3, 150, ADV) + 2) is not None
    assert va.status()["conflict_detection"]["mode"] == "report"
    assert _conflicts(va) == []
    _past_grace(va)
    mac_b = mac_of(b)
    t0 = time.monotonic()
    b.add_address(f"{VIP}/24")  # someone configured the VIP by hand
    took = _detected_within(va, mac_b, t0)
    assert took <= DETECT_BOUND, f"detected after {took:.3f}s"
    [c] = _conflicts(va)
    assert (c["address"], c["interface"]) == (VIP, "eth0")
    counters = va.status()["counters"]
    assert counters["vip_conflicts"] == 1 and counters["vip_conflict_answers"] >= 1
    assert f"VIP conflict: {VIP} is also held by {mac_of(b)} on eth0" in va.log()
    assert wait_for(out.exists, 3) is not None, va.log()
    assert out.read_text().split() == ["vk", "conflict", "VI_1", VIP, mac_of(b), "eth0"]
    assert va.state() == "MASTER"  # report only: nothing else changes


def test_ipv6_second_holder_is_reported(lab: NetLab) -> None:
    vip6 = "fd00:213::100"
    a = lab.add_node("a", addrs=["fd00:213::1/64"])
    b = lab.add_node("b", addrs=["fd00:213::2/64"])
    conf = config(
        instance_conf(priority=150, version=3, advert=ADV, vips=(f"{vip6}/64",), auth=None),
        head=_vk_block(),
    )
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", master_down_interval(3, 150, ADV) + 2) is not None
    _past_grace(va)
    mac_b = mac_of(b)
    t0 = time.monotonic()
    b.run(["ip", "addr", "add", f"{vip6}/64", "dev", b.ifname, "nodad"])
    took = _detected_within(va, mac_b, t0)
    assert took <= DETECT_BOUND, f"detected after {took:.3f}s"
    assert [c["address"] for c in _conflicts(va)] == [vip6]


@pytest.mark.parametrize(
    ("family", "vmac"), [(4, False), (6, False), (4, True), (6, True)], ids=str
)
def test_our_own_answers_and_garps_are_no_conflict(lab: NetLab, family: int, vmac: bool) -> None:
    """With use_vmac the VIP lives on the vmac, whose RFC 5798 virtual MAC answers for it:
    that MAC is ours too."""
    if family == 4:
        vip, a_addr, c_addr, auth = VIP, "10.213.1.1/24", "10.213.1.3/24", "secret1"
    else:
        vip, a_addr, c_addr, auth = "fd00:213::100", "fd00:213::1/64", "fd00:213::3/64", None
    a = lab.add_node("a", addrs=[a_addr])
    c = lab.add_node("c", addrs=[c_addr])
    prefix = a_addr.split("/")[1]
    conf = config(
        instance_conf(
            priority=150,
            version=3,
            advert=ADV,
            vips=(f"{vip}/{prefix}",),
            auth=auth,
            extra="use_vmac" if vmac else "",
        ),
        globals_="vrrp_garp_master_refresh 1\n  vrrp_garp_master_refresh_repeat 3",
        head=_vk_block(),
    )
    va = start_vipkeeper(lab, a, conf)
    assert va.wait_state("MASTER", master_down_interval(3, 150, ADV) + 2) is not None
    if vmac:  # the VIP is on vrrp.51, and its MAC is the virtual one
        shown = a.run(["ip", "-j", "address", "show", "dev", "vrrp.51"]).stdout
        assert vip in shown and f"00:00:5e:00:0{1 if family == 4 else 2}:33" in shown, shown
    # a neighbour keeps asking for the VIP (our kernel answers), we keep sending GARP or
    # unsolicited NA bursts
    pinger = c.popen(["ping", f"-{family}", "-q", "-i", "0.2", vip])
    try:
        assert stays(lambda: _conflicts(va) == [], 3 * INTERVAL + SLACK)
    finally:
        pinger.terminate()
        pinger.wait(5)
    status = va.status()
    assert status["counters"]["vip_conflicts"] == 0
    assert status["counters"]["vip_conflict_answers"] == 0
    assert status["counters"]["garps_sent"] >= 3
    assert status["conflict_detection"]["probes_sent"] >= 3
    assert "VIP conflict" not in va.log()


@pytest.mark.keepalived
def test_keepalived_cut_off_from_vrrp_is_reported(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    k = lab.add_node("k", addrs=["10.213.1.2/24"])
    ka = keepalived_in(lab, k)
    va = start_vipkeeper(
        lab, a, config(instance_conf(priority=150, version=3, advert=ADV), head=_vk_block())
    )
    ka.start(config(instance_conf(priority=100, version=3, advert=ADV, extra=ka.notify_line)))
    assert va.wait_state("MASTER", master_down_interval(3, 150, ADV) + 2) is not None
    assert ka.wait_state("BACKUP", 5) is not None, ka.log()
    mac_k = mac_of(k)
    t0 = time.monotonic()
    _partition(k)  # keepalived hears nothing more and takes the VIP too
    assert ka.wait_state("MASTER", master_down_interval(3, 100, ADV) + 2) is not None
    took = _detected_within(va, mac_k, t0)
    # keepalived's takeover, then at most one interval to our next probe (its own GARPs may
    # tell us sooner)
    assert took <= master_down_interval(3, 100, ADV) + DETECT_BOUND, f"{took:.3f}s"
    assert va.state() == "MASTER" and holders([a, k]) == ["a", "k"]


def _guarded_pair(lab: NetLab, master: str) -> tuple[Node, Node, Vipkeeper]:
    """A master (vipkeeper or keepalived) on node a, vipkeeper with the guard on node b."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    if master == "keepalived":
        ka = keepalived_in(lab, a)
        ka.start(config(instance_conf(priority=150, version=3, advert=ADV, extra=ka.notify_line)))
    else:
        start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=ADV)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, ADV) + 3)
    guard = _vk_block(f"takeover_guard {WINDOW}")
    vb = start_vipkeeper(
        lab, b, config(instance_conf(priority=100, version=3, advert=ADV), head=guard)
    )
    assert vb.wait_state("BACKUP", 2) is not None
    assert vb.status()["conflict_detection"]["takeover_guard"] == WINDOW
    return a, b, vb


@pytest.mark.parametrize("master", MASTERS)
def test_the_guard_holds_a_takeover_while_another_mac_answers(lab: NetLab, master: str) -> None:
    a, b, vb = _guarded_pair(lab, master)
    _partition(b)  # VRRP lost, the master alive: without the guard, b would take the VIP
    down = master_down_interval(3, 100, ADV)
    assert wait_for(lambda: vb.status()["counters"]["takeovers_held"] >= 1, down + 2, 0.02), (
        vb.log()
    )
    # it probes again at each expiry, and stays BACKUP throughout
    assert stays(lambda: holders([a, b]) == ["a"] and vb.state() == "BACKUP", 4 * down)
    assert vb.status()["counters"]["takeovers_held"] >= 3
    assert f"takeover held: {mac_of(a)} answers for {VIP} on eth0; staying BACKUP" in vb.log()
    assert vb.instance()["counters"]["became_master"] == 0


@pytest.mark.parametrize("master", MASTERS)
def test_the_guard_lets_a_real_failover_through_in_its_bound(lab: NetLab, master: str) -> None:
    a, b, vb = _guarded_pair(lab, master)
    watch = AddrWatch(b)
    time.sleep(2 * ADV)  # b hears a few adverts
    cut = time.time()
    a.cut()  # the master is gone: no advert, no ARP answer
    added = watch.added_after(cut, timeout=5)
    assert added is not None, vb.log()
    took = added - cut
    # the down timer ran from the last advert heard (before the cut), then the window
    bound = master_down_interval(3, 100, ADV) + WINDOW + SLACK
    assert took <= bound, f"took {took:.3f}s, bound {bound:.3f}s"
    assert vb.state() == "MASTER"
    assert vb.status()["counters"]["takeovers_held"] == 0
