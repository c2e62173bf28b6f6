#!/usr/bin/env python3
"""Capture keepalived's IPsec-AH adverts (VRRPv2, IP protocol 51) into golden test vectors.

Usage (root): ``.venv/bin/python runtime/tests/vrrp/capture_ah.py [OUTDIR]``

The same lab as ``capture_golden.py`` (a uniquely named netns pair on a veth link, always
removed): keepalived runs the ``AH_INSTANCES`` below in ``a`` (multicast and unicast) and
tcpdump records ``ip proto 51`` in ``b``. keepalived is stopped by its pid, so the priority-0
resignations are captured too. Writes ``ah-golden.json``: the settings, and every captured IPv4
packet whole (IP header, AH header, VRRP message), hex, with ``t`` (seconds since the first).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import struct
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # runtime/tests, run as a script
sys.path.insert(0, str(Path(__file__).resolve().parent))
import capture_golden as cg

AH_INSTANCES: list[dict[str, Any]] = [
    {
        "name": "VK_AH",
        "vrid": 61,
        "version": 2,
        "family": 4,
        "priority": 150,
        "advert_int": 1.0,
        "vips": ["10.213.1.61", "10.213.1.62"],
        "auth_type": "AH",
        "auth_pass": "s3cr3t",
    },
    {
        "name": "VK_AHUNI",
        "vrid": 62,
        "version": 2,
        "family": 4,
        "priority": 200,
        "advert_int": 1.0,
        "vips": ["10.213.6.2"],
        "auth_type": "AH",
        "auth_pass": "longpassword",
        "unicast_src": cg.ADDR_A4,
        "unicast_peers": [cg.ADDR_B4],
    },
]
SECONDS = 8.0


def parse_pcap_ah(path: Path) -> list[dict[str, Any]]:
    """The whole IPv4 packets of IP protocol 51 in an Ethernet pcap."""
    raw = path.read_bytes()
    magic = struct.unpack_from("<I", raw, 0)[0]
    endian = "<" if magic in (0xA1B2C3D4, 0xA1B23C4D) else ">"
    nano = magic in (0xA1B23C4D, 0x4D3CB2A1)
    pos = 24
    packets: list[dict[str, Any]] = []
    t0: float | None = None
    while pos + 16 <= len(raw):
        sec, frac, incl, _orig = struct.unpack_from(endian + "IIII", raw, pos)
        pos += 16
        frame = raw[pos : pos + incl]
        pos += incl
        if struct.unpack_from("!H", frame, 12)[0] != 0x0800:
            continue
        body = frame[14:]
        total = struct.unpack_from("!H", body, 2)[0]
        if body[9] != 51:
            continue
        ts = sec + frac / (1e9 if nano else 1e6)
        if t0 is None:
            t0 = ts
        packets.append(
            {
                "t": round(ts - t0, 6),
                "src": str(ipaddress.IPv4Address(body[12:16])),
                "dst": str(ipaddress.IPv4Address(body[16:20])),
                "packet": body[:total].hex(),
            }
        )
    return packets


def record_ah(ns_a: str, ns_b: str, tmp: Path, conf_text: str) -> tuple[list[dict[str, Any]], str]:
    """Run keepalived in ``ns_a`` while tcpdump records AH packets in ``ns_b``."""
    pcap, logtext = cg.record_pcap(ns_a, ns_b, tmp, conf_text, SECONDS, "ip proto 51")
    return parse_pcap_ah(pcap), logtext


def capture(outdir: Path) -> None:
    """Run the capture and write ``ah-golden.json`` and the config and log to ``outdir``."""
    cg.remove_stale()
    pid = os.getpid()
    ns_a, ns_b = f"{cg.PREFIX}{pid}a", f"{cg.PREFIX}{pid}b"
    with tempfile.TemporaryDirectory(prefix=f"{cg.PREFIX}{pid}") as tmp_s:
        tmp = Path(tmp_s)
        try:
            cg.run("ip", "netns", "add", ns_a)
            cg.run("ip", "netns", "add", ns_b)
            cg.run("ip", "link", "add", ns_a, "netns", ns_a, "type", "veth", "peer", "name",
                   ns_b, "netns", ns_b)  # fmt: skip
            for ns, a4 in ((ns_a, cg.ADDR_A4), (ns_b, cg.ADDR_B4)):
                ex = ("ip", "netns", "exec", ns)
                cg.run(*ex, "ip", "link", "set", "lo", "up")
                cg.run(*ex, "ip", "addr", "add", f"{a4}/24", "dev", ns)
                cg.run(*ex, "ip", "link", "set", ns, "up")
            time.sleep(1.0)
            conf_text = cg.render_conf(ns_a, [], AH_INSTANCES)
            packets, logtext = record_ah(ns_a, ns_b, tmp, conf_text)
            outdir.mkdir(parents=True, exist_ok=True)
            (outdir / "keepalived-ah.conf").write_text(conf_text)
            (outdir / "keepalived-ah.log").write_text(logtext)
            first = cg.run("keepalived", "--version", check=False).stderr.splitlines()
            doc = {
                "keepalived": first[0] if first else "",
                "interface": ns_a,
                "conf": "keepalived-ah.conf",
                "instances": AH_INSTANCES,
                "packets": packets,
            }
            (outdir / "ah-golden.json").write_text(json.dumps(doc, indent=1) + "\n")
            print(f"captured {len(packets)} AH packets")
        finally:
            cg.run("ip", "netns", "del", ns_a, check=False)
            cg.run("ip", "netns", "del", ns_b, check=False)


def main() -> None:
    """Entry point."""
    outdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).parent / "data"
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    capture(outdir)


if __name__ == "__main__":
    main()
