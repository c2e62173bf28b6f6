"""static_rules / virtual_rules read into the model as keepalived's alloc_rule reads them.

The verdicts (exit codes) are compared with keepalived -t in test_config_differential_verdicts;
these tests pin the values the daemon then puts in the kernel.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable

from vipkeeper.config import LoadResult
from vipkeeper.config.builder.rules import strtoul
from vipkeeper.config.model import IpRule

INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    virtual_ipaddress {
        10.213.0.1/24
    }
%s
}
"""


def static(conf: Callable[..., LoadResult], *lines: str) -> tuple[LoadResult, tuple[IpRule, ...]]:
    body = "\n".join(f"    {line}" for line in lines)
    res = conf("static_rules {\n" + body + "\n}\n" + INSTANCE % "")
    assert res.config is not None
    return res, res.config.static_rules


def test_every_value_is_read(conf: Callable[..., LoadResult]) -> None:
    line = (
        "not from 10.213.9.0/24 to 10.213.8.1 tos 0x10 fwmark 0x5/0xff iif eth0 oif eth1 "
        "realms 3/4 suppress_prefixlength 0 suppress_ifgroup 7 tunnel-id 9 uidrange 10-20 "
        "ipproto udp sport 1-2 dport 3 lookup main preference 0x20"
    )
    res, (rule,) = static(conf, line)
    # `dport 3` is not a range: keepalived says so (an error) and keeps the rule without it
    assert [d.message for d in res.diagnostics] == ["invalid dport range 3"]
    assert rule.location is not None
    assert rule == IpRule(
        family=4,
        action="table",
        priority=0x20,
        source=ipaddress.ip_interface("10.213.9.0/24"),
        destination=ipaddress.ip_interface("10.213.8.1/32"),
        invert=True,
        table=254,
        tos=0x10,
        fwmark=5,
        fwmask=0xFF,
        iif="eth0",
        oif="eth1",
        realms=3 << 16 | 4,
        suppress_prefixlength=0,
        suppress_ifgroup=7,
        tunnel_id=9,
        uid_range=(10, 20),
        ipproto=17,
        sport=(1, 2),
        protocol=18,
        location=rule.location,
    )


def test_actions(conf: Callable[..., LoadResult]) -> None:
    res, rules = static(
        conf,
        "goto 10 priority 5",
        "type blackhole priority 6",
        "unreachable priority 7",
        "prohibit priority 8",
        "nop priority 9",
        "l3mdev priority 11",
        "type 6 priority 12",
    )
    assert res.exit_code == 0, res.diagnostics
    assert [(r.action, r.goto, r.l3mdev) for r in rules] == [
        ("goto", 10, False),
        ("blackhole", 0, False),
        ("unreachable", 0, False),
        ("prohibit", 0, False),
        ("nop", 0, False),
        ("table", 0, True),
        ("blackhole", 0, False),
    ]


def test_no_preference_counts_down_per_family_across_blocks(
    conf: Callable[..., LoadResult],
) -> None:
    text = (
        "static_rules {\n    table 100\n    from fd00::1 table 100\n    table 101\n}\n"
        + INSTANCE % "    virtual_rules {\n        to 10.0.0.0/8 table 102\n    }"
    )
    res = conf(text)
    assert res.config is not None
    assert [r.priority for r in res.config.static_rules] == [16384, 16384, 16383]
    assert [r.family for r in res.config.static_rules] == [4, 6, 4]
    assert [r.priority for r in res.config.vrrp_instances[0].virtual_rules] == [16382]
    assert res.exit_code == 5  # keepalived -t: "probably not what you want", an error
    assert {d.code for d in res.errors} == {"defaulted"}


def test_protocol_is_keepalived_unless_no_track(conf: Callable[..., LoadResult]) -> None:
    _, rules = static(
        conf, "table 100 priority 1", "table 100 priority 2 no_track", "protocol 4 no_track nop"
    )
    assert [(r.protocol, r.no_track) for r in rules] == [(18, False), (None, True), (4, True)]


def test_skipped_rules_do_not_stop_run(conf: Callable[..., LoadResult]) -> None:
    """keepalived skips such a rule and runs: an error for check, defaulted for run."""
    res, rules = static(conf, "from 10.213.0.300 table 100 priority 5", "table 100 priority 6")
    assert [r.priority for r in rules] == [6]
    assert [(d.code, d.message) for d in res.errors] == [
        ("defaulted", "Invalid rule from address 10.213.0.300")
    ]


def test_inet_steps_over_the_next_word(conf: Callable[..., LoadResult]) -> None:
    """keepalived 2.2.7 reads `inet6` and skips the word after it."""
    res, rules = static(conf, "inet6 X table 100 priority 5")
    assert [r.family for r in rules] == [6]
    assert res.exit_code == 0


def test_missing_value_is_a_missing_parameter(conf: Callable[..., LoadResult]) -> None:
    res, rules = static(conf, "from 10.213.0.3 table")
    assert rules == ()
    assert res.exit_code == 2


def test_strtoul_is_c_like() -> None:
    assert [strtoul(t) for t in ("10", "0x10", "010", "0", "-1", "x", "", "1x")] == [
        10,
        16,
        8,
        0,
        2**64 - 1,
        None,
        None,
        None,
    ]
