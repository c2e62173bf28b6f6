"""nftables rendering: comments round-trip, weights become range widths, schedulers map."""

from __future__ import annotations

import pytest

from vipkeeper.config.model import LbKind
from vipkeeper.lvs.dataplane import DataplaneError
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, state
from vipkeeper.lvs.nftables import (
    decode_comment,
    dnat_rule,
    dr_rule,
    dr_rules,
    encode_comment,
    flow_set,
    flow_set_name,
)

K = ServiceKey(family=4, protocol="TCP", address="10.213.2.100", port=80)


@pytest.mark.parametrize(
    "service",
    [
        Service(K, "wrr"),
        Service(K, "sh", ("sh-fallback", "sh-port"), 300, "255.255.255.0", False),
        Service(ServiceKey(family=6, protocol="", fwmark=12), "rr", (), 0, "", True),
        Service(
            ServiceKey(
                family=6, protocol="SCTP", address="fd00:213:ffff:ffff:ffff:ffff:ffff:1", port=65535
            ),
            "lblcr",
        ),
    ],
)
def test_comment_round_trip(service: Service) -> None:
    text = encode_comment(service)
    assert len(text) < 128
    assert decode_comment(text) == service


def test_foreign_comment_is_ignored() -> None:
    assert decode_comment("something else") is None


def _map(rule: list[dict]) -> tuple[dict, list]:  # type: ignore[type-arg]
    m = rule[-1]["dnat"]["addr"]["map"]
    return m["key"], m["data"]["set"]


def test_wrr_ranges_follow_weights_reduced_by_gcd() -> None:
    st = state(
        Service(K, "wrr"),
        [Dest(DestKey("10.213.1.11", 80), 6), Dest(DestKey("10.213.1.12", 8080), 2)],
    )
    key, elems = _map(dnat_rule(st))
    assert key == {"numgen": {"mode": "inc", "mod": 4}}
    assert elems == [
        [{"range": [0, 2]}, {"concat": ["10.213.1.11", 80]}],
        [3, {"concat": ["10.213.1.12", 8080]}],
    ]


def test_rr_ignores_weights_and_zero_weight_is_excluded() -> None:
    st = state(
        Service(K, "rr"),
        [
            Dest(DestKey("10.213.1.11", 80), 5),
            Dest(DestKey("10.213.1.12", 80), 1),
            Dest(DestKey("10.213.1.13", 80), 0),
        ],
    )
    key, elems = _map(dnat_rule(st))
    assert key["numgen"]["mod"] == 2
    assert [e[1]["concat"][0] for e in elems] == ["10.213.1.11", "10.213.1.12"]


def test_persistence_hashes_the_masked_source() -> None:
    st = state(Service(K, "wlc", (), 300, "255.255.255.0"), [Dest(DestKey("10.213.1.11", 80))])
    key, _ = _map(dnat_rule(st))
    assert key["jhash"]["expr"] == {
        "&": [{"payload": {"protocol": "ip", "field": "saddr"}}, "255.255.255.0"]
    }


def test_no_weighted_dest_drops() -> None:
    assert dnat_rule(state(Service(K), [Dest(DestKey("10.213.1.11", 80), 0)])) == [{"drop": None}]


def test_tun_and_mixed_methods_are_refused_clearly() -> None:
    with pytest.raises(DataplaneError, match="NAT or DR, not TUN"):
        dnat_rule(state(Service(K), [Dest(DestKey("10.213.1.11", 80), 1, LbKind.TUN)]))
    mixed = [Dest(DestKey("10.213.1.11", 80), 1, LbKind.DR), Dest(DestKey("10.213.1.12", 80))]
    with pytest.raises(DataplaneError, match="DR/NAT"):
        dnat_rule(state(Service(K), mixed))


def test_dr_forwards_at_ingress_by_flow_hash() -> None:
    dests = [
        Dest(DestKey("10.213.1.11", 80), 2, LbKind.DR),
        Dest(DestKey("10.213.1.12", 80), 1, LbKind.DR),
    ]
    st = state(Service(K, "wrr"), dests)
    assert dnat_rule(st) == [{"accept": None}]
    fwd = dr_rule(st, "eth0")[-1]["fwd"]
    assert fwd["dev"] == "eth0" and fwd["family"] == "ip"
    sel = fwd["addr"]["map"]["key"]["jhash"]
    assert sel["mod"] == 3
    assert sel["expr"]["concat"][1] == {"payload": {"protocol": "th", "field": "sport"}}
    assert fwd["addr"]["map"]["data"]["set"] == [
        [{"range": [0, 1]}, "10.213.1.11"],
        [2, "10.213.1.12"],
    ]


