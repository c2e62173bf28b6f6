"""The receive fast path changes nothing: the same events through an instance with it and one
without it give the same actions, timers, state and counters after every step."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from hypothesis import HealthCheck, given, note, settings, target
from hypothesis import strategies as st
from vrrpkit import ip, make_settings, mcast, peer_advert

from vipkeeper.vrrp.actions import Action
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import Auth, AuthType, InstanceSettings, TrackScript
from vipkeeper.vrrp.state import State

_NOT_COMPARED = {"fast_path", "fast_path_hits", "_fast"}


def snapshot(inst: VrrpInstance) -> dict[str, Any]:
    """Everything an instance holds except the fast path's own cache and hit count."""
    return {k: v for k, v in vars(inst).items() if k not in _NOT_COMPARED}


class Pair:
    """Instances fed the same calls: one with the fast path, one without, and one that is
    handed a repeated advert through ``refresh`` whenever it keeps it (as the daemon does)."""

    def __init__(self, s: InstanceSettings) -> None:
        self.fast = VrrpInstance(s)
        self.slow = VrrpInstance(s, fast_path=False)
        self.refreshed = VrrpInstance(s)
        self.now = 0.0
        self.steps = 0
        self.refreshes = 0

    def _refreshed(self, method: str, args: tuple[Any, ...]) -> list[Action]:
        inst = self.refreshed
        kept = inst.fast_advert
        if (
            method == "receive_advert"
            and kept is not None
            and tuple(args[:4]) == kept[:4]
            and inst.refresh(kept, args[4]) is not None
        ):
            self.refreshes += 1
            return []
        return list(getattr(inst, method)(*args))

    def call(self, method: str, *args: Any) -> list[Action]:
        a = getattr(self.fast, method)(*args)
        b = getattr(self.slow, method)(*args)
        c = self._refreshed(method, args)
        self.steps += 1
        assert a == b, f"step {self.steps} {method}: actions differ"
        assert c == b, f"step {self.steps} {method}: actions differ after refresh"
        assert snapshot(self.fast) == snapshot(self.slow), f"step {self.steps} {method}: state"
        assert snapshot(self.refreshed) == snapshot(self.slow), f"step {self.steps}: refresh"
        assert self.fast.get_timer() == self.slow.get_timer() == self.refreshed.get_timer()
        return list(a)

    def set_settings(self, new: InstanceSettings) -> None:
        """Assign new settings directly, as a careless caller would."""
        self.fast.settings = self.slow.settings = self.refreshed.settings = new

    def wait(self, dt: float) -> None:
        """Let ``dt`` seconds pass, running each timer when it is due (as the daemon does)."""
        end = self.now + dt
        for _ in range(1000):
            at = self.slow.get_timer()
            if at is None or at > end:
                break
            self.now = max(self.now, at)
            self.call("handle_timer", self.now)
        self.now = end


def base_settings(draw: st.DrawFn) -> InstanceSettings:
    family = draw(st.sampled_from([4, 6]))
    version = 3 if family == 6 else draw(st.sampled_from([2, 3]))
    prio = draw(st.sampled_from([50, 100, 150, 255]))
    kw: dict[str, Any] = {
        "priority": prio,
        "version": version,
        "nopreempt": prio != 255 and draw(st.booleans()),
        "preempt_delay": draw(st.sampled_from([0.0, 2.5])),
        "skip_check_adv_addr": draw(st.booleans()),
        "track_scripts": (TrackScript("w", weight=draw(st.sampled_from([0, -60, 30]))),),
        "advert_int": 1.0 if version == 2 else draw(st.sampled_from([0.5, 1.0])),
        "garp_master_delay": draw(st.sampled_from([0.0, 5.0])),
        "garp_master_refresh": draw(st.sampled_from([0.0, 3.0])),
    }
    if family == 4:
        kw.update(source="10.213.0.1", vips=("10.213.100.1", "10.213.100.2"))
    else:
        kw.update(source="fe80::1", vips=("fd00:213::1", "fd00:213::2"))
    if version == 2 and draw(st.booleans()):
        kw["auth"] = Auth(AuthType.PASS, b"secret")
    if draw(st.booleans()):
        peers = ("10.213.0.9", "10.213.0.5") if family == 4 else ("fe80::9", "fe80::5")
        kw["unicast_peers"] = tuple(ip(p) for p in peers)
        kw["unicast_min_ttl"] = draw(st.sampled_from([0, 250]))
    return make_settings(**kw)


