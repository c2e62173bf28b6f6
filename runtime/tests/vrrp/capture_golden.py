#!/usr/bin/env python3
"""Capture real VRRP adverts from Debian's keepalived into golden test vectors.

Usage (root): ``.venv/bin/python runtime/tests/vrrp/capture_golden.py [OUTDIR]``

Creates a uniquely named netns pair ``vkg<pid>a``/``vkg<pid>b`` on a veth link (10.213.0.0/24,
fd00:213::/64), runs keepalived in ``a`` with its own pid files, records with tcpdump in ``b``,
stops keepalived by its pid (so its priority-0 resignation adverts are captured too), and writes
``golden.json`` (the settings used plus every VRRP payload with its IP header fields) and
``keepalived-run<N>.conf``. Namespaces are always removed; stale ones of dead runs go first.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import os
import re
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runtime/tests, run as a script
from procs import pid_exists

PREFIX = "vkg"
ADDR_A4, ADDR_B4 = "10.213.0.1", "10.213.0.2"
ADDR_A6, ADDR_B6 = "fd00:213::1", "fd00:213::2"

# One dict per instance: the single source for the keepalived config and for the test settings.
INSTANCES: list[dict[str, Any]] = [
    {
        "name": "VK_V2AUTH",
        "vrid": 51,
        "version": 2,
        "family": 4,
        "priority": 150,
        "advert_int": 1.0,
        "vips": ["10.213.1.51", "10.213.1.52"],
        "auth_type": "PASS",
        "auth_pass": "s3cr3t",
        "state": "MASTER",
    },
    {
        "name": "VK_V3",
        "vrid": 52,
        "version": 3,
        "family": 4,
        "priority": 100,
        "advert_int": 1.0,
        "vips": ["10.213.2.1"],
    },
    {
        "name": "VK_V3CSV2",
        "vrid": 53,
        "version": 3,
        "family": 4,
        "priority": 200,
        "advert_int": 0.5,
        "vips": ["10.213.3.1", "10.213.3.2", "10.213.3.3"],
    },
    {
        "name": "VK_V6",
        "vrid": 54,
        "version": 3,
        "family": 6,
        "priority": 120,
        "advert_int": 1.0,
        "vips": ["fd00:213:1::54", "fd00:213:1::55"],
    },
    {
        "name": "VK_V3UNI",
        "vrid": 55,
        "version": 3,
        "family": 4,
        "priority": 90,
        "advert_int": 1.0,
        "vips": ["10.213.5.1"],
        "unicast_src": ADDR_A4,
        "unicast_peers": [ADDR_B4],
    },
    {
        "name": "VK_V2UNI",
        "vrid": 56,
        "version": 2,
        "family": 4,
        "priority": 254,
        "advert_int": 2.0,
        "vips": ["10.213.6.1"],
        "unicast_src": ADDR_A4,
        "unicast_peers": [ADDR_B4],
    },
]


# keepalived 2.2.7 has no v3_checksum_as_v2 keyword (neither global nor per instance), so that
# checksum mode is covered by hand-built vectors in the tests. More runs may be added here.
RUNS: list[tuple[list[str], list[dict[str, Any]], float]] = [
    ([], INSTANCES, 9.5),
]


def run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run a command, capturing its output."""
    return subprocess.run(args, check=check, capture_output=True, text=True)


def remove_stale() -> None:
    """Remove namespaces of earlier runs whose owner pid is dead."""
    out = run("ip", "netns", "list", check=False).stdout
    for line in out.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}(\d+)[ab]", name)
        if m and not pid_exists(int(m.group(1))):
            run("ip", "netns", "del", name, check=False)


