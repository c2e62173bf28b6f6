"""Reload: the plans a config makes, how they replace the running ones, and the SIGHUP cycle.

- `Plans` builds the instance plans of a config, and applies them: instances whose identity
  (interface, sync group, VRID, family, version) is kept take the new plan over in place
  (`VrrpInstance.reconfigure`), the others stop, and new ones start. It also holds the static
  addresses and routes, and records in the VIP record what the plans may hold before any add.
- `Reloader` runs a reload in two phases: prepare (every step that can fail, with no effect
  on what runs) and commit (the daemon's, which cannot fail for want of a resource).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import time
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import field
from typing import Any

from vipkeeper._compat import dataclass, zip_strict
from vipkeeper.config import model as m
from vipkeeper.config.diagnostics import CORRECTED, Code, Diagnostic, Severity
from vipkeeper.daemon.build import (
    BuildError,
    InstancePlan,
    build_addr,
    build_instance,
    build_route,
    build_rule,
    sync_group_settings,
)
from vipkeeper.daemon.executor import Executor
from vipkeeper.daemon.kernel import Kernel
from vipkeeper.daemon.receiver import Receiver, SocketsError
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.daemon.sdnotify import SdNotify
from vipkeeper.daemon.trackers import Trackers
from vipkeeper.net.addrs import AddrSpec, IPInterface, NetError, RouteSpec
from vipkeeper.net.links import LinkMonitor
from vipkeeper.net.record import RecordError
from vipkeeper.net.rules import RuleSpec
from vipkeeper.net.vrrpsock import VrrpSocket
from vipkeeper.vrrp.actions import SendGratuitous
from vipkeeper.vrrp.instance import GARP_RECONFIGURED, IDENTITY_FIELDS, VrrpInstance
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.syncgroup import SyncGroup

log = logging.getLogger("vipkeeper")

# keepalived starts with these: it disables the script concerned, or corrects the value (a
# default, a truncation, an old alias) and runs. `-t` and `vipkeeper check` still fail on them.
RUNTIME_WARNINGS = (
    frozenset({Code.SCRIPT_SECURITY, Code.SCRIPT_MISSING, Code.SCRIPT_INSECURE, Code.SCRIPT_USER})
    | CORRECTED
)


def blocking_errors(diagnostics: Iterable[Diagnostic]) -> list[Diagnostic]:
    """The errors that stop a config from running (script problems only disable a script)."""
    return [
        d for d in diagnostics if d.severity is Severity.ERROR and d.code not in RUNTIME_WARNINGS
    ]


# static_ipaddress, static_routes, static_rules (by key)
Statics = tuple[dict[str, AddrSpec], dict[str, RouteSpec], dict[str, RuleSpec]]


# A hostile config may hold tens of thousands of errors: the journal gets the first ones.
MAX_LOGGED_ERRORS = 100


class ReloadError(Exception):
    """A step of a reload failed before anything was applied (names the step and cause)."""


def freeze_heap(*, collect: bool) -> None:
    """Move every object alive now out of the garbage collector's sight.

    A full collection walks the whole heap (config model, pyroute2, ...): about 17 ms here,
    several times that on a loaded host, and it stalls every advert timer at once. Objects
    made at start-up or by a reload live as long as the config, so they need no collecting.
    """
    if collect:
        gc.collect()
    gc.freeze()


@dataclass
class Prepared:
    """A reload's new config with every fallible step done and nothing applied yet."""

    config: m.Config
    plans: dict[str, InstancePlan]
    not_started: dict[str, str]
    statics: Statics
    sockets: list[VrrpSocket] = field(default_factory=list)  # opened for the new plans
    lvs: Any = None  # a new LVS manager (its dataplane open) when the config brings LVS in


def plan_identity(plan: InstancePlan) -> InstancePlan:
    """The plan with run-time tracker values normalised (reload compares these)."""
    s = plan.settings
    settings = dataclasses.replace(
        s,
        track_interfaces=tuple(
            dataclasses.replace(t, initially_up=True) for t in s.track_interfaces
        ),
        track_files=tuple(dataclasses.replace(t, initial_value=0) for t in s.track_files),
    )
    return dataclasses.replace(plan, settings=settings)