def packets(s: InstanceSettings) -> list[tuple[bytes, Any, Any, int]]:
    """Adverts a backup may hear: its master's, others', resignations and broken ones."""
    v4 = s.family == 4
    peers = ["10.213.0.9", "10.213.0.5"] if v4 else ["fe80::9", "fe80::5"]
    own = str(s.source)
    dst = s.source if s.unicast_peers else mcast(s)
    out: list[tuple[bytes, Any, Any, int]] = []
    for src in peers:
        for prio in (0, 1, 50, 100, 150, 200, 255):
            data = peer_advert(s, prio, src, dst=dst)
            out.append((data, ip(src), dst, 255))
    good = peer_advert(s, 200, peers[0], dst=dst)
    out.append((good, ip(peers[0]), dst, 254))  # crossed a router
    out.append((good, ip(peers[0]), dst, 64))
    out.append((good, ip(peers[1]), dst, 255))  # the same bytes from another source
    bad = bytearray(good)
    bad[6] ^= 0xFF
    out.append((bytes(bad), ip(peers[0]), dst, 255))  # checksum
    other = ip("10.213.100.9") if v4 else ip("fd00:213::9")
    out.append((peer_advert(s, 200, peers[0], dst=dst, addresses=(other,)), ip(peers[0]), dst, 255))
    out.append((peer_advert(s, 150, own, dst=dst), s.source, dst, 255))  # our own, looped
    if s.version == 3:
        out.append((peer_advert(s, 200, peers[0], dst=dst, interval=37), ip(peers[0]), dst, 255))
    else:
        out.append((peer_advert(s, 200, peers[0], dst=dst, interval=2), ip(peers[0]), dst, 255))
        wrong = Auth(AuthType.PASS, b"nope")
        data = peer_advert(dataclasses.replace(s, auth=wrong), 200, peers[0], dst=dst)
        out.append((data, ip(peers[0]), dst, 255))
    return out


def variants(s: InstanceSettings) -> list[InstanceSettings]:
    """Settings a reload might bring (same VRID, family and version)."""
    extra = ip("10.213.100.3") if s.family == 4 else ip("fd00:213::3")
    out = [dataclasses.replace(s, priority=p, nopreempt=False) for p in (40, 100, 160, 254, 255)]
    out += [
        dataclasses.replace(s, nopreempt=not s.nopreempt) if s.priority != 255 else s,
        dataclasses.replace(s, preempt_delay=1.0 if s.preempt_delay else 2.5),
        dataclasses.replace(s, skip_check_adv_addr=not s.skip_check_adv_addr),
        dataclasses.replace(s, vips=(*s.vips, extra)),
        dataclasses.replace(s, vips=s.vips[:1]),
        dataclasses.replace(s, down_timer_adverts=5),
        dataclasses.replace(s, track_scripts=(TrackScript("w", weight=-120),)),
        dataclasses.replace(s, track_scripts=(TrackScript("w"), TrackScript("x", weight=20))),
    ]
    if s.version == 3:
        out.append(dataclasses.replace(s, advert_int=0.3))
    return out


EVENTS = st.one_of(
    st.tuples(st.just("rx"), st.integers(0, 100), st.floats(0.0, 1.5)),
    st.tuples(st.just("burst"), st.integers(0, 100), st.integers(2, 12)),
    st.tuples(st.just("wait"), st.floats(0.0, 8.0)),
    st.tuples(st.just("track"), st.booleans()),
    st.tuples(st.just("stop")),
    st.tuples(st.just("start")),
    st.tuples(st.just("demote"), st.sampled_from([0.0, 2.0, 6.0])),
    st.tuples(st.just("sync_fault"), st.booleans()),
    st.tuples(st.just("sync_to"), st.sampled_from([State.MASTER, State.BACKUP])),
    st.tuples(st.just("reconfigure"), st.integers(0, 100)),
    st.tuples(st.just("swap"), st.sampled_from(["priority", "nopreempt", "skip", "vips"])),
)


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[InstanceSettings, list[tuple[Any, ...]]]:
    s = base_settings(draw)
    events = draw(st.lists(EVENTS, min_size=1, max_size=60))
    return s, events