def render_conf(iface: str, globals_: list[str], instances: list[dict[str, Any]]) -> str:
    """Render a keepalived.conf for ``instances`` on interface ``iface``."""
    out = ["global_defs {", "    router_id vkgolden", *(f"    {g}" for g in globals_), "}", ""]
    for inst in instances:
        out.append(f"vrrp_instance {inst['name']} {{")
        out.append(f"    state {inst.get('state', 'BACKUP')}")
        out.append(f"    interface {iface}")
        out.append(f"    virtual_router_id {inst['vrid']}")
        out.append(f"    version {inst['version']}")
        out.append(f"    priority {inst['priority']}")
        out.append(f"    advert_int {inst['advert_int']:g}")
        if "auth_type" in inst:
            out.append("    authentication {")
            out.append(f"        auth_type {inst['auth_type']}")
            out.append(f"        auth_pass {inst['auth_pass']}")
            out.append("    }")
        if "unicast_src" in inst:
            out.append(f"    unicast_src_ip {inst['unicast_src']}")
            out.append("    unicast_peer {")
            out.extend(f"        {p}" for p in inst["unicast_peers"])
            out.append("    }")
        out.append("    virtual_ipaddress {")
        for vip in inst["vips"]:
            plen = 128 if ":" in vip else 32
            out.append(f"        {vip}/{plen}")
        out.append("    }")
        out.append("}")
        out.append("")
    return "\n".join(out)


def parse_pcap(path: Path) -> list[dict[str, Any]]:
    """Extract VRRP payloads with their IP header fields from an Ethernet pcap."""
    raw = path.read_bytes()
    magic = struct.unpack_from("<I", raw, 0)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    linktype = struct.unpack_from(endian + "I", raw, 20)[0]
    if linktype != 1:
        raise SystemExit(f"unexpected pcap link type {linktype}")
    pos = 24
    packets: list[dict[str, Any]] = []
    t0: float | None = None
    while pos + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", raw, pos)
        pos += 16
        frame = raw[pos : pos + incl]
        pos += incl
        ts = sec + frac / (1e9 if nano else 1e6)
        ethertype = struct.unpack_from("!H", frame, 12)[0]
        body = frame[14:]
        if ethertype == 0x0800:
            ihl = (body[0] & 0x0F) * 4
            total = struct.unpack_from("!H", body, 2)[0]
            ttl, proto = body[8], body[9]
            src = str(ipaddress.IPv4Address(body[12:16]))
            dst = str(ipaddress.IPv4Address(body[16:20]))
            payload = body[ihl:total]
            padding = body[total:]
            family = 4
        elif ethertype == 0x86DD:
            plen = struct.unpack_from("!H", body, 4)[0]
            proto, ttl = body[6], body[7]
            src = str(ipaddress.IPv6Address(body[8:24]))
            dst = str(ipaddress.IPv6Address(body[24:40]))
            payload = body[40 : 40 + plen]
            padding = body[40 + plen :]
            family = 6
        else:
            continue
        if proto != 112:
            continue
        if t0 is None:
            t0 = ts
        packets.append(
            {
                "t": round(ts - t0, 6),
                "family": family,
                "src": src,
                "dst": dst,
                "ttl": ttl,
                "vrid": payload[1] if len(payload) > 1 else None,
                "payload": payload.hex(),
                "ethernet_padding": padding.hex(),
            }
        )
    return packets


