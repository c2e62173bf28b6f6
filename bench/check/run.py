#!/usr/bin/env python3
"""Benchmark `vipkeeper check` against `keepalived -t` on a generated config.

Generates a keepalived.conf with 1,000 vrrp_instances and 200 virtual_servers (or, with
`--small`, 3 instances and 1 virtual_server: 87 lines, where start-up and imports dominate),
creates a throwaway network namespace that has the interfaces the config names, and times both
checkers on it, taking turns (wall clock of the whole command and CPU of the child, several
repetitions, median reported).

    sudo .venv/bin/python bench/check/run.py [--reps 7] [--instances 1000] [--servers 200]
    sudo .venv/bin/python bench/check/run.py --small --reps 21

Writes bench/results/check.json (check-small.json with --small) and prints a Markdown table for
docs/performance.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "vkcb"
IFACES_PER_VRID_SPACE = 250  # VRIDs must be unique per interface: 250 instances per link


def generate(
    instances: int, servers: int, per_link: int = IFACES_PER_VRID_SPACE
) -> tuple[str, list[str]]:
    """The config text and the interfaces it needs (`per_link` instances on each, at least 2)."""
    links = [f"eth{i}" for i in range(max(2, (instances + per_link - 1) // per_link))]
    out = [
        "global_defs {\n    router_id bench\n    vrrp_garp_master_delay 2\n}\n",
    ]
    for i in range(instances):
        link = links[i // per_link]
        vrid = i % per_link + 1
        a, b = divmod(i, 250)
        out.append(
            f"vrrp_instance VI_{i} {{\n"
            f"    state {'MASTER' if i % 2 else 'BACKUP'}\n"
            f"    interface {link}\n"
            f"    virtual_router_id {vrid}\n"
            f"    priority {100 + i % 100}\n"
            "    advert_int 1\n"
            "    authentication {\n        auth_type PASS\n        auth_pass bench\n    }\n"
            "    virtual_ipaddress {\n"
            f"        10.213.{a}.{b + 1}/16 dev {link}\n"
            f"        10.214.{a}.{b + 1}/16\n"
            "    }\n"
            "    track_interface {\n"
            f"        {links[(i // per_link + 1) % len(links)]} weight -10\n"
            "    }\n"
            "}\n"
        )
    for s in range(servers):
        a, b = divmod(s, 250)
        out.append(
            f"virtual_server 10.215.{a}.{b + 1} 80 {{\n"
            "    delay_loop 6\n    lb_algo wrr\n    lb_kind DR\n    protocol TCP\n"
            "    persistence_timeout 60\n"
        )
        for r in range(2):
            out.append(
                f"    real_server 10.216.{a}.{(b * 2 + r) % 250 + 1} 80 {{\n"
                "        weight 1\n"
                "        HTTP_GET {\n            url {\n                path /health\n"
                "                status_code 200\n            }\n"
                "            connect_timeout 3\n            retry 2\n        }\n"
                "    }\n"
            )
        out.append("}\n")
    return "".join(out), links


def ip(*args: str, check: bool = True) -> None:
    subprocess.run(["ip", *args], check=check, capture_output=True)


def cleanup_stale() -> None:
    """Remove benchmark namespaces whose owning process is gone."""
    listing = subprocess.run(
        ["ip", "netns", "list"], check=False, capture_output=True, text=True
    ).stdout
    for line in listing.splitlines():
        m = re.match(rf"^({PREFIX}-(\d+))\b", line)
        if m:
            try:
                os.kill(int(m.group(2)), 0)
            except ProcessLookupError:
                ip("netns", "delete", m.group(1), check=False)


def child_env() -> dict[str, str]:
    """The environment of the checkers: this checkout's runtime (not whichever one the venv has
    installed), with its bytecode cached as an installed package has it (pip compiles at install),
    so that every timed run is a warm start rather than a compile of the whole package."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPATH"] = str(ROOT / "runtime" / "src")
    return env


