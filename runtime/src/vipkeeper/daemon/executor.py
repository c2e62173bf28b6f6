"""Carries out the cores' actions: adverts to the sockets, VIPs, routes and rules to the kernel
worker, notifies to their queue, lines to the FIFOs, and the log.

`Executor.run` is the one way in: it passes an instance's actions through its sync group,
then `carry_out` does each one. A failed action is logged and never stops the next.
"""

from __future__ import annotations

import errno
import logging
import socket
import time
from collections.abc import Callable, Iterable, Mapping
from ipaddress import IPv4Address
from typing import Any, Protocol

from vipkeeper._compat import zip_strict
from vipkeeper.daemon.firewall import Firewall
from vipkeeper.daemon.kernel import Kernel
from vipkeeper.daemon.mail import Mailer
from vipkeeper.daemon.notify import NotifyQueue
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.net.addrs import AddrSpec, RouteSpec
from vipkeeper.net.links import LinkMonitor
from vipkeeper.net.rules import RuleSpec
from vipkeeper.net.vrrpsock import SocketKey, VrrpSocket
from vipkeeper.vrrp.actions import (
    Action,
    AddRoutes,
    AddRules,
    AddVips,
    AdvertDropped,
    IntervalMismatch,
    PriorityChanged,
    RemoveRoutes,
    RemoveRules,
    RemoveVips,
    RunNotify,
    SendAdvert,
    SendAlert,
    SendGratuitous,
    StateChanged,
    WriteNotifyFifo,
)
from vipkeeper.vrrp.ah import IPPROTO_AH, ah_key, readdress
from vipkeeper.vrrp.packet import decode_advert, encode_advert
from vipkeeper.vrrp.settings import MCAST_V4, MCAST_V6, IPAddress, VirtualRoute, VirtualRule
from vipkeeper.vrrp.state import State

log = logging.getLogger("vipkeeper")
DROP_LOG_EVERY = 10.0  # seconds between log lines about the same kind of dropped packet
SEND_FAILED = "send_failed"  # the rate limit's key for failed sends (Managed.drop_logged)
LOG_ONLY = (StateChanged, PriorityChanged, AdvertDropped, IntervalMismatch)


class FifoWriter(Protocol):
    """Where WriteNotifyFifo lines go (daemon/fifos.py's Fifos)."""

    def write(self, line: str) -> None: ...


def addr_specs(
    managed: Managed, addresses: Iterable[IPAddress], *, removing: bool
) -> tuple[AddrSpec, ...]:
    """The kernel specs of addresses; a removal also finds those a reload just dropped."""
    wanted = set(addresses)
    specs = [s for s in managed.plan.addrs if s.address.ip in wanted]
    if removing and managed.retired is not None:
        have = {s.address.ip for s in specs}
        specs += [s for s in managed.retired.addrs if s.address.ip in wanted - have]
    return tuple(specs)


def route_specs(
    managed: Managed, routes: Iterable[VirtualRoute], *, removing: bool
) -> tuple[RouteSpec, ...]:
    """The kernel specs of virtual routes (a removal also in the plan a reload replaced)."""
    plans = [managed.plan]
    if removing and managed.retired is not None:
        plans.append(managed.retired)
    indexes = [dict(zip_strict(p.settings.virtual_routes, p.routes)) for p in plans]
    out = []
    for r in routes:
        spec = next((ix[r] for ix in indexes if r in ix), None)
        if spec is not None:
            out.append(spec)
    return tuple(out)


def rule_specs(
    managed: Managed, rules: Iterable[VirtualRule], *, removing: bool
) -> tuple[RuleSpec, ...]:
    """The kernel specs of virtual rules (a removal also in the plan a reload replaced)."""
    plans = [managed.plan]
    if removing and managed.retired is not None:
        plans.append(managed.retired)
    by_key = {spec.key(): spec for p in reversed(plans) for spec in p.rules}
    return tuple(by_key[r.text] for r in rules if r.text in by_key)


