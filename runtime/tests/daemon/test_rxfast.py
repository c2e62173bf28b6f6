"""The daemon's IPv4 receive fast path (daemon/rxfast.py and Receiver.read).

A raw packet the fast path takes must parse into exactly the advert its core kept, and every
packet it does not take goes the full way. The daemon's part is run with real VrrpInstance
cores; a stand-in socket hands it raw packets as the kernel would (no bridge is needed to
decide what a byte string is), and the wire path is covered by test_election.py and the
interop tests.
"""

from __future__ import annotations

import dataclasses
import struct
from ipaddress import IPv4Address
from types import SimpleNamespace
from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from vrrp.vrrpkit import ip, make_settings, mcast, peer_advert

from vipkeeper.daemon.executor import Executor
from vipkeeper.daemon.receiver import Receiver
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.daemon.rxfast import FastEntry, entry_for, match
from vipkeeper.daemon.scheduler import TAKEOVER_LEAD, Scheduler
from vipkeeper.net.vrrpsock import parse_ipv4
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import Auth, AuthType, TrackScript
from vipkeeper.vrrp.state import State

MASTER = "10.213.0.9"


def ipv4(
    payload: bytes,
    src: str = MASTER,
    dst: str = "224.0.0.18",
    ttl: int = 255,
    options: bytes = b"",
    total: int | None = None,
) -> bytes:
    """A raw IPv4 packet of protocol 112 as a raw socket reads it."""
    ihl = (20 + len(options)) // 4
    length = total if total is not None else 20 + len(options) + len(payload)
    header = struct.pack(
        "!BBHHHBBH4s4s",
        0x40 | ihl,
        0xC0,
        length,
        0,
        0x4000,
        ttl,
        112,
        0,
        IPv4Address(src).packed,
        IPv4Address(dst).packed,
    )
    return header + options + payload


SETTINGS = make_settings(
    version=2, priority=100, auth=Auth(AuthType.PASS, b"secret"),
    track_scripts=(TrackScript("w", weight=150, initially_ok=False),),
)  # fmt: skip
ADVERT = peer_advert(SETTINGS, 150, MASTER)


def steady_core() -> VrrpInstance:
    """A backup that has accepted its master's advert once (so it keeps it)."""
    core = VrrpInstance(SETTINGS)
    core.start(0.0)
    core.receive_advert(ADVERT, ip(MASTER), mcast(SETTINGS), 255, 0.5)
    assert core.fast_advert is not None
    return core


def test_the_master_advert_matches() -> None:
    entry = entry_for(steady_core())
    assert entry is not None
    assert match(ipv4(ADVERT), {SETTINGS.vrid: entry}) is entry


def test_a_core_that_keeps_nothing_has_no_entry() -> None:
    core = VrrpInstance(SETTINGS)
    core.start(0.0)
    assert entry_for(core) is None


NEAR_MISSES = {
    "another TTL": ipv4(ADVERT, ttl=254),
    "another source": ipv4(ADVERT, src="10.213.0.7"),
    "another destination": ipv4(ADVERT, dst="224.0.0.19"),
    "another payload": ipv4(ADVERT[:-1] + bytes([ADVERT[-1] ^ 1])),
    "a longer payload": ipv4(ADVERT + b"\0"),
    "IP options": ipv4(ADVERT, options=b"\x01\x01\x01\x00"),
    "a total length short of the read": ipv4(ADVERT, total=20 + len(ADVERT) - 4),
    "a total length past the read": ipv4(ADVERT, total=20 + len(ADVERT) + 4),
    "another VRID": ipv4(ADVERT[:1] + bytes([SETTINGS.vrid + 1]) + ADVERT[2:]),
    "truncated": ipv4(ADVERT)[:21],
    "IPv6": b"\x60" + ipv4(ADVERT)[1:],
}


def test_near_misses_do_not_match() -> None:
    entry = entry_for(steady_core())
    assert entry is not None
    for name, raw in NEAR_MISSES.items():
        assert match(raw, {SETTINGS.vrid: entry}) is None, name