def record_pcap(
    ns_a: str, ns_b: str, tmp: Path, conf_text: str, seconds: float, bpf: str
) -> tuple[Path, str]:
    """Run keepalived in ``ns_a`` for ``seconds`` while tcpdump records ``bpf`` in ``ns_b``.

    Returns the capture file and keepalived's log (with ``tmp`` replaced by ``TMP``).
    """
    procs: list[subprocess.Popen[bytes]] = []
    conf = tmp / "keepalived.conf"
    conf.write_text(conf_text)
    pcap = tmp / "capture.pcap"
    pcap.unlink(missing_ok=True)
    try:
        tcpdump = subprocess.Popen(
            ["ip", "netns", "exec", ns_b, "tcpdump", "-i", ns_b, "-U", "-w", str(pcap), bpf],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        procs.append(tcpdump)
        time.sleep(1.5)
        with (tmp / "keepalived.log").open("wb") as log:
            keepalived = subprocess.Popen(
                [
                    "ip", "netns", "exec", ns_a, "keepalived", "-n", "-l", "-D", "-P",
                    "-f", str(conf), "-p", str(tmp / "k.pid"), "-r", str(tmp / "v.pid"),
                    "-c", str(tmp / "c.pid"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )  # fmt: skip
            procs.append(keepalived)
            time.sleep(seconds)
            keepalived.send_signal(signal.SIGTERM)  # our own keepalived, by pid
            keepalived.wait(timeout=15)
        time.sleep(1.0)
        tcpdump.send_signal(signal.SIGINT)
        tcpdump.wait(timeout=10)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                with contextlib.suppress(Exception):
                    p.wait(timeout=5)
    logtext = (tmp / "keepalived.log").read_text(errors="replace").replace(str(tmp), "TMP")
    return pcap, logtext


def record(
    ns_a: str, ns_b: str, tmp: Path, conf_text: str, seconds: float
) -> tuple[list[dict[str, Any]], str]:
    """Run keepalived in ``ns_a`` for ``seconds`` while tcpdump records VRRP in ``ns_b``."""
    pcap, logtext = record_pcap(
        ns_a, ns_b, tmp, conf_text, seconds, "ip proto 112 or ip6 proto 112"
    )
    return parse_pcap(pcap), logtext


def capture(outdir: Path) -> None:
    """Run the whole capture and write the vectors to ``outdir``."""
    remove_stale()
    pid = os.getpid()
    ns_a, ns_b = f"{PREFIX}{pid}a", f"{PREFIX}{pid}b"
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}{pid}") as tmp_s:
        tmp = Path(tmp_s)
        try:
            run("ip", "netns", "add", ns_a)
            run("ip", "netns", "add", ns_b)
            run("ip", "link", "add", ns_a, "netns", ns_a, "type", "veth", "peer", "name", ns_b,
                "netns", ns_b)  # fmt: skip
            for ns, a4, a6 in ((ns_a, ADDR_A4, ADDR_A6), (ns_b, ADDR_B4, ADDR_B6)):
                ex = ("ip", "netns", "exec", ns)
                run(*ex, "sysctl", "-qw", "net.ipv6.conf.all.accept_dad=0")
                run(*ex, "sysctl", "-qw", f"net.ipv6.conf.{ns}.accept_dad=0")
                run(*ex, "ip", "link", "set", "lo", "up")
                run(*ex, "ip", "addr", "add", f"{a4}/24", "dev", ns)
                run(*ex, "ip", "-6", "addr", "add", f"{a6}/64", "dev", ns, "nodad")
                run(*ex, "ip", "link", "set", ns, "up")
            time.sleep(1.0)
            runs: list[dict[str, Any]] = []
            outdir.mkdir(parents=True, exist_ok=True)
            for n, (globals_, instances, seconds) in enumerate(RUNS, start=1):
                conf_text = render_conf(ns_a, globals_, instances)
                packets, logtext = record(ns_a, ns_b, tmp, conf_text, seconds)
                (outdir / f"keepalived-run{n}.conf").write_text(conf_text)
                (outdir / f"keepalived-run{n}.log").write_text(logtext)
                runs.append({"conf": f"keepalived-run{n}.conf", "instances": instances,
                             "packets": packets})  # fmt: skip
                print(f"run {n}: captured {len(packets)} VRRP packets")
            first = run("keepalived", "--version", check=False).stderr.splitlines()
            doc = {"keepalived": first[0] if first else "", "interface": ns_a, "runs": runs}
            (outdir / "golden.json").write_text(json.dumps(doc, indent=1) + "\n")
        finally:
            run("ip", "netns", "del", ns_a, check=False)
            run("ip", "netns", "del", ns_b, check=False)


def main() -> None:
    """Entry point."""
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    capture(outdir)


if __name__ == "__main__":
    main()
