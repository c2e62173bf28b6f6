"""The daemon: moves packets and events between net/ and the VRRP cores, and runs their actions.

One timer serves every instance: after each event its single timerfd (daemon/timer.py) is
re-armed to the earliest deadline any core reports (aioquic's adapter shape). Scripts,
notifies and netlink work run as separate tasks, so they never delay an advert.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import gc
import logging
import os
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import field
from typing import Any

from vipkeeper import __version__
from vipkeeper._compat import SLOTS, dataclass, wait_for, zip_strict
from vipkeeper.config import model as m
from vipkeeper.config.diagnostics import CORRECTED, Code, Diagnostic, Severity
from vipkeeper.daemon import dumps
from vipkeeper.daemon.build import (
    BuildError,
    InstancePlan,
    build_addr,
    build_instance,
    build_route,
    sync_group_settings,
)
from vipkeeper.daemon.control import ControlServer, json_number
from vipkeeper.daemon.executor import Executor
from vipkeeper.daemon.fifos import Fifos
from vipkeeper.daemon.kernel import Kernel
from vipkeeper.daemon.notify import NotifyQueue
from vipkeeper.daemon.receiver import Receiver, SocketsError
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.daemon.scheduler import Scheduler
from vipkeeper.daemon.sdnotify import SdNotify
from vipkeeper.daemon.timer import OneTimer
from vipkeeper.daemon.trackers import Trackers
from vipkeeper.net.addrs import AddrSpec, IPInterface, RouteSpec
from vipkeeper.net.links import Link, LinkMonitor
from vipkeeper.net.record import RecordError
from vipkeeper.net.vrrpsock import VrrpSocket
from vipkeeper.vrrp.actions import (
    SendGratuitous,
)
from vipkeeper.vrrp.instance import GARP_RECONFIGURED, IDENTITY_FIELDS, Stats, VrrpInstance
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.syncgroup import SyncGroup

log = logging.getLogger("vipkeeper")
READ_BATCH = 64  # datagrams read per wake-up of a socket
SOCKET_RETRY = 1.0  # seconds between tries to open a VRRP socket that could not be opened
SIGJSON = signal.SIGRTMIN + 2  # keepalived --signum=JSON
SIGSTATS_CLEAR = signal.SIGRTMAX - 1  # keepalived --signum=STATS_CLEAR (63)


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


Statics = tuple[dict[str, AddrSpec], dict[str, RouteSpec]]  # static_ipaddress, static_routes


# A hostile config may hold tens of thousands of errors: the journal gets the first ones.
MAX_LOGGED_ERRORS = 100


class ReloadError(Exception):
    """A step of a reload failed before anything was applied (names the step and cause)."""


def _freeze_heap(*, collect: bool) -> None:
    """Move every object alive now out of the garbage collector's sight.

    A full collection walks the whole heap (config model, pyroute2, ...): about 17 ms here,
    several times that on a loaded host, and it stalls every advert timer at once. Objects
    made at start-up or by a reload live as long as the config, so they need no collecting.
    """
    if collect:
        gc.collect()
    gc.freeze()


@dataclass(frozen=True, **SLOTS)
class Options:
    """How the daemon was started (from the command line)."""

    config_file: str
    config_id: str | None = None
    control_socket: str = "/run/vipkeeper/control.sock"
    state_dir: str = "/run/vipkeeper"
    dump_dir: str = "/run/vipkeeper"
    metrics: str | None = None
    notify_timeout: float = 30.0


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


class Daemon:
    """The whole runtime for one config."""

    def __init__(
        self, options: Options, config: m.Config, woke: Callable[[], float] | None = None
    ) -> None:
        self.options = options
        self.config = config
        self.loop = asyncio.get_running_loop()
        # When the loop's last wait for events returned (daemon/evloop.py); else the clock.
        self._woke = woke or self.loop.time
        self.kernel = Kernel(options.state_dir)
        self.links = LinkMonitor(self._on_link)  # trackers.on_link
        self.sd = SdNotify()
        self.registry = Registry()
        self._stopping = asyncio.Event()
        self.sockets: dict[tuple[str, int], VrrpSocket] = {}
        self.notify = NotifyQueue(options.notify_timeout)
        self.fifos = Fifos(self._spawn)
        self.not_started: dict[str, str] = {}  # instance name -> why it could not start
        self.static_addrs: dict[str, AddrSpec] = {}
        self.static_routes: dict[str, RouteSpec] = {}
        self.counters: dict[str, int] = {
            "unknown_vrid": 0,
            "not_vrrp": 0,
            "send_errors": 0,
            "reloads": 0,
            "reload_failures": 0,
        }
        self.started_at = time.time()
        self.last_reload: dict[str, Any] | None = None
        self.executor = Executor(
            clock=self.loop.time,
            registry=self.registry,
            sockets=self.sockets,
            kernel=self.kernel,
            links=self.links,
            notify=self.notify,
            fifos=self.fifos,
            counters=self.counters,
            rebind=self._rebind,
        )
        self.control = ControlServer(options.control_socket, self._control)
        self.timer = OneTimer(self.loop, lambda fired: None)  # scheduler.on_timer, below
        self.scheduler = Scheduler(
            clock=self.loop.time,
            registry=self.registry,
            timer=self.timer,
            run=self.executor.run,
            sockets=self.sockets,
            read=self._read,
        )
        self.timer.callback = self.scheduler.on_timer
        self.receiver = Receiver(
            loop=self.loop,
            clock=self.loop.time,
            woke=self._woke,
            registry=self.registry,
            links=self.links,
            counters=self.counters,
            sockets=self.sockets,
            run=self.executor.run,
            after_read=self.scheduler.after_read,
            rearm=self.scheduler.rearm,
            stopping=self._stopping.is_set,
        )
        self.trackers = Trackers(
            clock=self.loop.time,
            registry=self.registry,
            notify=self.notify,
            run=self.executor.run,
            rearm=self.scheduler.rearm,
            reopen_sockets=self.receiver.reopen_sockets,
            forget_addresses=self.kernel.addrs.forget,
            spawn=self._spawn,
        )
        self._stop_announced = False
        self._reload_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._lvs: Any = None

    # ---- lifecycle -----------------------------------------------------------------------

    async def run(self) -> int:
        """Start everything, serve until SIGTERM/SIGINT, then stop cleanly; the exit code."""
        await self.kernel.start()
        await self.links.start()
        await self.control.start()
        self._install_signals()
        try:
            try:
                removed = await self.kernel.cleanup_stale(set())
                if removed:
                    log.info("cleaned %d stale VIP(s) left by an earlier run", removed)
                plans = await self._build_plans(self.config)
                statics = self._static_specs(self.config)
                self._expect(plans.values(), statics)  # before any VIP or route is added
            except RecordError as exc:  # as keepalived without its pid file: no start
                log.error("%s; not starting", exc)
                return 1
            self.notify.user = self.trackers.script_user(self.config)
            self.notify.start()
            self.fifos.open(self.config, self.trackers.script_policy(self.config))
            self._sync_static(self.config, statics)
            self.trackers.sync(self.config)
            delay = self.config.global_defs.vrrp_startup_delay
            if delay > 0:
                log.info("vrrp_startup_delay: waiting %.1fs before starting instances", delay)
                with contextlib.suppress(TimeoutError):
                    await wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self._apply_plans(plans, initial=True)
                _freeze_heap(collect=True)
                await self._start_lvs()
                if self.options.metrics:
                    self._start_metrics(self.options.metrics)
                self.sd.ready(f"{len(self.registry.instances)} VRRP instance(s)")
                if self.sd.watchdog_interval:
                    self._spawn(self._watchdog(self.sd.watchdog_interval))
                log.info(
                    "vipkeeper %s running: %d instance(s) from %s",
                    __version__,
                    len(self.registry.instances),
                    self.options.config_file,
                )
                await self._stopping.wait()
        finally:
            # Also on an unexpected error: never leave VIPs behind.
            await self._shutdown()
        return 0

    def request_stop(self) -> None:
        """Begin a clean stop (SIGTERM): masters resign here, before the loop runs on."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._stop_instances()

    def _stop_instances(self) -> None:
        """Stop every instance still running: priority-0 adverts, VIPs released, notify STOP.

        The adverts go out first; systemd and the log hear of the stop after them.
        """
        running = [mg for mg in self.registry.instances.values() if mg.core.state is not State.STOP]
        now = self.loop.time()
        for managed in running:
            self.executor.run(managed, managed.core.stop(now), now)
        if not self._stop_announced:
            self._stop_announced = True
            self.sd.stopping()
            log.info("stopping: every instance resigned; releasing VIPs")

    async def _shutdown(self) -> None:
        self.receiver.stop_retrying()
        self._stop_instances()
        self.timer.close()
        self._sync_static(m.Config())
        await self.kernel.drain(5.0)
        try:
            self.kernel.expect((), ())  # all released: what is still held stays recorded
        except RecordError as exc:  # the stop goes on: LVS, scripts and sockets still end
            log.error("%s; it still lists addresses this stop released", exc)
        await self.notify.drain(self.options.notify_timeout + 2.0)
        await self._stop_lvs()
        await self.trackers.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.control.stop()
        await self.notify.stop()
        await self.links.stop()
        await self.kernel.stop()
        self.receiver.close_all()
        await self.fifos.close()
        log.info("stopped")

    def _on_link(self, old: Link | None, new: Link | None) -> None:
        self.trackers.on_link(old, new)  # the link monitor is made before the trackers

    # The executor and the scheduler reach the receiver, made after them, through these.
    def _rebind(self, ifname: str) -> None:
        self.receiver.reopen_sockets(ifname)

    def _read(self, sock: VrrpSocket, first: float | None) -> None:
        self.receiver.read(sock, first)

    def _spawn(self, coro: Any, name: str | None = None) -> None:
        """Run `coro` as a task the daemon keeps; whatever it raises is logged, never lost."""
        task = self.loop.create_task(coro, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._reap)

    def _reap(self, task: asyncio.Task[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()  # retrieved: asyncio never reports it as lost
        if exc is not None:
            log.error("%s failed: %r", task.get_name(), exc, exc_info=exc)

    async def _watchdog(self, interval: float) -> None:
        while True:
            self.sd.watchdog()
            await asyncio.sleep(interval)

    def _install_signals(self) -> None:
        self.loop.add_signal_handler(signal.SIGTERM, self.request_stop)
        self.loop.add_signal_handler(signal.SIGINT, self.request_stop)
        self.loop.add_signal_handler(signal.SIGHUP, lambda: self._spawn(self.reload(), "reload"))
        self.loop.add_signal_handler(signal.SIGUSR1, self._dump_data)
        self.loop.add_signal_handler(signal.SIGUSR2, self._dump_stats)
        self.loop.add_signal_handler(SIGJSON, self._dump_json)
        self.loop.add_signal_handler(SIGSTATS_CLEAR, self._clear_stats)

    # ---- building ------------------------------------------------------------------------

    async def _build_plans(self, config: m.Config) -> dict[str, InstancePlan]:
        names = {i.interface for i in config.vrrp_instances if i.interface}
        addrs: dict[str, list[IPInterface]] = {}
        for ifname in names:
            addrs[ifname] = await self.kernel.addrs.addresses(ifname)
        plans: dict[str, InstancePlan] = {}
        self.not_started = {}
        for inst in config.vrrp_instances:
            if inst.use_vmac:
                log.warning(
                    "(%s) use_vmac is not implemented by vipkeeper: adverts and GARPs use the "
                    "interface's own MAC",
                    inst.name,
                )
            if inst.interface and self.links.get(inst.interface) is None:
                where = f"{inst.location}: " if inst.location else ""
                log.error(
                    "%s(%s) interface %s does not exist; the instance is not started",
                    where,
                    inst.name,
                    inst.interface,
                )
                self.not_started[inst.name] = f"interface {inst.interface} does not exist"
                continue
            try:
                plans[inst.name] = build_instance(
                    config, inst, lambda n: addrs.get(n, []), self._link_up
                )
            except BuildError as exc:
                where = f"{inst.location}: " if inst.location else ""
                log.error("%s%s; the instance is not started", where, exc)
                self.not_started[inst.name] = str(exc)
        return plans

    def _link_up(self, name: str) -> bool:
        link = self.links.get(name)
        return link is not None and link.up

    # ---- applying plans (start and reload) -------------------------------------------------

    def _apply_plans(self, plans: dict[str, InstancePlan], *, initial: bool = False) -> None:
        """Stop, start and reconfigure instances to run `plans` (recorded by _expect first)."""
        now = self.loop.time()
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
            why = "removed from the config" if managed.name not in plans else "changed"
            log.info("(%s) %s: stopping it", managed.name, why)
            self.executor.run(managed, managed.core.stop(now), now)
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
        self._rebuild_groups()
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
        self.scheduler.rearm()

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

    def _rebuild_groups(self) -> None:
        cores = {name: managed.core for name, managed in self.registry.instances.items()}
        self.registry.groups = {}
        for group in self.config.vrrp_sync_groups:
            members = [n for n in group.group if n in cores]
            if not members:
                continue
            settings = dataclasses.replace(
                sync_group_settings(self.config, group), members=tuple(members)
            )
            self.registry.groups[group.name] = SyncGroup(settings, cores)

    @staticmethod
    def _static_specs(config: m.Config) -> Statics:
        """The kernel specs of static_ipaddress / static_routes."""
        addrs: dict[str, AddrSpec] = {}
        for vip in config.static_ipaddresses:
            if vip.dev is None:
                log.error("static_ipaddress %s has no dev; ignored", vip.address)
                continue
            spec = build_addr(vip, vip.dev)
            addrs[spec.key()] = spec
        routes = {spec.key(): spec for spec in (build_route(r) for r in config.static_routes)}
        return addrs, routes

    def _sync_static(self, config: m.Config, specs: Statics | None = None) -> None:
        """static_ipaddress / static_routes: held in any VRRP state; a reload adds and removes.

        `specs` are the config's, from _static_specs (recorded by _expect before this runs).
        """
        addrs, routes = self._static_specs(config) if specs is None else specs
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
        self.static_addrs, self.static_routes = dict(addrs), dict(routes)

    def _expect(self, plans: Iterable[InstancePlan], statics: Statics) -> None:
        """Record what these plans and static addresses may hold, before any add.

        RecordError when the record cannot be written; then nothing changed.
        """
        plans = list(plans)
        addrs = [spec for plan in plans for spec in plan.addrs]
        routes = [spec for plan in plans for spec in plan.routes]
        self.kernel.expect(addrs + list(statics[0].values()), routes + list(statics[1].values()))

    # ---- reload --------------------------------------------------------------------------

    async def reload(self) -> bool:
        """SIGHUP: apply the config file again, whole, or keep running the old one.

        Every step that can fail comes first (load, plans, LVS dataplane, new sockets, the VIP
        record) and changes nothing that runs; the steps that apply the new config come after
        and cannot fail. READY=1 always follows RELOADING=1, unless a stop began meanwhile
        (STOPPING=1 then ends the reload). Nothing raised here escapes: a bug is logged.
        """
        async with self._reload_lock:
            self.sd.reloading()
            self.counters["reloads"] += 1
            log.info("reloading %s", self.options.config_file)
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
            result = await asyncio.to_thread(load, self.options.config_file, self.options.config_id)
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
        self._commit(new)
        await self._apply_lvs(new.config, new.lvs)
        _freeze_heap(collect=False)
        self.last_reload = {"at": time.time(), "ok": True, "errors": 0, "error": None}
        log.info("reload done: %d instance(s)", len(self.registry.instances))
        self.sd.ready(f"{len(self.registry.instances)} VRRP instance(s)")
        return True

    async def _prepare(self, config: m.Config) -> Prepared | None:
        """Every fallible step of a reload, with no effect on what runs; None when stopping.

        ReloadError names the step and its cause; what was opened for the reload is closed.
        """
        before = self.not_started
        try:
            plans = await self._build_plans(config)  # reads the interfaces' addresses
        except Exception as exc:
            raise ReloadError(f"building the instances: {exc!r}") from exc
        finally:
            not_started, self.not_started = self.not_started, before
        if self._stopping.is_set():
            return None
        try:
            statics = self._static_specs(config)
        except Exception as exc:
            raise ReloadError(f"static addresses and routes: {exc!r}") from exc
        new = Prepared(config, plans, not_started, statics, lvs=self._prepare_lvs(config))
        try:
            new.sockets = self.receiver.open_new(plans)
            self._expect(plans.values(), statics)  # the last step: the file is shared state
        except (SocketsError, RecordError) as exc:
            self._discard(new)
            raise ReloadError(str(exc)) from exc
        return new

    def _prepare_lvs(self, config: m.Config) -> Any:
        """A new LVS manager with its dataplane, when the config brings LVS in; else None."""
        if self._lvs is not None or not config.virtual_servers:
            return None
        try:
            from vipkeeper.lvs.dataplane import select_backend
            from vipkeeper.lvs.manager import LvsManager  # type: ignore[import-not-found,unused-ignore]

            return LvsManager(config, backend=select_backend())
        except Exception as exc:
            raise ReloadError(f"LVS cannot start: {exc}") from exc

    def _discard(self, new: Prepared) -> None:
        """Close what a reload that failed had opened."""
        for sock in new.sockets:
            sock.close()
        if new.lvs is not None and new.lvs.backend is not None:
            with contextlib.suppress(Exception):
                new.lvs.backend.close()

    def _commit(self, new: Prepared) -> None:
        """Apply a prepared config: no step here can fail for want of a resource."""
        config = self.config = new.config
        self.not_started = new.not_started
        self.receiver.adopt(new.sockets)
        self.notify.user = self.trackers.script_user(config)
        self.fifos.open(config, self.trackers.script_policy(config))
        self._sync_static(config, new.statics)
        self.trackers.sync(config)
        self._apply_plans(new.plans)

    def _reload_failed(self, errors: list[str], why: str | None = None) -> bool:
        """Log why a reload failed (the config's errors, or `why`); the running config stays."""
        if why is None:
            for text in errors[:MAX_LOGGED_ERRORS]:
                log.error("reload: %s", text)
            if len(errors) > MAX_LOGGED_ERRORS:
                log.error(
                    "reload: %d more error(s) not logged; `vipkeeper check -f %s` lists them all",
                    len(errors) - MAX_LOGGED_ERRORS,
                    self.options.config_file,
                )
            why = f"the config has {len(errors)} error(s)"
        log.error("reload failed: %s; keeping the running config", why)
        self.counters["reload_failures"] += 1
        self.last_reload = {"at": time.time(), "ok": False, "errors": len(errors), "error": why}
        self.sd.ready("reload failed; running the previous config")
        return False

    # ---- trackers ------------------------------------------------------------------------

    # ---- demote, status, dumps -----------------------------------------------------------

    def demote(self, name: str, hold: float) -> dict[str, Any]:
        """Planned switchover: resign with a priority-0 advert and stay BACKUP for `hold` s."""
        managed = self.registry.instances.get(name)
        if managed is None:
            return {"ok": False, "error": f"no instance {name!r}"}
        core = managed.core
        if core.state is not State.MASTER:
            return {"ok": False, "error": f"{name} is {core.state.value}, not MASTER"}
        now = self.loop.time()
        actions = core.demote(now, hold)
        log.info("(%s) demoted by request: holding BACKUP for %.1fs", name, hold)
        self.executor.run(managed, actions, now)
        self.scheduler.rearm()
        return {"ok": True, "instance": name, "hold": hold}

    def snapshot(self) -> dict[str, Any]:
        """The status figures (control socket, dumps, metrics)."""
        instances = []
        for managed in self.registry.instances.values():
            core, plan, s = managed.core, managed.plan, managed.plan.settings
            st: Stats = core.stats
            instances.append(
                {
                    "name": managed.name,
                    "state": core.state.value,
                    "interface": plan.interface,
                    "vrid": s.vrid,
                    "version": s.version,
                    "family": s.family,
                    "base_priority": s.priority,
                    "effective_priority": core.priority,
                    "advert_int": s.advert_int,
                    "master_advert_int": core.master_adv_int,
                    "source": str(s.source),
                    "master_address": str(core.current_master) if core.current_master else None,
                    "vips": [str(a.address) for a in plan.addrs],
                    "unicast_peers": [str(p) for p in s.unicast_peers],
                    "multicast_group": str(plan.mcast_group) if plan.mcast_group else None,
                    "sync_group": plan.sync_group,
                    "faults": list(core.faults),
                    "hold_remaining": round(
                        max(0.0, (core.held_until or 0.0) - self.loop.time()), 3
                    ),
                    "last_transition": managed.last_transition,
                    "counters": {
                        "adverts_sent": st.sent,
                        "adverts_received": st.received,
                        "own_adverts": st.own_adverts,
                        "ignored_not_running": st.ignored_not_running,
                        "drops": {str(r): n for r, n in st.dropped.items()},
                        "interval_mismatch": st.interval_mismatch,
                        "priority_zero_received": st.priority_zero_received,
                        "priority_zero_sent": st.priority_zero_sent,
                        "lower_priority_received": st.lower_priority_received,
                        "became_master": st.became_master,
                        "released_master": st.released_master,
                        "transitions": managed.transitions,
                    },
                }
            )
        scripts = [
            {
                "name": name,
                "command": " ".join(t.spec.argv),
                "ok": t.ok,
                "runs": t.runs,
                "failures": t.failures,
                "last_rc": t.last_rc,
            }
            for name, t in self.trackers.scripts.items()
        ]
        lvs = None
        if self._lvs is not None:
            with contextlib.suppress(Exception):
                lvs = self._lvs.snapshot()
        return {
            "version": __version__,
            "pid": os.getpid(),
            "config": self.options.config_file,
            "router_id": self.config.global_defs.router_id or socket.gethostname().split(".")[0],
            "started_at": self.started_at,
            "reloads": self.counters["reloads"],
            "last_reload": self.last_reload,
            "instances": instances,
            "not_started": dict(self.not_started),
            "sync_groups": {n: g.state.value for n, g in self.registry.groups.items()},
            "scripts": scripts,
            "track_files": {n: f.value for n, f in self.trackers.files.items()},
            "counters": {
                **self.counters,
                "kernel_errors": self.kernel.errors,
                "garps_sent": self.kernel.garps_sent,
                "notifies_run": self.notify.ran,
                "notifies_killed": self.notify.killed,
            },
            "lvs": lvs,
        }

    def _dump(self, name: str, text: str) -> str | None:
        """Write one dump file (dumps.write_dump); None, with the cause logged, if it failed."""
        try:
            path = dumps.write_dump(self.options.dump_dir, name, text)
        except OSError as exc:
            log.error("dump %s not written: %s", name, exc.strerror or exc)
            return None
        log.info("wrote %s", path)
        return path

    def _dump_data(self) -> str | None:
        return self._dump(dumps.DATA_FILE, dumps.format_data(self.snapshot()))

    def _dump_stats(self) -> str | None:
        return self._dump(dumps.STATS_FILE, dumps.format_stats(self.snapshot()))

    def _dump_json(self) -> str | None:
        return self._dump(dumps.JSON_FILE, dumps.format_json(self.snapshot()))

    def _clear_stats(self) -> None:
        for managed in self.registry.instances.values():
            managed.core.stats = Stats()
        log.info("statistics cleared")

    async def _control(self, request: dict[str, Any]) -> dict[str, Any]:
        command = request.get("command")
        if command == "status":
            return {"ok": True, **self.snapshot()}
        if command == "demote":
            instance = request.get("instance")
            if not isinstance(instance, str):
                return {"ok": False, "error": "instance must be a string (the instance name)"}
            hold = json_number(request.get("hold", 10.0))
            if hold is None or not 0 <= hold <= 3600:
                return {"ok": False, "error": "hold must be a number of seconds, 0..3600"}
            return self.demote(instance, hold)
        if command == "reload":
            ok = await self.reload()
            return {"ok": ok}
        if command == "dump":
            written = [self._dump_data(), self._dump_stats(), self._dump_json()]
            files = [path for path in written if path is not None]
            if len(files) < len(written):
                error = f"dumps not written to {self.options.dump_dir} (the log says why)"
                return {"ok": False, "dir": self.options.dump_dir, "files": files, "error": error}
            return {"ok": True, "dir": self.options.dump_dir, "files": files}
        return {"ok": False, "error": f"unknown command {command!r}"}

    # ---- LVS and metrics (optional parts) ------------------------------------------------

    async def _start_lvs(self, manager: Any = None) -> None:
        """Start LVS: `manager` as a reload prepared it, else one for the running config."""
        if manager is None:
            if not self.config.virtual_servers:
                return
            try:
                from vipkeeper.lvs.manager import LvsManager  # type: ignore[import-not-found,unused-ignore]
            except ImportError as exc:
                log.error("virtual_server configured but LVS support is not available: %s", exc)
                return
        try:
            self._lvs = manager or LvsManager(self.config)
            await self._lvs.start()
        except Exception as exc:  # LVS trouble must not stop VRRP
            log.error("LVS start failed: %s", exc)
            self._lvs = None

    async def _apply_lvs(self, config: m.Config, manager: Any = None) -> None:
        """A reload's LVS part: a new manager starts, a running one reconciles (its errors
        are the dataplane's, logged per service, as keepalived's checker logs them)."""
        if manager is not None:
            await self._start_lvs(manager)
            return
        if self._lvs is None:
            return
        try:
            await self._lvs.apply(config)
        except Exception as exc:
            log.error("LVS reload failed: %s", exc)

    async def _stop_lvs(self) -> None:
        if self._lvs is not None:
            try:
                await self._lvs.stop()
            except Exception as exc:
                log.error("LVS stop failed: %s", exc)

    def _start_metrics(self, listen: str) -> None:
        try:
            from vipkeeper.daemon.metrics import start_metrics

            url = start_metrics(listen, self.snapshot)
            log.info("metrics on %s", url)
        except ImportError:
            log.error("--metrics needs prometheus-client (pip install 'vipkeeper[metrics]')")
        except (OSError, ValueError) as exc:
            log.error("metrics endpoint %s: %s", listen, exc)
