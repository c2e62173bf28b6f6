#!/usr/bin/env python3
"""VRRP core benchmark: adverts encoded/decoded per second and state-machine events per second.

Run: ``.venv/bin/python bench/vrrp/bench_vrrp.py [--seconds S]`` (prints a Markdown table).
Each figure is the best of 5 rounds of at least S/5 seconds each, measured in this process's CPU
time (time.process_time), so that other load on a shared machine does not distort it.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import ipaddress
import platform
import struct
import time
from collections.abc import Callable
from typing import Any

from vipkeeper.net.vrrpsock import Datagram, parse_ipv4
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import checksum_ok, decode_advert, encode_advert
from vipkeeper.vrrp.settings import (
    MCAST_V4,
    MCAST_V6,
    Auth,
    AuthType,
    InstanceSettings,
    IPAddress,
)
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.validate import check_advert

ip = ipaddress.ip_address


def settings(version: int, family: int, nvips: int, **kw: object) -> InstanceSettings:
    """Instance settings with ``nvips`` addresses."""
    if family == 4:
        vips = tuple(ip(f"10.213.100.{i + 1}") for i in range(nvips))
        src = ip("10.213.0.1")
    else:
        vips = tuple(ip(f"fd00:213::{i + 1:x}") for i in range(nvips))
        src = ip("fe80::1")
    return InstanceSettings(
        name="VI_1",
        vrid=51,
        vips=vips,
        source=src,
        version=version,
        family=family,
        **kw,  # type: ignore[arg-type]
    )


CASES = {
    "v2 IPv4, PASS auth, 2 VIPs": settings(2, 4, 2, auth=Auth(AuthType.PASS, b"secret")),
    "v3 IPv4, 1 VIP": settings(3, 4, 1),
    "v3 IPv4, 20 VIPs": settings(3, 4, 20),
    "v3 IPv6, 2 VIPs": settings(3, 6, 2),
}


def rate(fn: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``fn`` (best of 5 rounds)."""
    clock = time.process_time
    n = 1
    while True:  # calibrate a batch of about 20 ms
        t0 = clock()
        for _ in range(n):
            fn()
        if clock() - t0 > 0.02:
            break
        n *= 2
    best = 0.0
    for _ in range(5):
        calls = 0
        t0 = clock()
        while (elapsed := clock() - t0) < seconds / 5:
            for _ in range(n):
                fn()
            calls += n
        best = max(best, calls / elapsed)
    return best


def codec_rows(seconds: float) -> list[tuple[str, float, float, float]]:
    """encode, decode and full receive-check rates per case."""
    rows = []
    for name, s in CASES.items():
        inst = VrrpInstance(s)
        adv = inst.build_advert(100)
        dst = MCAST_V4 if s.family == 4 else MCAST_V6
        peer = ip("10.213.0.2") if s.family == 4 else ip("fe80::2")
        data = encode_advert(adv, peer, dst)
        assert decode_advert(data, s.family) == adv
        assert checksum_ok(data, peer, dst)
        enc = rate(lambda adv=adv, dst=dst, src=s.source: encode_advert(adv, src, dst), seconds)
        dec = rate(lambda data=data, s=s: decode_advert(data, s.family), seconds)
        chk = rate(
            lambda data=data, s=s, peer=peer, dst=dst: check_advert(
                data, peer, dst, 255, settings=s
            ),
            seconds,
        )
        rows.append((name, enc, dec, chk))
    return rows


def event_rows(seconds: float) -> list[tuple[str, float]]:
    """State-machine events per second."""
    s = CASES["v3 IPv4, 1 VIP"]
    peer_s = settings(3, 4, 1)
    peer = VrrpInstance(peer_s)
    src = ip("10.213.0.2")
    higher = encode_advert(peer.build_advert(200), src, MCAST_V4)
    rows = []
    for label, fast in (
        ("BACKUP receives a valid advert (full checks + timer reset)", False),
        ("BACKUP hears its master again (fast path: same bytes, timer reset)", True),
    ):
        backup = VrrpInstance(s, fast_path=fast)
        backup.start(0.0)
        clock = [0.0]

        def rx(backup: VrrpInstance = backup, clock: list[float] = clock) -> None:
            clock[0] += 0.001
            backup.receive_advert(higher, src, MCAST_V4, 255, clock[0])

        rows.append((label, rate(rx, seconds)))
        assert backup.state is State.BACKUP
        assert backup.fast_path_hits == (backup.stats.received - 1 if fast else 0)

    master = VrrpInstance(settings(3, 4, 1, garp_master_delay=0))
    master.start(0.0)
    master.handle_timer(10.0)
    mclock = [10.0]

    def tick() -> None:
        mclock[0] += 1.0
        master.handle_timer(mclock[0])

    rows.append(("MASTER advert timer (build + encode + action)", rate(tick, seconds)))

    bad = bytearray(higher)
    bad[6] ^= 0xFF
    bad_b = bytes(bad)

    def drop() -> None:
        backup.receive_advert(bad_b, src, MCAST_V4, 255, clock[0])

    rows.append(("advert dropped for a bad checksum (counted)", rate(drop, seconds)))

    flip = VrrpInstance(settings(3, 4, 1, garp_master_delay=0))
    fclock = [0.0]
    flip.start(0.0)

    def cycle() -> None:
        fclock[0] += 10.0
        flip.handle_timer(fclock[0])  # BACKUP -> MASTER
        flip.receive_advert(higher, src, MCAST_V4, 255, fclock[0])  # MASTER -> BACKUP

    rows.append(("transition pair BACKUP->MASTER->BACKUP (per pair)", rate(cycle, seconds)))
    return rows


