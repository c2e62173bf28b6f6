"""The cost of VIP conflict detection at 100 VIPs: CPU and probe packets per second.

Run as root from the repository root:

    .venv/bin/python bench/conflict/run.py                 # 120 s per case (about 10 minutes)
    .venv/bin/python bench/conflict/run.py --window 10     # a harness check

Lab: node a runs the master of 100 instances (v2, advert_int 1 s, VRIDs 1..100, one /32 VIP
each) alone on the bridge; node c observes. Cases, one after the other on the same nodes:

- keepalived 2.2.7, idle master (the reference: it sends no probe);
- vipkeeper with `conflict_detection off`;
- vipkeeper with the default `conflict_interval 5`;
- vipkeeper with `conflict_interval 1` (the smallest allowed: the worst case).

For each: CPU (utime + stime from /proc over the window; keepalived's parent plus VRRP child),
VmRSS at the end, the ARP probes from a seen on the wire by c per second (tcpdump), and the
daemon's own `probes_sent` per second. A conflict seen in a case with no second holder is a
false positive, and is reported.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "daemon"))

from harness import (
    CLK_TCK,
    Keepalived,
    Vipkeeper,
    cpu_ticks,
    group_conf,
    load_average,
    rss_kib,
    run_record,
    vip_of,
)
from netlab import NetLab, Node, wait_for

from vipkeeper.daemon.control import request

COUNT = 100
ADVERT = 1.0
CASES: tuple[tuple[str, str | None], ...] = (
    ("keepalived", None),
    ("vipkeeper", "conflict_detection off"),
    ("vipkeeper", "conflict_interval 5"),
    ("vipkeeper", "conflict_interval 1"),
)


class ProbeCount:
    """tcpdump in the observer: ARP probes (sender 0.0.0.0) from one MAC, with their times."""

    def __init__(self, node: Node, mac: str) -> None:
        self.times: list[float] = []
        argv = ["tcpdump", "-i", "eth0", "-n", "-l", "-tt", "-e", "arp", "and", "ether", "src", mac]
        self.proc = node.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        time.sleep(0.5)  # let tcpdump open its socket

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace")
            if "tell 0.0.0.0" in line:
                self.times.append(float(line.split()[0]))

    def between(self, start: float, end: float) -> int:
        return sum(1 for t in list(self.times) if start <= t < end)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


def mac_of(node: Node) -> str:
    out = node.run(["ip", "-j", "link", "show", "dev", "eth0"]).stdout
    return str(json.loads(out)[0]["address"])


def run_case(
    a: Node, c: Node, workdir: Path, case: tuple[str, str | None], window: float
) -> dict[str, Any]:
    """One case: start the master, let it settle, measure over `window` seconds, stop it."""
    kind, setting = case
    vips = {vip_of(i) for i in range(COUNT)}
    daemon: Vipkeeper | Keepalived
    if kind == "keepalived":
        daemon = Keepalived(a, workdir / f"ka-{time.monotonic_ns()}")
        conf = daemon.conf(COUNT, version=2, advert=ADVERT, priority=150)
    else:
        daemon = Vipkeeper(a, workdir / f"vk-{time.monotonic_ns()}")
        conf = f"vipkeeper {{\n  {setting}\n}}\n" + group_conf(
            COUNT, version=2, advert=ADVERT, priority=150
        )
    probes = ProbeCount(c, mac_of(a))
    try:
        daemon.start(conf)
        if wait_for(lambda: vips <= a.addresses(), 30, 0.2) is None:
            raise RuntimeError(f"{kind}: a never held all {COUNT} VIPs")
        time.sleep(7)  # past the GARP bursts of the takeover (vrrp_garp_master_delay 5 s)
        pids = daemon.pids()
        sent0 = _probes_sent(daemon)
        ticks0 = {n: cpu_ticks(p) for n, p in pids.items()}
        start_wall, t0 = time.time(), time.monotonic()
        time.sleep(window)
        elapsed = time.monotonic() - t0
        ticks1 = {n: cpu_ticks(p) for n, p in pids.items()}
        end_wall = time.time()
        sent1 = _probes_sent(daemon)
        time.sleep(0.5)  # tcpdump's last lines
        cpu = sum(ticks1[n] - ticks0[n] for n in pids) / CLK_TCK / elapsed * 100
        out: dict[str, Any] = {
            "kind": kind,
            "setting": setting or "-",
            "window_s": round(elapsed, 1),
            "cpu_pct": round(cpu, 3),
            "rss_mib": round(sum(rss_kib(p) for p in pids.values()) / 1024, 1),
            "wire_probes_per_s": round(probes.between(start_wall, end_wall) / elapsed, 2),
        }
        if isinstance(daemon, Vipkeeper):
            out["probes_sent_per_s"] = round((sent1 - sent0) / elapsed, 2)
            status = request(daemon.sock, {"command": "status"}, timeout=5)
            out["false_conflicts"] = status["counters"]["vip_conflicts"]
        return out
    finally:
        probes.stop()
        daemon.stop()
        wait_for(lambda: not vips & a.addresses(), 15, 0.2)


def _probes_sent(daemon: Vipkeeper | Keepalived) -> int:
    if not isinstance(daemon, Vipkeeper):
        return 0
    status = request(daemon.sock, {"command": "status"}, timeout=5)
    return int(status["conflict_detection"]["probes_sent"])


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Command: `{res['command']}` ({res['started']}, {res['host']}; load average "
        f"{res['load_before']} before, {res['load_after']} after).",
        "",
        "| daemon | setting | CPU (% of a core) | RSS | ARP probes on the wire /s"
        " | probes_sent /s | false conflicts |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res["cases"]:
        lines.append(
            f"| {c['kind']} | {c['setting']} | {c['cpu_pct']:.3f} | {c['rss_mib']} MiB"
            f" | {c['wire_probes_per_s']} | {c.get('probes_sent_per_s', '-')}"
            f" | {c.get('false_conflicts', '-')} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--window", type=float, default=120, help="seconds measured per case")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    res: dict[str, Any] = {
        **run_record("bench/conflict/run.py", argv),
        "cases": [],
    }
    with NetLab() as net:
        a = net.add_node("a", addrs=["10.213.1.1/24"])
        c = net.add_node("c", addrs=["10.213.1.3/24"])
        workdir = Path(net.workdir)
        for case in CASES:
            print(" ".join(w for w in case if w), file=sys.stderr, flush=True)
            res["cases"].append(run_case(a, c, workdir, case, args.window))
    res["load_after"] = load_average()
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
