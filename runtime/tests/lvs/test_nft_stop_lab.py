"""`vipkeeper run` on nftables leaves nothing of its own in the kernel when it stops.

A director namespace runs the daemon with a NAT and a DR virtual server (so both the
`inet vipkeeper` table with its NAT hooks and the `netdev vipkeeper` ingress table exist);
after SIGTERM `nft list ruleset` there is empty, whatever `lvs_flush_on_stop` says. A daemon
killed with SIGKILL leaves its tables: the next start discards them before building its own.
"""

from __future__ import annotations

import pytest
from daemon.vkd import Vipkeeper, config, start_vipkeeper
from netlab import NetLab, Node, wait_for

DIRECTOR = "10.213.1.1/24"


def virtual_server(vip: str, kind: str) -> str:
    """A service with one real server without checkers (always alive)."""
    return f"""
virtual_server {vip} 80 {{
  lb_algo wrr
  lb_kind {kind}
  protocol TCP
  real_server 10.213.1.50 80 {{
    weight 1
  }}
}}
"""


def ruleset(node: Node) -> str:
    return node.run(["nft", "list", "ruleset"]).stdout.strip()


def programmed(va: Vipkeeper, node: Node, *vips: str) -> bool:
    lvs = va.status()["lvs"]
    assert lvs is not None and lvs["backend"] == "nftables", f"this test is for nftables: {lvs}"
    rules = ruleset(node)
    return all(f"ip daddr {vip} " in rules for vip in vips)


def start(lab: NetLab, node: Node, conf: str, *vips: str) -> Vipkeeper:
    va = start_vipkeeper(lab, node, conf)
    assert wait_for(lambda: programmed(va, node, *vips), 10) is not None, va.log()
    return va


@pytest.mark.parametrize(
    "flush", ["", "lvs_flush_on_stop VS", "lvs_flush_on_stop"], ids=["default", "VS", "bare"]
)
def test_a_stopped_daemon_leaves_no_ruleset(lab: NetLab, flush: str) -> None:
    d = lab.add_node("dir", addrs=[DIRECTOR])
    conf = config(globals_=flush) + virtual_server("10.213.1.200", "NAT")
    conf += virtual_server("10.213.1.201", "DR")
    va = start(lab, d, conf, "10.213.1.200", "10.213.1.201")
    rules = ruleset(d)
    assert "table inet vipkeeper" in rules and "table netdev vipkeeper" in rules, rules
    assert va.stop() == 0, va.log()
    assert ruleset(d) == "", va.log()


def test_a_start_after_a_kill_discards_the_stale_tables(lab: NetLab) -> None:
    d = lab.add_node("dir", addrs=[DIRECTOR])
    old = config() + virtual_server("10.213.1.200", "NAT") + virtual_server("10.213.1.201", "DR")
    va = start(lab, d, old, "10.213.1.200", "10.213.1.201")
    va.kill()
    stale = ruleset(d)
    assert "10.213.1.200" in stale and "table netdev vipkeeper" in stale, stale
    va.write_config(config() + virtual_server("10.213.1.202", "NAT"))
    va.start()
    assert wait_for(lambda: programmed(va, d, "10.213.1.202"), 10) is not None, va.log()
    rules = ruleset(d)
    assert "10.213.1.200" not in rules and "10.213.1.201" not in rules, rules
    assert "table netdev vipkeeper" not in rules, rules
    assert va.stop() == 0, va.log()
    assert ruleset(d) == "", va.log()
