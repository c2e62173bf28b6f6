"""vipkeeper vs keepalived 2.2.7 on the same namespaces: failover, handover, CPU, RSS, soak.

Run as root from the repository root:

    .venv/bin/python bench/daemon/run.py                       # everything (about 40 minutes)
    .venv/bin/python bench/daemon/run.py --quick                # harness check (about 3 minutes)
    .venv/bin/python bench/daemon/run.py --phases failover --reps 10

Lab: nodes a (master, priority 150) and b (backup, priority 100) and an observer c on one
bridge. Each phase runs keepalived, then vipkeeper, on the same nodes.

- failover: cut a off the bridge (its carrier stays up); time to the VIP's arrival on b (from
  `ip monitor` in b), and the wire gap from a's last advert to b's first (tcpdump on c).
- handover: SIGTERM to a; same two figures (from the signal, and from a's priority-0 advert).
- cpu: N instances on both nodes; CPU (utime+stime over the window) and VmRSS of each daemon
  process (keepalived: its parent and VRRP child), spurious transitions during the window and
  adverts from the backup (any is a spurious takeover).
- mixed: the cpu measurement with 20 instances at 10 ms and keepalived as the master of both
  runs, so each backup hears the same adverts (keepalived sends each on its own, and the
  backup wakes for each); only the backups are compared.
- soak: the cpu measurement with 20 instances at 10 ms over --duration seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from harness import (
    CLK_TCK,
    AddrMonitor,
    AdvertCapture,
    Daemon,
    cpu_ticks,
    first_advert,
    last_advert,
    load_average,
    make_daemon,
    priority_zero,
    rss_kib,
    vip_of,
)
from netlab import NetLab, Node, wait_for

KINDS = ("keepalived", "vipkeeper")
HIGH, LOW = 150, 100
A_IP, B_IP, C_IP = "10.213.1.1", "10.213.1.2", "10.213.1.3"
VRID = 1  # the one instance of the failover and handover phases (VI_1, VIP vip_of(0))
FAILOVER_CASES = ((2, 1.0), (3, 0.05), (3, 0.01))
HANDOVER_CASES = ((2, 1.0), (3, 0.05))
MEASURES = {
    "vip": "cut or SIGTERM -> VIP on b",
    "advert_vip": "a's last (or priority-0) advert -> VIP on b",
    "wire": "a's last (or priority-0) advert -> b's first advert",
}


def log(msg: str) -> None:
    """Progress on stderr."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def summary(values: list[float]) -> dict[str, float | int]:
    """n, median, p95, min and max of a sample (seconds)."""
    if not values:
        return {"n": 0}
    ordered = sorted(values)
    p95 = statistics.quantiles(ordered, n=20, method="inclusive")[18] if len(ordered) > 1 else 0
    return {
        "n": len(ordered),
        "median": statistics.median(ordered),
        "p95": p95 if len(ordered) > 1 else ordered[0],
        "min": ordered[0],
        "max": ordered[-1],
    }


@dataclass
class Lab:
    """The three nodes and the observers that outlive each phase."""

    net: NetLab
    a: Node
    b: Node
    c: Node
    mon_a: AddrMonitor
    mon_b: AddrMonitor
    workdir: Path

    def holders(self, count: int) -> tuple[int, int]:
        """How many of the first `count` VIPs a and b carry."""
        vips = {vip_of(i) for i in range(count)}
        return len(vips & self.a.addresses()), len(vips & self.b.addresses())


@contextmanager
def pair(
    lab: Lab,
    kind: str,
    count: int,
    version: int,
    advert: float,
    *,
    master_kind: str | None = None,
) -> Iterator[tuple[Daemon, Daemon]]:
    """Both nodes running `kind` (a `master_kind` if given) with `count` instances; a is master
    once this yields."""
    a_kind = master_kind or kind
    da = make_daemon(a_kind, lab.a, lab.workdir / f"{a_kind}-{time.monotonic_ns()}")
    db = make_daemon(kind, lab.b, lab.workdir / f"{kind}-{time.monotonic_ns()}")
    try:
        db.start(db.conf(count, version=version, advert=advert, priority=LOW))
        da.start(da.conf(count, version=version, advert=advert, priority=HIGH))
        settle = max(3 * advert, 0.5)
        ok = wait_for(lambda: lab.holders(count) == (count, 0), 3 * advert + 30, 0.1)
        if ok is None:
            raise RuntimeError(
                f"{kind}: a never became master of all {count}: {lab.holders(count)}"
            )
        time.sleep(settle)
        yield da, db
    finally:
        for d in (da, db):
            d.stop()
        wait_for(lambda: lab.holders(count) == (0, 0), 10, 0.1)


