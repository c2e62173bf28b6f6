"""An instance's interface replaced, renamed or re-indexed under a running daemon (issue #15).

Two routers on the lab's bridge. The interface of one of them is deleted and a new veth takes
the name, or it is renamed away while up (and back, or another interface takes the name), or
it is replaced while the link monitor misses the events. In every case the daemon must say
FAULT while no interface has the configured name, bind again as soon as one has it, and never
leave both routers MASTER. Last, adverts that cannot leave are warned about and counted.
"""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import pytest
from daemon.vkd import (
    VIP,
    Capture,
    Vipkeeper,
    config,
    holders,
    instance_conf,
    start_vipkeeper,
    stays,
)
from netlab import NetLab, Node, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
ADV = 0.2
V = 3
A_ADDR = "10.213.1.1"
B_ADDR = "10.213.1.2"


def _mdi(prio: int) -> float:
    return master_down_interval(V, prio, ADV)


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True)


def _pair(lab: NetLab) -> tuple[Node, Node, Vipkeeper, Vipkeeper]:
    a = lab.add_node("a", addrs=[f"{A_ADDR}/24"])
    b = lab.add_node("b", addrs=[f"{B_ADDR}/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=V, advert=ADV)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert va.wait_state("MASTER", _mdi(150) + 2) is not None, va.log()
    assert vb.wait_state("BACKUP", 1) is not None, vb.log()
    assert wait_for(lambda: holders([a, b]) == ["a"], 2) is not None
    return a, b, va, vb


def _plug_new_port(lab: NetLab, node: Node, inside: str) -> None:
    """A new veth pair: one end on the bridge, the other moved into `node` as `inside`."""
    port = f"n{node.hub_port}"
    _ip("-n", lab.hub, "link", "add", port, "type", "veth", "peer", "name", inside,
        "netns", node.ns)  # fmt: skip
    _ip("-n", lab.hub, "link", "set", port, "master", lab.bridge, "up")
    node.hub_port = port


def _rename(node: Node, old: str, new: str) -> None:
    """Rename a live interface (older kernels refuse while it is up: then down, rename, up)."""
    argv = ["ip", "-n", node.ns, "link", "set", old, "name", new]
    done = subprocess.run(argv, check=False, capture_output=True, text=True)
    if done.returncode:
        _ip("-n", node.ns, "link", "set", old, "down")
        _ip("-n", node.ns, "link", "set", old, "name", new)
        _ip("-n", node.ns, "link", "set", new, "up")


def _ifindex(node: Node, ifname: str) -> int:
    out = node.run(["cat", f"/sys/class/net/{ifname}/ifindex"]).stdout
    return int(out)


def _operstate(node: Node, ifname: str) -> str:
    return node.run(["cat", f"/sys/class/net/{ifname}/operstate"]).stdout.strip()


def _received(vk: Vipkeeper) -> int:
    return int(vk.instance()["counters"]["adverts_received"])


def _a_is_heard(cap: Capture, since: float) -> bool:
    return any(p.src == A_ADDR for p in cap.since(since, "vrrp"))


def _a_heard_within(cap: Capture, since: float, limit: float) -> bool:
    """a's first advert after `since` came within `limit` seconds (it must first be BACKUP
    for its down interval, as after any FAULT: RFC 5798 s6.4.1, keepalived alike)."""
    sent = [p.at for p in cap.since(since, "vrrp") if p.src == A_ADDR]
    return bool(sent) and sent[0] - since <= limit


def _one_master_again(a: Node, b: Node, va: Vipkeeper, vb: Vipkeeper) -> None:
    """a (150) takes the VIP back and b (100) settles as BACKUP: no split brain."""
    assert va.wait_state("MASTER", _mdi(150) + 3 * ADV + 1) is not None, va.log()
    assert vb.wait_state("BACKUP", 2 * ADV + 1) is not None, vb.log()
    assert wait_for(lambda: holders([a, b]) == ["a"], 1) is not None
    assert stays(
        lambda: va.state() == "MASTER" and vb.state() == "BACKUP" and holders([a, b]) == ["a"],
        5 * ADV,
    ), (va.log(), vb.log())


def test_replaced_interface_renamed_into_place(lab: NetLab) -> None:
    """The reproduction: eth0 deleted, a new veth moved in as tmp0, renamed eth0, address, up."""
    a, b, va, vb = _pair(lab)
    cap = Capture(b)
    a.run(["ip", "link", "del", "eth0"])
    # While eth0 is gone the status says so: FAULT for the missing interface, no VIP.
    assert va.wait_state("FAULT", 1) is not None, va.log()
    assert va.instance()["faults"] == ["interface:eth0"]
    assert vb.wait_state("MASTER", _mdi(100) + 1) is not None, vb.log()
    _plug_new_port(lab, a, "tmp0")
    assert stays(lambda: va.state() == "FAULT", 3 * ADV), va.log()
    _rename(a, "tmp0", "eth0")
    a.add_address(f"{A_ADDR}/24")
    heard = _received(va)
    sent_errors = va.status()["counters"]["send_errors"]
    a.link_up()
    up = time.time()
    # Bound again at once: b's next advert (at most one interval away) reaches a.
    assert wait_for(lambda: _received(va) > heard, 2 * ADV + 0.1) is not None, va.log()
    _one_master_again(a, b, va, vb)
    assert _a_heard_within(cap, up, _mdi(150) + 0.1), "a's adverts leave on the new eth0"
    assert va.status()["counters"]["send_errors"] == sent_errors, va.log()
    cap.stop()


def test_live_interface_renamed_away_and_back(lab: NetLab) -> None:
    """eth0 renamed old0 while up and MASTER: no eth0 any more, so FAULT (as keepalived), the
    VIP taken off old0, b master alone; renamed back: bound again, a master again."""
    a, b, va, vb = _pair(lab)
    index = _ifindex(a, "eth0")
    _rename(a, "eth0", "old0")
    assert va.wait_state("FAULT", 1) is not None, va.log()
    assert va.instance()["faults"] == ["interface:eth0"]
    assert wait_for(lambda: VIP not in a.addresses("old0"), 1) is not None, va.log()
    assert vb.wait_state("MASTER", _mdi(100) + 1) is not None, vb.log()
    assert stays(lambda: va.state() == "FAULT" and VIP not in a.addresses("old0"), 3 * ADV)
    heard = _received(va)
    _rename(a, "old0", "eth0")
    assert _ifindex(a, "eth0") == index
    assert wait_for(lambda: _received(va) > heard, 2 * ADV + 0.1) is not None, va.log()
    cap = Capture(b)
    back = time.time()
    _one_master_again(a, b, va, vb)
    assert _a_is_heard(cap, back), "a's adverts leave on eth0 again"
    cap.stop()


def test_live_interface_renamed_away_while_a_new_one_takes_its_name(lab: NetLab) -> None:
    """eth0 renamed old0 (and retired), a new veth named eth0 plugged in: the instance moves to
    the new eth0, and nothing of it stays on old0."""
    a, b, va, vb = _pair(lab)
    _rename(a, "eth0", "old0")
    assert va.wait_state("FAULT", 1) is not None, va.log()
    assert wait_for(lambda: VIP not in a.addresses("old0"), 1) is not None, va.log()
    assert vb.wait_state("MASTER", _mdi(100) + 1) is not None, vb.log()
    _ip("-n", a.ns, "addr", "flush", "dev", "old0")
    _plug_new_port(lab, a, "eth0")
    a.add_address(f"{A_ADDR}/24")
    heard = _received(va)
    cap = Capture(b)
    a.link_up()
    up = time.time()
    assert wait_for(lambda: _received(va) > heard, 2 * ADV + 0.1) is not None, va.log()
    _one_master_again(a, b, va, vb)
    assert VIP not in a.addresses("old0")
    assert _a_heard_within(cap, up, _mdi(150) + 0.1), "a's adverts leave on the new eth0"
    cap.stop()


def test_same_name_new_index_while_the_link_monitor_misses_the_events(lab: NetLab) -> None:
    """a (BACKUP) is stopped while a burst of link events overruns its netlink socket and its
    eth0 is replaced by a new eth0: the events are lost (ENOBUFS), the table is read again, the
    socket bound to the new index, and a keeps hearing its master: it never takes over."""
    adv = 1.0
    a = lab.add_node("a", addrs=[f"{A_ADDR}/24"])
    b = lab.add_node("b", addrs=[f"{B_ADDR}/24"])
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=150, version=V, advert=adv)))
    assert vb.wait_state("MASTER", master_down_interval(V, 150, adv) + 2) is not None
    va = start_vipkeeper(lab, a, config(instance_conf(priority=100, version=V, advert=adv)))
    assert wait_for(lambda: _received(va) > 0, 2 * adv) is not None, va.log()
    became = va.instance()["counters"]["became_master"]
    a.add_dummy("fl0", up=False)
    flood = Path(lab.workdir) / "flood.batch"
    flood.write_text("link set fl0 up\nlink set fl0 down\n" * 3000)
    va.signal(signal.SIGSTOP)
    try:
        index = _ifindex(a, "eth0")
        _ip("-n", a.ns, "-batch", str(flood))
        a.run(["ip", "link", "del", "eth0"])
        _plug_new_port(lab, a, "eth0")
        a.add_address(f"{A_ADDR}/24")
        a.link_up()
        assert _ifindex(a, "eth0") != index
        # The kernel reports the new eth0 running once its link watch has run (up to a second
        # late after such a burst): wait for it, so the table read again has it up.
        assert wait_for(lambda: _operstate(a, "eth0") == "up", 3) is not None
    finally:
        va.signal(signal.SIGCONT)
    heard = _received(va)
    assert wait_for(lambda: _received(va) > heard, adv + 0.5) is not None, va.log()
    assert stays(lambda: va.state() == "BACKUP", master_down_interval(V, 100, adv) + adv), va.log()
    assert va.instance()["counters"]["became_master"] == became, va.log()
    assert holders([a, b]) == ["b"]
    assert "events may be lost: subscribing again and reading the whole table" in va.log()


