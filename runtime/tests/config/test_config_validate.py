"""Semantic checks: each is an error naming file and line."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vipkeeper.config import LoadResult

Conf = Callable[..., LoadResult]


def instance(body: str, name: str = "VI_1", vrid: int = 5, vip: str = "10.213.0.1/24") -> str:
    return (
        f"vrrp_instance {name} {{\n    interface eth0\n    virtual_router_id {vrid}\n"
        f"    virtual_ipaddress {{\n        {vip}\n    }}\n{body}}}\n"
    )


def errors(res: LoadResult) -> list[tuple[int, str, str]]:
    return [(d.line, str(d.code), d.message) for d in res.errors]


SERVICE = "    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n"


def test_virtual_server_must_not_rely_on_defaults(conf: Conf) -> None:
    res = conf(
        "virtual_server 10.213.1.1 80 {\n    ip_family inet6\n"
        "    real_server 10.213.1.2 80 {\n    }\n}\n"
        "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind DR\n"
        "    real_server 10.213.1.2 80 {\n    }\n}\n"
    )
    assert errors(res) == [
        (1, "defaulted", "virtual server 10.213.1.1:80: no protocol set"),
        (1, "defaulted", "virtual server 10.213.1.1:80: no scheduler (lb_algo) set"),
        (1, "defaulted", "virtual server 10.213.1.1:80: no forwarding method (lb_kind) set"),
        (
            1,
            "family-mismatch",
            "virtual server 10.213.1.1:80: ip_family inet6 conflicts with its address",
        ),
        (  # keepalived -t 2.2.7: "... has port specified - clearing" (exit 5)
            9,
            "defaulted",
            "fwmark virtual server fwmark 5, real server 10.213.1.2 port 80:"
            " a port is meaningless here - clearing",
        ),
    ]


def test_mcast_src_family_and_unicast_ttl(conf: Conf) -> None:
    res = conf(instance("    mcast_src_ip fd00::1\n    unicast_ttl 5\n"))
    assert errors(res) == [
        (1, "family-mismatch", "(VI_1) mcast_src_ip fd00::1 is not IPv4 like the instance"),
        (1, "defaulted", "(VI_1) unicast_ttl is set without unicast peers"),
    ]


def test_valid_instance_has_no_diagnostics(conf: Conf) -> None:
    res = conf(instance(""))
    assert res.diagnostics == []
    assert res.exit_code == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("virtual_router_id 0", "virtual_router_id: number '0' outside range [1, 255]"),
        ("virtual_router_id 256", "virtual_router_id: number '256' outside range [1, 255]"),
        ("priority 0", "priority: number '0' outside range [1, 255]"),
        ("priority 256", "priority: number '256' outside range [1, 255]"),
        ("priority high", "priority: 'high' is not an integer"),
        ("advert_int 0", "advert_int: number '0' outside range [0.01, 255]"),
        ("advert_int 300", "advert_int: number '300' outside range [0.01, 255]"),
        ("preempt_delay 1001", "preempt_delay: number '1001' outside range [0, 1000]"),
    ],
)
def test_value_ranges(conf: Conf, line: str, message: str) -> None:
    res = conf(instance(f"    {line}\n"))
    assert (7, "bad-value", message) in errors(res)
    assert res.exit_code == 5


def test_vrid_missing(conf: Conf) -> None:
    res = conf("vrrp_instance VI_1 {\n interface eth0\n virtual_ipaddress {\n 10.213.0.1\n }\n}\n")
    assert errors(res) == [(1, "missing-value", "(VI_1) virtual_router_id must be set")]


def test_vrrpv2_fractional_advert_int(conf: Conf) -> None:
    res = conf(instance("    advert_int 0.5\n"))
    assert errors(res) == [
        (7, "defaulted", "(VI_1) VRRPv2 advert_int 0.5s must be a whole number of seconds")
    ]
    res = conf(instance("    version 3\n    advert_int 0.5\n"))
    assert errors(res) == []
    res = conf(instance("    version 3\n    advert_int 41\n"))
    assert errors(res) == [(8, "out-of-range", "(VI_1) VRRPv3 advert_int must be at most 40.95 s")]


def test_same_vrid_same_interface_and_family(conf: Conf) -> None:
    text = instance("") + instance("", name="VI_2") + instance("", name="VI_3", vip="fd00::1/64")
    res = conf(text)
    assert errors(res) == [
        (8, "vrid-conflict", "VI_1 and VI_2 both use VRID 5 with IPv4 on interface eth0")
    ]


def test_same_vrid_unicast_to_a_common_peer(conf: Conf) -> None:
    peers = "    unicast_peer {\n        10.213.0.8\n        %s\n    }\n"
    res = conf(
        instance(peers % "10.213.0.9", name="VI_A")
        + instance(peers % "10.213.0.7", name="VI_B", vip="10.213.0.2/24")
    )
    assert errors(res) == [
        (
            12,
            "vrid-conflict",
            "VI_A and VI_B both use VRID 5 with IPv4 on interface eth0 to unicast peer 10.213.0.8",
        )
    ]


def test_same_vrid_other_interface_or_unicast_is_fine(conf: Conf) -> None:
    other = instance("", name="VI_2").replace("interface eth0", "interface eth1")
    uni = instance("    unicast_peer {\n 10.213.0.9\n }\n", name="VI_3")
    res = conf(instance("") + other + uni)
    assert errors(res) == []


def test_nopreempt_with_master_or_owner(conf: Conf) -> None:
    res = conf(instance("    state MASTER\n    priority 100\n    nopreempt\n"))
    assert errors(res) == [
        (9, "nopreempt", "(VI_1) nopreempt does not work with initial state MASTER")
    ]
    # MASTER with no priority is the address owner (keepalived derives 255 from the state), so
    # keepalived's owner rule speaks first and resets nopreempt: the MASTER one never fires
    res = conf(instance("    state MASTER\n    nopreempt\n"))
    assert errors(res) == [(8, "nopreempt", "(VI_1) nopreempt is incompatible with priority 255")]
    res = conf(instance("    priority 255\n    nopreempt\n"))
    assert errors(res) == [(8, "nopreempt", "(VI_1) nopreempt is incompatible with priority 255")]
    res = conf(instance("    state BACKUP\n    priority 254\n    nopreempt\n"))
    assert errors(res) == []


def test_undefined_script_and_track_file(conf: Conf) -> None:
    res = conf(
        "vrrp_script ok {\n script /usr/bin/true\n}\n"
        + instance(
            "    track_script {\n        ok\n        missing\n    }\n"
            "    track_file {\n        nofile\n    }\n"
        )
        + "vrrp_sync_group G {\n group {\n  VI_1\n  VI_X\n }\n track_script {\n  gone\n }\n}\n"
    )
    assert errors(res) == [
        (12, "undefined-reference", "(VI_1) track_script 'missing' is not a defined vrrp_script"),
        (15, "undefined-reference", "(VI_1) track_file 'nofile' is not a defined track_file"),
        (18, "undefined-reference", "(sync group G) member 'VI_X' is not a defined vrrp_instance"),
        (
            24,
            "undefined-reference",
            "(sync group G) track_script 'gone' is not a defined vrrp_script",
        ),
    ]


def test_file_check_needs_track_file(conf: Conf) -> None:
    res = conf(
        "virtual_server 10.213.1.1 80 {\n real_server 10.213.1.2 80 {\n"
        "  FILE_CHECK {\n   track_file nope\n  }\n }\n" + SERVICE + "}\n"
    )
    assert errors(res) == [
        (3, "undefined-reference", "FILE_CHECK track_file 'nope' is not a defined track_file")
    ]


def test_unicast_peer_family(conf: Conf) -> None:
    res = conf(
        instance(
            "    unicast_src_ip fd00::2\n"
            "    unicast_peer {\n        fd00::3\n        10.213.0.4\n    }\n"
        )
    )
    assert errors(res) == [
        (7, "family-mismatch", "(VI_1) unicast_src_ip fd00::2 is not IPv4 like the instance"),
        (9, "family-mismatch", "(VI_1) unicast peer fd00::3 must be IPv4 like the instance"),
    ]


def test_tracking_own_interface(conf: Conf) -> None:
    res = conf(instance("    track_interface {\n        eth0\n        eth1\n    }\n"))
    assert errors(res) == [
        (
            8,
            "bad-value",
            "(VI_1) track_interface eth0 is the instance's own interface (it is tracked already)",
        )
    ]


def test_sync_group_needs_two_members(conf: Conf) -> None:
    res = conf("vrrp_sync_group G {\n    group {\n        VI_1\n    }\n}\n" + instance(""))
    assert errors(res) == [(1, "defaulted", "sync group G has 1 member(s); it needs at least 2")]


def test_vrrpv3_has_no_authentication(conf: Conf) -> None:
    auth = "    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n"
    res = conf(instance(auth, vip="fd00::1/64"))
    assert errors(res) == [
        (7, "defaulted", "(VI_1) VRRP version 3 does not support authentication")
    ]
    res = conf(instance(auth + "    version 3\n"))
    assert errors(res) == [
        (7, "defaulted", "(VI_1) VRRP version 3 does not support authentication")
    ]


def test_undefined_virtual_server_group_is_a_warning(conf: Conf) -> None:
    res = conf(
        "virtual_server group NOPE {\n    real_server 10.213.1.2 80 {\n    }\n" + SERVICE + "}\n"
    )
    assert res.errors == []
    assert [(d.line, d.message) for d in res.warnings] == [
        (1, "virtual_server group 'NOPE' is not a defined virtual_server_group")
    ]


def test_virtual_server_rules(conf: Conf) -> None:
    rs = "    real_server 10.213.1.%d 80 {\n        weight %d\n    }\n"
    res = conf(
        "virtual_server 10.213.1.1 80 {\n    sorry_server 10.213.1.9 80\n" + SERVICE + "}\n"
        "virtual_server 10.213.1.1 81 {\n    quorum 3\n"
        + rs % (2, 1)
        + rs % (3, 1)
        + SERVICE
        + "}\n"
        "virtual_server 10.213.1.1 82 {\n    quorum 2\n    hysteresis 2\n"
        + rs % (2, 5)
        + SERVICE
        + "}\n"
        "virtual_server 10.213.1.1 83 {\n" + rs % (2, 0) + SERVICE + "}\n"
    )
    assert errors(res) == [
        (1, "missing-value", "virtual server 10.213.1.1:80 has no real servers"),
        (
            7,
            "out-of-range",
            "quorum 3 for 10.213.1.1:81 exceeds the total weight of its real servers (2)",
        ),
        (19, "out-of-range", "hysteresis 2 for 10.213.1.1:82 must be below quorum 2"),
        (
            29,
            "out-of-range",
            "quorum 1 for 10.213.1.1:83 exceeds the total weight of its real servers (0)",
        ),
    ]


def test_http_checker_needs_urls_with_paths(conf: Conf) -> None:
    res = conf(
        "virtual_server 10.213.1.1 80 {\n    real_server 10.213.1.2 80 {\n"
        "        HTTP_GET {\n            url {\n                status_code 200\n            }\n"
        "        }\n    }\n" + SERVICE + "}\n"
    )
    assert errors(res) == [
        (3, "missing-value", "HTTP_GET checker has no urls specified"),
        (4, "missing-value", "HTTP/SSL_GET checker url has no path"),
    ]


def test_virtual_routes(conf: Conf) -> None:
    routes = (
        "    virtual_routes {\n        10.213.70.0/24 via 10.213.0.254\n"
        "        10.213.71.0/24 via 10.213.0.254 no_track\n"
        "        10.213.72.0/24 dev eth9\n        10.213.73.0/24 via fd00::1 dev eth0\n    }\n"
    )
    assert errors(conf(instance(routes))) == [
        (
            8,
            "defaulted",
            "(VI_1) virtual route 10.213.70.0/24 has no interface (dev): it cannot be tracked",
        ),
        (10, "interface-missing", "interface eth9 for virtual route 10.213.72.0/24 doesn't exist"),
        (11, "bad-value", "virtual route: cannot mix IPv4 and IPv6 addresses"),
    ]


def test_vip_peer_without_prefix(conf: Conf) -> None:
    res = conf(instance("    virtual_ipaddress {\n        10.213.0.2/24 peer 10.213.0.9\n    }\n"))
    assert errors(res) == [
        (8, "bad-value", "cannot give an address prefix together with a peer address")
    ]
    res = conf(instance("    virtual_ipaddress {\n        10.213.0.2 peer 10.213.0.9\n    }\n"))
    assert errors(res) == []


def test_mixed_vip_families(conf: Conf) -> None:
    res = conf(instance("    virtual_ipaddress {\n        fd00::1/64\n    }\n"))
    assert errors(res) == [
        (
            8,
            "family-mismatch",
            "(VI_1) address family of fd00::1/64 does not match the instance (IPv4)",
        )
    ]


def test_no_vip(conf: Conf) -> None:
    res = conf("vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 5\n}\n")
    assert errors(res) == [
        (1, "missing-value", "(VI_1) no VIP specified; at least one is required")
    ]


def test_vrrp_strict_rules(conf: Conf) -> None:
    strict = "global_defs {\n    vrrp_strict\n}\n"
    res = conf(
        strict
        + instance("    unicast_peer {\n        10.213.0.3\n    }\n")
        + instance(
            "    authentication {\n        auth_type PASS\n        auth_pass x\n    }\n",
            name="VI_2",
            vrid=6,
        )
        + instance("", name="VI_3", vrid=7, vip="fd00::1/64")
    )
    assert errors(res) == [
        (10, "vrrp-strict", "(VI_1) strict mode does not support unicast peers"),
        (20, "vrrp-strict", "(VI_2) strict mode does not support authentication"),
        (25, "vrrp-strict", "(VI_3) strict mode: IPv6 VIPs need VRRP version 3"),
    ]
    res = conf(strict + instance("    state MASTER\n    priority 254\n"))
    assert errors(res) == [
        (
            10,
            "vrrp-strict",
            "(VI_1) strict mode: state MASTER must match being address owner (priority 255)",
        )
    ]
    assert errors(conf(strict + instance("    state MASTER\n    priority 255\n"))) == []
    # per-instance strict_mode works the same way; vrrp_version 3 allows IPv6
    res = conf(
        "global_defs {\n vrrp_version 3\n}\n" + instance("    strict_mode\n", vip="fd00::1/64")
    )
    assert errors(res) == []


def test_interfaces_must_exist(conf: Conf) -> None:
    text = instance(
        "    track_interface {\n        eth7\n    }\n    virtual_ipaddress {\n"
        "        10.213.0.2/24 dev eth8\n    }\n"
    ).replace("interface eth0", "interface eth9")
    res = conf(text)
    assert errors(res) == [
        (1, "interface-missing", "interface eth9 for vrrp_instance VI_1 doesn't exist"),
        (
            8,
            "interface-missing",
            "interface eth7 for track_interface of vrrp_instance VI_1 doesn't exist",
        ),
        (11, "interface-missing", "interface eth8 for ip address 10.213.0.2/24 doesn't exist"),
    ]
    assert res.exit_code == 5  # as keepalived -t 2.2.7: the general error outranks CONFIG_BAD_IF
    assert conf(text, interface_exists=None).errors == []


def test_duplicate_names(conf: Conf) -> None:
    res = conf(instance("") + instance("", vrid=6))
    assert errors(res) == [
        (8, "duplicate", "vrrp_instance 'VI_1' is defined twice (first at line 1)")
    ]


def test_diagnostics_carry_the_included_file(conf: Conf, tmp_path: object) -> None:
    from pathlib import Path

    assert isinstance(tmp_path, Path)
    (tmp_path / "inst.inc").write_text(instance("    priority 0\n"))
    res = conf("include inst.inc\n")
    [err] = res.errors
    assert err.file == str(tmp_path / "inst.inc")
    assert err.line == 7
    assert (
        err.format()
        == f"({tmp_path / 'inst.inc'}: Line 7) priority: number '0' outside range [1, 255]"
    )


def test_server_ports_are_corrected_as_keepalived_does(conf: Conf) -> None:
    """keepalived -t 2.2.7 reports a DR/TUN real or sorry server whose port differs from its
    service's (exit 5) and then runs with the service's port, which its checkers connect to; a
    fwmark service's ports are cleared; NAT keeps its own port; a group service keeps them."""
    rs = "    real_server 10.213.1.%d %d {\n        weight 1\n%s    }\n"
    res = conf(
        "virtual_server 10.213.1.1 80 {\n    protocol TCP\n    lb_algo rr\n    lb_kind DR\n"
        "    sorry_server 10.213.1.9 8080\n"
        + rs % (2, 8080, "")
        + rs % (3, 8080, "        lvs_method NAT\n")
        + rs % (4, 80, "")
        + "}\n"
        "virtual_server fwmark 5 {\n    lb_algo rr\n    lb_kind TUN\n" + rs % (2, 443, "") + "}\n"
        "virtual_server_group G {\n    10.213.1.1 81\n}\n"
        "virtual_server group G {\n    protocol TCP\n    lb_algo rr\n    lb_kind DR\n"
        + rs % (2, 8080, "")
        + "}\n"
    )
    assert [(line, message) for line, _code, message in errors(res)] == [
        (
            5,
            "virtual server 10.213.1.1:80 and sorry server port 8080: ports don't match"
            " - resetting to 80",
        ),
        (
            6,
            "virtual server 10.213.1.1:80 and real server 10.213.1.2 port 8080: ports don't match"
            " - resetting to 80",
        ),
        (
            20,
            "fwmark virtual server fwmark 5, real server 10.213.1.2 port 443: a port is"
            " meaningless here - clearing",
        ),
        (
            31,
            "virtual server group G:[10.213.1.1 81] and real server 10.213.1.2 port 8080:"
            " ports don't match",
        ),
    ]
    assert res.exit_code == 5
    assert res.config is not None
    by_addr, fwmark, group = res.config.virtual_servers
    assert [s.port for s in by_addr.real_servers] == [80, 8080, 80]
    assert by_addr.sorry_server is not None and by_addr.sorry_server.port == 80
    assert [s.port for s in fwmark.real_servers] == [None]
    assert [s.port for s in group.real_servers] == [8080]
