"""static_rules and virtual_rules with a real `vipkeeper run`, read back from the kernel.

keepalived's behaviour (vrrp_daemon.c, vrrp.c): static rules are added at start, changed by a
reload and removed at stop; virtual rules are added on becoming MASTER (after the VIPs and
routes) and removed on leaving MASTER or stopping. The last test runs keepalived beside
vipkeeper, as the peer, and on the same rules, and compares the rules each put in its kernel.
"""

from __future__ import annotations

import json
import signal
from typing import Any

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from interop.kad import keepalived_in
from netlab import NetLab, Node, wait_for

pytestmark = pytest.mark.netns

STATIC = "from 10.213.1.0/24 table 100 priority 100"
STATIC_NEW = "fwmark 0x7/0xff table 101 priority 101"
VIRTUAL = (
    "to 10.213.50.0/24 iif eth0 table 200 priority 200",
    "from fd00:213::/64 goto 300 priority 250",
    # ipproto by number: the lab hosts' minimal trees have no /etc/protocols to name it (the
    # names are checked by the config tests)
    "not from 10.213.51.0/24 uidrange 100-200 sport 80-90 ipproto 6 blackhole priority 300",
)


def rules(node: Node) -> set[str]:
    """The node's non-default rules of both families, as `ip -j rule` gives them (sorted JSON)."""
    found: set[str] = set()
    for family in ("-4", "-6"):
        out = node.run(["ip", "-j", family, "rule", "show"]).stdout
        for rule in json.loads(out or "[]"):
            if rule.get("priority") not in (0, 32766, 32767):
                found.add(json.dumps({"family": family, **rule}, sort_keys=True))
    return found


def priorities(node: Node) -> set[int]:
    return {int(json.loads(r)["priority"]) for r in rules(node)}


def rule_of(node: Node, priority: int) -> dict[str, Any]:
    return next(json.loads(r) for r in rules(node) if json.loads(r)["priority"] == priority)


def _conf(priority: int, static: str = STATIC) -> str:
    lines = "\n    ".join(VIRTUAL)
    extra = f"virtual_rules {{\n    {lines}\n  }}"
    head = f"static_rules {{\n  {static}\n}}\n"
    inst = instance_conf(priority=priority, extra=extra)
    return config(inst, head=head)


def test_static_and_virtual_rules_follow_the_state(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    vb = start_vipkeeper(lab, b, _conf(100))
    # b alone: its static rule at start; its virtual rules only once it is MASTER
    assert wait_for(lambda: priorities(b) == {100}, 3) is not None, vb.log()
    assert vb.wait_state("MASTER", 6) is not None, vb.log()
    assert wait_for(lambda: priorities(b) == {100, 200, 250, 300}, 2) is not None, vb.log()
    assert rule_of(b, 100)["src"] == "10.213.1.0" and rule_of(b, 100)["table"] == "100"
    assert rule_of(b, 100)["protocol"] == "keepalived"  # RTPROT_KEEPALIVED, as keepalived
    assert rule_of(b, 200)["iif"] == "eth0" and rule_of(b, 200)["dst"] == "10.213.50.0"
    assert rule_of(b, 250)["family"] == "-6" and rule_of(b, 250)["goto"] == 300
    third = rule_of(b, 300)
    assert "not" in third, third
    # iproute2 names protocol 6 from /etc/protocols, or prints ipproto-6 without one
    assert third["ipproto"] in ("tcp", "ipproto-6"), third
    assert (third["action"], third["sport_start"], third["uid_end"]) == ("blackhole", 80, 200)

    # a higher priority takes over: b leaves MASTER and its virtual rules go, the static stays
    va = start_vipkeeper(lab, a, _conf(150))
    assert va.wait_state("MASTER", 6) is not None, va.log()
    assert vb.wait_state("BACKUP", 3) is not None, vb.log()
    assert wait_for(lambda: priorities(b) == {100}, 2) is not None, vb.log()
    assert wait_for(lambda: priorities(a) == {100, 200, 250, 300}, 2) is not None, va.log()

    # a reload changes the static rule in place
    vb.write_config(_conf(100, static=STATIC_NEW))
    vb.signal(signal.SIGHUP)
    assert wait_for(lambda: priorities(b) == {101}, 5) is not None, vb.log()
    assert rule_of(b, 101)["fwmark"] == "0x7" and rule_of(b, 101)["fwmask"] == "0xff"

    # a stop removes every rule it added: the master's virtual ones and the static one
    assert va.stop() == 0
    assert rules(a) == set(), va.log()
    assert vb.wait_state("MASTER", 6) is not None, vb.log()
    assert wait_for(lambda: priorities(b) == {101, 200, 250, 300}, 2) is not None, vb.log()
    assert vb.stop() == 0
    assert rules(b) == set(), vb.log()


def test_an_invalid_rule_is_skipped_and_the_others_run(lab: NetLab) -> None:
    """keepalived skips a rule it cannot read and runs the rest (and says why)."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    head = "static_rules {\n  from 10.213.1.300 table 100 priority 100\n  " + STATIC_NEW + "\n}\n"
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150), head=head))
    assert wait_for(lambda: priorities(a) == {101}, 3) is not None, va.log()
    assert "Invalid rule from address 10.213.1.300" in va.log()
    assert va.stop() == 0
    assert rules(a) == set()


def test_keepalived_peer_and_the_same_rules_in_the_kernel(lab: NetLab) -> None:
    """keepalived as the peer: the rules follow the election, and keepalived and vipkeeper put
    the same rules in their kernels for the same config."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    ka = keepalived_in(lab, a)
    ka.start(_conf(150).replace("  priority 150", f"  priority 150\n  {ka.notify_line}"))
    assert ka.wait_state("MASTER", 8) is not None, ka.log()
    vb = start_vipkeeper(lab, b, _conf(100))
    assert vb.wait_state("BACKUP", 3) is not None, vb.log()
    assert wait_for(lambda: priorities(a) == {100, 200, 250, 300}, 3) is not None, ka.log()
    assert wait_for(lambda: priorities(b) == {100}, 3) is not None, vb.log()
    assert rules(b) <= rules(a), "the static rule is the same rule"

    assert ka.stop() == 0
    assert wait_for(lambda: rules(a) == set(), 3) is not None, ka.log()
    assert vb.wait_state("MASTER", 6) is not None, vb.log()
    assert wait_for(lambda: priorities(b) == {100, 200, 250, 300}, 2) is not None, vb.log()
    ours = rules(b)
    theirs = ka_master_rules(lab)
    assert ours == theirs, (ours ^ theirs, vb.log())
    assert vb.stop() == 0
    assert rules(b) == set()


def ka_master_rules(lab: NetLab) -> set[str]:
    """The rules keepalived alone puts in a fresh node for the same config, as MASTER."""
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    kc = keepalived_in(lab, c)
    conf = _conf(150).replace("  priority 150", f"  priority 150\n  {kc.notify_line}")
    kc.start(conf.replace("virtual_router_id 51", "virtual_router_id 52"))
    assert kc.wait_state("MASTER", 8) is not None, kc.log()
    assert wait_for(lambda: priorities(c) == {100, 200, 250, 300}, 3) is not None, kc.log()
    got = rules(c)
    assert kc.stop() == 0
    return got
