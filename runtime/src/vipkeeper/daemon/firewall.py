"""The VRRP firewall as keepalived runs it: VIPs of a MASTER without accept mode are dropped.

The bookkeeping here is sans-IO: which addresses each instance holds in the firewall, added
with its VIPs (before them, as keepalived's vrrp_state_become_master) and taken out after
them. The union is handed to net/vrrpfw.py on the kernel queue, so a firewall change never
overtakes the address change queued before it. The daemon owns the tables: a start discards
any left by a killed run, a stop deletes them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable

from vipkeeper.config import model as m
from vipkeeper.daemon.build import firewall_table
from vipkeeper.daemon.kernel import Kernel
from vipkeeper.daemon.registry import Managed
from vipkeeper.net.libnft import NftError
from vipkeeper.net.vrrpfw import FwAddr, FwSettings, VrrpFirewall
from vipkeeper.vrrp.settings import IPAddress

log = logging.getLogger("vipkeeper.firewall")


class Held:
    """Which firewall addresses each instance holds (sans-IO)."""

    def __init__(self) -> None:
        self.by_instance: dict[str, frozenset[FwAddr]] = {}

    def add(self, name: str, addrs: Iterable[FwAddr]) -> None:
        self.by_instance[name] = self.by_instance.get(name, frozenset()) | frozenset(addrs)

    def remove(self, name: str, addresses: Iterable[IPAddress]) -> None:
        gone = set(addresses)
        kept = frozenset(a for a in self.by_instance.get(name, ()) if a.address not in gone)
        if kept:
            self.by_instance[name] = kept
        else:
            self.by_instance.pop(name, None)

    def desired(self) -> frozenset[FwAddr]:
        """Every address some instance holds."""
        out: frozenset[FwAddr] = frozenset()
        for addrs in self.by_instance.values():
            out |= addrs
        return out


def settings_of(config: m.Config) -> FwSettings | None:
    """The tables `config` asks for; None: no firewall."""
    table = firewall_table(config)
    if table is None:
        return None
    g = config.global_defs
    return FwSettings(table=table, priority=g.nftables_priority, counters=g.nftables_counters)


class Firewall:
    """The daemon's VRRP firewall: follows AddVips/RemoveVips through the kernel queue."""

    def __init__(self, kernel: Kernel) -> None:
        self.kernel = kernel
        self.held = Held()
        self.fw: VrrpFirewall | None = None
        self.errors = 0

    def _run(self, what: str, fn: Callable[[], None]) -> None:
        try:
            fn()
        except NftError as exc:
            self.errors += 1
            log.error("VRRP firewall: %s: %s", what, exc)

    def configure(self, config: m.Config) -> None:
        """Take the settings of a (new) config; at start, discard a killed run's tables.

        A reload that changes the table's name, priority or counters deletes the old tables
        (queued after the kernel jobs before it) and builds the new ones with what is held.
        """
        settings = settings_of(config)
        old = self.fw
        if old is not None and old.settings == settings:
            return
        new = VrrpFirewall(settings) if settings is not None else None
        self.fw = new

        def job() -> None:
            if old is not None:
                self._run("removing the old tables", old.remove)
                old.close()
            if new is not None:
                self._run(f"discarding stale {new.settings.table} tables", new.discard_stale)
                if old is not None:
                    self._apply(new)

        async def run_job() -> None:
            job()

        self.kernel.submit(run_job)

    def _apply(self, fw: VrrpFirewall) -> None:
        wanted = self.held.desired()
        try:
            if fw.apply(wanted):
                log.info("VRRP firewall: %s drops %d address(es)", fw.settings.table, len(wanted))
        except NftError as exc:
            self.errors += 1
            log.error("VRRP firewall: %s", exc)

    def _submit(self) -> None:
        fw = self.fw
        if fw is None:
            return

        async def job() -> None:
            self._apply(fw)

        self.kernel.submit(job)

    def add(self, managed: Managed, addresses: Iterable[IPAddress]) -> None:
        """An instance adds VIPs: drop traffic to those it must not accept (call it before
        queueing the address add)."""
        wanted = set(addresses)
        addrs = [a for a in managed.plan.fw_addrs if a.address in wanted]
        if not addrs or self.fw is None:
            return
        self.held.add(managed.name, addrs)
        self._submit()

    def remove(self, managed: Managed, addresses: Iterable[IPAddress]) -> None:
        """An instance removed VIPs (call it after queueing the address removal)."""
        if managed.name not in self.held.by_instance:
            return
        self.held.remove(managed.name, addresses)
        self._submit()

    async def stop(self) -> None:
        """Delete the tables (after every queued kernel job)."""
        fw, self.fw = self.fw, None
        if fw is None:
            return
        self.held = Held()
        await self.kernel.drain(5.0)
        self._run("removing the tables", fw.remove)
        fw.close()
