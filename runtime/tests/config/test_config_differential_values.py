"""Differential test of keyword values: boundary values of many keywords, vipkeeper vs keepalived.

Each case puts one `keyword value` into a minimal valid config (vrrp_instance, global_defs,
virtual_server or checker) and checks that `keepalived -t` and vipkeeper accept or reject it
alike. keepalived runs in a namespace with eth0 (addressed); vipkeeper runs in-process with
the same interface list.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from config.differential import check_node, keepalived_t
from netlab import Node

from vipkeeper.config import load, load_text

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    virtual_ipaddress {
        10.213.0.1/24
    }
%s
}
"""
GLOBAL = "global_defs {\n%s\n}\n" + INSTANCE % ""
SERVICE = """virtual_server 10.213.30.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
%s
    real_server 10.213.30.10 80 {
        weight 1
        TCP_CHECK {
%s
        }
    }
}
"""

SECURE = "global_defs {\n    enable_script_security\n    script_user root\n}\n"
SCRIPT = (
    """global_defs {
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "/usr/bin/true"
%s
}
"""
    + INSTANCE % "    track_script {\n        chk %s\n    }"
)

TP = "vrrp_track_process tp {\n    process sleep\n}\n"
TRACKS_TP = "    track_process {\n        tp\n    }"
SYNC = "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n%s\n}\n"
TWO = INSTANCE % "" + (INSTANCE % "").replace("VI_1", "VI_2").replace("id 10", "id 11")

# track_process and its neighbours, whole configs: the exit code must be keepalived's too
TRACK_PROCESS: dict[str, str] = {
    "tracked": TP + INSTANCE % TRACKS_TP,
    "no-process": "vrrp_track_process tp {\n    weight 10\n}\n" + INSTANCE % TRACKS_TP,
    "unknown-name": TP + INSTANCE % "    track_process {\n        tq\n    }",
    "defined-after-use": INSTANCE % TRACKS_TP + TP,
    "duplicate-entry": TP + INSTANCE % "    track_process {\n        tp\n        tp\n    }",
    "bad-quorum": TP.replace("}", "    quorum 0\n}") + INSTANCE % TRACKS_TP,
    "quorum-max-below-quorum": TP.replace("}", "    quorum 3\n    quorum_max 2\n}")
    + INSTANCE % TRACKS_TP,
    "quorum-above-quorum-max": TP.replace("}", "    quorum_max 2\n    quorum 3\n}")
    + INSTANCE % TRACKS_TP,
    "quorum-max-zero": TP.replace("}", "    quorum_max 0\n}") + INSTANCE % TRACKS_TP,
    "second-process": TP.replace("}", "    process nginx\n}") + INSTANCE % TRACKS_TP,
    "second-weight": TP.replace("}", "    weight 1\n    weight 2\n}") + INSTANCE % TRACKS_TP,
    "unknown-keyword": TP.replace("}", "    procces x\n}") + INSTANCE % TRACKS_TP,
    "sync-group": TP + SYNC % TRACKS_TP + TWO,
    "sync-group-unknown": TP + SYNC % TRACKS_TP.replace("tp", "tq") + TWO,
    "untracked-block": TP + INSTANCE % "",
    # a weighted entry of a sync group with an address owner: keepalived sets its weight to 0
    "sync-group-owner-weighted": TP.replace("}", "    weight 10\n}")
    + SYNC % TRACKS_TP
    + TWO.replace("id 10\n", "id 10\n    priority 255\n", 1),
    "sync-group-owner-unweighted": TP
    + SYNC % TRACKS_TP
    + TWO.replace("id 10\n", "id 10\n    priority 255\n", 1),
    "owner-weighted": TP.replace("}", "    weight 10\n}")
    + INSTANCE % (TRACKS_TP + "\n    priority 255"),
}

