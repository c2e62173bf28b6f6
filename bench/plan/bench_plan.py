"""Planning and rendering for a site of N clusters of 3 hosts (default 1,000 clusters).

    .venv/bin/python bench/plan/bench_plan.py [--clusters 1000] [--per-domain 100] [--repeat 5]

The clusters share broadcast domains (`--per-domain` clusters per /22), so VRID allocation
really probes. Prints one line per step (best and median of --repeat runs) and writes
bench/results/plan.json.
"""

from __future__ import annotations

import argparse
import atexit
import ipaddress
import json
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def _import_collection() -> None:
    """Make `ansible_collections.vipkeeper.vrrp` importable from this checkout."""
    scratch = tempfile.mkdtemp(prefix="vkbench-")
    atexit.register(shutil.rmtree, scratch, ignore_errors=True)
    tree = Path(scratch) / "ansible_collections" / "vipkeeper"
    tree.mkdir(parents=True)
    (tree / "vrrp").symlink_to(ROOT)
    sys.path.insert(0, str(tree.parent.parent))


_import_collection()

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    collect_facts,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    Settings,
    plan,
    plan_from_dict,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import (
    render_host,
)


def site(clusters: int, per_domain: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Inventory clusters and Ansible-shaped hostvars for the site."""
    spec: list[dict[str, Any]] = []
    hostvars: dict[str, Any] = {}
    for index in range(clusters):
        domain, slot = divmod(index, per_domain)
        net = ipaddress.ip_network(f"10.{100 + domain // 64}.{(domain % 64) * 4}.0/22")
        base = int(net.network_address)
        names = []
        for member in range(3):
            name = f"c{index:04}h{member}"
            address = ipaddress.ip_address(base + 10 + slot * 4 + member)
            hostvars[name] = {
                "ansible_facts": {
                    "interfaces": ["lo", "eth0"],
                    "eth0": {"ipv4": {"address": str(address), "prefix": "22"}, "ipv6": []},
                }
            }
            names.append(name)
        vip = ipaddress.ip_address(base + 10 + slot * 4 + 3)
        spec.append(
            {
                "name": f"svc{index:04}",
                "hosts": names,
                "interface": "eth0",
                "vips": [f"{vip}/22"],
                "unicast": index % 5 == 0,
                "track": [{"name": "app", "script": "/usr/bin/pgrep -x app", "weight": -30}],
            }
        )
    return spec, hostvars


def timed(fn: Callable[[], Any], repeat: int) -> tuple[Any, list[float]]:
    runs = []
    result = None
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        runs.append(time.perf_counter() - start)
    return result, runs


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clusters", type=int, default=1000)
    parser.add_argument("--per-domain", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    clusters, hostvars = site(args.clusters, args.per_domain)
    settings = Settings(mcast_unique=True, secret="bench-secret")
    facts, t_facts = timed(lambda: collect_facts(clusters, hostvars), args.repeat)
    the_plan, t_plan = timed(lambda: plan(clusters, facts, settings), args.repeat)
    lock = the_plan.lock()
    _, t_locked = timed(lambda: plan(clusters, facts, settings, lock=lock), args.repeat)
    data = the_plan.to_dict(redact=False)
    _, t_dict = timed(lambda: plan_from_dict(data), args.repeat)
    hosts = list(hostvars)
    configs, t_render = timed(lambda: [render_host(the_plan, h) for h in hosts], 1)

    results = {
        "clusters": args.clusters,
        "hosts": len(hosts),
        "clusters_per_domain": args.per_domain,
        "facts_s": t_facts,
        "plan_s": t_plan,
        "plan_with_lock_s": t_locked,
        "plan_from_dict_s": t_dict,
        "render_all_hosts_s": t_render,
        "render_per_host_ms": t_render[0] / len(hosts) * 1000,
        "config_bytes_total": sum(len(c) for c in configs),
    }
    rows = [
        ("facts extraction (all hosts)", t_facts),
        ("plan (all clusters)", t_plan),
        ("plan with the lock", t_locked),
        ("plan_from_dict (render fast path)", t_dict),
        (f"render {len(hosts)} host configs", t_render),
    ]
    print(f"{args.clusters} clusters x 3 hosts, {args.per_domain} clusters per domain")
    for label, runs in rows:
        print(f"  {label:<36} best {min(runs):7.3f} s   median {statistics.median(runs):7.3f} s")
    print(f"  render per host                      {results['render_per_host_ms']:7.2f} ms")
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "plan.json").write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
