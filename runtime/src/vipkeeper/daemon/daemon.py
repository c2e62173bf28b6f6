"""The daemon: wires the pieces that move packets and events between net/ and the VRRP cores.

Each piece takes its collaborators in its constructor (aioquic's protocol/connection split):
- `Receiver` (daemon/receiver.py): the VRRP sockets and the receive path;
- `Scheduler` (daemon/scheduler.py): the one timer, the timer pass and the takeover wait;
- `Executor` (daemon/executor.py): actions to the sockets, the kernel, notifies and FIFOs;
- `Trackers` (daemon/trackers.py): scripts, files and interfaces the cores track;
- `Plans` and `Reloader` (daemon/reload.py): applying plans, and SIGHUP's two phases;
- `dumps.snapshot` (daemon/dumps.py): the status figures.

`Daemon` owns the lifecycle (start, stop, signals), the control socket's commands, and the
optional parts (LVS, metrics). Scripts, notifies and netlink work run as separate tasks, so
they never delay an advert.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Callable
from typing import Any

from vipkeeper import __version__
from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config import model as m
from vipkeeper.daemon import dumps
from vipkeeper.daemon.conflict import ConflictWatch
from vipkeeper.daemon.control import ControlServer, json_number
from vipkeeper.daemon.executor import Executor
from vipkeeper.daemon.fifos import Fifos
from vipkeeper.daemon.firewall import Firewall
from vipkeeper.daemon.kernel import Kernel
from vipkeeper.daemon.mail import Mailer, mail_settings
from vipkeeper.daemon.notify import NotifyQueue
from vipkeeper.daemon.receiver import Receiver
from vipkeeper.daemon.registry import Registry
from vipkeeper.daemon.reload import (
    Plans,
    Prepared,
    Reloader,
    ReloadError,
    freeze_heap,
)
from vipkeeper.daemon.scheduler import Scheduler
from vipkeeper.daemon.sdnotify import SdNotify
from vipkeeper.daemon.timer import OneTimer
from vipkeeper.daemon.trackers import Trackers
from vipkeeper.net.addrs import NetError
from vipkeeper.net.links import Link, LinkMonitor
from vipkeeper.net.record import RecordError
from vipkeeper.net.vrrpsock import SocketKey, VrrpSocket
from vipkeeper.vrrp.actions import SendGratuitous
from vipkeeper.vrrp.instance import GARP_RECONFIGURED, Stats
from vipkeeper.vrrp.state import State

log = logging.getLogger("vipkeeper")
SIGJSON = signal.SIGRTMIN + 2  # keepalived --signum=JSON
SIGSTATS_CLEAR = signal.SIGRTMAX - 1  # keepalived --signum=STATS_CLEAR (63)
MAIL_DRAIN = 2.0  # seconds a stop waits for the SMTP alerts still queued (STOP, mostly)


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
    proc_events_netns: str = "/proc/1/ns/net"  # track_process, outside the initial netns


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
        self.firewall = Firewall(self.kernel)
        self.links = LinkMonitor(self._on_link)  # trackers.on_link
        self.sd = SdNotify()
        self.registry = Registry()
        self._stopping = asyncio.Event()
        self.sockets: dict[SocketKey, VrrpSocket] = {}
        self.notify = NotifyQueue(options.notify_timeout)
        self.fifos = Fifos(self._spawn)
        self.not_started: dict[str, str] = {}  # instance name -> why it could not start
        self.counters: dict[str, int] = {
            "unknown_vrid": 0,
            "not_vrrp": 0,
            "send_errors": 0,
            "reloads": 0,
            "reload_failures": 0,
            "vip_conflicts": 0,
            "vip_conflict_answers": 0,
            "takeovers_held": 0,
        }
        self.mailer = Mailer(self.counters)
        self.conflicts = ConflictWatch(
            loop=self.loop,
            registry=self.registry,
            links=self.links,
            notify=self.notify,
            counters=self.counters,
        )
        self.started_at = time.time()
        self.running = False  # true once the first config's instances run (status: starting)
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
            mailer=self.mailer,
            firewall=self.firewall,
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
            guard=self.conflicts,
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
            proc_events_netns=options.proc_events_netns,
        )
        self.plans = Plans(
            clock=self.loop.time,
            registry=self.registry,
            kernel=self.kernel,
            links=self.links,
            executor=self.executor,
            receiver=self.receiver,
            trackers=self.trackers,
            rearm=self.scheduler.rearm,
        )
        self.reloader = Reloader(
            config_file=options.config_file,
            config_id=options.config_id,
            sd=self.sd,
            counters=self.counters,
            registry=self.registry,
            plans=self.plans,
            receiver=self.receiver,
            stopping=self._stopping.is_set,
            prepare_lvs=self._prepare_lvs,
            apply_lvs=self._apply_lvs,
            commit=self._commit,
        )
        self._stop_announced = False
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
                self.firewall.configure(self.config)  # a killed run's tables go first
                await self.kernel.cleanup_stale_vmacs()
                plans, self.not_started = await self.plans.build(self.config)
                statics = self.plans.static_specs(self.config)
                self.plans.expect(plans.values(), statics)  # before any VIP or route is added
            except RecordError as exc:  # as keepalived without its pid file: no start
                log.error("%s; not starting", exc)
                return 1
            self.notify.user = self.trackers.script_user(self.config)
            self.notify.start()
            self.mailer.configure(mail_settings(self.config.global_defs))
            self.mailer.start()
            self.fifos.open(self.config, self.trackers.script_policy(self.config))
            self.plans.sync_static(self.config, statics)
            self.trackers.sync(self.config)
            self.conflicts.configure(self.config)
            delay = self.config.global_defs.vrrp_startup_delay
            if delay > 0:
                log.info("vrrp_startup_delay: waiting %.1fs before starting instances", delay)
                with contextlib.suppress(TimeoutError):
                    await wait_for(self._stopping.wait(), delay)
            if not self._stopping.is_set():
                self.plans.apply(plans, self.config, initial=True)
                freeze_heap(collect=True)
                await self._start_lvs()
                if self.options.metrics:
                    self._start_metrics(self.options.metrics)
                self.running = True
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
        self.conflicts.stop()
        self.plans.sync_static(m.Config())
        await self.kernel.drain(5.0)
        await self.firewall.stop()
        try:
            self.kernel.expect((), ())  # all released: what is still held stays recorded
        except RecordError as exc:  # the stop goes on: LVS, scripts and sockets still end
            log.error("%s; it still lists addresses this stop released", exc)
        await self.kernel.remove_vmacs()  # after the VIPs on them were released
        await self.notify.drain(self.options.notify_timeout + 2.0)
        await self.mailer.drain(MAIL_DRAIN)
        await self._stop_lvs()
        await self.trackers.stop()
        for task in list(self._tasks):
            task.cancel()
        await self.control.stop()
        await self.notify.stop()
        await self.mailer.stop()
        await self.links.stop()
        await self.kernel.stop()
        self.receiver.close_all()
        await self.fifos.close()
        log.info("stopped")

    def _on_link(self, old: Link | None, new: Link | None) -> None:
        self.trackers.on_link(old, new)  # the link monitor is made before the trackers
        if old is not None and new is None and old.name in self.kernel.vmacs.entries:
            self._spawn(self._recreate_vmac(old.name), f"vmac {old.name}")

    async def _recreate_vmac(self, name: str) -> None:
        """A vmac of ours was deleted under us: make it again, as keepalived does
        (vrrp_if.c recreate_vmac_thread). Its instance is in FAULT meanwhile, and its VIPs come
        back with MASTER."""
        if self._stopping.is_set():
            return
        spec = next(
            (
                mg.plan.vmac
                for mg in self.registry.instances.values()
                if mg.plan.vmac is not None and mg.plan.vmac.name == name
            ),
            None,
        )
        if spec is None or self.links.get(name) is not None:
            return
        log.warning("vmac %s was deleted; making it again", name)
        try:
            self.links.learn(await self.kernel.ensure_vmac(spec))
        except (NetError, RecordError) as exc:
            log.error("vmac %s cannot be made again: %s", name, exc)
            return
        # A master's VIPs went with the link: put them back, and announce them.
        for managed in self.registry.instances.values():
            if managed.core.state is not State.MASTER:
                continue
            specs = tuple(a for a in managed.plan.addrs if a.ifname == name)
            if not specs:
                continue
            self.kernel.add_addresses(specs, managed.name)
            for family in (4, 6):
                addrs = tuple(a.address.ip for a in specs if a.address.ip.version == family)
                if addrs:
                    repeat = managed.plan.settings.garp_master_repeat
                    self.executor.gratuitous(
                        managed,
                        SendGratuitous(managed.name, addrs, family, repeat, GARP_RECONFIGURED),
                    )

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

    # ---- reload --------------------------------------------------------------------------

    async def reload(self) -> bool:
        """SIGHUP: apply the config file again, whole, or keep running the old one
        (reload.Reloader: False when it failed and the running config stays)."""
        return await self.reloader.reload()

    async def _prepare_lvs(self, config: m.Config) -> Any:
        """A new LVS manager with its dataplane, when the config brings LVS in; else None."""
        if self._lvs is not None or not config.virtual_servers:
            return None
        try:
            from vipkeeper.lvs.dataplane import open_backend
            from vipkeeper.lvs.manager import LvsManager  # type: ignore[import-not-found,unused-ignore]

            return LvsManager(config, backend=await open_backend(), alert=self.mailer.submit)
        except Exception as exc:
            raise ReloadError(f"LVS cannot start: {exc}") from exc

    def _commit(self, new: Prepared) -> None:
        """Apply a prepared config: no step here can fail for want of a resource."""
        config = self.config = new.config
        self.not_started = new.not_started
        self.receiver.adopt(new.sockets)
        self.notify.user = self.trackers.script_user(config)
        self.mailer.configure(mail_settings(config.global_defs))
        self.fifos.open(config, self.trackers.script_policy(config))
        self.plans.sync_static(config, new.statics)
        self.trackers.sync(config)
        self.conflicts.configure(config)
        self.firewall.configure(config)
        self.plans.apply(new.plans, config)

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
        """The status figures (control socket, dumps, metrics): dumps.snapshot."""
        lvs = None
        if self._lvs is not None:
            with contextlib.suppress(Exception):
                lvs = self._lvs.snapshot()
        return dumps.snapshot(
            config_file=self.options.config_file,
            config=self.config,
            registry=self.registry,
            not_started=self.not_started,
            trackers=self.trackers,
            counters=self.counters,
            kernel=self.kernel,
            notify=self.notify,
            lvs=lvs,
            started_at=self.started_at,
            last_reload=self.reloader.last_reload,
            clock=self.loop.time,
            starting=not self.running,
            conflicts=self.conflicts,
        )

    def _dump(self, name: str, text: str) -> str | None:
        return dumps.dump_file(self.options.dump_dir, name, text)

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
            self._lvs = manager or LvsManager(self.config, alert=self.mailer.submit)
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
