"""The drill's `isolate` fault, side by side: a keepalived pair, a vipkeeper pair with conflict
detection only (the defaults), and a vipkeeper pair with the takeover guard.

Run as root from the repository root:

    .venv/bin/python bench/conflict/isolate.py                   # 20 s cut, 20 s after the heal
    .venv/bin/python bench/conflict/isolate.py --cut 8 --after 6 # a harness check

Lab (network namespaces on one bridge, runtime/tests/netlab.py): a (priority 150, the master)
and b (100) run one VRRP instance (v2, advert_int 1, VIP 10.213.1.100/24); c is the client.
Each case starts the pair, waits until a holds the VIP, starts the client, and then does what
vipkeeper.vrrp.vrrp_fault's `isolate` does on the master: an nftables table on a that drops IP
protocol 112 in and out. After `--cut` seconds the table goes (the heal), and the client runs
`--after` seconds more.

The client sends a UDP datagram to the VIP every 50 ms; a and b answer with their name from a
small echo server. A probe with no answer in 40 ms is lost; an answer from b, the host that did
not hold the VIP before the fault, is answered by the wrong host (its state is not a's).

Measured, sampled every 50 ms (VIP on a and b: netlink; daemon status: the control socket):
- detection: from the fault to the first report of the second holder - a VIP conflict in
  either vipkeeper's status, or a takeover the guard held; keepalived has no such report;
- two holders: how long a and b both held the VIP, and until when (from the fault);
- the client: probes sent, lost, answered by b, and how often the answering host changed.
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

from harness import Keepalived, Vipkeeper, load_average, run_record
from netlab import NetLab, Node, wait_for

from vipkeeper.daemon.control import request

VIP = "10.213.1.100"
PORT = 7777
TABLE = "vkbench_isolate"
CASES: tuple[tuple[str, str, str | None], ...] = (
    ("keepalived pair", "keepalived", None),
    ("vipkeeper, detection only (defaults)", "vipkeeper", None),
    ("vipkeeper, takeover_guard 0.03", "vipkeeper", "takeover_guard 0.03"),
)
NFT = (
    f"table inet {TABLE} {{\n"
    "  chain input { type filter hook input priority -300; policy accept;"
    " meta l4proto 112 counter drop; }\n"
    "  chain output { type filter hook output priority -300; policy accept;"
    " meta l4proto 112 counter drop; }\n"
    "}\n"
)
ECHO = f"""
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", {PORT}))
name = sys.argv[1].encode()
while True:
    data, peer = s.recvfrom(64)
    s.sendto(name + b" " + data, peer)
"""
CLIENT = f"""
import socket, sys, time, json
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.04)
seq = 0
while True:
    seq += 1
    sent = time.time()
    s.sendto(str(seq).encode(), ("{VIP}", {PORT}))
    who = None
    end = sent + 0.04
    while time.time() < end:
        try:
            data, _ = s.recvfrom(64)
        except socket.timeout:
            break
        name, _, got = data.decode().partition(" ")
        if got == str(seq):
            who = name
            break
    print(json.dumps([sent, who]), flush=True)
    time.sleep(max(0.0, sent + 0.05 - time.time()))
"""


def conf(name: str, priority: int, block: str | None) -> str:
    head = f"vipkeeper {{\n  {block}\n}}\n\n" if block else ""
    return head + (
        f"global_defs {{\n  router_id {name}\n}}\n\n"
        "vrrp_instance VI_1 {\n  state BACKUP\n  interface eth0\n  virtual_router_id 51\n"
        f"  priority {priority}\n  version 2\n  advert_int 1\n"
        f"  virtual_ipaddress {{\n    {VIP}/24\n  }}\n}}\n"
    )


class Client:
    """The client's probes in c: (send time, answering host or None)."""

    def __init__(self, c: Node) -> None:
        self.rows: list[tuple[float, str | None]] = []
        self.proc = c.popen([sys.executable, "-c", CLIENT], stdout=subprocess.PIPE)
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            sent, who = json.loads(raw)
            self.rows.append((float(sent), who))

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(5)


class Sampler:
    """Every 50 ms: who holds the VIP, and the vipkeeper daemons' first reports."""

    def __init__(self, a: Node, b: Node, socks: dict[str, str]) -> None:
        self.readers = {"a": a.address_reader(), "b": b.address_reader()}
        self.socks = socks
        self.holders: list[tuple[float, bool, bool]] = []
        self.first: dict[str, tuple[float, str]] = {}  # kind -> (time, text)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            now = time.time()
            held = [self.readers[n].has_address(VIP) for n in ("a", "b")]
            self.holders.append((now, held[0], held[1]))
            for node, sock in self.socks.items():
                self._status(node, sock, now)
            self._stop.wait(0.05)

    def _status(self, node: str, sock: str, now: float) -> None:
        try:
            status = request(sock, {"command": "status"}, timeout=1)
        except (OSError, ValueError):
            return
        for inst in status.get("instances", []):
            for cf in inst.get("conflicts", []):
                self.first.setdefault(
                    "conflict",
                    (now, f"{node} ({inst['state']}): {cf['address']} also held by {cf['mac']}"),
                )
        if status.get("counters", {}).get("takeovers_held", 0):
            self.first.setdefault("held", (now, f"{node}: takeover held"))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        for reader in self.readers.values():
            reader.close()


