"""Kernel side effects in order: VIPs, routes, rules and gratuitous ARP/NA, apart from the timers.

Address and route changes run one after the other on a queue (so an add never overtakes the
remove before it). When nothing is queued, a VIP add or remove is sent at once, from the
action that asks for it: rtnetlink applies it within the send. Every address and route the
config may hold is recorded under the state dir before any is added (`expect`), so a later
start can remove what a crashed run left behind, and a new master writes nothing first.
`expect` raises RecordError and changes nothing when the record cannot be written (a start or
a reload then fails before touching anything); a write a kernel job needs later only logs: a
VIP is never held back, nor another job step skipped, for want of the record.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import replace
from ipaddress import IPv4Address, IPv6Address
from pathlib import Path
from typing import TypeVar

from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import zip_strict
from vipkeeper.aio import cancel_and_wait
from vipkeeper.net.addrs import Addresses, AddrSpec, NetError, RouteSpec
from vipkeeper.net.garp import GarpSender
from vipkeeper.net.record import RecordError, VipRecord
from vipkeeper.net.rules import RuleSpec, add_rule, remove_rule
from vipkeeper.net.vmac import VmacEntry, VmacRecord, VmacSpec, create_vmac, remove_vmac

log = logging.getLogger("vipkeeper.kernel")
RECORD_NAME = "vips.json"
VMAC_RECORD_NAME = "vmacs.json"

Job = Callable[[], Awaitable[None]]
Spec = TypeVar("Spec", AddrSpec, RouteSpec)


class Kernel:
    """Owns the netlink socket, the VIP record and the GARP senders."""

    def __init__(self, state_dir: str) -> None:
        self.addrs = Addresses()
        self.record = VipRecord(Path(state_dir) / RECORD_NAME)
        self.vmacs = VmacRecord(Path(state_dir) / VMAC_RECORD_NAME)
        self.queue: asyncio.Queue[Job] = asyncio.Queue()
        self.errors = 0
        self.garps_sent = 0
        self._garp: dict[str, GarpSender] = {}
        self._task: asyncio.Task[None] | None = None
        self._bursts: set[asyncio.Task[None]] = set()
        self._busy = False  # a job is running
        self.expected: set[str] = set()  # record keys the running config may hold
        self.held: set[str] = set()  # record keys added and not removed since

    async def start(self) -> None:
        """Open netlink and start the worker."""
        await self.addrs.open()
        self._task = asyncio.get_running_loop().create_task(self._work())

    async def cleanup_stale(self, keep: set[str]) -> int:
        """Remove addresses and routes an earlier run recorded (except those in `keep`).

        The record is then written afresh: RecordError when it cannot be (the daemon does not
        start without a record of what it adds).
        """
        addrs, routes = self.record.load()
        removed = 0
        for route in routes:
            with contextlib.suppress(NetError):
                removed += await self.addrs.remove_route(route)
        for spec in addrs:
            if spec.key() in keep:
                continue
            try:
                if await self.addrs.remove_address(spec):
                    removed += 1
                    log.info(
                        "removed stale VIP %s from %s (left by an earlier run)",
                        spec.address,
                        spec.ifname,
                    )
            except NetError as exc:
                log.warning("stale VIP %s: %s", spec.address, exc)
        self.record.save()
        return removed

    async def cleanup_stale_vmacs(self) -> int:
        """Remove the vmacs an earlier run recorded (only macvlans with the recorded name and
        MAC), putting back the base interfaces' sysctls; the record is then written empty
        (RecordError when it cannot be)."""
        removed = 0
        for entry in self.vmacs.load():
            try:
                if await remove_vmac(self.addrs.netlink(), entry, self.vmacs):
                    removed += 1
                    log.info("removed stale vmac %s (left by an earlier run)", entry.name)
            except NetError as exc:
                log.warning("stale vmac %s: %s", entry.name, exc)
        self.vmacs.clear()
        return removed

    async def ensure_vmac(self, spec: VmacSpec) -> object:
        """Make (or take over) a vmac, recorded first; its link message (NetError, or
        RecordError when the record cannot be written)."""
        self.addrs.forget(spec.name)  # a vmac made again has a new index
        return await create_vmac(self.addrs.netlink(), spec, self.vmacs)

    async def remove_vmacs(self, keep: Iterable[str] = ()) -> None:
        """Remove every vmac this run made, except those named in `keep`."""
        kept = set(keep)
        for name in [n for n in self.vmacs.entries if n not in kept]:
            entry: VmacEntry = self.vmacs.entries[name]  # as recorded now (an heir's grows)
            heir = next(
                (
                    e
                    for e in self.vmacs.entries.values()
                    if e.name != entry.name and e.base == entry.base
                ),
                None,
            )
            if heir is not None and entry.restore:
                # Another vmac still needs the base interface's sysctls (keepalived counts
                # their users): it takes over the values to put back when it goes.
                try:
                    self.vmacs.put(replace(heir, restore=entry.restore + heir.restore))
                    entry = replace(entry, restore=())
                except RecordError as exc:  # then this one puts them back, as it would have
                    log.error("%s", exc)
            try:
                if await remove_vmac(self.addrs.netlink(), entry, self.vmacs):
                    log.info("removed vmac %s", entry.name)
            except (NetError, RecordError) as exc:
                self.errors += 1
                log.error("%s", exc)
            self.addrs.forget(entry.name)

    def submit(self, job: Job) -> None:
        """Queue a kernel job; it runs after every job queued before it."""
        self.queue.put_nowait(job)

    def _idle(self) -> bool:
        return not self._busy and self.queue.empty()

    def expect(self, addrs: Iterable[AddrSpec], routes: Iterable[RouteSpec]) -> None:
        """Record every address and route the running config may hold, before any is added.

        A new master then adds its VIPs without writing the record first. Entries of an
        earlier config stay recorded while they are held, and leave once removed. A clean
        stop calls this with nothing, so the record ends empty; after a crash it lists what
        the next start must remove.

        RecordError when the record cannot be written: then nothing changed, in the file or
        here (the running config's entries stay expected).
        """
        want_a = {spec.key(): spec for spec in addrs}
        want_r = {spec.key(): spec for spec in routes}
        rec = self.record
        rec.replace(
            {k: v for k, v in rec.addrs.items() if k in self.held} | want_a,
            {k: v for k, v in rec.routes.items() if k in self.held} | want_r,
        )
        self.expected = set(want_a) | set(want_r)

    def _record(self, write: Callable[[Spec], None], spec: Spec, owner: str, *, add: bool) -> None:
        """A record write a kernel job needs: on failure logged, and the job goes on."""
        try:
            write(spec)
        except RecordError as exc:
            self.errors += 1
            what = (
                f"{spec.address} on {spec.ifname}"
                if isinstance(spec, AddrSpec)
                else f"the route to {spec.destination}"
            )
            if add:
                log.error("(%s) %s; adding %s all the same", owner, exc, what)
            else:
                log.error("(%s) %s; it still lists %s, already removed", owner, exc, what)

    def add_addresses(self, specs: tuple[AddrSpec, ...], owner: str) -> None:
        """Add VIPs: at once when no kernel job is pending, otherwise queued after them."""
        self._addresses(specs, owner, add=True)

    def remove_addresses(self, specs: tuple[AddrSpec, ...], owner: str) -> None:
        """Remove VIPs: at once when no kernel job is pending, otherwise queued after them."""
        self._addresses(specs, owner, add=False)

    def _addresses(self, specs: tuple[AddrSpec, ...], owner: str, *, add: bool) -> None:
        sent: list[asyncio.Future[int] | None] = [None] * len(specs)
        if self._idle():
            # Nothing queued can be overtaken: apply the requests now (rtnetlink acts within
            # the send), and let the job only collect the answers.
            for i, spec in enumerate(specs):
                if add:
                    key = spec.key()
                    self.held.add(key)
                    if key not in self.record.addrs:  # expect() recorded it: no write
                        self._record(self.record.add_address, spec, owner, add=True)
                sent[i] = self.addrs.send_now(spec, add=add)

        async def job() -> None:
            for spec, fut in zip_strict(specs, sent):
                try:
                    if fut is None:
                        if add:
                            self.held.add(spec.key())
                            self._record(self.record.add_address, spec, owner, add=True)
                            changed = await self.addrs.add_address(spec)
                        else:
                            changed = await self.addrs.remove_address(spec)
                    else:
                        changed = self.addrs.outcome(spec, await fut, add=add)
                except NetError as exc:
                    self.errors += 1
                    log.error("(%s) %s", owner, exc)
                    continue
                key = spec.key()
                if add:
                    if changed:
                        log.info("(%s) added VIP %s on %s", owner, spec.address, spec.ifname)
                    continue
                self.held.discard(key)
                if key not in self.expected:
                    self._record(self.record.remove_address, spec, owner, add=False)
                if changed:
                    log.info("(%s) removed VIP %s from %s", owner, spec.address, spec.ifname)

        self.submit(job)

    def add_routes(self, specs: tuple[RouteSpec, ...], owner: str) -> None:
        """Queue installing virtual routes."""

        async def job() -> None:
            for spec in specs:
                self.held.add(spec.key())
                self._record(self.record.add_route, spec, owner, add=True)
                try:
                    await self.addrs.add_route(spec)
                except NetError as exc:
                    self.errors += 1
                    log.error("(%s) %s", owner, exc)

        self.submit(job)

    def remove_routes(self, specs: tuple[RouteSpec, ...], owner: str) -> None:
        """Queue removing virtual routes."""

        async def job() -> None:
            for spec in specs:
                try:
                    await self.addrs.remove_route(spec)
                    self.held.discard(spec.key())
                    if spec.key() not in self.expected:
                        self._record(self.record.remove_route, spec, owner, add=False)
                except NetError as exc:
                    self.errors += 1
                    log.error("(%s) %s", owner, exc)

        self.submit(job)

    def add_rules(self, specs: tuple[RuleSpec, ...], owner: str) -> None:
        """Queue adding rules (not in the VIP record: as keepalived, a start removes the
        config's rules before it adds any, and a start into BACKUP removes the virtual ones)."""
        self._rules(specs, owner, add=True)

    def remove_rules(self, specs: tuple[RuleSpec, ...], owner: str) -> None:
        """Queue removing rules ("already gone" is fine)."""
        self._rules(specs, owner, add=False)

    def _rules(self, specs: tuple[RuleSpec, ...], owner: str, *, add: bool) -> None:
        async def job() -> None:
            ipr = self.addrs.netlink()
            for spec in specs:
                try:
                    if add:
                        changed = await add_rule(ipr, spec)
                    else:
                        changed = await remove_rule(ipr, spec)
                except NetError as exc:
                    self.errors += 1
                    log.error("(%s) %s", owner, exc)
                    continue
                if changed:
                    verb = "added" if add else "removed"
                    log.info("(%s) %s rule %s", owner, verb, spec.key())

        self.submit(job)

    def gratuitous(
        self,
        ifname: str,
        *,
        ifindex: int,
        mac: bytes,
        addresses: tuple[IPv4Address | IPv6Address, ...],
        repeat: int,
        interval: float,
    ) -> None:
        """Queue a burst of `repeat` GARP/NA rounds, `interval` apart (after queued VIP adds)."""
        sender = self._garp.get(ifname)
        if sender is None or sender.ifindex != ifindex:
            sender = self._garp[ifname] = GarpSender(ifname, ifindex)

        def one_round() -> None:
            for addr in addresses:
                try:
                    if isinstance(addr, IPv4Address):
                        sender.send_garp(mac, addr)
                    else:
                        sender.send_na(mac, addr)
                    self.garps_sent += 1
                except OSError as exc:
                    log.debug("gratuitous ARP/NA for %s on %s: %s", addr, ifname, exc)

        async def burst() -> None:
            for i in range(repeat):
                if i:
                    await asyncio.sleep(interval)
                one_round()

        async def job() -> None:
            if interval <= 0 or repeat <= 1:
                for _ in range(repeat):
                    one_round()
                return
            task = asyncio.get_running_loop().create_task(burst())
            self._bursts.add(task)
            task.add_done_callback(self._bursts.discard)

        self.submit(job)

    async def drain(self, limit: float) -> None:
        """Wait for every queued job, at most `limit` seconds."""
        with contextlib.suppress(TimeoutError):
            await wait_for(self.queue.join(), limit)

    async def stop(self) -> None:
        """Stop the worker and close the sockets."""
        for task in list(self._bursts):
            task.cancel()
        await cancel_and_wait(self._task)
        self._task = None
        for sender in self._garp.values():
            sender.close()
        self._garp.clear()
        self.addrs.close()

    async def _work(self) -> None:
        while True:
            job = await self.queue.get()
            self._busy = True
            try:
                await job()
            except Exception as exc:  # one failed job must not stop the others
                self.errors += 1
                log.error("kernel job failed: %s", exc)
            finally:
                self._busy = False
                self.queue.task_done()