VALUES: dict[str, dict[str, list[str]]] = {
    "script": {
        "interval": ["0", "1", "0.5", "3600"],
        "timeout": ["0", "1", "0.5"],
        "weight": ["-254", "-253", "253", "254", "10 reverse", "10 foo"],
        "rise": ["0", "1", "10"],
        "fall": ["0", "1", "10"],
        "user": ["root", "root root", "nosuchuser_vk"],
        "init_fail": [""],
    },
    "track": {"weight": ["-254", "-253", "0", "253", "254", "10 reverse"]},
    "vip": {
        "10.213.0.2/24": [
            "",
            "brd 10.213.0.255",
            "broadcast 10.213.0.255",
            "dev eth0",
            "dev eth9",
            "scope link",
            "scope bogus",
            "label eth0:1",
            "label foo",
            "home",
            "-nodad",
            "noprefixroute",
            "peer 10.213.0.9",
            "bogus",
        ],
        "fd00::2/64": ["", "dev eth0", "-nodad", "brd 10.213.0.255"],
        "10.213.0.300/24": [""],
        "10.213.0.3": [""],
    },
    "route": {
        "10.213.70.0/24": [
            "",
            "via 10.213.0.254",
            "via 10.213.0.254 dev eth0",
            "dev eth9",
            "src 10.213.0.1",
            "table 100",
            "metric 5",
            "via fd00::1",
        ],
        "blackhole": ["10.213.71.0/24"],
        "default": ["via 10.213.0.254"],
    },
    "http": {
        "status_code": ["200", "200-299", "200 301", "100", "599", "600", "99", "abc"],
        "digest": ["0123456789abcdef0123456789abcdef", "0123", "xyz"],
        "path": ["/", "/health?x=1"],
        "virtualhost": ["a.example"],
    },
    "httpcheck": {
        "http_protocol": ["1.0", "1.1", "1.0C", "2.0"],
        "enable_sni": [""],
        "nb_get_retry": ["2"],
        "virtualhost": ["b.example"],
    },
    "dns": {"type": ["A", "AAAA", "MX", "BOGUS"], "name": ["example.org"]},
    "sync": {"group": ["VI_1", "VI_1 VI_2", "VI_1 VI_X", "VI_1 VI_1"]},
    "notify": {
        "notify_master": [
            '"/usr/bin/logger x"',
            "/usr/bin/logger",
            "/usr/bin/logger root",
            '"/usr/bin/logger x" root root',
            '"/usr/bin/logger x" nosuchuser_vk',
            '"/nonexistent/notify x"',
            "'/usr/bin/logger x y'",
        ],
        "notify": ['"/usr/bin/logger"', "/usr/bin/true"],
    },
    "master": {  # under `state MASTER`: keepalived -t rejects (and clears) a preempt_delay
        "preempt_delay": ["0", "0.5", "5"],
        "nopreempt": [""],
    },
    "strict": {"preempt_delay": ["0", "5"]},  # under vrrp_strict
    "instance": {
        "priority": ["1", "254", "255"],
        "advert_int": ["0.01", "1", "40", "255", "256", "1.5"],
        "preempt_delay": ["0", "1000", "1001", "2.5"],
        "garp_master_delay": ["0", "1", "255", "256"],
        "garp_master_repeat": ["0", "1", "255", "256"],
        "garp_master_refresh": ["0", "1", "60", "86400"],
        "garp_master_refresh_repeat": ["0", "1", "255"],
        "garp_lower_prio_delay": ["0", "5", "256"],
        "garp_lower_prio_repeat": ["0", "5", "256"],
        "down_timer_adverts": ["0", "1", "3", "100", "101"],
        "unicast_ttl": ["0", "1", "255", "256"],
        "debug": ["", "0", "4", "5"],
        "mcast_src_ip": ["10.213.0.9", "fd00::1", "bogus"],
        "use_vmac": ["", "vrrp10"],
        "smtp_alert": ["", "on", "off", "maybe"],
        "state": ["MASTER", "BACKUP", "master", "FAULT"],
        "version": ["2", "3", "4"],
    },
    "global": {
        "vrrp_garp_master_delay": ["0", "256"],
        "vrrp_garp_master_repeat": ["0", "256"],
        "vrrp_garp_interval": ["0", "0.5", "1", "1.5"],
        "vrrp_gna_interval": ["0", "1", "2"],
        "vrrp_down_timer_adverts": ["0", "1", "101"],
        "vrrp_version": ["2", "3", "1"],
        "smtp_connect_timeout": ["0", "30", "1000"],
        "vrrp_mcast_group4": ["224.0.0.18", "224.0.0.99", "10.0.0.1"],
        "vrrp_mcast_group6": ["ff02::12", "ff05::12", "fd00::1"],
        "vrrp_startup_delay": ["0", "5", "3601"],
        "smtp_server": ["127.0.0.1", "127.0.0.1 2525", "127.0.0.1 70000"],
        "lvs_flush_on_stop": ["", "VS", "on"],
        "router_id": ["x"],
    },
    "service": {
        "delay_loop": ["0", "1", "0.5", "86400"],
        "connect_timeout": ["0", "1", "0.5"],
        "retry": ["0", "1", "100"],
        "delay_before_retry": ["0", "1", "0.5"],
        "warmup": ["0", "5"],
        "persistence_timeout": ["0", "1", "360", "2678401"],
        "persistence_granularity": ["255.255.255.0", "24", "bogus"],
        "quorum": ["0", "1"],
        "ha_suspend": [""],
        "virtualhost": ["a.example"],
        "ip_family": ["inet", "inet6"],
        "lvs_sched": ["mh", "nope"],
        "lvs_method": ["DR", "dr"],
        "ops": [""],
    },
    "tprocess": {  # in a vrrp_track_process block the instance tracks
        "process": ["sleep", "sleep 100", "/usr/bin/sleep 1 2"],
        "param_match": ["", "initial", "partial", "exact", "foo"],
        "weight": ["-254", "254", "255", "10 reverse", "10 foo"],
        "quorum": ["0", "1", "65535", "65536", "abc"],
        "quorum_max": ["0", "1", "65535", "65536"],
        "delay": ["0", "0.000001", "0.5", "3600", "3601"],
        "terminate_delay": ["0", "1.5"],
        "fork_delay": ["0", "2"],
        "full_command": [""],
    },
    "tpref": {  # a track_process entry of the instance
        "tp": ["", "weight 10", "weight 300", "weight", "weight 10 reverse"],
        "tp weight 10": ["noreverse", "bar"],
        "tq": [""],
        "tp foo": [""],
    },
    "checker": {
        "connect_port": ["0", "80", "65535", "65536"],
        "connect_timeout": ["0", "2.5"],
        "retry": ["0", "5"],
        "delay_before_retry": ["0", "2"],
        "bindto": ["10.213.30.1", "bogus"],
        "bind_port": ["0", "65536"],
        "fwmark": ["0", "1"],
        "warmup": ["0", "3"],
    },
}


