"""Reload with changed settings: the instance keeps its state, VIPs follow the config in place."""

from __future__ import annotations

import json
import re
import signal
import threading
import time
from collections.abc import Callable

import pytest
from daemon.vkd import (
    VIP,
    Capture,
    Vipkeeper,
    config,
    holders,
    instance_conf,
    mac_of,
    start_vipkeeper,
    stays,
)
from netlab import NetLab, wait_for

from vipkeeper.vrrp.timing import master_down_interval

pytestmark = pytest.mark.netns
VIP2 = "10.213.1.102"
VIP3 = "10.213.1.103"


class Sampler:
    """Samples a predicate every 10 ms in a thread; remembers when it did not hold.

    The predicate must be cheap (an `AddressReader`, not an `ip` process per call), or the
    sampler takes too few samples on a slow interpreter.
    """

    def __init__(self, predicate: Callable[[], bool]) -> None:
        self.predicate = predicate
        self.failures: list[float] = []
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            if not self.predicate():
                self.failures.append(time.time())
            self.samples += 1
            time.sleep(0.01)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def _reload(vk: Vipkeeper, conf: str) -> None:
    done = vk.log().count("reload done")
    vk.write_config(conf)
    vk.signal(signal.SIGHUP)
    assert wait_for(lambda: vk.log().count("reload done") > done, 5) is not None, vk.log()


def _transitions(vk: Vipkeeper) -> tuple[int, object]:
    inst = vk.instance()
    return inst["counters"]["transitions"], inst["last_transition"]


def test_reload_with_a_new_priority_and_vips_keeps_the_master(lab: NetLab) -> None:
    adv = 1.0  # both nodes are reloaded within one down interval (the VIP lists must agree)
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])

    def conf(prio: int, vips: tuple[str, ...]) -> str:
        return config(instance_conf(priority=prio, version=3, advert=adv, vips=vips))

    old_vips = (f"{VIP}/24", f"{VIP3}/24")
    new_vips = (f"{VIP}/24", f"{VIP2}/24")
    va = start_vipkeeper(lab, a, conf(150, old_vips))
    vb = start_vipkeeper(lab, b, conf(100, old_vips))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, adv) + 2)
    assert wait_for(lambda: a.has_address(VIP3), 2) is not None
    assert vb.wait_state("BACKUP", 1) is not None
    cap = Capture(b)  # what the other node sees on the wire
    before_a, before_b = _transitions(va), _transitions(vb)
    logged_a, logged_b = len(va.log()), len(vb.log())
    read_a, read_b = a.address_reader(), b.address_reader()
    sampler = Sampler(lambda: read_a.has_address(VIP) and not read_b.has_address(VIP))
    try:
        # (a) The master's priority changes and stays above the backup's.
        mark = time.time()
        _reload(va, conf(200, old_vips))
        assert "(VI_1) changed settings taken over in place: priority" in va.log()
        assert va.instance()["effective_priority"] == 200
        assert wait_for(lambda: any(p.prio == 200 for p in cap.since(mark, "vrrp")), 2 * adv)
        # (b) A VIP added and another removed, on both nodes (the backup first).
        _reload(vb, conf(100, new_vips))
        mark = time.time()
        _reload(va, conf(200, new_vips))
        assert wait_for(lambda: a.has_address(VIP2) and not a.has_address(VIP3), 3), va.log()
        assert wait_for(
            lambda: any(p.target == VIP2 and p.mac == mac_of(a) for p in cap.since(mark, "garp")),
            3,
        ), "the new VIP is announced with a gratuitous ARP"
        assert "(VI_1) removed VIP 10.213.1.103/24 from eth0" in va.log()
        assert "(VI_1) added VIP 10.213.1.102/24 on eth0" in va.log()
        # Settled: the backup hears the new adverts and does not take over.
        assert stays(
            lambda: holders([a, b]) == ["a"] and not b.has_address(VIP2),
            master_down_interval(3, 100, adv) + adv,
        )
    finally:
        sampler.stop()
        read_a.close()
        read_b.close()
        cap.stop()
    assert sampler.samples > 100
    assert sampler.failures == [], "the VIP left the master (or reached the backup)"
    assert _transitions(va) == before_a, va.log()
    assert _transitions(vb) == before_b, vb.log()
    transition = re.compile(r"\(VI_1\) [A-Z]+ -> [A-Z]+: ")
    assert not transition.search(va.log()[logged_a:]), va.log()
    assert not transition.search(vb.log()[logged_b:]), vb.log()
    assert "stopping it" not in va.log() + vb.log()
    assert va.state() == "MASTER" and vb.state() == "BACKUP"
    status = va.instance()
    assert sorted(status["vips"]) == sorted(new_vips)
    assert status["counters"]["priority_zero_sent"] == 0


def test_reload_with_a_priority_below_the_backup_hands_over_by_preemption(lab: NetLab) -> None:
    adv = 0.1
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=adv)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100, version=3, advert=adv)))
    assert wait_for(lambda: holders([a, b]) == ["a"], master_down_interval(3, 150, adv) + 2)
    assert vb.wait_state("BACKUP", 1) is not None
    reloaded = time.monotonic()
    _reload(va, config(instance_conf(priority=50, version=3, advert=adv)))
    took = vb.wait_state("MASTER", master_down_interval(3, 100, adv) + 1)
    assert took is not None, vb.log()
    # b preempts the now lower master once its down timer runs out; a yields to b's advert.
    assert time.monotonic() - reloaded <= master_down_interval(3, 100, adv) + 0.5
    assert vb.instance()["last_transition"]["reason"] == "master_down_timer"
    assert va.wait_state("BACKUP", 1) is not None
    assert va.instance()["last_transition"]["reason"] == "higher_priority_advert"
    assert va.instance()["counters"]["priority_zero_sent"] == 0  # no stop, no resignation
    assert wait_for(lambda: holders([a, b]) == ["b"], 1) is not None
    assert stays(lambda: holders([a, b]) == ["b"], 1)


def test_reload_with_a_new_vip_label_puts_it_back_and_announces_it(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])

    def conf(label: str) -> str:
        vips = (f"{VIP}/24 label eth0:{label}",)
        return config(instance_conf(priority=150, version=3, advert=0.1, vips=vips))

    def label() -> str | None:
        out = a.run(["ip", "-j", "addr", "show", "dev", "eth0"]).stdout
        infos = [i for link in json.loads(out) for i in link.get("addr_info", [])]
        return next((i.get("label") for i in infos if i.get("local") == VIP), None)

    va = start_vipkeeper(lab, a, conf("vk1"))
    assert va.wait_state("MASTER", 2) is not None
    assert wait_for(lambda: label() == "eth0:vk1", 2) is not None
    cap = Capture(b)
    before = _transitions(va)
    mark = time.time()
    try:
        _reload(va, conf("vk2"))
        assert wait_for(lambda: label() == "eth0:vk2", 3) is not None, va.log()
        assert wait_for(
            lambda: any(p.target == VIP and p.mac == mac_of(a) for p in cap.since(mark, "garp")),
            3,
        ), "the re-added VIP is announced"
    finally:
        cap.stop()
    assert _transitions(va) == before
    assert "(VI_1) changed settings taken over in place: addrs" in va.log()