def steady(lab: Lab, advert: float) -> None:
    """Wait until a alone holds VIP 0, then let b hear a for a while."""
    if wait_for(lambda: lab.holders(1) == (1, 0), 3 * advert + 15, 0.02) is None:
        raise RuntimeError(f"not steady: holders {lab.holders(1)}")
    time.sleep(max(3 * advert, 0.3))


# ------------------------------------------------------------------ phases


@dataclass
class Timings:
    """The figures of repeated failovers or handovers: one entry per repetition seen."""

    vip: list[float] = field(default_factory=list)
    advert_vip: list[float] = field(default_factory=list)
    wire: list[float] = field(default_factory=list)
    misses: int = 0

    def add(self, start: float, got: float, ref: float | None, first_b: float | None) -> None:
        """One repetition: fault at `start`, VIP on b at `got`, a's reference advert, b's first."""
        self.vip.append(got - start)
        if ref is not None:
            self.advert_vip.append(got - ref)
            if first_b is not None:
                self.wire.append(first_b - ref)

    def report(self) -> dict[str, Any]:
        """The summaries, by measure (MEASURES), and the misses."""
        return {
            "vip": summary(self.vip),
            "advert_vip": summary(self.advert_vip),
            "wire": summary(self.wire),
            "misses": self.misses,
        }


def failover(lab: Lab, kind: str, version: int, advert: float, reps: int) -> dict[str, Any]:
    """Cut the master's link `reps` times."""
    vip = vip_of(0)
    out = Timings()
    with AdvertCapture(lab.c, "vrrp") as cap, pair(lab, kind, 1, version, advert):
        for _ in range(reps):
            steady(lab, advert)
            lab.a.cut()
            cut_at = time.time()
            got = lab.mon_b.first(vip, added=True, after=cut_at - 0.002, timeout=3 * advert + 10)
            lab.a.uncut()
            if got is None:
                out.misses += 1
                continue
            time.sleep(0.2 + advert)  # let b's first adverts reach the capture
            seen = cap.between(cut_at - 5 * advert - 1, got + advert + 1)
            out.add(
                cut_at,
                got,
                last_advert(seen, A_IP, VRID, until=cut_at),
                first_advert(seen, B_IP, VRID, after=cut_at),
            )
            lab.mon_b.first(vip, added=False, after=got, timeout=3 * advert + 10)
    return out.report()


def handover(lab: Lab, kind: str, version: int, advert: float, reps: int) -> dict[str, Any]:
    """SIGTERM the master `reps` times, restarting it after each."""
    vip = vip_of(0)
    out = Timings()
    with AdvertCapture(lab.c, "vrrp") as cap, pair(lab, kind, 1, version, advert) as (da, _db):
        conf = da.conf(1, version=version, advert=advert, priority=HIGH)
        for _ in range(reps):
            steady(lab, advert)
            sent = time.time()
            da.terminate()
            got = lab.mon_b.first(vip, added=True, after=sent, timeout=3 * advert + 10)
            da.wait_exit()
            if got is None:
                out.misses += 1
            else:
                time.sleep(0.2 + advert)
                seen = cap.between(sent, got + advert + 1)
                zero = priority_zero(seen, A_IP, VRID, after=sent)
                first_b = first_advert(seen, B_IP, VRID, after=sent if zero is None else zero)
                out.add(sent, got, zero, first_b)
            da.start(conf)
    return out.report()