def reconfigurable(old: InstancePlan, new: InstancePlan) -> bool:
    """Whether a running instance can take `new` over in place (VrrpInstance.reconfigure).

    The same interface, sync group, VRID, family and version make the same virtual router;
    anything else (priority, VIPs, timers, tracking, peers, auth...) is taken over in place.
    """
    a, b = old.settings, new.settings
    return (
        old.interface == new.interface
        and old.sync_group == new.sync_group
        and all(getattr(a, f) == getattr(b, f) for f in IDENTITY_FIELDS)
    )


def changed_fields(old: InstancePlan, new: InstancePlan) -> list[str]:
    """The names of what differs between two plans (settings fields, then plan fields)."""
    a, b = plan_identity(old), plan_identity(new)
    out = [
        f.name
        for f in dataclasses.fields(a.settings)
        if getattr(a.settings, f.name) != getattr(b.settings, f.name)
    ]
    out += [
        f.name
        for f in dataclasses.fields(a)
        if f.name != "settings" and getattr(a, f.name) != getattr(b, f.name)
    ]
    return out


class Plans:
    """The running plans: build a config's, apply them, hold the static addresses and routes.

    - `clock`: the event loop's time.
    - `kernel`: the netlink worker and the VIP record; `links`: the interfaces now.
    - `executor`, `receiver`, `trackers`: the pieces the applied plans go through.
    - `rearm`: re-arms the one timer once the plans are applied.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        registry: Registry,
        kernel: Kernel,
        links: LinkMonitor,
        executor: Executor,
        receiver: Receiver,
        trackers: Trackers,
        rearm: Callable[[], None],
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.kernel = kernel
        self.links = links
        self.executor = executor
        self.receiver = receiver
        self.trackers = trackers
        self.rearm = rearm
        self.static_addrs: dict[str, AddrSpec] = {}
        self.static_routes: dict[str, RouteSpec] = {}
        self.static_rules: dict[str, RuleSpec] = {}

    async def build(self, config: m.Config) -> tuple[dict[str, InstancePlan], dict[str, str]]:
        names = {i.interface for i in config.vrrp_instances if i.interface}
        addrs: dict[str, list[IPInterface]] = {}
        for ifname in names:
            addrs[ifname] = await self.kernel.addrs.addresses(ifname)
        plans: dict[str, InstancePlan] = {}
        not_started: dict[str, str] = {}
        for inst in config.vrrp_instances:
            if inst.interface and self.links.get(inst.interface) is None:
                where = f"{inst.location}: " if inst.location else ""
                log.error(
                    "%s(%s) interface %s does not exist; the instance is not started",
                    where,
                    inst.name,
                    inst.interface,
                )
                not_started[inst.name] = f"interface {inst.interface} does not exist"
                continue
            try:
                plan = build_instance(config, inst, lambda n: addrs.get(n, []), self._link_up)
                if plan.vmac is not None:
                    try:
                        self.links.learn(await self.kernel.ensure_vmac(plan.vmac))
                    except (NetError, RecordError) as exc:
                        raise BuildError(f"{inst.name}: cannot set up vmac: {exc}") from exc
                plans[inst.name] = plan
            except BuildError as exc:
                where = f"{inst.location}: " if inst.location else ""
                log.error("%s%s; the instance is not started", where, exc)
                not_started[inst.name] = str(exc)
        return plans, not_started

    async def prune_vmacs(self, plans: dict[str, InstancePlan]) -> None:
        """Remove the vmacs no plan uses any more (after the stopped instances released their
        VIPs, so those leave as VIPs do before the link goes)."""
        keep = {p.vmac.name for p in plans.values() if p.vmac is not None}
        if set(self.kernel.vmacs.entries) - keep:
            await self.kernel.drain(5.0)
            await self.kernel.remove_vmacs(keep)

    def _link_up(self, name: str) -> bool:
        link = self.links.get(name)
        return link is not None and link.up

    def apply(
        self, plans: dict[str, InstancePlan], config: m.Config, *, initial: bool = False
    ) -> None:
        """Stop, start and reconfigure instances to run `plans` (recorded by expect first)."""
        now = self.clock()
        kept: dict[str, Managed] = {}
        changed: list[tuple[Managed, InstancePlan]] = []
        stopped: list[Managed] = []
        for name, managed in self.registry.instances.items():
            new_plan = plans.get(name)
            if new_plan is None or not reconfigurable(managed.plan, new_plan):
                stopped.append(managed)
                continue
            kept[name] = managed
            if plan_identity(new_plan) != plan_identity(managed.plan):
                changed.append((managed, new_plan))
        for managed in stopped:
            removed = managed.name not in plans
            why = "removed from the config" if removed else "changed"
            log.info("(%s) %s: stopping it", managed.name, why)
            # keepalived's clear_diff_vrrp notifies a removed instance DELETED (or FAULT)
            acts = managed.core.delete(now) if removed else managed.core.stop(now)
            self.executor.run(managed, acts, now)
        self.registry.instances = dict(kept)
        started: list[Managed] = []
        for name, plan in plans.items():
            if name in kept:
                continue
            managed = Managed(plan, VrrpInstance(plan.settings))
            self.registry.instances[name] = managed
            started.append(managed)
        self.registry.by_key = {
            managed.key: managed for managed in self.registry.instances.values()
        }
        self.receiver.forget_fast_entries()  # drops the stopped cores (refresh refuses them)
        self._rebuild_groups(config)
        for managed, plan in changed:
            self._reconfigure(managed, plan, now)
        self.receiver.sync_sockets()
        for managed in started:
            self.trackers.push_state(managed)
            if not initial:
                log.info("(%s) new instance: starting it", managed.name)
        for managed in started:
            if managed.name in self.registry.instances:
                self.executor.run(managed, managed.core.start(now), now)
        self.rearm()

    def _reconfigure(self, managed: Managed, plan: InstancePlan, now: float) -> None:
        """Take a changed plan over in place: no stop, no start (VrrpInstance.reconfigure)."""
        old = managed.plan
        log.info(
            "(%s) changed settings taken over in place: %s",
            managed.name,
            ", ".join(changed_fields(old, plan)),
        )
        actions = managed.core.reconfigure(self.trackers.live_settings(plan), now)
        managed.plan, managed.retired = plan, old
        try:
            self.executor.run(managed, actions, now)
            if managed.core.state is State.MASTER:
                self._respec(managed, old)
        finally:
            managed.retired = None

    def _respec(self, managed: Managed, old: InstancePlan) -> None:
        """A master's kept VIPs and routes whose kernel attributes (dev, label...) changed."""
        new, name = managed.plan, managed.name
        before = {spec.address.ip: spec for spec in old.addrs}
        moved = [(before[s.address.ip], s) for s in new.addrs if before.get(s.address.ip, s) != s]
        if moved:
            self.kernel.remove_addresses(tuple(o for o, _ in moved), name)
            self.kernel.add_addresses(tuple(n for _, n in moved), name)
            for family in (4, 6):
                addrs = tuple(n.address.ip for _, n in moved if n.address.ip.version == family)
                if addrs:
                    repeat = new.settings.garp_master_repeat
                    self.executor.gratuitous(
                        managed, SendGratuitous(name, addrs, family, repeat, GARP_RECONFIGURED)
                    )
        routes = dict(zip_strict(old.settings.virtual_routes, old.routes))
        changed = [
            (routes[r], spec)
            for r, spec in zip_strict(new.settings.virtual_routes, new.routes)
            if routes.get(r, spec) != spec
        ]
        if changed:
            self.kernel.remove_routes(tuple(o for o, _ in changed), name)
            self.kernel.add_routes(tuple(n for _, n in changed), name)

    def _rebuild_groups(self, config: m.Config) -> None:
        cores = {name: managed.core for name, managed in self.registry.instances.items()}
        self.registry.groups = {}
        for group in config.vrrp_sync_groups:
            members = [n for n in group.group if n in cores]
            if not members:
                continue
            settings = dataclasses.replace(
                sync_group_settings(config, group), members=tuple(members)
            )
            self.registry.groups[group.name] = SyncGroup(settings, cores)

    @staticmethod
    def static_specs(config: m.Config) -> Statics:
        """The kernel specs of static_ipaddress / static_routes / static_rules."""
        addrs: dict[str, AddrSpec] = {}
        for vip in config.static_ipaddresses:
            if vip.dev is None:
                log.error("static_ipaddress %s has no dev; ignored", vip.address)
                continue
            spec = build_addr(vip, vip.dev)
            addrs[spec.key()] = spec
        routes = {spec.key(): spec for spec in (build_route(r) for r in config.static_routes)}
        rules = {spec.key(): spec for spec in (build_rule(r) for r in config.static_rules)}
        return addrs, routes, rules

    def sync_static(self, config: m.Config, specs: Statics | None = None) -> None:
        """static_ipaddress / static_routes / static_rules: held in any VRRP state; a reload adds
        and removes, and a stop (an empty config) removes them all, as keepalived.

        `specs` are the config's, from static_specs (recorded by expect before this runs).
        """
        addrs, routes, rules = self.static_specs(config) if specs is None else specs
        gone_rules = tuple(v for k, v in self.static_rules.items() if k not in rules)
        new_rules = tuple(v for k, v in rules.items() if k not in self.static_rules)
        if gone_rules:
            self.kernel.remove_rules(gone_rules, "static")
        gone_a = tuple(v for k, v in self.static_addrs.items() if k not in addrs)
        gone_r = tuple(v for k, v in self.static_routes.items() if k not in routes)
        new_a = tuple(v for k, v in addrs.items() if k not in self.static_addrs)
        new_r = tuple(v for k, v in routes.items() if k not in self.static_routes)
        if gone_r:
            self.kernel.remove_routes(gone_r, "static")
        if gone_a:
            self.kernel.remove_addresses(gone_a, "static")
        if new_a:
            self.kernel.add_addresses(new_a, "static")
        if new_r:
            self.kernel.add_routes(new_r, "static")
        if new_rules:
            self.kernel.add_rules(new_rules, "static")
        self.static_addrs, self.static_routes = dict(addrs), dict(routes)
        self.static_rules = dict(rules)

    def expect(self, plans: Iterable[InstancePlan], statics: Statics) -> None:
        """Record what these plans and static addresses may hold, before any add.

        RecordError when the record cannot be written; then nothing changed.
        """
        plans = list(plans)
        addrs = [spec for plan in plans for spec in plan.addrs]
        routes = [spec for plan in plans for spec in plan.routes]
        self.kernel.expect(addrs + list(statics[0].values()), routes + list(statics[1].values()))