NFT_DROP_VRRP_OUT = """
table inet vkiface {
  chain vrrp_out { type filter hook output priority 0; meta l4proto 112 drop; }
}
"""
SEND_WARNING = re.compile(
    r"WARNING \(VI_1\) advert to 224\.0\.0\.18 not sent on eth0 \(index \d+\): "
    r"Operation not permitted \(EPERM\) \[\d+ send errors so far\]"
)


def test_failed_sends_are_warned_at_most_every_ten_seconds_and_counted(lab: NetLab) -> None:
    """A master whose adverts cannot leave (here a local firewall: EPERM) says so: one warning
    naming instance, interface, index and errno per 10 s, and send_errors counts each one.
    Its interface is still there, so it stays MASTER, as keepalived does."""
    a = lab.add_node("a", addrs=[f"{A_ADDR}/24"])
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=V, advert=ADV)))
    assert va.wait_state("MASTER", _mdi(150) + 2) is not None, va.log()
    cap = Capture(c)
    a.run(["nft", "-f", "-"], input=NFT_DROP_VRRP_OUT)
    base = va.status()["counters"]["send_errors"]
    assert wait_for(lambda: va.status()["counters"]["send_errors"] >= base + 10, 12 * ADV + 1)
    assert len(SEND_WARNING.findall(va.log())) == 1, va.log()
    assert va.state() == "MASTER"
    a.run(["nft", "delete", "table", "inet", "vkiface"])
    healed = time.time()
    assert wait_for(lambda: _a_is_heard(cap, healed), 2 * ADV + 0.5) is not None
    errors = va.status()["counters"]["send_errors"]
    assert stays(lambda: va.status()["counters"]["send_errors"] == errors, 3 * ADV)
    cap.stop()