def usage(
    lab: Lab,
    kind: str,
    count: int,
    advert: float,
    window: float,
    *,
    master_kind: str | None = None,
) -> dict[str, Any]:
    """CPU, RSS and stability of `count` v3 (or v2 at >= 1 s) instances over `window` seconds.

    With `master_kind`, the master runs that implementation whatever `kind` the backup runs.
    """
    version = 2 if advert >= 1 else 3
    with (
        AdvertCapture(lab.c, f"vrrp and src host {B_IP}") as cap,
        pair(lab, kind, count, version, advert, master_kind=master_kind) as (da, db),
    ):
        time.sleep(2)
        roles = {"master": da, "backup": db}
        pids = {role: d.pids() for role, d in roles.items()}
        trans0 = {role: d.transitions() for role, d in roles.items()}
        t0 = time.monotonic()
        ticks0 = {r: {n: cpu_ticks(p) for n, p in ps.items()} for r, ps in pids.items()}
        start_wall = time.time()
        peak: dict[str, dict[str, int]] = {r: dict.fromkeys(ps, 0) for r, ps in pids.items()}
        end = t0 + window
        lost = 0
        while (now := time.monotonic()) < end:
            for r, ps in pids.items():
                for n, p in ps.items():
                    peak[r][n] = max(peak[r][n], rss_kib(p))
            if lab.holders(count) != (count, 0):
                lost += 1
            time.sleep(min(5.0, end - now))
        elapsed = time.monotonic() - t0
        ticks1 = {r: {n: cpu_ticks(p) for n, p in ps.items()} for r, ps in pids.items()}
        trans1 = {role: d.transitions() for role, d in roles.items()}
        backup_adverts = len(cap.between(start_wall, time.time()))
        out: dict[str, Any] = {"window_s": round(elapsed, 1), "count": count, "advert": advert}
        out["master_kind"] = master_kind or kind
        for r, ps in pids.items():
            per = {
                n: {
                    "cpu_pct": 100 * (ticks1[r][n] - ticks0[r][n]) / CLK_TCK / elapsed,
                    "rss_mib": rss_kib(ps[n]) / 1024,
                    "peak_rss_mib": peak[r][n] / 1024,
                }
                for n in ps
            }
            out[r] = {
                "processes": per,
                "cpu_pct": sum(v["cpu_pct"] for v in per.values()),
                "rss_mib": sum(v["rss_mib"] for v in per.values()),
                "peak_rss_mib": sum(v["peak_rss_mib"] for v in per.values()),
                "spurious_transitions": trans1[r] - trans0[r],
            }
        out["backup_adverts"] = backup_adverts
        out["vip_checks_failed"] = lost
        return out


# ------------------------------------------------------------------ report


@dataclass
class Results:
    """Everything measured in one run."""

    command: str
    started: str
    load_before: str
    host: str
    phases: dict[str, dict[str, Any]] = field(default_factory=dict)
    load_after: str = ""
    seconds: float = 0.0


def ratio(vk: float | None, ka: float | None) -> str:
    """vipkeeper / keepalived, or - when undefined."""
    if vk is None or ka is None or ka == 0:
        return "-"
    return f"{vk / ka:.2f}"


def fmt_s(x: float | None) -> str:
    """Seconds as milliseconds (a tenth of one below a second, where the daemons differ)."""
    if x is None:
        return "-"
    return f"{1000 * x:.1f} ms" if x < 1 else f"{1000 * x:.0f} ms"


