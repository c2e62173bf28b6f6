"""The seed scenarios rendered into golden files (golden/<scenario>/<host>.conf)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import (
    HostFacts,
    host_facts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    Plan,
    Settings,
    plan,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import render_host
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars

GOLDEN = Path(__file__).parent / "golden"


@dataclass(frozen=True)
class Scenario:
    """Hosts with their interfaces, the clusters, and the hosts whose config is golden."""

    name: str
    hosts: dict[str, dict[str, tuple[str | None, str | None]]]
    clusters: list[dict[str, Any]]
    render: tuple[str, ...]
    settings: Settings = field(default_factory=Settings)
    secrets: dict[str, str] = field(default_factory=dict)

    def facts(self) -> dict[str, HostFacts]:
        return {
            name: host_facts(name, hostvars(name, ifaces), set(ifaces))
            for name, ifaces in self.hosts.items()
        }

    def plan(self) -> Plan:
        return plan(self.clusters, self.facts(), self.settings, secrets=self.secrets)

    def rendered(self, host: str) -> str:
        return render_host(self.plan(), host)

    def golden(self, host: str) -> Path:
        return GOLDEN / self.name / f"{host}.conf"


def _pair(prefix: str, net: str, iface: str = "eth0", v6: str | None = None) -> dict[str, Any]:
    return {
        f"{prefix}{i}": {iface: (f"{net}.{10 + i}/24", f"{v6}::{10 + i}/64" if v6 else None)}
        for i in (1, 2)
    }


SCENARIOS = (
    Scenario(
        name="nginx",
        hosts=_pair("lb", "10.213.10"),
        clusters=[
            {
                "name": "web",
                "hosts": ["lb1", "lb2"],
                "interface": "eth0",
                "vips": ["10.213.10.100/24"],
                "track": [
                    {
                        "name": "nginx",
                        "script": "/usr/bin/pgrep -x nginx",
                        "interval": 2,
                        "fall": 2,
                        "rise": 1,
                        "weight": -30,
                    }
                ],
                "notify": {"master": "/usr/bin/logger -t vipkeeper web is master"},
            }
        ],
        render=("lb1", "lb2"),
        secrets={"web": "nginx-vault-secret"},
    ),
    Scenario(
        name="dual_master",
        hosts=_pair("lb", "10.213.11"),
        clusters=[
            {
                "name": "web_a",
                "hosts": ["lb1", "lb2"],
                "interface": "eth0",
                "vips": ["10.213.11.101/24"],
            },
            {
                "name": "web_b",
                "hosts": ["lb2", "lb1"],
                "interface": "eth0",
                "vips": ["10.213.11.102/24"],
            },
        ],
        render=("lb1", "lb2"),
        settings=Settings(mcast_unique=True, secret="site-secret"),
    ),
    Scenario(
        name="lvs_dr",
        hosts=_pair("dir", "10.213.12"),
        clusters=[
            {
                "name": "lvs",
                "hosts": ["dir1", "dir2"],
                "interface": "eth0",
                "vips": ["10.213.12.100/24"],
                "virtual_servers": [
                    {
                        "port": 80,
                        "protocol": "TCP",
                        "lb_algo": "wlc",
                        "lb_kind": "DR",
                        "delay_loop": 6,
                        "persistence_timeout": 50,
                        "real_servers": [
                            {
                                "address": f"10.213.12.{n}",
                                "port": 80,
                                "weight": 1,
                                "HTTP_GET": {
                                    "url": [{"path": "/healthz", "status_code": 200}],
                                    "connect_timeout": 3,
                                    "retry": 3,
                                    "delay_before_retry": 2,
                                },
                            }
                            for n in (21, 22)
                        ],
                    }
                ],
            }
        ],
        render=("dir1",),
    ),
    Scenario(
        name="mysql",
        hosts=_pair("db", "10.213.13", v6="fd00:213:13"),
        clusters=[
            {
                "name": "mysql",
                "hosts": ["db1", "db2"],
                "interface": "eth0",
                "vips": ["10.213.13.100/24", "fd00:213:13::100/64"],
                "preempt": False,
                "track": [
                    {
                        "name": "mysqld",
                        "script": "/usr/bin/pgrep -x mysqld",
                        "interval": 2,
                        "fall": 3,
                        "rise": 2,
                    }
                ],
            }
        ],
        render=("db1", "db2"),
        secrets={"mysql": "mysql-vault-secret"},
    ),
    Scenario(
        name="cloud_unicast",
        hosts={
            "cloud1": {"ens5": ("10.213.31.10/24", None), "ens6": (None, None)},
            "cloud2": {"ens5": ("10.213.32.10/24", None), "ens6": (None, None)},
        },
        clusters=[
            {
                "name": "api",
                "hosts": ["cloud1", "cloud2"],
                "interface": "ens5",
                "vips": ["10.213.30.50/32"],
                "unicast": True,
                "check_vip_network": False,
                "version": 3,
                "track_interfaces": [{"name": "ens6", "weight": -20}],
            }
        ],
        render=("cloud1", "cloud2"),
        secrets={"api": "unused-in-v3"},
    ),
)

CASES = [(s, h) for s in SCENARIOS for h in s.render]
CASE_IDS = [f"{s.name}-{h}" for s, h in CASES]