def test_address_and_port_targets_say_concat_for_nftables_before_1_0() -> None:
    # Debian 11's nftables 0.9.8 cannot infer "address . port" from the map's elements and
    # refuses the rule ("Can't parse symbolic invalid expressions") without type_flags.
    with_port = dnat_rule(state(Service(K, "rr"), [Dest(DestKey("10.213.1.11", 8080))]))
    assert with_port[-1]["dnat"]["type_flags"] == "concat"
    fwmark = ServiceKey(family=4, protocol="", fwmark=7)
    address_only = dnat_rule(state(Service(fwmark, "rr"), [Dest(DestKey("10.213.1.11", 0))]))
    assert "type_flags" not in address_only[-1]["dnat"]
    assert _map(address_only)[1] == [[0, "10.213.1.11"]]


def test_dr_flows_stick_to_the_server_they_started_on() -> None:
    dests = [
        Dest(DestKey("10.213.1.11", 80), 2, LbKind.DR),
        Dest(DestKey("10.213.1.12", 80), 0, LbKind.DR),  # draining: keeps its flows
        Dest(DestKey("10.213.1.13", 80), 1, LbKind.DR),
    ]
    st = state(Service(K, "wrr"), dests)
    rules = dr_rules(st, "eth0")
    sets = {d.key.address: "@" + flow_set_name(K, d.key) for d in dests}
    flow = {
        "concat": [
            {"payload": {"protocol": "ip", "field": "saddr"}},
            {"payload": {"protocol": "th", "field": "sport"}},
            {"payload": {"protocol": "th", "field": "dport"}},
        ]
    }

    def sends(addr: str) -> list[dict[str, object]]:
        return [
            {"set": {"op": "update", "elem": flow, "set": sets[addr]}},
            {"fwd": {"dev": "eth0", "family": "ip", "addr": addr}},
        ]

    # Known flows first: every server in the pool, weight 0 included.
    for rule, addr in zip(rules, ["10.213.1.11", "10.213.1.12", "10.213.1.13"]):
        assert rule == [{"match": {"op": "==", "left": flow, "right": sets[addr]}}, *sends(addr)]
    # New flows: hashed onto the live servers by weight, and recorded.
    jhash = dr_rule(st, "eth0")[-1]["fwd"]["addr"]["map"]["key"]
    assert rules[3] == [{"match": {"op": "==", "left": jhash, "right": {"range": [0, 1]}}},
                        *sends("10.213.1.11")]  # fmt: skip
    assert rules[4] == [{"match": {"op": "==", "left": jhash, "right": 2}}, *sends("10.213.1.13")]
    # A full flow set: the stateless hash.
    assert rules[5] == dr_rule(st, "eth0")[-1:]
    assert len(rules) == 6
    fs = flow_set(K, dests[0].key)
    assert fs["timeout"] == 900 and fs["flags"] == ["timeout"]
    assert fs["type"] == ["ipv4_addr", "inet_service", "inet_service"]
    assert flow_set(ServiceKey(4, "UDP", "10.213.2.100", 53), dests[0].key)["timeout"] == 300


def test_a_mask_in_jhash_takes_single_values_not_ranges() -> None:
    # nftables 0.9.8 and 1.0.6 refuse a range next to a masked jhash key ("Value 4294967040
    # exceeds valid range 0-0"): with persistence_granularity each value is its own element.
    dests = [Dest(DestKey("10.213.1.11", 80), 3), Dest(DestKey("10.213.1.12", 80), 1)]
    st = state(Service(K, "wrr", (), 300, "255.255.255.0"), dests)
    _, elems = _map(dnat_rule(st))
    assert [e[0] for e in elems] == [0, 1, 2, 3]
    dr = state(st.service, [Dest(d.key, d.weight, LbKind.DR) for d in dests])
    hashed = [r[0]["match"]["right"] for r in dr_rules(dr, "eth0")[2:4]]
    assert hashed == [{"set": [0, 1, 2]}, 3]
    unmasked = state(Service(K, "wrr"), dests)
    assert [e[0] for e in _map(dnat_rule(unmasked))[1]] == [{"range": [0, 2]}, 3]
