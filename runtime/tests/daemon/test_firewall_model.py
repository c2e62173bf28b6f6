"""The VRRP firewall keywords as the daemon reads them (no root: the model and the commands).

keepalived's rules (global_parser.c, vrrp.c, 2.2.7): `nftables [NAME]` names the table
(`keepalived`) and resets the priority to -1, a second one is ignored; `vrrp_iptables` is an
error then the default table; an instance that neither owns its VIPs nor accepts traffic to
them needs the firewall, and without a keyword gets `keepalived`. The namespace tests beside
keepalived are in tests/interop/test_keepalived_nftables.py.
"""

from __future__ import annotations

from ipaddress import ip_address

import pytest

from vipkeeper.config import load_text
from vipkeeper.config.diagnostics import CORRECTED
from vipkeeper.config.model import Config
from vipkeeper.daemon.build import firewall_addrs, firewall_table
from vipkeeper.daemon.firewall import Held, settings_of
from vipkeeper.net.vrrpfw import FwAddr, FwSettings, build_commands

INSTANCE = """vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 10
    priority {priority}
    {extra}
    virtual_ipaddress {{
        10.213.0.1/24
    }}
    virtual_ipaddress_excluded {{
        fe80::1/64 dev eth1
    }}
}}
"""


def load(globals_: str, priority: int = 100, extra: str = "") -> tuple[Config, list[str]]:
    text = f"global_defs {{\n    {globals_}\n}}\n" + INSTANCE.format(priority=priority, extra=extra)
    res = load_text(text, interface_exists=lambda _: True)
    assert res.config is not None, res.diagnostics
    return res.config, [d.message for d in res.errors if d.code not in CORRECTED]


@pytest.mark.parametrize(
    ("globals_", "table", "priority", "counters"),
    [
        ("", None, -1, False),
        ("vrrp_strict", "keepalived", -1, False),
        ("nftables", "keepalived", -1, False),
        ("nftables fw\n    nftables_priority -5\n    nftables_counters", "fw", -5, True),
        ("nftables_priority 7\n    nftables fw", "fw", -1, False),  # nftables resets it
        ("nftables a\n    nftables b", "a", -1, False),  # the first one wins
        ("vrrp_iptables IN OUT", "keepalived", -1, False),
    ],
)
def test_table_settings(globals_: str, table: str | None, priority: int, counters: bool) -> None:
    config, errors = load(globals_)
    assert errors == []
    settings = settings_of(config)
    if table is None:
        assert settings is None and firewall_table(config) is None
    else:
        assert settings == FwSettings(table=table, priority=priority, counters=counters)


def test_vrrp_iptables_is_keepalived_s_corrected_error() -> None:
    res = load_text(
        "global_defs {\n    vrrp_iptables\n}\n" + INSTANCE.format(priority=100, extra=""),
        interface_exists=lambda _: True,
    )
    assert [d.message for d in res.errors] == [
        "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and "
        "'vrrp_ipsets' with 'nftables' config option"
    ]
    assert all(d.code in CORRECTED for d in res.errors)  # `run` starts with it


@pytest.mark.parametrize(
    ("globals_", "priority", "extra", "by_name"),
    [
        ("vrrp_strict", 100, "", False),
        ("", 100, "no_accept", False),
        ("vrrp_strict", 100, "dont_track_primary", False),  # fe80::1 is on eth1, not eth0
        ("vrrp_strict", 100, "dont_track_primary\n    interface eth1", True),
        ("vrrp_strict\n    nftables_ifindex", 100, "dont_track_primary\n    interface eth1", False),
    ],
)
def test_firewalled_addresses(globals_: str, priority: int, extra: str, by_name: bool) -> None:
    config, _ = load(globals_, priority, extra)
    inst = config.vrrp_instances[0]
    assert firewall_addrs(inst, config.global_defs) == (
        FwAddr(ip_address("10.213.0.1"), inst.interface or "", False),
        FwAddr(ip_address("fe80::1"), "eth1", by_name),
    )


@pytest.mark.parametrize(("globals_", "priority", "extra"), [("", 100, ""), ("", 100, "accept")])
def test_accept_mode_and_owner_need_no_firewall(globals_: str, priority: int, extra: str) -> None:
    config, _ = load(globals_, priority, extra)
    assert firewall_addrs(config.vrrp_instances[0], config.global_defs) == ()
    owner, _ = load("vrrp_strict", 255)
    assert firewall_addrs(owner.vrrp_instances[0], owner.global_defs) == ()


def test_held_addresses_follow_adds_and_removes() -> None:
    a, b = FwAddr(ip_address("10.0.0.1")), FwAddr(ip_address("10.0.0.2"))
    held = Held()
    held.add("VI_1", [a, b])
    held.add("VI_2", [b])
    held.remove("VI_1", [b.address])
    assert held.desired() == {a, b}
    held.remove("VI_2", [b.address])
    assert held.desired() == {a} and "VI_2" not in held.by_instance


def test_commands_make_parts_once_and_replace_set_contents() -> None:
    made: set[str] = set()
    v4 = FwAddr(ip_address("10.0.0.1"))
    first = build_commands(FwSettings(), made, [v4])
    assert made == {"ip"}
    assert first[0] == {"add": {"table": {"family": "ip", "name": "keepalived"}}}
    assert first[-2:] == [
        {"flush": {"set": {"family": "ip", "table": "keepalived", "name": "vips"}}},
        {
            "add": {
                "element": {
                    "family": "ip",
                    "table": "keepalived",
                    "name": "vips",
                    "elem": ["10.0.0.1"],
                }
            }
        },
    ]
    # leaving MASTER: the table stays, its set is emptied, nothing is created again
    assert build_commands(FwSettings(), made, []) == [
        {"flush": {"set": {"family": "ip", "table": "keepalived", "name": "vips"}}}
    ]
