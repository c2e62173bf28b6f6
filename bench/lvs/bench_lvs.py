"""LVS benchmarks: CPU to health-check 1,000 real servers every second, and reconcile time.

    .venv/bin/python bench/lvs/bench_lvs.py [--servers 1000] [--seconds 30] [--keepalived]
        [--services 500] [--backend auto|nftables|ipvs]

Builds a throwaway namespace lab (runtime/tests/netlab.py): a real-server namespace listening
on N TCP ports (it accepts and closes), and a director namespace where the checker runs with
one TCP_CHECK per real server (delay_loop 1, connect_timeout 1, warmup 1). CPU is the checker
process's user+system time over the measuring window, as a share of one core.

- vipkeeper: LvsManager with an in-memory dataplane (the checks are what is measured).
- keepalived (--keepalived): its checker process (`keepalived -C`) on the same config; it
  needs IPVS, so this runs only where the kernel has ip_vs (the lab VM, see docs/performance.md).

The reconcile benchmark programs `--services` services with 3 real servers each through the
real dataplane in a fresh namespace: from empty, a no-op re-plan, one weight change per
service, and deletion of all. Prints one JSON object.
"""

from __future__ import annotations

import argparse
import asyncio
import faulthandler
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from ipaddress import ip_address
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "runtime" / "tests"))
sys.path.insert(0, str(ROOT / "runtime" / "src"))

BASE_PORT = 20000
RS_ADDR = "10.213.1.11"
VIP = "10.213.2.100"


# ---------------------------------------------------------------- children (run in namespaces)