def render(where: str, keyword: str, value: str) -> str:
    line = f"    {keyword} {value}".rstrip()
    if where == "instance":
        return INSTANCE % line
    if where == "master":
        return INSTANCE % f"    state MASTER\n{line}"
    if where == "strict":
        return "global_defs {\n    vrrp_strict\n}\n" + INSTANCE % line
    if where == "vip":
        return INSTANCE % f"    virtual_ipaddress {{\n        {keyword} {value}\n    }}"
    if where == "route":
        return INSTANCE % f"    virtual_routes {{\n        {keyword} {value}\n    }}"
    if where in ("http", "httpcheck"):
        url = f"                {keyword} {value}\n" if where == "http" else ""
        path = "" if keyword == "path" else "                path /\n"
        extra = f"            {keyword} {value}\n" if where == "httpcheck" else ""
        checker = f"HTTP_GET {{\n            url {{\n{path}{url}            }}\n{extra}        }}"
        return SERVICE.replace("TCP_CHECK {\n%s\n        }", checker) % ""
    if where == "dns":
        return SERVICE.replace("TCP_CHECK", "DNS_CHECK") % ("", f"            {keyword} {value}")
    if where == "sync":
        two = INSTANCE % "" + (INSTANCE % "").replace("VI_1", "VI_2").replace("id 10", "id 11")
        return f"vrrp_sync_group G {{\n    group {{\n        {value}\n    }}\n}}\n" + two
    if where == "notify":
        return SECURE + INSTANCE % line
    if where == "script":
        return SCRIPT % (line, "")
    if where == "track":
        return SCRIPT % ("", f"{keyword} {value}")
    if where == "tprocess":
        base = "" if keyword == "process" else "    process sleep\n"
        return f"vrrp_track_process tp {{\n{base}{line}\n}}\n" + INSTANCE % TRACKS_TP
    if where == "tpref":
        return TP + INSTANCE % f"    track_process {{\n        {keyword} {value}\n    }}"
    if where == "global":
        return GLOBAL % line
    if where == "service":
        return SERVICE % (line, "")
    return SERVICE % ("", "        " + line)


CASES = [
    pytest.param(where, kw, value, id=f"{where}-{kw}-{value or 'bare'}")
    for where, table in VALUES.items()
    for kw, values in table.items()
    for value in values
]


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    with check_node("val", "10.213.0.5/24") as n:
        yield n


def test_cases_accept_and_reject() -> None:
    """Every rendered case is a whole config, and the table holds both outcomes."""
    texts = [render(*case.values) for case in CASES]  # type: ignore[arg-type]
    assert all("%s" not in text for text in texts)
    accepted = sum(load_text(text).ok for text in texts)
    assert 0.3 * len(texts) < accepted < 0.8 * len(texts)  # both outcomes well represented


@pytest.mark.parametrize(("where", "keyword", "value"), CASES)
def test_value_accepted_alike(
    node: Node, tmp_path: Path, where: str, keyword: str, value: str
) -> None:
    path = Path(node.lab.workdir) / f"{where}-{abs(hash((keyword, value)))}.conf"
    path.write_text(render(where, keyword, value))
    k_rc, k_err = keepalived_t(node, path)
    res = load(path, "node1", interface_exists={"eth0", "lo"}.__contains__)
    assert (k_rc == 0) == res.ok, (
        f"{keyword} {value!r}: keepalived -t exit {k_rc}: {k_err}\n"
        f"vipkeeper: {[d.format() for d in res.diagnostics]}"
    )


@pytest.mark.parametrize("name", sorted(TRACK_PROCESS))
def test_track_process_exit_code_alike(node: Node, name: str) -> None:
    """track_process blocks and entries: keepalived -t's verdict and exit code."""
    path = Path(node.lab.workdir) / f"tp-{name}.conf"
    path.write_text(TRACK_PROCESS[name])
    k_rc, k_err = keepalived_t(node, path)
    res = load(path, "node1", interface_exists={"eth0", "lo"}.__contains__)
    assert k_rc == res.exit_code, (
        f"{name}: keepalived -t exit {k_rc}: {k_err}\n"
        f"vipkeeper {res.exit_code}: {[d.format() for d in res.diagnostics]}"
    )
