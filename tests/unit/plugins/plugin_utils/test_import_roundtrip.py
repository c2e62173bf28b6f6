"""The import's round trip: hand-written keepalived configs of several hosts are imported into
the inventory model, the imported inventory is planned and rendered with the collection's render
path, and each host's rendered config is loaded again. The runtime's structured dump of the
original and of the rendered config must be equal, apart from the differences listed in
`_canon` and `_explicit_source`, which mean the same to keepalived:
- the names the model derives: the IPv4 instance is named like the cluster, an IPv6 one
  `<cluster>_v6`, the sync group `<cluster>_group`, a vrrp_script `<cluster>_<name>`;
- a VIP without `dev` (the instance's interface) is rendered with `dev <interface>`;
- a unicast instance without `unicast_src_ip` (the interface's first address) is rendered with
  that address."""

from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    host_facts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.importer import (
    AUTH_VAR,
    import_fleet,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.kaexport import export
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    Settings,
    plan,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import (
    render_host,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils import labstyles
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars

config = pytest.importorskip("vipkeeper.config", reason="the runtime package is not installed")
dump = pytest.importorskip("vipkeeper.config.dump")

Addrs = Mapping[str, tuple[str | None, str | None]]


def _nginx(router_id: str, prio: int, state: str) -> str:
    return f"""
global_defs {{
  router_id {router_id}
  script_user root
  enable_script_security
}}
vrrp_script chk_nginx {{
  script "/usr/bin/pgrep -x nginx"
  interval 2
  fall 2
  rise 1
  weight -30
}}
vrrp_instance VI_1 {{
  state {state}
  interface eth0
  virtual_router_id 51
  priority {prio}
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass oldpass1
  }}
  virtual_ipaddress {{
    10.0.0.100/24 dev eth0 label eth0:1
  }}
  track_script {{
    chk_nginx
  }}
  notify_master "/usr/local/bin/on-master web"
  garp_master_delay 1
}}
"""


NGINX = {
    "lb1": ({"eth0": ("10.0.0.11/24", None)}, _nginx("LB1", 150, "MASTER")),
    "lb2": ({"eth0": ("10.0.0.12/24", None)}, _nginx("LB2", 100, "BACKUP")),
}


def _unicast_node(me: str, prio: int, all_addrs: list[str]) -> str:
    peers = "\n".join(f"    {a}" for a in all_addrs if a != me)
    return f"""
vrrp_instance api {{
  state BACKUP
  nopreempt
  interface ens5
  virtual_router_id 7
  version 3
  priority {prio}
  advert_int 0.5
  unicast_src_ip {me}
  unicast_peer {{
{peers}
  }}
  virtual_ipaddress {{
    10.1.0.50/24
  }}
  track_interface {{
    eth9 weight -20
  }}
}}
"""


_UNI = ["10.1.0.1", "10.1.0.2", "10.1.0.3"]
UNICAST3 = {
    f"n{i + 1}": (
        {"ens5": (f"{a}/24", None), "eth9": ("192.168.9.1/24", None)},
        _unicast_node(a, 200 - 50 * i, _UNI),
    )
    for i, a in enumerate(_UNI)
}


def _dual(prio: int, state: str) -> str:
    return f"""
vrrp_sync_group DB {{
  group {{
    DB_4
    DB_6
  }}
}}
vrrp_instance DB_4 {{
  state {state}
  interface eth0
  virtual_router_id 20
  priority {prio}
  virtual_ipaddress {{
    10.2.0.100/24
  }}
}}
vrrp_instance DB_6 {{
  state {state}
  interface eth0
  virtual_router_id 20
  version 3
  priority {prio}
  virtual_ipaddress {{
    fd00:2::100/64
  }}
}}
"""


DUAL = {
    "db1": ({"eth0": ("10.2.0.1/24", "fd00:2::1/64")}, _dual(120, "MASTER")),
    "db2": ({"eth0": ("10.2.0.2/24", "fd00:2::2/64")}, _dual(110, "BACKUP")),
}


def _lvs(prio: int, state: str) -> str:
    return f"""
global_defs {{
  lvs_flush
}}
vrrp_instance LVS {{
  state {state}
  interface eth0
  virtual_router_id 60
  priority {prio}
  virtual_ipaddress {{
    10.3.0.200/24
  }}
}}
virtual_server 10.3.0.200 80 {{
  delay_loop 6
  lb_algo rr
  lb_kind DR
  protocol TCP
  persistence_timeout 50
  real_server 10.3.0.21 80 {{
    weight 2
    HTTP_GET {{
      url {{
        path /healthz
        status_code 200
      }}
      connect_timeout 3
      retry 2
    }}
  }}
  real_server 10.3.0.22 80 {{
    TCP_CHECK {{
      connect_timeout 2
      connect_port 8080
    }}
  }}
}}
"""


LVS = {
    "dir1": ({"eth0": ("10.3.0.1/24", None)}, _lvs(150, "MASTER")),
    "dir2": ({"eth0": ("10.3.0.2/24", None)}, _lvs(100, "BACKUP")),
}


def _lab_fleet() -> dict[str, tuple[Addrs, str]]:
    """The migration lab's fleet (labstyles.py): four clusters over three hosts, one
    keepalived.conf each, at the example addresses."""
    net = labstyles.EXAMPLE
    texts = labstyles.configs(net)
    return {
        h: ({net.interface: (f"{net.v4[h]}/24", f"{net.v6[h]}/64" if h in net.v6 else None)}, t)
        for h, t in texts.items()
    }


LAB = _lab_fleet()
HANDWRITTEN = {
    "nginx": NGINX,
    "unicast3": UNICAST3,
    "dual_stack": DUAL,
    "lvs_dr": LVS,
    "migration_lab": LAB,
}


def _facts(name: str, addrs: Addrs) -> HostFacts:
    return host_facts(name, hostvars(name, dict(addrs)), set(addrs))


def _load(text: str, host: str, errors: tuple[str, ...] = ()) -> Any:
    """The model of `text`; the config must load with exactly the `errors` given (keepalived's
    corrected errors: it reports them, then runs with the correction the model holds)."""
    result = config.load_text(text, config_id=host)
    assert sorted(d.message for d in result.errors) == sorted(errors)
    assert result.config is not None
    return result.config


def _canon(cfg: Any, clusters: set[str]) -> dict[str, Any]:
    """The runtime's dump with the names the model derives replaced by stable ones."""
    data = dump.to_jsonable(cfg, locations=False)
    inst_names = {
        i["name"]: f"ipv{6 if ':' in i['virtual_ipaddresses'][0]['address'] else 4}"
        f"-{i['virtual_router_id']}"
        for i in data["vrrp_instances"]
    }

    def script(name: str) -> str:
        for c in sorted(clusters, key=len, reverse=True):
            if name.startswith(c + "_"):
                return name[len(c) + 1 :]
        return name

    for inst in data["vrrp_instances"]:
        inst["name"] = inst_names[inst["name"]]
        for vip in inst["virtual_ipaddresses"]:  # None is the instance's interface
            vip["dev"] = vip["dev"] or inst["interface"]
        inst["sync_group"] = "SG" if inst["sync_group"] else None
        for ref in inst["track_scripts"]:
            ref["name"] = script(ref["name"])
    for group in data["vrrp_sync_groups"]:
        group["name"] = "SG"
        group["group"] = sorted(inst_names[n] for n in group["group"])
    # keepalived frees a vrrp_script nothing tracks (vrrp.c, "script %s is not used"): it has
    # no meaning, and the render leaves it out
    tracked = {ref["name"] for inst in data["vrrp_instances"] for ref in inst["track_scripts"]}
    tracked |= {
        script(ref["name"]) for g in data["vrrp_sync_groups"] for ref in g.get("track_scripts", ())
    }
    data["vrrp_scripts"] = [s for s in data["vrrp_scripts"] if script(s["name"]) in tracked]
    for s in data["vrrp_scripts"]:
        s["name"] = script(s["name"])
    data["vrrp_instances"].sort(key=lambda i: i["name"])
    data["vrrp_scripts"].sort(key=lambda s: s["name"])
    data.pop("files", None)
    return data


def _explicit_source(data: dict[str, Any], facts: HostFacts) -> None:
    """keepalived sends unicast from the interface's first address when unicast_src_ip is
    not given; the render writes that address out."""
    for inst in data["vrrp_instances"]:
        if inst["unicast_peers"] and inst["unicast_src_ip"] is None:
            iface = facts.interface(inst["interface"])
            assert iface is not None
            fam = iface.ipv6 if ":" in inst["virtual_ipaddresses"][0]["address"] else iface.ipv4
            inst["unicast_src_ip"] = str(fam[0].ip)


def _differences(a: Any, b: Any, path: str = "") -> list[str]:
    """Where two dumps differ, as paths (the assertion's message)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [
            d
            for k in sorted(set(a) | set(b))
            for d in _differences(a.get(k), b.get(k), f"{path}.{k}")
        ]
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b)) for d in _differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


def roundtrip(
    fleet: Mapping[str, tuple[Addrs, str]], errors: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Import the fleet, render every host, and assert that the dumps are equal (each original
    loads with exactly `errors`, keepalived's corrected ones; the renders load clean)."""
    facts = {h: _facts(h, addrs) for h, (addrs, _text) in fleet.items()}
    originals = {h: _load(text, h, errors) for h, (_addrs, text) in fleet.items()}
    fragment = import_fleet({h: export(c) for h, c in originals.items()}, facts)
    passwords = fragment["secrets"][AUTH_VAR]
    clusters = []
    for cluster in fragment["vipkeeper_clusters"]:
        c = dict(cluster)
        if "auth_pass" in c:
            assert c["auth_pass"] == "{{ " + AUTH_VAR + "[" + repr(c["name"]) + "] }}"
            c["auth_pass"] = passwords[c["name"]]
        clusters.append(c)
    planned = plan(clusters, facts, Settings(), lock=fragment["lock"])
    assert planned.lock() == fragment["lock"]
    names = {c["name"] for c in clusters}
    for host in fleet:
        text = render_host(
            planned, host, global_defs=fragment["host_vars"][host]["vrrp_global_defs"]
        )
        rendered = _load(text, host)
        before = _canon(originals[host], names)
        _explicit_source(before, facts[host])
        after = _canon(rendered, names)
        assert after == before, (host, _differences(before, after), text)
    return fragment


@pytest.mark.parametrize("name", sorted(HANDWRITTEN))
def test_handwritten_roundtrip(name: str) -> None:
    fragment = roundtrip(HANDWRITTEN[name])
    assert fragment["unsupported"] == []


def test_nginx_pins_and_secrets() -> None:
    fragment = roundtrip(NGINX)
    (web,) = fragment["vipkeeper_clusters"]
    assert web["name"] == "VI_1"
    assert web["vrid"] == 51
    assert [h["name"] for h in web["hosts"]] == ["lb1", "lb2"]
    assert [(h["priority"], h["state"]) for h in web["hosts"]] == [(150, "MASTER"), (100, "BACKUP")]
    assert web["vip_options"] == {"10.0.0.100/24": "label eth0:1"}
    assert fragment["secrets"] == {AUTH_VAR: {"VI_1": "oldpass1"}}
    assert "oldpass1" not in repr(fragment["vipkeeper_clusters"])
    assert fragment["lock"] == {"VI_1": {"ipv4": {"vrid": 51}}}
    assert "vrrp_script chk_nginx -> VI_1_chk_nginx" in fragment["renamed"]


@pytest.mark.parametrize(
    "line", ["notify_deleted", 'notify_deleted "/usr/local/bin/on-deleted web"', None]
)
def test_notify_deleted_round_trips(line: str | None) -> None:
    """keepalived's `notify_deleted`, bare or with a command, makes a reload that removes the
    instance notify DELETED rather than FAULT: the import keeps it (and its absence)."""
    extra = f"\n  {line}" if line else ""
    fleet = {
        host: (addrs, text.replace("garp_master_delay 1", "garp_master_delay 1" + extra))
        for host, (addrs, text) in NGINX.items()
    }
    fragment = roundtrip(fleet)
    assert fragment["unsupported"] == []
    (web,) = fragment["vipkeeper_clusters"]
    options = web.get("instance_options") or {}
    for host in fleet:
        loaded = _load(fleet[host][1], host)
        assert loaded.vrrp_instances[0].notify.send_deleted is (line is not None)
    if line is None:
        assert "notify_deleted" not in repr(options)
    else:
        assert "notify_deleted" in repr(options)


def test_migration_lab_fleet_is_four_clusters() -> None:
    """The lab's hosts hold several clusters each; every instance keeps its name and VRID."""
    fragment = roundtrip(LAB)
    clusters = {c["name"]: c for c in fragment["vipkeeper_clusters"]}
    assert {n: c["vrid"] for n, c in clusters.items()} == {
        "VI_1": 51,
        "api": 7,
        "DB": 20,
        "LVS": 60,
    }
    for style in labstyles.CLUSTERS:
        if style.family == 6:
            continue
        hosts = clusters[style.instance]["hosts"]
        assert {h["name"]: h["priority"] for h in hosts} == style.priorities, style.label
    assert len(clusters["DB"]["vips"]) == 2
    # the sync group is always listed; its hand-written name is already the derived one
    assert sorted(fragment["renamed"]) == [
        "vrrp_script chk_nginx -> VI_1_chk_nginx",
        "vrrp_sync_group of cluster DB -> DB_group",
    ]
    assert fragment["secrets"] == {AUTH_VAR: {"VI_1": "oldpass1"}}


def test_dual_stack_is_one_cluster() -> None:
    fragment = roundtrip(DUAL)
    (db,) = fragment["vipkeeper_clusters"]
    assert db["vips"] == ["10.2.0.100/24", "fd00:2::100/64"]
    assert set(fragment["lock"]["DB_4"]) == {"ipv4", "ipv6"}


def test_unsupported_is_reported_by_name() -> None:
    text = NGINX["lb1"][1].replace(
        "garp_master_delay 1", "virtual_routes {\n 10.9.0.0/24 via 10.0.0.1 dev eth0\n}"
    )
    fleet = {"lb1": (NGINX["lb1"][0], text), "lb2": NGINX["lb2"]}
    facts = {h: _facts(h, a) for h, (a, _text) in fleet.items()}
    configs = {h: export(_load(t, h)) for h, (_addrs, t) in fleet.items()}
    fragment = import_fleet(configs, facts)
    assert "lb1: vrrp_instance VI_1: virtual_routes is not modelled" in fragment["unsupported"]
    assert any(
        "garp_master_delay differs" in u or "instance_options differs" in u
        for u in fragment["unsupported"]
    )


def test_track_process_is_reported() -> None:
    text = "vrrp_track_process nginx {\n  process nginx\n}\n" + NGINX["lb1"][1].replace(
        "garp_master_delay 1", "garp_master_delay 1\n  track_process {\n    nginx\n  }"
    )
    fleet = {"lb1": (NGINX["lb1"][0], text), "lb2": NGINX["lb2"]}
    facts = {h: _facts(h, a) for h, (a, _text) in fleet.items()}
    configs = {h: export(_load(t, h)) for h, (_addrs, t) in fleet.items()}
    fragment = import_fleet(configs, facts)
    assert "lb1: vrrp_instance VI_1: track_processes is not modelled" in fragment["unsupported"]
    assert "lb1: track_processes is not modelled" in fragment["unsupported"]


def test_vipkeeper_block_is_reported() -> None:
    text = "vipkeeper {\n  takeover_guard 0.03\n  conflict_interval 2\n}\n" + NGINX["lb1"][1]
    fleet = {"lb1": (NGINX["lb1"][0], text), "lb2": NGINX["lb2"]}
    facts = {h: _facts(h, a) for h, (a, _text) in fleet.items()}
    configs = {h: export(_load(t, h)) for h, (_addrs, t) in fleet.items()}
    fragment = import_fleet(configs, facts)
    assert fragment["unsupported"] == [
        "lb1: the vipkeeper { } block (conflict_interval, takeover_guard) is not imported:"
        " set vipkeeper_split_brain for this host once it runs vipkeeper"
    ]


def test_foreign_unicast_peer_is_reported() -> None:
    fleet = dict(UNICAST3)
    del fleet["n3"]
    facts = {h: _facts(h, a) for h, (a, _text) in fleet.items()}
    configs = {h: export(_load(t, h)) for h, (_addrs, t) in fleet.items()}
    fragment = import_fleet(configs, facts)
    assert any("unicast peers 10.1.0.3" in u for u in fragment["unsupported"])


def _generated(seed: int) -> dict[str, tuple[Addrs, str]]:
    """A random pair (or trio) of hosts sharing one or two VRRP domains."""
    rnd = random.Random(seed)
    n_hosts = rnd.choice([2, 2, 3])
    version = rnd.choice([2, 3])
    fleet: dict[str, tuple[Addrs, str]] = {}
    clusters = []
    for c in range(rnd.randint(1, 3)):
        clusters.append(
            {
                "vrid": rnd.randint(1, 255),
                "advert": rnd.choice([1, 2, 3]) if version == 2 else rnd.choice([0.5, 1, 1.5]),
                "preempt": rnd.choice([True, False]),
                "auth": version == 2 and rnd.random() < 0.5,
                "vips": [
                    f"10.5.0.{100 + c * 10 + k}/{rnd.choice([24, 32])}"
                    for k in range(rnd.randint(1, 3))
                ],
                "garp": rnd.choice([None, 1, 3]),
                "script": rnd.random() < 0.5,
                "weight": rnd.choice([0, -10, 20]),
                "unicast": rnd.random() < 0.3,
            }
        )
    seen = set()
    for c in clusters:  # distinct VRIDs in the one domain
        while c["vrid"] in seen:
            c["vrid"] = c["vrid"] % 255 + 1
        seen.add(c["vrid"])
    addrs = [f"10.5.0.{h + 1}" for h in range(n_hosts)]
    for h in range(n_hosts):
        parts = [f"global_defs {{\n  router_id R{h}\n}}\n"]
        for c_index, c in enumerate(clusters):
            if c["script"]:
                parts.append(
                    f'vrrp_script s{c_index} {{\n  script "/bin/true {c_index}"\n'
                    f"  interval 2\n  weight {c['weight']}\n}}\n"
                )
            state = "BACKUP" if not c["preempt"] or h else "MASTER"
            body = [
                f"vrrp_instance I{c_index} {{",
                f"  state {state}",
                "  interface eth0",
                f"  virtual_router_id {c['vrid']}",
                f"  priority {200 - 10 * h - c_index}",
                f"  advert_int {c['advert']}",
                f"  version {version}",
            ]
            if not c["preempt"]:
                body.append("  nopreempt")
            if c["auth"]:
                body += [
                    "  authentication {",
                    "    auth_type PASS",
                    f"    auth_pass p{c['vrid']}",
                    "  }",
                ]
            if c["unicast"]:
                body += ["  unicast_peer {", *[f"    {a}" for a in addrs if a != addrs[h]], "  }"]
            body += ["  virtual_ipaddress {", *[f"    {v}" for v in c["vips"]], "  }"]
            if c["script"]:
                body += ["  track_script {", f"    s{c_index}", "  }"]
            if c["garp"] is not None:
                body.append(f"  garp_master_delay {c['garp']}")
            body.append("}")
            parts.append("\n".join(body) + "\n")
        fleet[f"g{h}"] = ({"eth0": (f"{addrs[h]}/24", None)}, "\n".join(parts))
    return fleet


@pytest.mark.parametrize("seed", range(25))
def test_generated_roundtrip(seed: int) -> None:
    fleet = _generated(seed)
    fragment = roundtrip(fleet)
    assert fragment["unsupported"] == []
    assert len(fragment["vipkeeper_clusters"]) == fleet["g0"][1].count("vrrp_instance")


def _plan_errors(**cluster: Any) -> list[str]:
    from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
        PlanError,
    )

    facts = {
        h: _facts(h, {"eth0": (a, None)}) for h, a in (("a", "10.0.0.1/24"), ("b", "10.0.0.2/24"))
    }
    base = {"name": "c", "hosts": ["a", "b"], "interface": "eth0", "vips": ["10.0.0.9/24"]}
    try:
        plan([{**base, **cluster}], facts)
    except PlanError as exc:
        return list(exc.errors)
    return []


def test_pinned_auth_pass_and_vip_options_are_checked() -> None:
    assert _plan_errors(auth_pass="x" * 9) == ["cluster c: auth_pass is longer than 8 bytes"]
    assert _plan_errors(vip_options={"10.0.0.8/24": "label eth0:1"}) == [
        "cluster c: vip_options names 10.0.0.8/24, which is not one of its vips"
    ]
    assert _plan_errors(vip_options={"10.0.0.9/24": "label x }"}) == [
        "cluster c: vip_options 10.0.0.9/24 must be a line of options, got 'label x }'"
    ]
    assert _plan_errors(auth_pass="oldpass1", vip_options={"10.0.0.9/24": "dev eth1"}) == []


def _weighted_dual(flag: bool) -> dict[str, tuple[Addrs, str]]:
    script = 'vrrp_script chk {\n  script "/bin/true"\n  weight -20\n}\n'
    fleet = {}
    for host, (addrs, text) in DUAL.items():
        text = text.replace(
            "    DB_6\n  }\n",
            "    DB_6\n  }\n" + ("  sync_group_tracking_weight\n" if flag else ""),
        )
        text = text.replace(
            "  virtual_ipaddress {", "  track_script {\n    chk\n  }\n  virtual_ipaddress {"
        )
        fleet[host] = (addrs, script + text)
    return fleet


def test_sync_group_tracking_weight_round_trips() -> None:
    fragment = roundtrip(_weighted_dual(True))
    assert fragment["unsupported"] == []


def test_sync_group_without_tracking_weight_keeps_keepalived_meaning() -> None:
    """keepalived ignores a weighted script in a sync group without sync_group_tracking_weight:
    it says so (keepalived -t exits 5) and runs without it. The import keeps that meaning: the
    cluster tracks nothing, and its render means what keepalived ran."""
    ignored = tuple(
        f"({i}) ignoring tracked script chk with weights due to SYNC group"
        for i in ("DB_4", "DB_6")
    )
    fragment = roundtrip(_weighted_dual(False), ignored)
    for cluster in fragment["vipkeeper_clusters"]:
        assert not cluster.get("track"), cluster


def test_ssl_block_is_reported_once_and_sni_host_is_not() -> None:
    """The root SSL block is not modelled (reported per host); SSL_GET itself is imported."""
    ssl_get = "    SSL_GET {\n      enable_sni\n      url {\n        path /healthz\n      }\n    }"
    fleet = {}
    for host, (addrs, text) in LVS.items():
        text = text.replace("  persistence_timeout 50\n", "  virtualhost www.test\n")
        text = text.replace(
            "    TCP_CHECK {\n      connect_timeout 2\n",
            ssl_get + "\n    TCP_CHECK {\n      connect_timeout 2\n",
        )
        fleet[host] = (addrs, "SSL {\n  ca /etc/keepalived/ca.pem\n}\n" + text)
    facts = {h: _facts(h, a) for h, (a, _text) in fleet.items()}
    configs = {h: export(_load(t, h)) for h, (_addrs, t) in fleet.items()}
    fragment = import_fleet(configs, facts)
    unsupported = fragment["unsupported"]
    assert "dir1: ssl is not modelled" in unsupported
    assert "dir2: ssl is not modelled" in unsupported
    assert not [u for u in unsupported if "sni_host" in u or " tls " in u], unsupported
    (cluster,) = [c for c in fragment["vipkeeper_clusters"] if c.get("virtual_servers")]
    (vs,) = cluster["virtual_servers"]
    rs = next(r for r in vs["real_servers"] if r["address"] == "10.3.0.22")
    assert rs["SSL_GET"]["enable_sni"] is True