def test_dont_track_primary_faults_while_its_interface_is_gone(lab: NetLab) -> None:
    """With dont_track_primary the link state of the instance's own interface is ignored, but
    an interface that is deleted still puts it in FAULT (keepalived's cleanup_lost_interface
    downs every instance on a lost interface): it never claims MASTER with no socket."""
    a = lab.add_node("a", addrs=[f"{A_ADDR}/24"])
    b = lab.add_node("b", addrs=[f"{B_ADDR}/24"])
    extra = "dont_track_primary"
    va = start_vipkeeper(
        lab, a, config(instance_conf(priority=150, version=V, advert=ADV, extra=extra))
    )
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=V, advert=ADV)))
    assert va.wait_state("MASTER", _mdi(150) + 2) is not None, va.log()
    assert wait_for(lambda: holders([a, b]) == ["a"], 2) is not None
    # The neighbour: carrier lost, the interface still there: ignored, as keepalived does.
    a.link_down()
    assert stays(lambda: va.state() == "MASTER", 3 * ADV), va.log()
    a.link_up()
    assert vb.wait_state("BACKUP", _mdi(100) + 1) is not None, vb.log()
    # Deleted: FAULT, and b takes over.
    a.run(["ip", "link", "del", "eth0"])
    assert va.wait_state("FAULT", 1) is not None, va.log()
    assert va.instance()["faults"] == ["interface:eth0"]
    assert vb.wait_state("MASTER", _mdi(100) + 1) is not None, vb.log()
    assert stays(lambda: va.state() == "FAULT" and vb.state() == "MASTER", 3 * ADV)
    # A new interface takes the name: a binds to it and wins again.
    _plug_new_port(lab, a, "tmp0")
    _rename(a, "tmp0", "eth0")
    a.add_address(f"{A_ADDR}/24")
    a.link_up()
    _one_master_again(a, b, va, vb)
