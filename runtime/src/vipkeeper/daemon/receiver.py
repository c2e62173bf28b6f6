"""The VRRP sockets and the receive path: one socket per (interface, family, IP protocol: 112,
or 51 for auth_type AH), bound by index.

Reading: `on_readable` runs when the event loop sees a socket readable. IPv4 first tries the
fast path (daemon/rxfast.py): a master's advert repeated exactly only refreshes its backup's
core. Anything else goes the full way, to `core.receive_advert`; a bad packet is counted and
dropped. After each read the scheduler re-arms the one timer.

Sockets follow their interface's index: a socket whose interface went, or was replaced under
the name, is closed, and instances whose socket cannot be opened are held in FAULT.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from vipkeeper.daemon.build import InstancePlan
from vipkeeper.daemon.evloop import received_at
from vipkeeper.daemon.registry import Managed, Registry, Run
from vipkeeper.daemon.rxfast import FastEntry, entry_for, match
from vipkeeper.net.links import LinkMonitor
from vipkeeper.net.vrrpsock import IPPROTO_VRRP, Datagram, SocketKey, VrrpSocket, parse_ipv4

log = logging.getLogger("vipkeeper")
READ_BATCH = 64  # datagrams read per wake-up of a socket
SOCKET_RETRY = 1.0  # seconds between tries to open a VRRP socket that could not be opened


class SocketsError(Exception):
    """A VRRP socket a reload needs could not be opened (names the interface and cause)."""


class Receiver:
    """The VRRP sockets, and what arrives on them.

    - `loop`: the event loop (readers and the retry timer); `clock` its time.
    - `woke`: when the loop's last wait for events returned (daemon/evloop.py).
    - `sockets`: the table this receiver fills, shared with the executor and the scheduler.
    - `run`: carries out an instance's actions (Executor.run).
    - `after_read`, `rearm`: the scheduler's re-arms after a read and after other events.
    - `stopping`: whether the daemon is stopping (no retries then).
    """

    def __init__(
        self,
        *,
        loop: asyncio.AbstractEventLoop,
        clock: Callable[[], float],
        woke: Callable[[], float],
        registry: Registry,
        links: LinkMonitor,
        counters: dict[str, int],
        sockets: dict[SocketKey, VrrpSocket],
        run: Run,
        after_read: Callable[[set[Managed], float | None], None],
        rearm: Callable[[], None],
        stopping: Callable[[], bool],
    ) -> None:
        self.loop = loop
        self.clock = clock
        self.woke = woke
        self.registry = registry
        self.links = links
        self.counters = counters
        self.sockets = sockets
        self.run = run
        self.after_read = after_read
        self.rearm = rearm
        self.stopping = stopping
        # (interface, family, protocol) -> failed tries to open its VRRP socket, while they fail.
        self.failures: dict[SocketKey, int] = {}
        self._retry: asyncio.TimerHandle | None = None
        # Per IPv4 socket, by VRID: the adverts the cores take through their fast path.
        self.fast4: dict[VrrpSocket, dict[int, FastEntry]] = {}

    def adopt(self, sockets: Iterable[VrrpSocket]) -> None:
        """Take over sockets a reload opened (open_new) and start reading them."""
        for sock in sockets:
            self.sockets[sock.key] = sock
            self.loop.add_reader(sock.fileno(), self.on_readable, sock)

    def forget_fast_entries(self) -> None:
        """Drop every fast-path entry (the stopped cores': refresh refuses them anyway)."""
        for table in self.fast4.values():
            table.clear()

    def stop_retrying(self) -> None:
        """Cancel the retry of sockets that could not be opened (the daemon stops)."""
        if self._retry is not None:
            self._retry.cancel()
            self._retry = None

    def close_all(self) -> None:
        """Stop reading and close every socket."""
        for sock in self.sockets.values():
            self.loop.remove_reader(sock.fileno())
            sock.close()

    def sync_sockets(self) -> None:
        """One socket per (interface, family, protocol) the instances use, bound to the index the
        interface called so has now (none while there is none), with every group joined.

        A socket whose interface was deleted, renamed away or replaced under the name is
        closed: a socket follows its index, so it would send nothing, or out of the wrong
        interface.
        """
        wanted: dict[SocketKey, set[Any]] = {}
        for managed in self.registry.instances.values():
            plan = managed.plan
            groups = wanted.setdefault(plan.socket_key, set())
            if plan.mcast_group is not None:
                groups.add(plan.mcast_group)
        for key, old in list(self.sockets.items()):
            if key not in wanted:
                self._close_socket(key)
                continue
            link = self.links.get(key[0])
            if link is None or link.index != old.ifindex:
                log.info(
                    "VRRP socket on %s: interface index %d %s; closed",
                    key[0],
                    old.ifindex,
                    "is gone" if link is None else f"replaced by index {link.index}",
                )
                self._close_socket(key)
        for key, mgroups in wanted.items():
            maybe = self.sockets.get(key) or self._open_socket(*key)
            if maybe is None:
                continue
            sock = maybe
            for group in mgroups:
                try:
                    sock.join(group)
                except OSError as exc:
                    log.error("cannot join %s on %s: %s", group, sock.ifname, exc)
        for key in list(self.failures):
            if key not in wanted or self.links.get(key[0]) is None:
                del self.failures[key]  # nothing to retry (the interface is gone)
        self._hold_deaf_instances()

    def _hold_deaf_instances(self) -> None:
        """Hold in FAULT every instance whose interface is there but whose VRRP socket could
        not be opened (EMFILE, ENOBUFS, EPERM...), and let the others go; retry the missing
        sockets every SOCKET_RETRY seconds.

        Such an instance hears no advert and sends none: left to its timers it would become
        a second MASTER. keepalived starts no timer for it (it stays where it was until an
        interface event opens the socket); here it says FAULT, with the reason in its
        faults, and recovers by itself once the socket opens.
        """
        now = self.clock()
        touched = False
        for managed in list(self.registry.instances.values()):
            plan = managed.plan
            key = plan.socket_key
            deaf = key in self.failures and key not in self.sockets
            reason = f"socket:{plan.interface}" if deaf else None
            if managed.core.io_fault != reason:
                self.run(managed, managed.core.set_io_fault(reason, now), now)
                touched = True
        if self.failures and self._retry is None and not self.stopping():
            self._retry = self.loop.call_later(SOCKET_RETRY, self._retry_sockets)
        if touched:
            self.rearm()

    def _retry_sockets(self) -> None:
        self._retry = None
        if not self.stopping():
            self.sync_sockets()

    def reopen_sockets(self, ifname: str) -> None:
        """The interface called `ifname` changed (appeared, went, was replaced): close the
        sockets that no longer match it and bind those missing to what it is now."""
        if not any(m.plan.interface == ifname for m in self.registry.instances.values()):
            return
        before = {k: sock for k, sock in self.sockets.items() if k[0] == ifname}
        self.sync_sockets()
        for key, sock in self.sockets.items():
            if key[0] == ifname and before.get(key) is not sock:
                log.info("VRRP socket on %s bound to interface index %d", ifname, sock.ifindex)

    def _close_socket(self, key: SocketKey) -> None:
        sock = self.sockets.pop(key)
        self.fast4.pop(sock, None)
        self.loop.remove_reader(sock.fileno())
        sock.close()

    def _open_socket(self, ifname: str, family: int, proto: int) -> VrrpSocket | None:
        link = self.links.get(ifname)
        if link is None:  # its instances are in FAULT (or not started) until it appears
            log.debug("no VRRP socket on %s: no such interface now", ifname)
            return None
        key = (ifname, family, proto)
        failures = self.failures.get(key, 0)
        try:
            sock = VrrpSocket(ifname, link.index, family, proto)
        except OSError as exc:
            self.failures[key] = failures + 1
            if failures == 0:  # then once a minute: the instances' FAULT already says it
                log.error(
                    "cannot open a VRRP socket on %s (index %d): %s; its instances are held "
                    "in FAULT, retrying every %g s",
                    ifname,
                    link.index,
                    exc,
                    SOCKET_RETRY,
                )
            elif failures % 60 == 0:
                log.error(
                    "still cannot open a VRRP socket on %s: %s [%d tries]",
                    ifname,
                    exc,
                    failures + 1,
                )
            return None
        if failures:
            del self.failures[key]
            log.info("VRRP socket on %s opened after %d failed tries", ifname, failures)
        self.sockets[key] = sock
        self.loop.add_reader(sock.fileno(), self.on_readable, sock)
        return sock

    def open_new(self, plans: dict[str, InstancePlan]) -> list[VrrpSocket]:
        """Open the VRRP sockets the plans need and the daemon lacks (not yet read from)."""
        keys = {plan.socket_key for plan in plans.values()}
        opened: list[VrrpSocket] = []
        for ifname, family, proto in sorted(keys - set(self.sockets)):
            link = self.links.get(ifname)  # plans are built for existing interfaces only
            try:
                if link is None:
                    raise OSError(errno.ENODEV, "no such interface")
                opened.append(VrrpSocket(ifname, link.index, family, proto))
            except OSError as exc:
                for sock in opened:
                    sock.close()
                raise SocketsError(f"cannot open a VRRP socket on {ifname}: {exc}") from exc
        return opened

    def on_readable(self, sock: VrrpSocket) -> None:
        # The first datagram was waiting when the loop's wait returned: it counts as received
        # when the kernel stamped it (or, failing that, at the wake-up). Any later one may have
        # come in since, and counts from when it is read.
        self.read(sock, self.woke())

    def read(self, sock: VrrpSocket, first: float | None) -> None:
        """Read what waits on a socket; `first` is when the loop woke for it (None: read now)."""
        if sock.family == 4 and sock.proto == IPPROTO_VRRP:
            self._read4(sock, first)
            return
        touched: set[Managed] = set()
        for _ in range(READ_BATCH):
            try:
                dgram = sock.receive(first is not None)
            except OSError as exc:
                log.debug("receive on %s: %s", sock.ifname, exc)
                break
            if dgram is None:
                break
            received = None
            if first is not None:
                received = received_at(first, dgram.stamp, time.time() - self.clock())
                first = None
            managed = self._on_datagram(sock, dgram, received)
            if managed is not None:
                touched.add(managed)
        self.after_read(touched, None)

    def _read4(self, sock: VrrpSocket, first: float | None) -> None:
        """IPv4: a master's advert repeated exactly takes the fast path (daemon/rxfast.py)."""
        table = self.fast4.get(sock)
        if table is None:
            table = self.fast4[sock] = {}
        recv = sock.recv_packet
        clock = self.clock
        touched: set[Managed] = set()
        due: float | None = None  # the earliest down timer a fast-path advert re-armed
        for _ in range(READ_BATCH):
            try:
                if first is not None:
                    raw, stamp = sock.recv_stamped()
                    now = received_at(first, stamp, time.time() - clock())
                    first = None
                else:
                    raw = recv(65535)
                    now = clock()
            except (BlockingIOError, InterruptedError):
                break
            except OSError as exc:
                log.debug("receive on %s: %s", sock.ifname, exc)
                break
            entry = match(raw, table)
            if entry is not None:
                at = entry.core.refresh(entry.advert, now)
                if at is not None:
                    if due is None or at < due:
                        due = at
                    continue
            dgram = parse_ipv4(raw)
            if dgram is None:
                self.counters["not_vrrp"] += 1
                continue
            managed = self._on_datagram(sock, dgram, now)
            vrid = dgram.data[1] if len(dgram.data) > 1 else -1
            fresh = entry_for(managed.core) if managed is not None else None
            if fresh is not None:
                table[vrid] = fresh
            else:
                table.pop(vrid, None)
            if managed is not None:
                touched.add(managed)
        self.after_read(touched, due)

    def _on_datagram(
        self, sock: VrrpSocket, dgram: Datagram, received: float | None = None
    ) -> Managed | None:
        if len(dgram.data) < 2:
            self.counters["not_vrrp"] += 1
            return None
        managed = self.registry.by_key.get((sock.ifname, sock.family, dgram.data[1]))
        if managed is None:
            self.counters["unknown_vrid"] += 1
            return None
        now = self.clock() if received is None else received
        try:
            if dgram.ah is None:
                actions = managed.core.receive_advert(
                    dgram.data, dgram.src, dgram.dst, dgram.ttl, now
                )
            else:
                actions = managed.core.receive_advert(
                    dgram.data, dgram.src, dgram.dst, dgram.ttl, now, ah=dgram.ah
                )
        except Exception as exc:  # a peer's packet must never take the daemon down
            self.counters["not_vrrp"] += 1
            log.error("(%s) packet from %s raised %r; dropped", managed.name, dgram.src, exc)
            return None
        if actions:
            self.run(managed, actions, now)
        return managed