def run_case(
    net: NetLab, nodes: dict[str, Node], case: tuple[str, str, str | None], cut: float, after: float
) -> dict[str, Any]:
    label, kind, block = case
    a, b, c = nodes["a"], nodes["b"], nodes["c"]
    workdir = Path(net.workdir) / f"{kind}-{time.monotonic_ns()}"
    daemons: dict[str, Vipkeeper | Keepalived] = {}
    for name, node in (("a", a), ("b", b)):
        cls = Vipkeeper if kind == "vipkeeper" else Keepalived
        daemons[name] = cls(node, workdir / name)
    echoes = [n.popen([sys.executable, "-c", ECHO, n.name]) for n in (a, b)]
    client = sampler = None
    try:
        daemons["a"].start(conf("a", 150, block))
        daemons["b"].start(conf("b", 100, block))
        if wait_for(lambda: a.has_address(VIP) and not b.has_address(VIP), 30, 0.1) is None:
            raise RuntimeError(f"{label}: a never became the only holder")
        time.sleep(6)  # past the takeover's gratuitous ARPs (garp_master_delay 5 s)
        socks = {n: d.sock for n, d in daemons.items() if isinstance(d, Vipkeeper)}
        client = Client(c)
        sampler = Sampler(a, b, socks)
        time.sleep(2)
        a.run(["nft", "-f", "-"], input=NFT)
        fault = time.time()
        time.sleep(cut)
        a.run(["nft", "delete", "table", "inet", TABLE])
        heal = time.time()
        time.sleep(after)
        return summary(label, fault, heal, client, sampler)
    finally:
        if sampler is not None:
            sampler.stop()
        if client is not None:
            client.stop()
        a.run(["nft", "delete", "table", "inet", TABLE], check=False)
        for d in daemons.values():
            d.stop()
        for proc in echoes:
            proc.terminate()
            proc.wait(5)


def summary(
    label: str, fault: float, heal: float, client: Client, sampler: Sampler
) -> dict[str, Any]:
    rows = [r for r in client.rows if r[0] >= fault]
    both = [(t, ha and hb) for t, ha, hb in sampler.holders if t >= fault]
    two = 0.0
    last_two = None
    for (t0, was), (t1, _) in zip(both, both[1:]):
        if was:
            two += t1 - t0
            last_two = t1
    answers = [w for _, w in rows if w is not None]
    changes = sum(1 for x, y in zip(answers, answers[1:]) if x != y)
    detected = min(sampler.first.values(), default=None)
    return {
        "case": label,
        "cut_s": round(heal - fault, 1),
        "after_s": round((rows[-1][0] if rows else heal) - heal, 1),
        "detected_s": round(detected[0] - fault, 2) if detected else None,
        "report": detected[1] if detected else None,
        "reports": {k: [round(v[0] - fault, 2), v[1]] for k, v in sampler.first.items()},
        "two_holders_s": round(two, 2),
        "two_holders_until_s": round(last_two - fault, 2) if last_two else None,
        "probes": len(rows),
        "lost": sum(1 for _, w in rows if w is None),
        "lost_after_heal": sum(1 for t, w in rows if w is None and t >= heal),
        "wrong_host": sum(1 for _, w in rows if w == "b"),
        "answer_changes": changes,
    }


def markdown(res: dict[str, Any]) -> str:
    lines = [
        f"Command: `{res['command']}` ({res['started']}, {res['host']}; load average "
        f"{res['load_before']} before, {res['load_after']} after). VRRP cut for"
        f" {res['cut']} s, then {res['after']} s after the heal; client probe every 50 ms.",
        "",
        "| pair | detected (s after the fault) | two holders (s) | client probes | lost"
        " (after the heal) | answered by b (wrong host) | answering host changed |",
        "|---|---|---|---|---|---|---|",
    ]
    for c in res["cases"]:
        detected = f"{c['detected_s']} ({c['report']})" if c["detected_s"] is not None else "never"
        until = f" (until {c['two_holders_until_s']})" if c["two_holders_until_s"] else ""
        lines.append(
            f"| {c['case']} | {detected} | {c['two_holders_s']}{until} | {c['probes']}"
            f" | {c['lost']} ({c['lost_after_heal']}) | {c['wrong_host']} | {c['answer_changes']} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--cut", type=float, default=20, help="seconds VRRP stays cut")
    p.add_argument("--after", type=float, default=20, help="seconds measured after the heal")
    p.add_argument("--out", type=Path, help="write the results as JSON here")
    args = p.parse_args(argv)
    res: dict[str, Any] = {
        **run_record("bench/conflict/isolate.py", argv),
        "cut": args.cut,
        "after": args.after,
        "cases": [],
    }
    with NetLab() as net:
        nodes = {
            "a": net.add_node("a", addrs=["10.213.1.1/24"]),
            "b": net.add_node("b", addrs=["10.213.1.2/24"]),
            "c": net.add_node("c", addrs=["10.213.1.3/24"]),
        }
        for case in CASES:
            print(case[0], file=sys.stderr, flush=True)
            res["cases"].append(run_case(net, nodes, case, args.cut, args.after))
    res["load_after"] = load_average()
    if args.out:
        args.out.write_text(json.dumps(res, indent=2) + "\n")
    print(markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
