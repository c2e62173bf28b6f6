# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vip_probe backend: probe a VIP on a fixed schedule and find the client-visible outage."""

from __future__ import annotations

import http.client
import ipaddress
import math
import os
import socket
import struct
import threading
import time
from concurrent.futures import ThreadPoolExecutor

MODES = ("icmp", "tcp", "http", "arp")


def _checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def icmp_echo(target, seq, timeout):
    """One ICMP (or ICMPv6) echo over a raw socket; True when the matching reply came."""
    v6 = ipaddress.ip_address(target).version == 6
    ident = (os.getpid() ^ 0x5650) & 0xFFFF
    if v6:
        sock = socket.socket(socket.AF_INET6, socket.SOCK_RAW, socket.IPPROTO_ICMPV6)
        kind, reply = 128, 129
    else:
        sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
        kind, reply = 8, 0
    try:
        payload = b"vipkeeper-probe"
        header = struct.pack("!BBHHH", kind, 0, 0, ident, seq & 0xFFFF)
        csum = 0 if v6 else _checksum(header + payload)  # the kernel sums ICMPv6
        sock.sendto(
            struct.pack("!BBHHH", kind, 0, csum, ident, seq & 0xFFFF) + payload, (target, 0)
        )
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            sock.settimeout(left)
            try:
                data, addr = sock.recvfrom(2048)
            except socket.timeout:
                return False
            if addr[0].split("%")[0] != target:
                continue
            if not v6:
                data = data[(data[0] & 0x0F) * 4 :]
            if len(data) < 8:
                continue
            rtype, _code, _sum, rid, rseq = struct.unpack("!BBHHH", data[:8])
            if rtype == reply and rid == ident and rseq == seq & 0xFFFF:
                return True
    finally:
        sock.close()


def tcp_connect(target, port, timeout):
    """A TCP connect (then close); True when it was accepted."""
    with socket.create_connection((target, port), timeout=timeout):
        return True


def http_get(target, port, path, timeout):
    """An HTTP GET on a new connection; True for a 2xx or 3xx answer."""
    host = "[%s]" % target if ":" in target else target
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        status = conn.getresponse().status
    finally:
        conn.close()
    if not 200 <= status < 400:
        raise OSError("HTTP %d" % status)
    return True


def analyze(records, interval):
    """Outage window(s) of a probe timeline ordered by send time (pure)."""
    sent = len(records)
    lost = sum(1 for r in records if not r["ok"])
    windows = []
    current = None
    for rec in records:
        if not rec["ok"]:
            if current is None:
                current = {"start": rec["at"], "end": None, "lost": 0}
                windows.append(current)
            current["lost"] += 1
        elif current is not None:
            current["end"] = rec["at"]
            current = None
    for win in windows:
        win["seconds"] = round(win["end"] - win["start"], 3) if win["end"] is not None else None
    first = windows[0] if windows else None
    recovered = all(w["end"] is not None for w in windows)
    timeline = []
    for rec in records:
        state = "ok" if rec["ok"] else "lost"
        if timeline and timeline[-1]["state"] == state:
            timeline[-1]["to"] = rec["at"]
            timeline[-1]["count"] += 1
        else:
            timeline.append({"state": state, "from": rec["at"], "to": rec["at"], "count": 1})
    span = (records[-1]["at"] - records[0]["at"]) if records else 0
    total = sum(w["seconds"] or 0 for w in windows)
    if windows and windows[-1]["end"] is None and records:
        total += records[-1]["at"] - windows[-1]["start"] + interval
    return {
        "sent": sent,
        "lost": lost,
        "received": sent - lost,
        "outage": bool(windows),
        "recovered": recovered,
        "first_lost_at": first["start"] if first else None,
        "first_recovered_at": first["end"] if first else None,
        "outage_seconds": (first["seconds"] if first else 0.0),
        "total_outage_seconds": round(total, 3),
        "windows": windows,
        "timeline": timeline,
        "duration": round(span, 3),
    }


class Prober:
    """Send one probe every `interval` seconds (in threads, so slow probes do not delay others)."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.target = str(ipaddress.ip_address(self.p["target"].split("/")[0]))

    def _arping(self):
        path = self.module.get_bin_path("arping")
        if not path:
            self.module.fail_json(msg="mode=arp needs arping on the client (iputils-arping)")
        argv = [path, "-q", "-c", "1", "-w", "%g" % max(self.p["timeout"], 0.1), self.target]
        if self.p["interface"]:
            argv[1:1] = ["-I", self.p["interface"]]
        return argv

    def one(self, seq):
        p = self.p
        mode = p["mode"]
        if mode == "icmp":
            return icmp_echo(self.target, seq, p["timeout"])
        if mode == "tcp":
            return tcp_connect(self.target, p["port"], p["timeout"])
        if mode == "http":
            return http_get(self.target, p["port"], p["path"], p["timeout"])
        rc, _out, _err = self.module.run_command(self._arp_argv)
        return rc == 0

    def _probe(self, seq, at, mono):
        start = time.monotonic()
        error = None
        try:
            ok = bool(self.one(seq))
        except (OSError, http.client.HTTPException) as exc:
            ok, error = False, str(exc) or exc.__class__.__name__
        rec = {
            "seq": seq,
            "at": round(at, 3),
            "mono": mono,
            "ok": ok,
            "rtt_ms": round((time.monotonic() - start) * 1000, 1) if ok else None,
        }
        if error:
            rec["error"] = error
        return rec

    def _settled(self, records):
        """After an outage, `settle` seconds of successful probes in a row."""
        settle = self.p["settle"]
        if not settle:
            return False
        done = []
        for rec in records:
            if rec is None:
                break
            done.append(rec)
        if not any(not r["ok"] for r in done):
            return False
        last_lost = max(i for i, r in enumerate(done) if not r["ok"])
        tail = done[last_lost + 1 :]
        return bool(tail) and tail[-1]["mono"] - tail[0]["mono"] >= settle

    def run(self):
        p = self.p
        if p["mode"] == "arp":
            self._arp_argv = self._arping()
        interval, duration = p["interval"], p["duration"]
        count = max(1, math.floor(duration / interval))
        workers = min(64, math.ceil(p["timeout"] / interval) + 2)
        records = [None] * count
        lock = threading.Lock()
        started = time.monotonic()
        started_at = time.time()
        sent = 0
        result_stop = "duration"

        def store(future, index):
            with lock:
                records[index] = future.result()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            for seq in range(count):
                due = started + seq * interval
                delay = due - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                with lock:
                    if seq and self._settled(records[:seq]):
                        break
                if p["stop_file"] and os.path.exists(p["stop_file"]):
                    result_stop = "stop_file"
                    break
                mono = time.monotonic()
                future = pool.submit(self._probe, seq, started_at + (mono - started), mono)
                future.add_done_callback(lambda f, i=seq: store(f, i))
                sent += 1
        done = [r for r in records[:sent] if r is not None]
        for rec in done:
            del rec["mono"]
        result = analyze(done, interval)
        if sent < count and result_stop == "duration":
            result_stop = "settled"
        result.update(
            stopped_by=result_stop,
            target=self.target,
            mode=p["mode"],
            interval=interval,
            started_at=round(started_at, 3),
            ended_at=round(time.time(), 3),
        )
        if p["keep_records"]:
            result["records"] = done
        errors = sorted({r["error"] for r in done if r.get("error")})
        result["errors"] = errors[:10]
        return result