def markdown(res: Results) -> str:
    """The tables for docs/performance.md."""
    lines = [
        f"Run: `{res.command}` on {res.host}, {res.started}, {res.seconds / 60:.0f} min; "
        f"load average before {res.load_before}, after {res.load_after}.",
        "",
    ]
    timing = [(k, v) for k, v in res.phases.items() if k.startswith(("failover", "handover"))]
    if timing:
        lines += [
            "| case | measure | keepalived median / p95 | vipkeeper median / p95 "
            "| ratio median / p95 |",
            "|---|---|---|---|---|",
        ]
        for key, per in timing:
            for measure, label in MEASURES.items():
                ka, vk = per["keepalived"][measure], per["vipkeeper"][measure]
                n = f" (n={ka.get('n', 0)}/{vk.get('n', 0)})"
                lines.append(
                    f"| {key}{n} | {label} | {fmt_s(ka.get('median'))} / {fmt_s(ka.get('p95'))} "
                    f"| {fmt_s(vk.get('median'))} / {fmt_s(vk.get('p95'))} "
                    f"| {ratio(vk.get('median'), ka.get('median'))} / "
                    f"{ratio(vk.get('p95'), ka.get('p95'))} |"
                )
        lines.append("")
    usage_rows = [(k, v) for k, v in res.phases.items() if k.startswith(("cpu", "soak"))]
    if usage_rows:
        lines += [
            "| case | role | keepalived CPU / RSS | vipkeeper CPU / RSS | ratio CPU / RSS "
            "| spurious transitions ka / vk | backup adverts ka / vk |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, per in usage_rows:
            ka, vk = per["keepalived"], per["vipkeeper"]
            mixed = vk.get("master_kind", "vipkeeper") != "vipkeeper"
            for role in ("backup",) if mixed else ("master", "backup"):
                k, v = ka[role], vk[role]
                lines.append(
                    f"| {key} ({vk['window_s']:.0f} s) | {role} "
                    f"| {k['cpu_pct']:.2f} % / {k['rss_mib']:.1f} MiB "
                    f"| {v['cpu_pct']:.2f} % / {v['rss_mib']:.1f} MiB "
                    f"| {ratio(v['cpu_pct'], k['cpu_pct'])} / {ratio(v['rss_mib'], k['rss_mib'])} "
                    f"| {k['spurious_transitions']} / {v['spurious_transitions']} "
                    f"| {ka['backup_adverts']} / {vk['backup_adverts']} |"
                )
        lines.append("")
        lines.append(
            "keepalived CPU and RSS are its parent plus its VRRP child; the VRRP child alone: "
            + "; ".join(
                f"{key} {role} {child['cpu_pct']:.2f} % / {child['rss_mib']:.1f} MiB"
                for key, per in usage_rows
                for role in ("master", "backup")
                for child in [per["keepalived"][role]["processes"]["keepalived-vrrp"]]
            )
            + "."
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------ main


def parse(argv: list[str]) -> argparse.Namespace:
    """Command-line options."""
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument(
        "--phases", default="failover,handover,cpu,mixed,soak", help="comma-separated phases"
    )
    p.add_argument("--kinds", default=",".join(KINDS), help="implementations to run")
    p.add_argument(
        "--reps",
        type=int,
        default=20,
        help="failovers per case (default 20; 10 ms and 50 ms cases run 2x)",
    )
    p.add_argument("--handover-reps", type=int, default=10, help="handovers per case")
    p.add_argument("--cpu-window", type=float, default=120, help="CPU sampling seconds, 100 x 1 s")
    p.add_argument(
        "--mixed-window",
        type=float,
        default=120,
        help="CPU sampling seconds of the mixed phase (20 x 10 ms backups, keepalived master)",
    )
    p.add_argument(
        "--duration", type=float, default=600, help="soak seconds (20 instances at 10 ms)"
    )
    p.add_argument("--quick", action="store_true", help="a short harness check, not for figures")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    p.add_argument("--markdown", type=Path, help="write the markdown tables here")
    p.add_argument(
        "--render",
        type=Path,
        metavar="JSON",
        help="print the markdown tables of an earlier run's --out file, and run nothing",
    )
    args = p.parse_args(argv)
    if args.quick:
        args.reps, args.handover_reps, args.cpu_window, args.duration = 3, 2, 10, 20
        args.mixed_window = 10
    return args


def main(argv: list[str]) -> int:
    """Run the selected phases for both implementations; print the markdown report."""
    args = parse(argv)
    if args.render:
        print(markdown(Results(**json.loads(args.render.read_text()))))
        return 0
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    kinds = [k.strip() for k in args.kinds.split(",") if k.strip()]
    res = Results(
        command="bench/daemon/run.py " + " ".join(argv),
        started=time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        load_before=load_average(),
        host=f"{platform.node()} ({os.cpu_count()} CPUs, kernel {platform.release()})",
    )
    began = time.monotonic()
    with NetLab() as net:
        a = net.add_node("a", addrs=[f"{A_IP}/24"])
        b = net.add_node("b", addrs=[f"{B_IP}/24"])
        c = net.add_node("c", addrs=[f"{C_IP}/24"])
        lab = Lab(net, a, b, c, AddrMonitor(a), AddrMonitor(b), Path(net.workdir))
        jobs: list[tuple[str, Callable[[str], dict[str, Any]]]] = []
        job: Callable[[str], dict[str, Any]]
        if "failover" in phases:
            for version, advert in FAILOVER_CASES:
                reps = args.reps if advert >= 1 else 2 * args.reps
                job = partial(failover, lab, version=version, advert=advert, reps=reps)
                jobs.append((f"failover v{version} {advert:g}s", job))
        if "handover" in phases:
            for version, advert in HANDOVER_CASES:
                job = partial(
                    handover, lab, version=version, advert=advert, reps=args.handover_reps
                )
                jobs.append((f"handover v{version} {advert:g}s", job))
        if "cpu" in phases:
            jobs.append(("cpu 100 x 1s", lambda k: usage(lab, k, 100, 1.0, args.cpu_window)))
        if "mixed" in phases:  # each backup hears keepalived's adverts, one wake-up apiece
            jobs.append(
                (
                    "cpu 20 x 10ms, keepalived master",
                    lambda k: usage(lab, k, 20, 0.01, args.mixed_window, master_kind="keepalived"),
                )
            )
        if "soak" in phases:
            jobs.append(("soak 20 x 10ms", lambda k: usage(lab, k, 20, 0.01, args.duration)))
        for name, job in jobs:
            res.phases[name] = {}
            for kind in kinds:
                log(f"{name}: {kind}")
                res.phases[name][kind] = job(kind)
                log(f"  {json.dumps(res.phases[name][kind])}")
    res.seconds = time.monotonic() - began
    res.load_after = load_average()
    if args.out:
        args.out.write_text(json.dumps(asdict(res), indent=2))
    text = markdown(res) if set(kinds) == set(KINDS) else json.dumps(asdict(res), indent=2)
    if args.markdown:
        args.markdown.write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