def run(pair: Pair, s0: InstanceSettings, pool: list[Any], ev: tuple[Any, ...]) -> None:
    kind = ev[0]
    inst = pair.slow
    if kind in ("rx", "burst"):
        data, src, dst, ttl = pool[ev[1] % len(pool)]
        if kind == "rx":
            pair.wait(ev[2])
            pair.call("receive_advert", data, src, dst, ttl, pair.now)
        else:
            for _ in range(ev[2]):
                pair.wait(inst.master_adv_int)
                pair.call("receive_advert", data, src, dst, ttl, pair.now)
    elif kind == "wait":
        pair.wait(ev[1])
    elif kind == "track" and inst.state is not State.STOP:
        names = [t.name for t in inst.settings.track_scripts]
        pair.call("set_script_result", names[0], ev[1], pair.now)
    elif kind == "stop" and inst.state is not State.STOP:
        pair.call("stop", pair.now)
    elif kind == "start" and inst.state in (State.INIT, State.STOP):
        pair.call("start", pair.now)
    elif kind == "demote" and inst.state is State.MASTER:
        pair.call("demote", pair.now, ev[1])
    elif kind == "sync_fault" and inst.state is not State.STOP:
        pair.call("set_sync_fault", ev[1], pair.now)
    elif kind == "sync_to":
        pair.call("sync_to", ev[1], pair.now)
    elif kind == "reconfigure":
        options = variants(s0)
        pair.call("reconfigure", options[ev[1] % len(options)], pair.now)
    elif kind == "swap":
        # A caller that assigns new settings directly (as the daemon once did for notify and
        # GARP changes): the fast path must not act on an advert checked against the old ones.
        cur = inst.settings
        new = {
            "priority": dataclasses.replace(cur, priority=min(254, cur.priority + 60)),
            "nopreempt": dataclasses.replace(cur, nopreempt=cur.priority != 255),
            "skip": dataclasses.replace(cur, skip_check_adv_addr=not cur.skip_check_adv_addr),
            "vips": dataclasses.replace(cur, vips=cur.vips[:1]),
        }[ev[1]]
        pair.set_settings(new)


@pytest.mark.slow  # 300 scenarios: about 14 s
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_fast_path_is_invisible(case: tuple[InstanceSettings, list[tuple[Any, ...]]]) -> None:
    s0, events = case
    note(f"settings {s0}")
    pair = Pair(s0)
    pool = packets(s0)
    pair.call("start", 0.0)
    for ev in events:
        note(f"t={pair.now:.3f} {pair.slow.state.value} {ev}")
        run(pair, s0, pool, ev)
    assert pair.slow.fast_path_hits == 0
    assert pair.refreshed.fast_path_hits == pair.fast.fast_path_hits == pair.refreshes
    target(float(pair.fast.fast_path_hits))


def test_a_steady_backup_takes_the_fast_path() -> None:
    s = make_settings(priority=100)
    pair = Pair(s)
    pair.call("start", 0.0)
    data = peer_advert(s, 150, "10.213.0.9")
    for _ in range(10):
        pair.wait(1.0)
        pair.call("receive_advert", data, ip("10.213.0.9"), mcast(s), 255, pair.now)
    assert pair.fast.fast_path_hits == 9  # all but the first, which was checked in full
    assert pair.fast.stats.received == 10
    assert pair.fast.state is State.BACKUP
    assert pair.fast.get_timer() == pair.now + pair.fast.down_interval


def test_the_fast_path_never_accepts_what_the_checks_would_refuse() -> None:
    s = make_settings(priority=100, version=2, auth=Auth(AuthType.PASS, b"secret"))
    pair = Pair(s)
    pair.call("start", 0.0)
    data = peer_advert(s, 150, "10.213.0.9")
    pair.call("receive_advert", data, ip("10.213.0.9"), mcast(s), 255, 1.0)
    pair.call("receive_advert", data, ip("10.213.0.9"), mcast(s), 254, 2.0)  # TTL
    pair.call("receive_advert", data, ip("10.213.0.7"), mcast(s), 255, 3.0)  # source
    pair.call("receive_advert", data, ip("10.213.0.9"), ip("224.0.0.19"), 255, 4.0)  # dst
    assert pair.fast.fast_path_hits == 0
    assert sum(pair.fast.stats.dropped.values()) == 1  # the TTL; the other two are accepted
    # A priority raised above the master's ends the fast path: the master is now lower.
    pair.call("reconfigure", dataclasses.replace(s, priority=200), 5.0)
    pair.call("receive_advert", data, ip("10.213.0.9"), mcast(s), 255, 5.5)
    pair.call("receive_advert", data, ip("10.213.0.9"), mcast(s), 255, 6.0)
    assert pair.fast.fast_path_hits == 0
    pair.wait(10.0)
    assert pair.fast.state is State.MASTER