def _raise_nofile() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _serve(ports: int, count_file: str) -> None:
    """Accept and close on `ports` ports; keep the number of accepted connections in a file."""
    _raise_nofile()
    accepted = 0

    async def handle(_r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        nonlocal accepted
        accepted += 1
        w.close()

    for i in range(ports):
        await asyncio.start_server(handle, "0.0.0.0", BASE_PORT + i, backlog=64)
    print("ready", flush=True)
    while True:
        Path(count_file + ".tmp").write_text(str(accepted))
        os.replace(count_file + ".tmp", count_file)
        await asyncio.sleep(0.1)


def _rusage() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def _accepted(count_file: str) -> int:
    return int(Path(count_file).read_text() or 0)


async def _vipkeeper_load(
    servers: int, seconds: float, warmup: float, count_file: str
) -> dict[str, float]:
    from vipkeeper.config.model import Config, RealServer, TcpCheck, VirtualServer
    from vipkeeper.lvs.dataplane import FakeDataplane
    from vipkeeper.lvs.manager import LvsManager, all_loops

    _raise_nofile()
    # warmup 1 spreads the first checks over a second, as keepalived's default (= delay_loop)
    check = TcpCheck(
        connect_timeout=1.0, delay_loop=1.0, retry=1, delay_before_retry=1.0, warmup=1.0
    )
    rss = tuple(
        RealServer(address=ip_address(RS_ADDR), port=BASE_PORT + i, checkers=(check,))
        for i in range(servers)
    )
    vs = VirtualServer(address=ip_address(VIP), port=80, lb_algo="rr", real_servers=rss)
    mgr = LvsManager(Config(virtual_servers=(vs,)), backend=FakeDataplane(), bootstrap=0.0)
    await mgr.start()
    await asyncio.sleep(warmup)
    loops = all_loops(mgr.virtual_servers)
    n0 = _accepted(count_file)
    a0, f0, c0, t0 = (
        sum(x.attempts for x in loops),
        sum(x.failures for x in loops),
        _rusage(),
        time.monotonic(),
    )
    await asyncio.sleep(seconds)
    n1 = _accepted(count_file)
    a1, f1, c1, t1 = (
        sum(x.attempts for x in loops),
        sum(x.failures for x in loops),
        _rusage(),
        time.monotonic(),
    )
    await mgr.stop()
    wall = t1 - t0
    return {
        "cpu_percent": round(100 * (c1 - c0) / wall, 2),
        "checks_per_second": round((a1 - a0) / wall, 1),
        "server_accepts_per_second": round((n1 - n0) / wall, 1),
        "failed_checks": f1 - f0,
        "alive": sum(1 for x in loops if x.up),
    }


async def _reconcile(services: int) -> dict[str, float]:
    from vipkeeper.lvs.dataplane import open_backend
    from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, state
    from vipkeeper.lvs.reconcile import plan

    backend = await open_backend(os.environ.get("VK_BENCH_BACKEND", "auto"))

    def table(weight_bump: int) -> dict:  # type: ignore[type-arg]
        out = {}
        for i in range(services):
            key = ServiceKey(
                family=4, protocol="TCP", address=f"10.213.{100 + i // 250}.{1 + i % 250}", port=80
            )
            dests = [
                Dest(DestKey(f"10.213.1.{11 + j}", 8080), 1 + j + (weight_bump if j == 0 else 0))
                for j in range(3)
            ]
            out[key] = state(Service(key, "wrr"), dests)
        return out

    async def timed(desired: dict) -> tuple[float, int]:  # type: ignore[type-arg]
        start = time.perf_counter()
        ops = plan(backend.normalize(desired), await backend.read())
        await backend.apply(ops)
        return time.perf_counter() - start, len(ops)

    result: dict[str, float] = {"backend": backend.name}  # type: ignore[dict-item]
    result["create_s"], result["create_ops"] = await timed(table(0))
    result["noop_s"], result["noop_ops"] = await timed(table(0))
    result["reweight_s"], result["reweight_ops"] = await timed(table(1))
    result["delete_s"], result["delete_ops"] = await timed({})
    backend.close()
    return {k: round(v, 4) if isinstance(v, float) else v for k, v in result.items()}


# ---------------------------------------------------------------- parent


def _keepalived_load(  # type: ignore[no-untyped-def]
    director, servers: int, seconds: float, warmup: float, *, workdir: str, count_file: str
) -> dict[str, float]:
    lines = ["global_defs {", "    router_id vk_bench", "}", f"virtual_server {VIP} 80 {{"]
    lines += ["    delay_loop 1", "    warmup 1", "    lb_algo rr", "    lb_kind NAT"]
    lines += ["    protocol TCP"]
    for i in range(servers):
        lines += [f"    real_server {RS_ADDR} {BASE_PORT + i} {{", "        TCP_CHECK {"]
        lines += ["            connect_timeout 1", "        }", "    }"]
    lines.append("}")
    conf = Path(workdir) / "keepalived.conf"
    conf.write_text("\n".join(lines) + "\n")
    cpid = Path(workdir) / "c.pid"
    proc = director.popen(["keepalived", "-n", "-C", "-D", "-f", str(conf), "-p",
                           f"{workdir}/k.pid", "-c", str(cpid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.monotonic() + 20
    while not cpid.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    pid = int(cpid.read_text())
    time.sleep(warmup)

    def cpu() -> float:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    c0, n0, t0 = cpu(), _accepted(count_file), time.monotonic()
    time.sleep(seconds)
    c1, n1, t1 = cpu(), _accepted(count_file), time.monotonic()
    from netlab import stop_process

    stop_process(proc)
    return {
        "cpu_percent": round(100 * (c1 - c0) / (t1 - t0), 2),
        "server_accepts_per_second": round((n1 - n0) / (t1 - t0), 1),
    }


def main() -> int:
    if len(sys.argv) > 1 and sys.argv[1].startswith("_"):
        cmd = sys.argv[1]
        if cmd == "_serve":
            asyncio.run(_serve(int(sys.argv[2]), sys.argv[3]))
        elif cmd == "_vipkeeper":
            faulthandler.dump_traceback_later(float(sys.argv[3]) + float(sys.argv[4]) + 60)
            n, secs, warm, count_file = sys.argv[2:6]
            res = asyncio.run(_vipkeeper_load(int(n), float(secs), float(warm), count_file))
            print(json.dumps(res))
        elif cmd == "_reconcile":
            print(json.dumps(asyncio.run(_reconcile(int(sys.argv[2])))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--servers", type=int, default=1000)
    ap.add_argument("--seconds", type=float, default=30)
    ap.add_argument("--warmup", type=float, default=5)
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--keepalived", action="store_true")
    ap.add_argument("--backend", default="auto")
    args = ap.parse_args()
    from netlab import NetLab

    me = [sys.executable, str(Path(__file__).resolve())]
    out: dict[str, object] = {"servers": args.servers, "seconds": args.seconds}
    with NetLab() as lab:
        director = lab.add_node("dir", addrs=["10.213.1.1/24"])
        rs = lab.add_node("rs", addrs=[f"{RS_ADDR}/24"])
        rs.run(["sysctl", "-qw", "net.core.somaxconn=4096"])
        count_file = os.path.join(lab.workdir, "accepted")
        server = rs.popen([*me, "_serve", str(args.servers), count_file], stdout=subprocess.PIPE)
        assert server.stdout is not None
        server.stdout.readline()
        for sysctl in ("net.ipv4.ip_local_port_range=10000 60999", "net.ipv4.tcp_tw_reuse=1"):
            director.run(["sysctl", "-qw", sysctl])
        load = [*me, "_vipkeeper", str(args.servers), str(args.seconds), str(args.warmup)]
        load.append(count_file)
        res = director.run(load, timeout=args.seconds + args.warmup + 120)
        out["vipkeeper"] = json.loads(res.stdout)
        if args.keepalived:
            workdir = tempfile.mkdtemp(prefix="vk-bench-", dir=lab.workdir)
            out["keepalived"] = _keepalived_load(
                director,
                args.servers,
                args.seconds,
                args.warmup,
                workdir=workdir,
                count_file=count_file,
            )
        recon = lab.add_node("recon")
        env = dict(os.environ, VK_BENCH_BACKEND=args.backend)
        res = recon.run([*me, "_reconcile", str(args.services)], timeout=600, env=env)
        out["reconcile"] = {"services": args.services, **json.loads(res.stdout)}
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