class Executor:
    """Actions to the kernel, the sockets, the notify queue, the FIFOs, the mailer and the log.

    - `clock`: the event loop's time (log rate limits).
    - `sockets`: the VRRP sockets by (interface, family) (the receiver's table).
    - `counters`: the daemon's counters (`send_errors`).
    - `rebind`: re-binds the sockets of an interface (Receiver.reopen_sockets), after a send
      showed a socket bound to an index the interface no longer has.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        registry: Registry,
        sockets: Mapping[SocketKey, VrrpSocket],
        kernel: Kernel,
        links: LinkMonitor,
        notify: NotifyQueue,
        fifos: FifoWriter,
        counters: dict[str, int],
        rebind: Callable[[str], None],
        mailer: Mailer | None = None,
        firewall: Firewall | None = None,
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.sockets = sockets
        self.kernel = kernel
        self.links = links
        self.notify = notify
        self.fifos = fifos
        self.counters = counters
        self.rebind = rebind
        self.mailer = mailer
        self.firewall = firewall

    def run(self, managed: Managed, actions: list[Action], now: float) -> None:
        """Pass a member's actions through its sync group, then carry them out in order;
        those that only log and count come after the rest.

        A new master's advert and VIP add go out before its transition is logged (the log
        line costs a tenth of a millisecond).
        """
        group = self.registry.groups.get(managed.plan.sync_group or "")
        if group is not None and any(mb is managed.core for mb in group.members):
            actions = group.follow(actions, now)
        later: list[Action] = []
        for action in actions:
            if isinstance(action, LOG_ONLY):
                later.append(action)
            else:
                self.carry_out(action)
        for action in later:
            self.carry_out(action)

    def carry_out(self, action: Action) -> None:
        """Do one action; a failure is logged and never stops the others."""
        managed = self.registry.instances.get(action.instance)
        try:
            if isinstance(action, SendAdvert):
                if managed is not None:
                    self.send(managed, action)
            elif isinstance(action, StateChanged):
                self._state_changed(action, managed)
            elif isinstance(action, (AddVips, RemoveVips)):
                if managed is None:
                    return
                removing = isinstance(action, RemoveVips)
                specs = addr_specs(managed, action.addresses, removing=removing)
                if removing:
                    self.kernel.remove_addresses(specs, managed.name)
                    if self.firewall is not None:  # after the VIPs leave, as keepalived
                        self.firewall.remove(managed, action.addresses)
                else:
                    if self.firewall is not None:  # before the VIPs come, as keepalived
                        self.firewall.add(managed, action.addresses)
                    self.kernel.add_addresses(specs, managed.name)
            elif isinstance(action, (AddRoutes, RemoveRoutes)):
                if managed is None:
                    return
                removing = isinstance(action, RemoveRoutes)
                routes = route_specs(managed, action.routes, removing=removing)
                if removing:
                    self.kernel.remove_routes(routes, managed.name)
                else:
                    self.kernel.add_routes(routes, managed.name)
            elif isinstance(action, (AddRules, RemoveRules)):
                if managed is None:
                    return
                removing = isinstance(action, RemoveRules)
                rules = rule_specs(managed, action.rules, removing=removing)
                if removing:
                    self.kernel.remove_rules(rules, managed.name)
                else:
                    self.kernel.add_rules(rules, managed.name)
            elif isinstance(action, SendGratuitous):
                if managed is not None:
                    self.gratuitous(managed, action)
            elif isinstance(action, RunNotify):
                self.notify.notify(action.instance, action.kind, action.argv)
            elif isinstance(action, WriteNotifyFifo):
                self.fifos.write(action.line)
            elif isinstance(action, SendAlert):
                if self.mailer is not None:
                    self.mailer.vrrp(action.instance, action.state, group=action.group)
            elif isinstance(action, PriorityChanged):
                log.info(
                    "(%s) effective priority %d -> %d", action.instance, action.old, action.new
                )
            elif isinstance(action, AdvertDropped):
                if managed is not None:
                    detail = f"from {action.src}: {action.detail}"
                    self._log_drop(managed, action.reason.value, detail)
            elif isinstance(action, IntervalMismatch) and managed is not None:
                self._log_drop(
                    managed,
                    "interval_mismatch",
                    f"{action.src} advertises {action.advertised}s, ours is {action.configured}s",
                )
        except Exception as exc:  # one failed action must not stop the others
            log.error("(%s) %s failed: %s", action.instance, type(action).__name__, exc)

    def _log_drop(self, managed: Managed, reason: str, detail: str) -> None:
        now = self.clock()
        last = managed.drop_logged.get(reason)
        if last is None or now - last >= DROP_LOG_EVERY:
            managed.drop_logged[reason] = now
            total = managed.core.stats.dropped.get(reason, 0)  # type: ignore[call-overload]
            log.warning(
                "(%s) advert dropped (%s) %s [%d so far]", managed.name, reason, detail, total
            )

    def send(self, managed: Managed, action: SendAdvert) -> None:
        """Send an advert on the instance's socket (a configured group gets its own copy)."""
        plan = managed.plan
        sock = self.sockets.get(plan.socket_key)
        if sock is None:
            self._send_failed(managed, action, None, None)
            return
        data, dst = action.packet, action.dst
        group = plan.mcast_group
        if group is not None and dst in (MCAST_V4, MCAST_V6) and dst != group:
            # The core addresses the standard group; a configured group needs its own checksum
            # (with AH, its own IP header and ICV).
            s = plan.settings
            if action.proto == IPPROTO_AH and isinstance(group, IPv4Address):
                data = readdress(data, group, key=ah_key(s.auth.password), unicast=False)
            else:
                advert = decode_advert(data, s.family)
                data = encode_advert(
                    advert, action.src, group, v3_checksum_as_v2=s.v3_checksum_as_v2
                )
            dst = group
        try:
            sock.send(data, dst, action.src)
        except OSError as exc:
            self._send_failed(managed, action, sock, exc)

    def _send_failed(
        self, managed: Managed, action: SendAdvert, sock: VrrpSocket | None, exc: OSError | None
    ) -> None:
        """An advert did not leave: count it, say so (once per DROP_LOG_EVERY per instance),
        and check the socket still stands for the interface.

        keepalived logs every failed send (vrrp.c vrrp_send_adv) and leaves the state alone;
        a lost interface reaches the instance through the link monitor. Here a failure also
        checks the binding: a socket whose index is no longer the interface's means a link
        event was missed, and the link table is read again (the monitor then reports it).
        """
        self.counters["send_errors"] += 1
        ifname = managed.plan.interface
        current = sock is not None and sock.current()
        if sock is not None and not current:
            self._check_binding(ifname)
        if action.priority == 0 and not current:
            # A resignation on an interface that is gone: expected on the way to FAULT.
            log.debug("(%s) resignation advert not sent: %s is gone", managed.name, ifname)
            return
        now = self.clock()
        last = managed.drop_logged.get(SEND_FAILED)
        if last is not None and now - last < DROP_LOG_EVERY:
            return
        managed.drop_logged[SEND_FAILED] = now
        if exc is None:
            missing = self.links.get(ifname) is None
            why = "no such interface" if missing else "its VRRP socket could not be opened"
            where = ifname
        else:
            code = errno.errorcode.get(exc.errno or 0, str(exc.errno))
            why = f"{exc.strerror} ({code})"
            where = f"{ifname} (index {sock.ifindex})" if sock is not None else ifname
        log.warning(
            "(%s) advert to %s not sent on %s: %s [%d send errors so far]",
            managed.name,
            action.dst,
            where,
            why,
            self.counters["send_errors"],
        )

    def _check_binding(self, ifname: str) -> None:
        """A socket on `ifname` is bound to an index that no longer carries the name: when the
        link table agrees with the kernel, bind again now; else a link event was missed (an
        overrun the kernel did not report, or one still queued): read the table again."""
        link = self.links.get(ifname)
        try:
            index: int | None = socket.if_nametoindex(ifname)
        except OSError:
            index = None
        if index != (None if link is None else link.index):
            self.links.request_resync()
        else:
            self.rebind(ifname)

    def gratuitous(self, managed: Managed, action: SendGratuitous) -> None:
        """Gratuitous ARPs or unsolicited NAs for the instance's addresses, per interface."""
        by_if: dict[str, list[Any]] = {}
        wanted = set(action.addresses)
        for spec in managed.plan.addrs:
            if spec.address.ip in wanted:
                by_if.setdefault(spec.ifname, []).append(spec.address.ip)
        interval = managed.plan.garp_interval if action.family == 4 else managed.plan.gna_interval
        for ifname, addrs in by_if.items():
            link = self.links.get(ifname)
            if link is None:
                continue
            self.kernel.gratuitous(
                ifname,
                ifindex=link.index,
                mac=link.mac,
                addresses=tuple(addrs),
                repeat=action.repeat,
                interval=interval,
            )

    def _state_changed(self, action: StateChanged, managed: Managed | None) -> None:
        if managed is None:
            return
        managed.transitions += 1
        edge = (action.old.value, action.new.value, action.reason.value)
        managed.transitions_by[edge] = managed.transitions_by.get(edge, 0) + 1
        managed.last_transition = {
            "at": time.time(),
            "from": action.old.value,
            "to": action.new.value,
            "reason": action.reason.value,
        }
        core = managed.core
        extra = ""
        if core.faults and action.new is State.FAULT:
            extra = f" [{', '.join(core.faults)}]"
        elif core.current_master is not None and action.new is State.BACKUP:
            extra = f" [master {core.current_master}]"
        log.info(
            "(%s) %s -> %s: %s (priority %d)%s",
            managed.name,
            action.old.value,
            action.new.value,
            action.reason.value,
            core.priority,
            extra,
        )