@given(
    st.lists(st.tuples(st.integers(0, 20 + len(ADVERT) - 1), st.integers(0, 255)), max_size=3),
    st.integers(-3, 3),
)
def test_a_match_parses_into_the_kept_advert_and_back(
    edits: list[tuple[int, int]], resize: int
) -> None:
    """Exactness both ways: match(raw) <=> raw parses into the core's advert (no options)."""
    core = steady_core()
    entry = entry_for(core)
    assert entry is not None
    raw = bytearray(ipv4(ADVERT))
    for at, value in edits:
        raw[at] = value
    if resize > 0:
        raw += b"\0" * resize
    elif resize < 0:
        del raw[resize:]
    packet = bytes(raw)
    hit = match(packet, {SETTINGS.vrid: entry})
    dgram = parse_ipv4(packet)
    kept = core.fast_advert
    assert kept is not None
    same = dgram is not None and (dgram.data, dgram.src, dgram.dst, dgram.ttl) == kept[:4]
    if hit is not None:
        assert same, "the fast path took a packet the full path reads differently"
    elif same:  # the full path would read the same advert: only a header it cannot vouch for
        assert packet[0] != 0x45 or (packet[2] << 8 | packet[3]) != len(packet)


# ---- the daemon's read path ------------------------------------------------------------------