def time_once(argv: list[str]) -> tuple[float, float, int, str]:
    """Wall-clock and CPU (user+sys of the child processes) seconds of one run, exit, stderr."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, check=False, capture_output=True, text=True, timeout=600, env=child_env()
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    return wall, cpu, proc.returncode, proc.stderr


def import_time(conf: Path, ns: str) -> tuple[float, list[str]]:
    """Cumulative import time (s) of `vipkeeper check` (python -X importtime), and whether it
    imported asyncio, pyroute2 or vipkeeper.daemon (the modules `check` must not load)."""
    argv = [sys.executable, "-X", "importtime", "-m", "vipkeeper.cli", "check", "-f", str(conf)]
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, *argv],
        check=False,
        capture_output=True,
        text=True,
        env=child_env(),
    )
    total, heavy = 0, []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+\d+ \|\s+(\d+) \| (\s*)(\S+)", line)
        if not m:
            continue
        if not m.group(2):  # a top-level import: its cumulative time counts once
            total += int(m.group(1))
        name = m.group(3)
        for root in ("asyncio", "pyroute2", "vipkeeper.daemon"):
            if name == root or name.startswith(root + "."):
                heavy.append(root)
    return total / 1e6, heavy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--instances", type=int, default=1000)
    parser.add_argument("--servers", type=int, default=200)
    parser.add_argument(
        "--small", action="store_true", help="3 instances on 2 links and 1 virtual_server"
    )
    args = parser.parse_args()
    per_link = IFACES_PER_VRID_SPACE
    if args.small:
        args.instances, args.servers, per_link = 3, 1, 2
    if os.geteuid() != 0:
        print("needs root (network namespace)", file=sys.stderr)
        return 2
    cleanup_stale()
    text, links = generate(args.instances, args.servers, per_link)
    ns = f"{PREFIX}-{os.getpid()}"
    workdir = Path(tempfile.mkdtemp(prefix=f"{ns}-"))
    conf = workdir / "keepalived.conf"
    conf.write_text(text)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ip("netns", "add", ns)
    try:
        for link in links:
            ip("-n", ns, "link", "add", link, "type", "bridge")
            ip("-n", ns, "link", "set", link, "up")
        vipkeeper = [sys.executable, "-m", "vipkeeper.cli", "check", "-f", str(conf)]
        keepalived = ["keepalived", "-t", "-f", str(conf)]
        commands = {"vipkeeper check": vipkeeper, "keepalived -t": keepalived}
        for argv in commands.values():  # warm-up, not counted: writes vipkeeper's bytecode
            time_once(["ip", "netns", "exec", ns, *argv])
        runs: dict[str, tuple[list[float], list[float]]] = {n: ([], []) for n in commands}
        for _ in range(args.reps):  # taking turns, so that a load spike hits both
            for name, argv in commands.items():
                wall, cpu, rc, err = time_once(["ip", "netns", "exec", ns, *argv])
                if rc != 0:
                    head = "\n".join(err.splitlines()[:10])
                    print(f"{name} rejected the config (exit {rc}):\n{head}", file=sys.stderr)
                    return 1
                runs[name][0].append(wall)
                runs[name][1].append(cpu)
        results = {
            name: {
                "median_s": statistics.median(times),
                "runs_s": times,
                "median_cpu_s": statistics.median(cpus),
                "cpu_s": cpus,
                "exit": 0,
            }
            for name, (times, cpus) in runs.items()
        }
        imports = [import_time(conf, ns) for _ in range(args.reps)]
        import_s = statistics.median(t for t, _ in imports)
        heavy = sorted({m for _, h in imports for m in h})
    finally:
        ip("netns", "delete", ns, check=False)
        subprocess.run(["rm", "-rf", str(workdir)], check=False)
    ratio = results["vipkeeper check"]["median_s"] / results["keepalived -t"]["median_s"]
    cpu_ratio = (
        results["vipkeeper check"]["median_cpu_s"] / results["keepalived -t"]["median_cpu_s"]
    )
    report = {
        "instances": args.instances,
        "virtual_servers": args.servers,
        "config_bytes": len(text),
        "config_lines": text.count("\n"),
        "reps": args.reps,
        "results": results,
        "ratio_vipkeeper_over_keepalived": ratio,
        "cpu_ratio_vipkeeper_over_keepalived": cpu_ratio,
        "vipkeeper_import_s": import_s,
        "vipkeeper_heavy_imports": heavy,
        "python": platform.python_version(),
        "keepalived": subprocess.run(
            ["keepalived", "--version"], check=False, capture_output=True, text=True
        ).stderr.splitlines()[0],
        "cpus": os.cpu_count(),
    }
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / ("check-small.json" if args.small else "check.json")).write_text(
        json.dumps(report, indent=2) + "\n"
    )
    print(
        f"config: {args.instances} vrrp_instances, {args.servers} virtual_servers "
        f"({report['config_lines']} lines, {report['config_bytes']} bytes), {args.reps} runs each\n"
    )
    print("| command | median wall | min wall | max wall | median CPU |\n|---|---|---|---|---|")
    for name, r in results.items():
        runs = r["runs_s"]
        print(
            f"| `{name}` | {r['median_s']:.3f} s | {min(runs):.3f} s | {max(runs):.3f} s "
            f"| {r['median_cpu_s']:.3f} s |"
        )
    print(f"\nratio vipkeeper / keepalived (median wall): {ratio:.2f}")
    print(f"ratio vipkeeper / keepalived (median CPU): {cpu_ratio:.2f}")
    print(f"vipkeeper check imports (python -X importtime, median): {import_s * 1000:.1f} ms")
    print(f"of which asyncio, pyroute2, vipkeeper.daemon: {', '.join(heavy) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
