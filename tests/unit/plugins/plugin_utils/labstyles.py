"""The hand-written keepalived styles of the migration lab test
(tests/integration/collection/test_migrate_lab.py), in one fleet of three hosts, so that the
round-trip unit test (test_import_roundtrip.py) checks the very configs the lab migrates.

Every host runs one keepalived.conf holding its part of four clusters:

- an nginx-style pair: VI_1, VRID 51, VRRPv2 with the password `oldpass1`, a vrrp_script;
  lb1 150, lb2 100;
- a 3-node unicast cluster: api, VRID 7, VRRPv3, unicast_src_ip and unicast_peer; lb1 150,
  lb2 120, lb3 100;
- a dual-stack sync group: DB (IPv4, v2) and DB_v6 (IPv6, v3), VRID 20, vrrp_sync_group
  DB_group; lb2 120, lb3 110;
- an LVS DR pair with checkers: LVS, VRID 60, a virtual_server with an HTTP_GET and a
  TCP_CHECK real server; lb1 150, lb3 100.

The names are those the import derives (the dual-stack cluster's IPv6 instance `<cluster>_v6`,
its sync group `<cluster>_group`), so the rolling step finds every master by its instance name.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Cluster:
    """One VRRP domain of the fleet: what the lab probes and captures."""

    label: str
    instance: str
    vrid: int
    family: int  # 4 or 6
    version: int
    priorities: dict[str, int]  # host -> priority; the highest is the master
    vip: str  # the key of LabNet.vips

    @property
    def master(self) -> str:
        return max(self.priorities, key=self.priorities.__getitem__)

    @property
    def best_backup(self) -> int:
        return sorted(self.priorities.values())[-2]


CLUSTERS = (
    Cluster("nginx", "VI_1", 51, 4, 2, {"lb1": 150, "lb2": 100}, "nginx"),
    Cluster("unicast", "api", 7, 4, 3, {"lb1": 150, "lb2": 120, "lb3": 100}, "unicast"),
    Cluster("dual-v4", "DB", 20, 4, 2, {"lb2": 120, "lb3": 110}, "dual4"),
    Cluster("dual-v6", "DB_v6", 20, 6, 3, {"lb2": 120, "lb3": 110}, "dual6"),
    Cluster("lvs", "LVS", 60, 4, 2, {"lb1": 150, "lb3": 100}, "lvs"),
)
HOSTS = ("lb1", "lb2", "lb3")
LVS_HOSTS = ("lb1", "lb3")  # their keepalived runs with --vrrp where the kernel has no ip_vs


@dataclass(frozen=True)
class LabNet:
    """The addresses: `v4` per host and the client (no prefix length), `v6` per dual-stack
    member and the client (no prefix length), and the VIPs with their prefix length."""

    interface: str
    v4: dict[str, str]
    v6: dict[str, str]
    vips: dict[str, str]  # nginx, unicast, dual4, dual6, lvs


def _state(cluster: Cluster, host: str) -> str:
    return "MASTER" if cluster.master == host else "BACKUP"


def _global_defs(host: str, scripts: bool) -> str:
    security = "  script_user root\n  enable_script_security\n" if scripts else ""
    return f"global_defs {{\n  router_id {host.upper()}\n{security}}}\n"


def _nginx(net: LabNet, host: str) -> str:
    c = CLUSTERS[0]
    return f"""\
vrrp_script chk_nginx {{
  script "/bin/true"
  interval 2
  weight -30
}}
vrrp_instance VI_1 {{
  state {_state(c, host)}
  interface {net.interface}
  virtual_router_id 51
  priority {c.priorities[host]}
  advert_int 1
  authentication {{
    auth_type PASS
    auth_pass oldpass1
  }}
  virtual_ipaddress {{
    {net.vips["nginx"]}
  }}
  track_script {{
    chk_nginx
  }}
}}
"""


def _unicast(net: LabNet, host: str) -> str:
    c = CLUSTERS[1]
    peers = "".join(f"    {net.v4[h]}\n" for h in c.priorities if h != host)
    return f"""\
vrrp_instance api {{
  state {_state(c, host)}
  interface {net.interface}
  virtual_router_id 7
  version 3
  priority {c.priorities[host]}
  advert_int 1
  unicast_src_ip {net.v4[host]}
  unicast_peer {{
{peers}  }}
  virtual_ipaddress {{
    {net.vips["unicast"]}
  }}
}}
"""


def _dual(net: LabNet, host: str) -> str:
    c = CLUSTERS[2]
    return f"""\
vrrp_sync_group DB_group {{
  group {{
    DB
    DB_v6
  }}
}}
vrrp_instance DB {{
  state {_state(c, host)}
  interface {net.interface}
  virtual_router_id 20
  priority {c.priorities[host]}
  advert_int 1
  virtual_ipaddress {{
    {net.vips["dual4"]}
  }}
}}
vrrp_instance DB_v6 {{
  state {_state(c, host)}
  interface {net.interface}
  virtual_router_id 20
  version 3
  priority {c.priorities[host]}
  advert_int 1
  virtual_ipaddress {{
    {net.vips["dual6"]}
  }}
}}
"""


def _lvs(net: LabNet, host: str) -> str:
    c = CLUSTERS[4]
    vip = net.vips["lvs"].split("/")[0]
    return f"""\
vrrp_instance LVS {{
  state {_state(c, host)}
  interface {net.interface}
  virtual_router_id 60
  priority {c.priorities[host]}
  advert_int 1
  virtual_ipaddress {{
    {net.vips["lvs"]}
  }}
}}
virtual_server {vip} 80 {{
  delay_loop 6
  lb_algo rr
  lb_kind DR
  protocol TCP
  real_server {net.v4["client"]} 80 {{
    weight 2
    HTTP_GET {{
      url {{
        path /
        status_code 200
      }}
      connect_timeout 3
      retry 2
    }}
  }}
  real_server {net.v4["lb2"]} 80 {{
    TCP_CHECK {{
      connect_timeout 2
      connect_port 22
    }}
  }}
}}
"""


def configs(net: LabNet) -> dict[str, str]:
    """Each host's hand-written keepalived.conf."""
    out = {}
    for host in HOSTS:
        parts = [f"! hand-written: {host}\n", _global_defs(host, host in CLUSTERS[0].priorities)]
        if host in CLUSTERS[0].priorities:
            parts.append(_nginx(net, host))
        if host in CLUSTERS[1].priorities:
            parts.append(_unicast(net, host))
        if host in CLUSTERS[2].priorities:
            parts.append(_dual(net, host))
        if host in CLUSTERS[4].priorities:
            parts.append(_lvs(net, host))
        out[host] = "".join(parts)
    return out


EXAMPLE = LabNet(
    interface="host0",
    v4={**{h: f"10.213.100.{11 + i}" for i, h in enumerate(HOSTS)}, "client": "10.213.100.50"},
    v6={"lb2": "fd6b:6b00:0:64::12", "lb3": "fd6b:6b00:0:64::13", "client": "fd6b:6b00:0:64::50"},
    vips={
        "nginx": "10.213.100.100/24",
        "unicast": "10.213.100.101/24",
        "dual4": "10.213.100.102/24",
        "dual6": "fd6b:6b00:0:64::100/64",
        "lvs": "10.213.100.103/24",
    },
)
