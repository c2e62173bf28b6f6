"""Test kit for the VRRP core: settings builders, advert builders and a fake link (h11 style)."""

from __future__ import annotations

import dataclasses
import heapq
import ipaddress
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from vipkeeper.vrrp.actions import Action, SendAdvert, SendGratuitous, StateChanged
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import encode_advert
from vipkeeper.vrrp.settings import MCAST_V4, MCAST_V6, InstanceSettings, IPAddress
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.syncgroup import SyncGroup


def ip(text: str) -> IPAddress:
    """Parse an address."""
    return ipaddress.ip_address(text)


def make_settings(
    name: str = "VI_1",
    priority: int = 100,
    source: str = "10.213.0.1",
    version: int = 3,
    vips: Sequence[str] = ("10.213.100.1",),
    **kw: Any,
) -> InstanceSettings:
    """InstanceSettings with test defaults (VRID 51, family from the source address)."""
    src = ip(source)
    kw.setdefault("vrid", 51)
    kw.setdefault("family", src.version)
    return InstanceSettings(
        name=name,
        source=src,
        priority=priority,
        version=version,
        vips=tuple(ip(v) for v in vips),
        **kw,
    )


def peer_advert(
    settings: InstanceSettings, priority: int, source: str, dst: IPAddress | None = None, **adv: Any
) -> bytes:
    """The bytes a peer with ``settings`` but address ``source`` sends with ``priority``."""
    src = ip(source)
    peer_settings = dataclasses.replace(
        settings, source=src, priority=max(priority, 1), nopreempt=False
    )
    peer = VrrpInstance(peer_settings)
    advert = dataclasses.replace(peer.build_advert(priority), **adv)
    if dst is None:
        dst = MCAST_V4 if src.version == 4 else MCAST_V6
    return encode_advert(advert, src, dst, v3_checksum_as_v2=settings.v3_checksum_as_v2)


def mcast(settings: InstanceSettings) -> IPAddress:
    """The multicast group for ``settings``' family."""
    return MCAST_V4 if settings.family == 4 else MCAST_V6


T = TypeVar("T")


def of_type(actions: Sequence[Action], kind: type[T]) -> list[T]:
    """The actions of one type, in order."""
    return [a for a in actions if isinstance(a, kind)]


class FakeLink:
    """Instances on one shared segment; adverts arrive after ``delay`` unless blocked or dropped."""

    def __init__(self, nodes: Sequence[VrrpInstance], delay: float = 0.001) -> None:
        """Connect ``nodes``; nothing is started."""
        self.nodes = list(nodes)
        self.delay = delay
        self.now = 0.0
        self.blocked: set[frozenset[int]] = set()
        self.drop: Callable[[int, int, SendAdvert], bool] = lambda _s, _d, _a: False
        self.log: list[tuple[float, int, Action]] = []
        self._queue: list[tuple[float, int, int, SendAdvert]] = []
        self._seq = 0
        self.max_masters_seen = 0
        self.groups: dict[int, SyncGroup] = {}
        self._by_name = {n.name: i for i, n in enumerate(self.nodes)}

    def add_group(self, group: SyncGroup) -> None:
        """Route the members' actions through ``group.follow``."""
        for m in group.members:
            self.groups[self.index(m)] = group

    def index(self, node: VrrpInstance) -> int:
        """Index of ``node``."""
        return self.nodes.index(node)

    def apply(self, i: int, actions: Sequence[Action]) -> list[Action]:
        """Record node ``i``'s actions and put its adverts on the wire (same VRID only)."""
        group = self.groups.get(i)
        if group is not None:
            actions = group.follow(actions, self.now)
        for a in actions:
            k = self._by_name.get(getattr(a, "instance", ""), i)
            self.log.append((self.now, k, a))
            if isinstance(a, SendAdvert):
                vrid = self.nodes[k].settings.vrid
                for j, other in enumerate(self.nodes):
                    if j == k or frozenset((k, j)) in self.blocked or self.drop(k, j, a):
                        continue
                    if other.settings.vrid != vrid:
                        continue
                    if a.dst.is_multicast or a.dst == other.settings.source:
                        self._seq += 1
                        heapq.heappush(self._queue, (self.now + self.delay, self._seq, j, a))
        return list(actions)

    def call(self, node: VrrpInstance, method: str, *args: Any) -> list[Action]:
        """Call ``node.method(*args, now)`` and apply the result."""
        return self.apply(self.index(node), getattr(node, method)(*args, self.now))

    def start_all(self) -> None:
        """Start every node now."""
        for n in self.nodes:
            self.call(n, "start")

    def partition(self, a: VrrpInstance, b: VrrpInstance) -> None:
        """Block traffic between ``a`` and ``b``."""
        self.blocked.add(frozenset((self.index(a), self.index(b))))

    def heal(self) -> None:
        """Unblock every pair."""
        self.blocked.clear()

    def run_until(self, until: float, max_events: int = 200_000) -> None:
        """Process deliveries and timers in time order up to ``until`` (inclusive)."""
        for _ in range(max_events):
            timers = [(t, i) for i, n in enumerate(self.nodes) if (t := n.get_timer()) is not None]
            t_timer, i_timer = min(timers) if timers else (float("inf"), -1)
            t_pkt = self._queue[0][0] if self._queue else float("inf")
            t = min(t_timer, t_pkt)
            if t > until:
                self.now = until
                return
            self.now = max(self.now, t)
            if t_pkt <= t_timer:
                _, _, j, adv = heapq.heappop(self._queue)
                node = self.nodes[j]
                self.apply(j, node.receive_advert(adv.packet, adv.src, adv.dst, adv.ttl, self.now))
            else:
                self.apply(i_timer, self.nodes[i_timer].handle_timer(self.now))
            self.max_masters_seen = max(self.max_masters_seen, self.masters_per_vrid())
        raise AssertionError("simulation did not settle (timer loop?)")

    def masters_per_vrid(self) -> int:
        """The largest number of simultaneous masters of any one VRID."""
        counts: dict[int, int] = {}
        for n in self.masters():
            counts[n.settings.vrid] = counts.get(n.settings.vrid, 0) + 1
        return max(counts.values(), default=0)

    def masters(self) -> list[VrrpInstance]:
        """Nodes currently MASTER."""
        return [n for n in self.nodes if n.state is State.MASTER]

    def changes(self, node: VrrpInstance | None = None) -> list[tuple[float, StateChanged]]:
        """State changes (of one node, or all) with their time."""
        return [
            (t, a)
            for t, i, a in self.log
            if isinstance(a, StateChanged) and (node is None or self.nodes[i] is node)
        ]

    def garps(self, node: VrrpInstance, since: float = 0.0) -> list[tuple[float, SendGratuitous]]:
        """GARP bursts of ``node`` at or after ``since``."""
        idx = self.index(node)
        return [
            (t, a)
            for t, i, a in self.log
            if i == idx and t >= since and isinstance(a, SendGratuitous)
        ]
