"""VIP conflict detection and the takeover guard (docs/split-brain.md).

While an instance is MASTER, every `conflict_interval` seconds each of its VIPs is probed
(net/probe.py: an ARP probe, or a neighbour solicitation); every ARP frame and Neighbor
Advertisement heard on those interfaces is read, and a claim of one of our VIPs by a MAC that
is not one of this host's (nor the VRRP virtual MAC of an instance with use_vmac) is a
conflict: logged at error level, counted, shown in the status and passed to the
`conflict_notify` hook. With `takeover_guard`, a BACKUP whose down timer runs out first probes
its VIPs for that window (the scheduler asks `start_guard` and then `guard_verdict`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from typing import Any

from vipkeeper.config import model as m
from vipkeeper.daemon.notify import CONFLICT_HOOK, NotifyQueue
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.net.links import LinkMonitor
from vipkeeper.net.probe import Claim, ProbeSocket, format_mac
from vipkeeper.vrrp.conflict import Address, Conflict, ConflictTable
from vipkeeper.vrrp.state import State

log = logging.getLogger("vipkeeper")
RELOG_EVERY = 60.0  # seconds between two error lines about the same ongoing conflict
# Claims heard this soon after an instance became MASTER are not conflicts: the old master may
# still answer for the moment it takes to hear the new master and drop the VIP.
MASTER_GRACE = 1.0


def vmac(vrid: int, family: int) -> bytes:
    """The VRRP virtual MAC of a VRID (RFC 5798 s7.3)."""
    return bytes((0, 0, 0x5E, 0, 1 if family == 4 else 2, vrid))


class ConflictWatch:
    """Probes the VIPs, reads the claims, and keeps the conflicts."""

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        registry: Registry,
        links: LinkMonitor,
        notify: NotifyQueue,
        counters: dict[str, int],
    ) -> None:
        self.loop = loop
        self.registry = registry
        self.links = links
        self.notify = notify
        self.counters = counters
        self.settings = m.VipkeeperDefs()
        self.table = ConflictTable(hold=3 * self.settings.conflict_interval)
        self.sockets: dict[str, ProbeSocket] = {}
        self.guarding: dict[str, float] = {}  # instance -> when its guard began
        self.vmacs: set[bytes] = set()
        self.watched_fds: set[int] = set()
        self.probes_sent = 0
        self.probe_errors = 0
        self._tick: asyncio.TimerHandle | None = None

    # ---- settings and lifecycle ------------------------------------------------------------

    @property
    def guard_window(self) -> float:
        """The takeover guard's window in seconds (0: no guard)."""
        return self.settings.takeover_guard

    def configure(self, config: m.Config) -> None:
        """Take the settings of the config now running (start and reload)."""
        old = self.settings
        self.settings = config.vipkeeper
        self.table.hold = 3 * self.settings.conflict_interval
        self.vmacs = {
            i.vmac_mac or vmac(i.virtual_router_id, i.family)
            for i in config.vrrp_instances
            if i.use_vmac
        }
        running = self.settings.conflict_detection is m.ConflictMode.REPORT
        if not running:
            self._cancel()
        elif self._tick is None or old.conflict_interval != self.settings.conflict_interval:
            self._cancel()
            self._tick = self.loop.call_later(self.settings.conflict_interval, self.tick)

    def stop(self) -> None:
        """Stop probing and close the sockets."""
        self._cancel()
        for sock in self.sockets.values():
            self._unwatch(sock)
            sock.close()
        self.sockets.clear()

    def _cancel(self) -> None:
        if self._tick is not None:
            self._tick.cancel()
            self._tick = None

    # ---- probing -----------------------------------------------------------------------------

    def tick(self) -> None:
        """Probe every VIP of every master, end the conflicts no longer heard, and re-arm."""
        self._tick = self.loop.call_later(self.settings.conflict_interval, self.tick)
        for managed in list(self.registry.instances.values()):
            if managed.core.state is State.MASTER:
                self.probe(managed)
        for ended in self.table.expire(self.loop.time()):
            log.info(
                "(%s) VIP conflict over: %s no longer claims %s on %s",
                ended.instance,
                format_mac(ended.mac),
                ended.address,
                ended.ifname,
            )

    def probe(self, managed: Managed) -> None:
        """Probe each VIP of the instance on its interface."""
        for spec in managed.plan.addrs:
            link = self.links.get(spec.ifname)
            if link is None:
                continue
            sock = self._socket(spec.ifname, link.index)
            try:
                sock.probe(link.mac, spec.address.ip)
                self.probes_sent += 1
            except OSError as exc:
                self.probe_errors += 1
                log.debug("(%s) probe of %s failed: %s", managed.name, spec.address.ip, exc)
            self._watch(sock)

    def _socket(self, ifname: str, ifindex: int) -> ProbeSocket:
        sock = self.sockets.get(ifname)
        if sock is not None and sock.ifindex != ifindex:  # the interface came back anew
            self._unwatch(sock)
            sock.close()
            sock = None
        if sock is None:
            sock = self.sockets[ifname] = ProbeSocket(ifname, ifindex)
        return sock

    def _watch(self, sock: ProbeSocket) -> None:
        for raw, read in ((sock.arp, sock.read_arp), (sock.icmp6, sock.read_icmp6)):
            if raw is not None and raw.fileno() not in self.watched_fds:
                self.watched_fds.add(raw.fileno())
                self.loop.add_reader(raw.fileno(), self._on_readable, sock, read)

    def _unwatch(self, sock: ProbeSocket) -> None:
        for raw in (sock.arp, sock.icmp6):
            if raw is not None and raw.fileno() in self.watched_fds:
                self.watched_fds.discard(raw.fileno())
                self.loop.remove_reader(raw.fileno())

    def _on_readable(self, sock: ProbeSocket, read: Callable[[], Any]) -> None:
        try:
            claims: list[Claim] = list(read())
        except OSError as exc:
            log.debug("probe socket on %s: %s", sock.ifname, exc)
            return
        if claims:
            self.claimed(claims, sock.ifname)

    # ---- claims ------------------------------------------------------------------------------

    def own_macs(self) -> set[bytes]:
        """This host's MACs, and the virtual MACs of the instances with use_vmac."""
        return {link.mac for link in self.links.links.values()} | self.vmacs

    def claimed(self, claims: list[Claim], ifname: str) -> None:
        """MACs claim addresses on `ifname`: a conflict for each claim of one of our VIPs by a
        MAC not ours (the VIPs watched are indexed once per batch, so a flood of unrelated ARP
        costs a set lookup per frame)."""
        own = self.own_macs()
        foreign = [c for c in claims if c.mac not in own]
        if not foreign:
            return
        ours: dict[Address, list[Managed]] = {}
        for managed in self.registry.instances.values():
            if self._watching(managed):
                for spec in managed.plan.addrs:
                    if spec.ifname == ifname:
                        ours.setdefault(spec.address.ip, []).append(managed)
        now = self.loop.time()
        for claim in foreign:
            for managed in ours.get(claim.address, ()):
                self._heard(managed, claim, ifname, now)

    def _heard(self, managed: Managed, claim: Claim, ifname: str, now: float) -> None:
        """One claim of one of the instance's VIPs by another MAC: count, log, hook."""
        conflict, new = self.table.heard(managed.name, claim.address, claim.mac, ifname, now)
        self.counters["vip_conflict_answers"] += 1
        if new:
            self.counters["vip_conflicts"] += 1
        if new or now - conflict.logged_at >= RELOG_EVERY:
            self._report(managed, conflict, new, now)

    def _watching(self, managed: Managed) -> bool:
        core = managed.core
        if managed.name in self.guarding:
            return core.state is State.BACKUP
        if core.state is not State.MASTER:
            return False
        if self.settings.conflict_detection is m.ConflictMode.OFF:
            return False
        last = managed.last_transition
        return last is None or time.time() - float(last["at"]) >= MASTER_GRACE

    def _report(self, managed: Managed, conflict: Conflict, new: bool, now: float) -> None:
        conflict.logged_at = now
        role = "guarding its takeover" if managed.name in self.guarding else "MASTER"
        log.error(
            "(%s) VIP conflict: %s is also held by %s on %s (we are %s)%s",
            managed.name,
            conflict.address,
            format_mac(conflict.mac),
            conflict.ifname,
            role,
            "" if new else f" [{conflict.answers} answers so far]",
        )
        if new:
            hook = self.settings.conflict_notify
            if hook is not None:
                extra = ("conflict", managed.name, str(conflict.address), format_mac(conflict.mac))
                self.notify.notify(
                    CONFLICT_HOOK[0], CONFLICT_HOOK[1], (*hook.argv, *extra, conflict.ifname)
                )

    # ---- the takeover guard ------------------------------------------------------------------

    def start_guard(self, managed: Managed, now: float) -> None:
        """A BACKUP's down timer ran out: probe its VIPs before it takes over."""
        self.guarding[managed.name] = now
        self.probe(managed)

    def guard_verdict(self, managed: Managed) -> str | None:
        """End the guard: who answered during it, None when nobody did."""
        began = self.guarding.pop(managed.name, None)
        if began is None:
            return None
        heard = self.table.heard_since(managed.name, began)
        if heard is None:
            return None
        self.counters["takeovers_held"] += 1
        return f"{format_mac(heard.mac)} answers for {heard.address} on {heard.ifname}"

    def end_guard(self, managed: Managed) -> None:
        """The guard ends without a verdict (an advert came, or the instance left BACKUP)."""
        self.guarding.pop(managed.name, None)

    # ---- status ------------------------------------------------------------------------------

    def instance_status(self, name: str, clock: float) -> list[dict[str, Any]]:
        """The instance's conflicts still going, for `vipkeeper status`."""
        return [
            {
                "address": str(c.address),
                "mac": format_mac(c.mac),
                "interface": c.ifname,
                "answers": c.answers,
                "first_seen_ago": round(clock - c.first_seen, 3),
                "last_seen_ago": round(clock - c.last_seen, 3),
            }
            for c in self.table.of(name)
        ]

    def status(self) -> dict[str, Any]:
        """The settings and figures of the detection."""
        s = self.settings
        return {
            "mode": s.conflict_detection.value,
            "interval": s.conflict_interval,
            "takeover_guard": s.takeover_guard,
            "probes_sent": self.probes_sent,
            "probe_errors": self.probe_errors,
            "active": len(self.table.active),
        }