class Counting(VrrpInstance):
    """A real core that counts the adverts it was handed the full way."""

    def __init__(self, *args: Any, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.full = 0

    def receive_advert(self, *args: Any) -> Any:
        self.full += 1
        return super().receive_advert(*args)


class Sock:
    """A VRRP socket's IPv4 reading side, fed raw packets."""

    family = 4
    proto = 112
    ifname = "eth0"

    def __init__(self, packets: list[bytes]) -> None:
        self.packets = list(packets)

    def recv_packet(self, _size: int) -> bytes:
        if not self.packets:
            raise BlockingIOError
        return self.packets.pop(0)

    def recv_stamped(self) -> tuple[bytes, float]:
        return self.recv_packet(0), 0.0


class Timer:
    def __init__(self) -> None:
        self.at: float | None = None

    def arm(self, at: float) -> None:
        self.at = at


class Clock:
    def __init__(self) -> None:
        self.now = 10.0

    def __call__(self) -> float:
        return self.now


def daemon(core: VrrpInstance) -> SimpleNamespace:
    """The receiver over one core, with what the tests read of its collaborators."""
    clock = Clock()
    plan = SimpleNamespace(settings=core.settings, sync_group=None, interface="eth0")
    managed = Managed(plan, core)  # type: ignore[arg-type]
    registry = Registry({core.name: managed}, {("eth0", 4, SETTINGS.vrid): managed})
    counters = {"unknown_vrid": 0, "not_vrrp": 0}
    executor = Executor(
        clock=clock,
        registry=registry,
        sockets={},
        kernel=None,  # type: ignore[arg-type]
        links=None,  # type: ignore[arg-type]
        notify=None,  # type: ignore[arg-type]
        fifos=None,  # type: ignore[arg-type]
        counters=counters,
        rebind=lambda ifname: None,
    )
    scheduler = Scheduler(
        clock=clock,
        registry=registry,
        timer=Timer(),
        run=executor.run,
        sockets={},
        read=lambda sock, first: None,
    )
    receiver = Receiver(
        loop=None,  # type: ignore[arg-type]
        clock=clock,
        woke=clock,
        registry=registry,
        links=None,  # type: ignore[arg-type]
        counters=counters,
        sockets={},
        run=executor.run,
        after_read=scheduler.after_read,
        rearm=scheduler.rearm,
        stopping=lambda: False,
    )
    return SimpleNamespace(
        receiver=receiver,
        loop=SimpleNamespace(time=clock),
        counters=counters,
        timer=scheduler.timer,
        _fast4=receiver.fast4,
        _rearm=scheduler.rearm,
    )


@dataclasses.dataclass
class Run:
    """A receiver with one real backup core, reading from one stand-in socket."""

    d: SimpleNamespace
    core: Counting
    sock: Sock

    def hear(self, packets: list[bytes], at: float) -> None:
        self.d.loop.time.now = at
        self.sock.packets = list(packets)
        self.d.receiver.read(self.sock, None)
        assert not self.sock.packets, "everything waiting is read"


def new_run() -> Run:
    core = Counting(SETTINGS)
    core.start(0.0)
    d = daemon(core)
    d.timer.at = core.get_timer()
    return Run(d, core, Sock([]))


def test_a_repeated_advert_skips_the_full_path() -> None:
    r = new_run()
    for i in range(10):
        r.hear([ipv4(ADVERT)], 1.0 + i)
    assert r.core.full == 1, "only the first was checked in full"
    assert r.core.stats.received == 10
    assert r.core.fast_path_hits == 9
    assert r.core.state is State.BACKUP
    assert r.core.get_timer() == 10.0 + r.core.down_interval


def test_several_waiting_adverts_each_count_from_when_they_are_read() -> None:
    r = new_run()
    r.hear([ipv4(ADVERT)], 1.0)
    r.hear([ipv4(ADVERT)] * 5, 2.0)
    assert r.core.full == 1
    assert r.core.stats.received == 6
    assert r.core.get_timer() == 2.0 + r.core.down_interval


def test_a_near_miss_goes_the_full_way_with_the_full_result() -> None:
    for name, raw in NEAR_MISSES.items():
        r = new_run()
        r.hear([ipv4(ADVERT)], 1.0)
        before = r.core.full
        r.hear([raw], 2.0)
        dgram = parse_ipv4(raw)
        if dgram is None or len(dgram.data) < 2:
            assert r.d.counters["not_vrrp"] == 1, name
        elif dgram.data[1] != SETTINGS.vrid:
            assert r.d.counters["unknown_vrid"] == 1, name
        else:
            assert r.core.full == before + 1, name


def test_a_dropped_near_miss_is_counted_by_the_core() -> None:
    r = new_run()
    r.hear([ipv4(ADVERT)], 1.0)
    r.hear([ipv4(ADVERT, ttl=254)], 2.0)
    assert sum(r.core.stats.dropped.values()) == 1
    assert r.core.get_timer() == 1.0 + r.core.down_interval, "a dropped advert re-arms nothing"


def test_the_core_stays_the_authority() -> None:
    r = new_run()
    r.hear([ipv4(ADVERT)], 1.0)
    r.hear([ipv4(ADVERT)], 2.0)
    assert r.core.full == 1
    # A tracker change makes the core forget its advert: its weight (+150) puts us above the
    # master, so the same bytes no longer mean "our master is alive".
    r.core.set_script_result("w", True, 2.5)
    assert r.core.fast_advert is None
    r.hear([ipv4(ADVERT)], 3.0)
    assert r.core.full == 2, "the daemon's entry was refused and the packet went the full way"
    assert r.core.fast_advert is None
    assert not r.d._fast4[r.sock], "the entry was dropped"  # type: ignore[index]


def test_an_entry_follows_the_core_when_the_master_changes() -> None:
    r = new_run()
    r.hear([ipv4(ADVERT)], 1.0)
    other = peer_advert(SETTINGS, 200, "10.213.0.7")
    r.hear([ipv4(other, src="10.213.0.7")], 1.5)  # a higher master takes over
    r.hear([ipv4(other, src="10.213.0.7")] * 3, 2.0)
    assert r.core.full == 2
    assert r.core.current_master == ip("10.213.0.7")
    entry: FastEntry = r.d._fast4[r.sock][SETTINGS.vrid]  # type: ignore[index]
    assert entry.payload == other


def test_a_refresh_never_leaves_the_timer_late() -> None:
    r = new_run()
    r.hear([ipv4(ADVERT)], 1.0)
    r.d._rearm()
    armed = r.d.timer.at
    assert armed == 1.0 + r.core.down_interval - TAKEOVER_LEAD
    r.hear([ipv4(ADVERT)], 2.0)
    assert r.d.timer.at == armed, "a later deadline lets the armed timer fire early"
    r.d.timer.at = None
    r.hear([ipv4(ADVERT)], 3.0)
    assert r.d.timer.at == 3.0 + r.core.down_interval - TAKEOVER_LEAD, "nothing armed: armed"