def _steady(pair: Pair, data: bytes, src: str = "10.213.0.9", times: int = 3) -> None:
    s = pair.slow.settings
    for _ in range(times):
        pair.wait(0.5)
        pair.call("receive_advert", data, ip(src), mcast(s), 255, pair.now)


DISTURBANCES: dict[str, Any] = {
    "settings swapped: fewer VIPs": lambda p: _swap(p, vips=p.slow.settings.vips[:1]),
    "settings swapped: other password": lambda p: _swap(p, auth=Auth(AuthType.PASS, b"other")),
    "reconfigure: higher priority": lambda p: p.call(
        "reconfigure", dataclasses.replace(p.slow.settings, priority=200), p.now
    ),
    "tracker lowers nothing, raises us": lambda p: p.call("set_script_result", "w", True, p.now),
    "sync group fault and back": lambda p: (
        p.call("set_sync_fault", True, p.now),
        p.call("set_sync_fault", False, p.now),
    ),
    "stop and start": lambda p: (p.call("stop", p.now), p.call("start", p.now)),
    "a stranger's advert": lambda p: p.call(
        "receive_advert",
        peer_advert(p.slow.settings, 250, "10.213.0.20"),
        ip("10.213.0.20"),
        mcast(p.slow.settings),
        255,
        p.now,
    ),
}


def _swap(pair: Pair, **kw: Any) -> None:
    pair.set_settings(dataclasses.replace(pair.slow.settings, **kw))


@pytest.mark.parametrize("name", list(DISTURBANCES))
def test_each_disturbance_ends_the_fast_path(name: str) -> None:
    s = make_settings(
        version=2,
        priority=100,
        auth=Auth(AuthType.PASS, b"secret"),
        vips=("10.213.100.1", "10.213.100.2"),
        track_scripts=(TrackScript("w", weight=150, initially_ok=False),),
    )
    pair = Pair(s)
    pair.call("start", 0.0)
    data = peer_advert(s, 150, "10.213.0.9")
    _steady(pair, data)
    assert pair.fast.fast_path_hits == 2
    DISTURBANCES[name](pair)
    _steady(pair, data)
    assert pair.fast.fast_path_hits <= 4  # the first advert after it went the full way


@pytest.mark.parametrize("how", ["preempt_delay", "demote hold"])
def test_an_advert_accepted_only_for_a_while_is_not_kept(how: str) -> None:
    s = make_settings(priority=150, preempt_delay=2.5 if how == "preempt_delay" else 0.0)
    pair = Pair(s)
    pair.call("start", 0.0)
    if how == "demote hold":
        pair.wait(5.0)
        assert pair.slow.state is State.MASTER
        pair.call("demote", pair.now, 2.5)
    lower = peer_advert(s, 100, "10.213.0.9")
    for _ in range(8):  # accepted while delaying or held, then ignored: we take over
        pair.wait(0.5)
        pair.call("receive_advert", lower, ip("10.213.0.9"), mcast(s), 255, pair.now)
    pair.wait(5.0)
    assert pair.fast.fast_path_hits == 0
    assert pair.slow.state is State.MASTER


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("change", ["src", "dst", "ttl"])
def test_the_same_bytes_from_elsewhere_go_the_full_way(version: int, change: str) -> None:
    # v3 sums the addresses into the checksum (dropped); v2 does not (another master then).
    s = make_settings(version=version, priority=100, unicast_peers=(ip("10.213.0.9"),),
                      unicast_min_ttl=250)  # fmt: skip
    pair = Pair(s)
    pair.call("start", 0.0)
    data = peer_advert(s, 150, "10.213.0.9", dst=s.source)
    src, dst, ttl = ip("10.213.0.9"), s.source, 255
    for _ in range(3):
        pair.wait(0.5)
        pair.call("receive_advert", data, src, dst, ttl, pair.now)
    src, dst, ttl = {
        "src": (ip("10.213.0.8"), dst, ttl),
        "dst": (src, ip("10.213.0.3"), ttl),
        "ttl": (src, dst, 251),
    }[change]
    hits = pair.fast.fast_path_hits
    pair.wait(0.5)
    pair.call("receive_advert", data, src, dst, ttl, pair.now)
    assert pair.fast.fast_path_hits == hits