class _OneAtATime:
    """A stand-in VRRP socket: each wake-up finds one datagram (100 instances at 1 s do so)."""

    def __init__(self, raws: list[bytes]) -> None:
        self.ifname, self.family, self.proto = "eth0", 4, 112  # VRRP, not AH (51)
        self.raws = raws
        self.i = 0
        self.pending = False

    def wake(self) -> None:
        self.pending = True

    def recv_packet(self, bufsize: int) -> bytes:
        """As VrrpSocket.recv_packet (IPv4's fast path): one whole packet, or BlockingIOError."""
        if not self.pending:
            raise BlockingIOError
        self.pending = False
        raw = self.raws[self.i % len(self.raws)]
        self.i += 1
        return raw

    def recv_stamped(self) -> tuple[bytes, float]:
        """As VrrpSocket.recv_stamped, with no kernel time stamp (0: unknown)."""
        return self.recv_packet(65535), 0.0

    def receive(self, stamped: bool = False) -> Datagram | None:
        try:
            return parse_ipv4(self.recv_packet(65535))
        except BlockingIOError:
            return None


def _ipv4(payload: bytes, src: IPAddress, dst: IPAddress) -> bytes:
    head = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), 0, 0, 255, 112, 0,
                       src.packed, dst.packed)  # fmt: skip
    return head + payload


async def _daemon_backups(count: int) -> tuple[Any, _OneAtATime]:
    """A daemon (not started) holding `count` BACKUP instances, and their master's packets."""
    from vipkeeper.config import model as m
    from vipkeeper.daemon.build import InstancePlan
    from vipkeeper.daemon.daemon import Daemon, Options
    from vipkeeper.daemon.registry import Managed

    daemon = Daemon(Options("bench.conf", state_dir="/nonexistent"), m.Config())
    src = ip("10.213.0.2")
    raws = []
    now = daemon.loop.time()
    for vrid in range(1, count + 1):
        s = dataclasses.replace(CASES["v3 IPv4, 1 VIP"], name=f"VI_{vrid}", vrid=vrid)
        plan = InstancePlan(s, "eth0", MCAST_V4, (), (), 0.0, 0.0, None)
        managed = Managed(plan, VrrpInstance(s))
        managed.core.start(now)
        daemon.registry.instances[s.name] = managed
        peer = VrrpInstance(dataclasses.replace(s, source=src))
        raws.append(_ipv4(encode_advert(peer.build_advert(200), src, MCAST_V4), src, MCAST_V4))
    daemon.registry.by_key = {mg.key: mg for mg in daemon.registry.instances.values()}
    daemon.scheduler.rearm()
    return daemon, _OneAtATime(raws)


def daemon_rows(seconds: float, count: int = 100) -> list[tuple[str, float]]:
    """The daemon's whole receive path: socket wake-up to re-armed timer, per advert."""

    async def measure() -> float:
        daemon, sock = await _daemon_backups(count)

        def one() -> None:
            sock.wake()
            daemon.receiver.on_readable(sock)

        r = rate(one, seconds)
        assert all(mg.core.state is State.BACKUP for mg in daemon.registry.instances.values())
        return r

    label = f"daemon: BACKUP of {count} instances hears one advert (parse, demux, core, timer)"
    return [(label, asyncio.run(measure()))]


def profile_daemon(count: int = 100, adverts: int = 200_000) -> None:
    """Print a cProfile of the daemon's receive path (``--profile``)."""
    import cProfile
    import pstats

    async def run() -> None:
        daemon, sock = await _daemon_backups(count)
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(adverts):
            sock.wake()
            daemon.receiver.on_readable(sock)
        prof.disable()
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)

    asyncio.run(run())


def main() -> None:
    """Print the benchmark as Markdown."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seconds", type=float, default=2.0, help="time per figure (default 2)")
    ap.add_argument("--profile", action="store_true", help="cProfile the daemon receive path")
    args = ap.parse_args()
    if args.profile:
        profile_daemon()
        return
    print(f"Python {platform.python_version()} on {platform.machine()}, {platform.system()}")
    print()
    print("| advert | encode/s | decode/s | receive checks/s |")
    print("|---|---:|---:|---:|")
    for name, enc, dec, chk in codec_rows(args.seconds):
        print(f"| {name} | {enc:,.0f} | {dec:,.0f} | {chk:,.0f} |")
    print()
    print("| state-machine event | events/s | us/event |")
    print("|---|---:|---:|")
    for name, r in event_rows(args.seconds) + daemon_rows(args.seconds):
        print(f"| {name} | {r:,.0f} | {1e6 / r:.2f} |")


if __name__ == "__main__":
    main()