class Reloader:
    """SIGHUP: load the config file again, prepare it whole, then let the daemon commit it.

    - `sd`: systemd's notify socket (RELOADING=1, then READY=1).
    - `counters`: the daemon's counters (`reloads`, `reload_failures`).
    - `stopping`: whether the daemon is stopping (a reload then starts nothing new).
    - `prepare_lvs`: a new LVS manager when the config brings LVS in (else None); may raise
      ReloadError. `apply_lvs`: the LVS part of a committed reload.
    - `commit`: applies a prepared config (Daemon._commit).
    """

    def __init__(
        self,
        *,
        config_file: str,
        config_id: str | None,
        sd: SdNotify,
        counters: dict[str, int],
        registry: Registry,
        plans: Plans,
        receiver: Receiver,
        stopping: Callable[[], bool],
        prepare_lvs: Callable[[m.Config], Awaitable[Any]],
        apply_lvs: Callable[[m.Config, Any], Awaitable[None]],
        commit: Callable[[Prepared], None],
    ) -> None:
        self.config_file = config_file
        self.config_id = config_id
        self.sd = sd
        self.counters = counters
        self.registry = registry
        self.plans = plans
        self.receiver = receiver
        self.stopping = stopping
        self.prepare_lvs = prepare_lvs
        self.apply_lvs = apply_lvs
        self.commit = commit
        self.last_reload: dict[str, Any] | None = None
        self._lock = asyncio.Lock()

    async def reload(self) -> bool:
        """SIGHUP: apply the config file again, whole, or keep running the old one.

        Every step that can fail comes first (load, plans, LVS dataplane, new sockets, the VIP
        record) and changes nothing that runs; the steps that apply the new config come after
        and cannot fail. READY=1 always follows RELOADING=1, unless a stop began meanwhile
        (STOPPING=1 then ends the reload). Nothing raised here escapes: a bug is logged.
        """
        async with self._lock:
            self.sd.reloading()
            self.counters["reloads"] += 1
            log.info("reloading %s", self.config_file)
            try:
                return await self._reload()
            except Exception:  # a bug (the prepare steps turn their failures into ReloadError)
                why = "internal error; the new config may be partly applied"
                log.exception("reload failed: %s", why)
                self.counters["reload_failures"] += 1
                self.last_reload = {"at": time.time(), "ok": False, "errors": 1, "error": why}
                self.sd.ready("reload failed: internal error")
                return False

    async def _reload(self) -> bool:
        from vipkeeper.config import load

        try:
            result = await asyncio.to_thread(load, self.config_file, self.config_id)
        except Exception as exc:  # a loader bug must not take the daemon down
            return self._reload_failed([f"the loader failed: {exc}"])
        errors = blocking_errors(result.diagnostics)
        if result.config is None or errors:
            return self._reload_failed([d.format() for d in errors] or ["no config"])
        for diag in result.diagnostics:
            if diag not in errors:
                log.warning("reload: %s", diag.format())
        try:
            new = await self._prepare(result.config)
        except ReloadError as exc:
            return self._reload_failed([str(exc)], why=str(exc))
        if new is None:  # SIGTERM came while it loaded: start nothing new
            log.info("reload abandoned: stopping")
            return False
        self.commit(new)
        await self.plans.prune_vmacs(new.plans)
        await self.apply_lvs(new.config, new.lvs)
        freeze_heap(collect=False)
        self.last_reload = {"at": time.time(), "ok": True, "errors": 0, "error": None}
        log.info("reload done: %d instance(s)", len(self.registry.instances))
        self.sd.ready(f"{len(self.registry.instances)} VRRP instance(s)")
        return True

    async def _prepare(self, config: m.Config) -> Prepared | None:
        """Every fallible step of a reload, with no effect on what runs; None when stopping.

        ReloadError names the step and its cause; what was opened for the reload is closed.
        """
        try:
            plans, not_started = await self.plans.build(config)  # reads the interfaces' addresses
        except Exception as exc:
            raise ReloadError(f"building the instances: {exc!r}") from exc
        if self.stopping():
            return None
        try:
            statics = self.plans.static_specs(config)
        except Exception as exc:
            raise ReloadError(f"static addresses and routes: {exc!r}") from exc
        new = Prepared(config, plans, not_started, statics, lvs=await self.prepare_lvs(config))
        try:
            new.sockets = self.receiver.open_new(plans)
            self.plans.expect(plans.values(), statics)  # the last step: the file is shared state
        except (SocketsError, RecordError) as exc:
            self._discard(new)
            raise ReloadError(str(exc)) from exc
        return new

    def _discard(self, new: Prepared) -> None:
        """Close what a reload that failed had opened."""
        for sock in new.sockets:
            sock.close()
        if new.lvs is not None and new.lvs.backend is not None:
            with contextlib.suppress(Exception):
                new.lvs.backend.close()

    def _reload_failed(self, errors: list[str], why: str | None = None) -> bool:
        """Log why a reload failed (the config's errors, or `why`); the running config stays."""
        if why is None:
            for text in errors[:MAX_LOGGED_ERRORS]:
                log.error("reload: %s", text)
            if len(errors) > MAX_LOGGED_ERRORS:
                log.error(
                    "reload: %d more error(s) not logged; `vipkeeper check -f %s` lists them all",
                    len(errors) - MAX_LOGGED_ERRORS,
                    self.config_file,
                )
            why = f"the config has {len(errors)} error(s)"
        log.error("reload failed: %s; keeping the running config", why)
        self.counters["reload_failures"] += 1
        self.last_reload = {"at": time.time(), "ok": False, "errors": len(errors), "error": why}
        self.sd.ready("reload failed; running the previous config")
        return False
