#!/usr/bin/env python3
"""Fleet-scale runs of `ansible-playbook vipkeeper.vrrp.site` on the nspawn lab (issue #25).

    sudo .venv/bin/python bench/site/run.py --lbs 2 --lbs 8 [--collection DIR] [--json OUT]

For each size: a lab of N load balancers (clusters of 2) and a client, then site.yml runs
  first      the first deploy (runtime, configs, start)
  nochange   the same inventory again (twice: the best is reported)
  change     one cluster gets one more VIP (a reload)
  switch     `vipkeeper_daemon: keepalived` for every host
and for each run: the wall time, the time per host, the changed count, and the client's
outage per cluster (the longest window of lost pings to the cluster's first VIP, 50 ms apart).
The load average of the machine is reported with the figures (it is shared). `--profile` adds
the slowest tasks (callback_plugins/task_times.py) of the no-change run.
--collection runs another checkout of the collection (for example main, to compare).
--compare DIR --rounds N: after the first deploy, N rounds of one no-change run with DIR's
collection then one with --collection's, on the same lab (interleaved: the machine's load
changes under both alike); then the other runs as usual unless --nochange-only.
Runs use SSH pipelining (ansible.cfg in the run's work directory: `[connection] pipelining = True`,
the setting docs/collection.md recommends); --no-pipelining runs without it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
LAB = ROOT / "tests" / "lab" / "lab.py"
BIN = Path(sys.executable).parent
INTERVAL = 0.05  # client ping interval (s)


def lab(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(LAB), *args], capture_output=True, text=True, timeout=900, check=False
    )


def on(name: str, host: str, command: str) -> str:
    done = lab("ssh", name, host, command)
    if done.returncode != 0:
        raise RuntimeError(f"{host}: {command}: {done.stdout}{done.stderr}")
    return done.stdout.strip()


def load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class Bench:
    def __init__(
        self,
        lbs: int,
        collection: Path,
        profile: bool,
        pipelining: bool = True,
        compare: Path | None = None,
    ) -> None:
        self.lbs = lbs
        self.name = f"vkbench-{lbs}-{os.getpid()}"
        self.work = Path(tempfile.mkdtemp(prefix=f"{self.name}-"))
        # one collections path per checkout: "collections" (--collection), "compare" (--compare)
        for sub, checkout in (("collections", collection), ("compare", compare)):
            if checkout is None:
                continue
            coll = self.work / sub / "ansible_collections" / "vipkeeper"
            coll.mkdir(parents=True)
            (coll / "vrrp").symlink_to(checkout.resolve())
        self.profile = profile
        # the lab's ansible.cfg: the recommended setting (docs/collection.md)
        (self.work / "ansible.cfg").write_text(
            f"[defaults]\nretry_files_enabled = False\n\n[connection]\npipelining = {pipelining}\n"
        )
        self.inventory = ""
        self.vips: list[str] = []

    def up(self) -> None:
        up = lab("up", self.name, "--lbs", str(self.lbs), "--owner-pid", str(os.getpid()))
        if up.returncode != 0:
            raise RuntimeError(up.stdout + up.stderr)
        self.inventory = up.stdout.strip().splitlines()[-1]
        inv = yaml.safe_load(Path(self.inventory).read_text())
        self.vips = [v.split("/")[0] for v in inv["all"]["vars"]["lab_vips"]]

    def down(self) -> None:
        lab("down", self.name)
        subprocess.run(["rm", "-rf", str(self.work)], check=False)

    def clusters(self, extra_vip: bool = False) -> list[dict[str, Any]]:
        out = []
        for i in range(self.lbs // 2):
            vips = [f"{{{{ lab_vips[{i}] }}}}"]
            if extra_vip and i == 0:
                vips.append(f"{{{{ lab_vips[{self.lbs // 2 + 1}] }}}}")
            out.append(
                {
                    "name": f"c{i}",
                    "hosts": [f"{{{{ groups['lb'][{2 * i + k}] }}}}" for k in (0, 1)],
                    "interface": "host0",
                    "vips": vips,
                }
            )
        return out

    def play(self, tag: str, collections: str = "collections", **extra: Any) -> dict[str, Any]:
        data = {
            "all": {
                "vars": {
                    "vipkeeper_offline": True,
                    "runtime_controller_wheelhouse": str(self.work / "wheels"),
                    "vipkeeper_hosts": "lb",
                    "vipkeeper_lock_file": str(self.work / "lock.yml"),
                    "vipkeeper_clusters": self.clusters(),
                    **extra,
                }
            }
        }
        path = self.work / f"vars-{tag}.yml"
        path.write_text(yaml.safe_dump(data))
        env = {
            **os.environ,
            "ANSIBLE_COLLECTIONS_PATH": str(self.work / collections),
            "ANSIBLE_CONFIG": str(self.work / "ansible.cfg"),
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
            "PATH": f"{BIN}:{os.environ['PATH']}",
        }
        if self.profile:
            env["ANSIBLE_CALLBACK_PLUGINS"] = str(Path(__file__).parent / "callback_plugins")
            env["ANSIBLE_CALLBACKS_ENABLED"] = "task_times"
        argv = [str(BIN / "ansible-playbook"), "vipkeeper.vrrp.site", "-i", self.inventory]
        before = load()
        began = time.monotonic()
        done = subprocess.run(
            [*argv, "-i", str(path)], capture_output=True, text=True, env=env, timeout=3600,
            check=False,
        )  # fmt: skip
        wall = time.monotonic() - began
        if done.returncode != 0:
            raise RuntimeError(f"{tag}: {done.stdout[-6000:]}{done.stderr[-2000:]}")
        recap = re.findall(r"^\S+\s+: ok=\d+\s+changed=(\d+)", done.stdout, re.M)
        changed = sum(int(n) for n in recap)
        # tasks the hosts evaluated (ok + skipped, changed is within ok): all hosts together
        seen = re.findall(r"^\S+\s+: ok=(\d+)\s.*skipped=(\d+)", done.stdout, re.M)
        row = {"run": tag, "wall": round(wall, 1), "per_host": round(wall / self.lbs, 2),
               "changed": changed, "tasks": sum(int(a) + int(b) for a, b in seen),
               "load_before": before, "load_after": load()}  # fmt: skip
        if self.profile:
            row["profile"] = re.findall(r"^TASKTIME (.*)$", done.stdout, re.M)
        # printed at once: survives a later failure
        print(f"# {self.lbs} hosts {tag}: {json.dumps(row)}", flush=True)
        return row

    def probe_start(self) -> None:
        for i in range(self.lbs // 2):
            vip = self.vips[i]
            on(self.name, "client",
               f"nohup sh -c 'echo $$ > /tmp/bench-{i}.pid; exec ping -D -O -n -i {INTERVAL} {vip}'"
               f" > /tmp/bench-{i}.log 2>&1 < /dev/null &")  # fmt: skip

    def probe_stop(self) -> dict[str, float]:
        out = {}
        for i in range(self.lbs // 2):
            on(self.name, "client", f"kill -INT $(cat /tmp/bench-{i}.pid)")
        time.sleep(0.3)
        for i in range(self.lbs // 2):
            log = on(self.name, "client", f"cat /tmp/bench-{i}.log")
            answered = {int(m) for m in re.findall(r"bytes from .*icmp_seq=(\d+)", log)}
            last = max(answered, default=0)
            longest = run = 0
            for seq in range(1, last + 1):
                run = run + 1 if seq not in answered else 0
                longest = max(longest, run)
            out[f"c{i}"] = round(longest * INTERVAL, 2) if answered else -1.0
        return out

    def wait_converged(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        for i in range(self.lbs // 2):
            host = f"lb{2 * i + 1}"
            while self.vips[i] not in on(self.name, host, "ip -br addr show host0"):
                if time.monotonic() > deadline:
                    raise RuntimeError(f"c{i}: {host} never took {self.vips[i]}")
                time.sleep(0.5)

    def run(self, rounds: int = 0, nochange_only: bool = False) -> list[dict[str, Any]]:
        rows = [self.play("first")]
        self.wait_converged()
        for n in range(rounds):  # interleaved: --compare's checkout, then --collection's
            rows.append(self.play(f"nochange-compare-{n + 1}", collections="compare"))
            rows.append(self.play(f"nochange-{n + 1}"))
        if nochange_only:
            return rows
        self.probe_start()
        time.sleep(1)
        rows.append(min((self.play("nochange"), self.play("nochange")), key=lambda r: r["wall"]))
        rows.append(self.play("change", vipkeeper_clusters=self.clusters(extra_vip=True)))
        rows[-1]["outage"] = self.probe_stop()
        self.probe_start()
        time.sleep(1)
        rows.append(self.play("switch", vipkeeper_daemon="keepalived",
                              vipkeeper_clusters=self.clusters(extra_vip=True)))  # fmt: skip
        time.sleep(5)
        rows[-1]["outage"] = self.probe_stop()
        rows.append(self.play("nochange-keepalived", vipkeeper_daemon="keepalived",
                              vipkeeper_clusters=self.clusters(extra_vip=True)))  # fmt: skip
        return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--lbs", type=int, action="append", help="hosts (even), repeatable")
    parser.add_argument("--collection", type=Path, default=ROOT)
    parser.add_argument("--profile", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--no-pipelining", action="store_true", help="SSH without pipelining")
    parser.add_argument("--compare", type=Path, help="another checkout, interleaved no-change runs")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (--compare)")
    parser.add_argument("--nochange-only", action="store_true", help="stop after the rounds")
    args = parser.parse_args()
    results = {}
    for lbs in args.lbs or [2]:
        bench = Bench(lbs, args.collection, args.profile, pipelining=not args.no_pipelining,
                      compare=args.compare)  # fmt: skip
        try:
            bench.up()
            rows = bench.run(args.rounds if args.compare else 0, args.nochange_only)
        finally:
            bench.down()
        results[lbs] = rows
        for row in rows:
            print(f"{lbs} hosts {row['run']:<20} wall {row['wall']:6.1f}s  per host "
                  f"{row['per_host']:5.2f}s  changed {row['changed']:3d}  tasks {row['tasks']:4d}"
                  f"  load {row['load_before']}"
                  f" -> {row['load_after']}  outage {row.get('outage', '-')}",
                  flush=True)  # fmt: skip
            for line in row.get("profile", []):
                print("    " + line)
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
