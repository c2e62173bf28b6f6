"""The trackers: vrrp_script, track_file and track_process checks, interface events, and
the script policy.

A tracker's change goes to the cores that track it (`core.set_script_result`,
`set_file_value`, `set_interface_state`, `set_process_state`), and their actions are carried
out at once.
"""

from __future__ import annotations

import asyncio
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from vipkeeper.checks.process import RunAs, Script
from vipkeeper.checks.script import ScriptPolicy, ScriptSpec, ScriptTracker
from vipkeeper.checks.trackfile import FileTracker, TrackFileSpec
from vipkeeper.checks.trackproc import ProcessTracker
from vipkeeper.config import model as m
from vipkeeper.daemon.build import InstancePlan
from vipkeeper.daemon.notify import CONFLICT_HOOK, NotifyQueue
from vipkeeper.daemon.registry import Managed, Registry, Run
from vipkeeper.net.links import Link
from vipkeeper.net.procevents import ProcEvent, ProcEventReader
from vipkeeper.vrrp.settings import InstanceSettings

log = logging.getLogger("vipkeeper")

ACK_WAIT = 0.1  # keepalived waits TIMER_HZ / 10 for the kernel's answer to the subscription


# The notify commands of an instance or sync group, as NotifyConfig's fields (and RunNotify's
# kinds); `generic` is the keyword `notify`. A sync group has no deleted/master_rx_lower_pri.
NOTIFY_KINDS = ("master", "backup", "fault", "stop", "deleted", "generic", "master_rx_lower_pri")


class Trackers:
    """The running script and file trackers, and what their changes (and links') do.

    - `clock`: the event loop's time.
    - `notify`: the notify queue (it runs only the notify scripts vetted here).
    - `run`, `rearm`: carry out an instance's actions (Executor.run); re-arm the timer.
    - `reopen_sockets`: bind the VRRP sockets of an interface again (Receiver.reopen_sockets).
    - `forget_addresses`: drop what is cached of an interface's addresses (its index changed).
    - `spawn`: run a coroutine as a task the daemon keeps.
    - `proc_events_netns`: where the process-events connector is, when not in our namespace.
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        registry: Registry,
        notify: NotifyQueue,
        run: Run,
        rearm: Callable[[], None],
        reopen_sockets: Callable[[str], None],
        forget_addresses: Callable[[str], None],
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        proc_events_netns: str = "/proc/1/ns/net",
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.notify = notify
        self.run = run
        self.rearm = rearm
        self.reopen_sockets = reopen_sockets
        self.forget_addresses = forget_addresses
        self.spawn = spawn
        self.proc_events_netns = proc_events_netns
        self.scripts: dict[str, ScriptTracker] = {}
        self.files: dict[str, FileTracker] = {}
        self.processes: ProcessTracker | None = None  # every vrrp_track_process block
        self.proc_events: ProcEventReader | None = None  # open while there is a block
        self._policy: tuple[m.Config, ScriptPolicy] | None = None  # see script_policy

    async def stop(self) -> None:
        """Stop every tracker."""
        for tracker in self.scripts.values():
            await tracker.stop()
        for ftracker in self.files.values():
            await ftracker.stop()
        self._sync_processes(())

    def script_policy(self, config: m.Config) -> ScriptPolicy:
        """Script users and security for `config`: built (and its problems logged) once."""
        if self._policy is None or self._policy[0] is not config:
            self._policy = (config, ScriptPolicy(config.global_defs))
        return self._policy[1]

    def script_user(self, config: m.Config) -> RunAs | None:
        return self.script_policy(config).default_run_as

    def sync(self, config: m.Config) -> None:
        policy = self.script_policy(config)
        self._sync_notify_scripts(config, policy)
        wanted_scripts: dict[str, ScriptSpec] = {}
        for script in config.vrrp_scripts:
            vetted = policy.prepare(script.script, f"vrrp_script {script.name}")
            if not isinstance(vetted, Script):
                continue  # refused: logged, and never run (keepalived frees it)
            wanted_scripts[script.name] = ScriptSpec(
                name=script.name,
                argv=vetted.argv,
                interval=script.interval,
                timeout=script.timeout,
                rise=script.rise,
                fall=script.fall,
                init_fail=script.init_fail,
                user=vetted.user,
                recheck=vetted.recheck,
                executable=vetted.executable,
            )
        tracked = {ref.name for i in config.vrrp_instances for ref in i.track_scripts} | {
            ref.name for grp in config.vrrp_sync_groups for ref in grp.track_scripts
        }
        for name, tracker in list(self.scripts.items()):
            if wanted_scripts.get(name) != tracker.spec or name not in tracked:
                self.spawn(tracker.stop())
                del self.scripts[name]
        for name, spec in wanted_scripts.items():
            if name in tracked and name not in self.scripts:
                new = ScriptTracker(spec, self.on_script)
                self.scripts[name] = new
                new.start()
        wanted_files = {
            tf.name: TrackFileSpec(tf.name, tf.file, tf.init_file, tf.init_value, tf.init_overwrite)
            for tf in config.track_files
        }
        for name, ftracker in list(self.files.items()):
            if wanted_files.get(name) != ftracker.spec:
                self.spawn(ftracker.stop())
                del self.files[name]
        for name, fspec in wanted_files.items():
            if name not in self.files:
                fnew = FileTracker(fspec, self.on_file)
                self.files[name] = fnew
                fnew.start()
        self._sync_processes(config.track_processes)

    def _sync_processes(self, specs: tuple[m.TrackProcess, ...]) -> None:
        """Keep one process tracker for the config's vrrp_track_process blocks.

        A changed set of blocks is counted again from /proc (keepalived's reload reads /proc
        again too); the connector socket stays open while there is a block."""
        wanted = tuple(dataclasses.replace(s, location=None) for s in specs)
        current = self.processes
        if current is not None and tuple(current.specs.values()) == wanted:
            return
        if current is not None:
            current.stop()
            self.processes = None
        if not wanted:
            if self.proc_events is not None:
                self.proc_events.close()
                self.proc_events = None
            return
        loop = asyncio.get_running_loop()
        tracker = ProcessTracker(wanted, self.on_process, loop.call_later)
        if self.proc_events is None:
            reader = ProcEventReader(self._on_proc_event)
            try:
                reader.start(loop, self.proc_events_netns)
            except OSError as exc:
                log.warning(
                    "track_process: cannot follow process events (%s); the process counts "
                    "stay as read at start-up",
                    exc,
                )
            else:
                self.proc_events = reader
                loop.call_later(ACK_WAIT, self._check_acknowledged)
        tracker.scan()  # after subscribing: an exit between the two is seen
        self.processes = tracker
        before = current.up if current is not None else {}
        if self.registry.instances:  # a reload: the running cores learn the new counts
            for name, up in tracker.up.items():
                if before.get(name) != up:
                    self.on_process(name, up)
        for name, up in tracker.up.items():
            log.info(
                "track_process %s: %d process(es), quorum %s",
                name,
                tracker.count[name],
                "held" if up else "not held",
            )

    def _check_acknowledged(self) -> None:
        reader = self.proc_events
        if reader is not None and not reader.acknowledged:
            log.warning(
                "track_process: the kernel did not acknowledge the process events subscription"
                " - is CONFIG_PROC_EVENTS enabled? track_process will not follow changes"
            )

    def _on_proc_event(self, event: ProcEvent) -> None:
        if self.processes is not None:
            self.processes.handle(event)

    def _sync_notify_scripts(self, config: m.Config, policy: ScriptPolicy) -> None:
        """Vet every notify of the instances and sync groups; the queue runs only those."""
        scripts: dict[tuple[str, str], Script | str] = {}
        owners = [("vrrp_instance", i.name, i.notify) for i in config.vrrp_instances]
        owners += [("vrrp_sync_group", grp.name, grp.notify) for grp in config.vrrp_sync_groups]
        for block, name, notify in owners:
            for kind in NOTIFY_KINDS:
                keyword = "notify" if kind == "generic" else f"notify_{kind}"
                vetted = policy.prepare(getattr(notify, kind), f"{block} {name} {keyword}")
                if vetted is not None:
                    scripts[(name, kind)] = vetted
        hook = policy.prepare(config.vipkeeper.conflict_notify, "vipkeeper conflict_notify")
        if hook is not None:
            scripts[CONFLICT_HOOK] = hook
        self.notify.set_scripts(scripts)

    def live_settings(self, plan: InstancePlan) -> InstanceSettings:
        """The plan's settings with the trackers' current results as their initial values."""
        s = plan.settings
        scripts = tuple(
            dataclasses.replace(t, initially_ok=self.scripts[t.name].ok)
            if t.name in self.scripts
            else t
            for t in s.track_scripts
        )
        files = tuple(
            dataclasses.replace(t, initial_value=self.files[t.name].value)
            if t.name in self.files
            else t
            for t in s.track_files
        )
        procs = self.processes
        processes = tuple(
            dataclasses.replace(t, initially_up=procs.up[t.name])
            if procs is not None and t.name in procs.up
            else t
            for t in s.track_processes
        )
        return dataclasses.replace(
            s, track_scripts=scripts, track_files=files, track_processes=processes
        )

    def push_state(self, managed: Managed) -> None:
        core = managed.core
        for ts in core.settings.track_scripts:
            tracker = self.scripts.get(ts.name)
            if tracker is not None and tracker.ok != ts.initially_ok:
                core.set_script_result(ts.name, tracker.ok, self.clock())
        for tf in core.settings.track_files:
            ftracker = self.files.get(tf.name)
            if ftracker is not None and ftracker.value != tf.initial_value:
                core.set_file_value(tf.name, ftracker.value, self.clock())
        procs = self.processes
        for tp in core.settings.track_processes:
            if procs is not None and tp.name in procs.up and procs.up[tp.name] != tp.initially_up:
                core.set_process_state(tp.name, procs.up[tp.name], self.clock())

    def on_link(self, old: Link | None, new: Link | None) -> None:
        """What the interface called `name` is changed (links.py reports by name).

        Gone (deleted, or renamed away: keepalived's cleanup_lost_interface treats both as
        lost) or down: the instances tracking it (their own interface, by default) are told
        it is down first, so a master resigns on the socket it still has; then the socket
        closes. Appeared: the socket is bound to the new index first, then the trackers are
        told it is up.
        """
        link = new or old
        if link is None:
            return
        name = link.name
        replaced = old is None or new is None or old.index != new.index
        if replaced:
            self.forget_addresses(name)
        users = [m for m in self.registry.instances.values() if self._uses_link(m, name)]
        if not users:
            return
        if replaced and new is None:
            log.info("interface %s (index %d) is gone", name, link.index)
        elif replaced and new is not None:
            log.info("interface %s is there (index %d)", name, new.index)
        up = new is not None and new.up
        was = old is not None and old.up
        if was and not up:
            self._set_link_state(users, name, up=False)
        if replaced and new is None:
            self._set_link_state(users, name, up=False, presence=True)
        if replaced:
            self.reopen_sockets(name)
        if replaced and new is not None:
            self._set_link_state(users, name, up=True, presence=True)
        if up and not was:
            self._set_link_state(users, name, up=True)

    @staticmethod
    def _uses_link(managed: Managed, name: str) -> bool:
        """Whether an instance runs on, or tracks, the interface called `name`."""
        if managed.plan.interface == name:
            return True
        return any(t.name == name for t in managed.core.settings.track_interfaces)

    def _set_link_state(
        self, users: list[Managed], name: str, *, up: bool, presence: bool = False
    ) -> None:
        """Tell the instances tracking interface `name` it is up or down: the core's own
        interface tracking moves them into or out of FAULT (or changes their priority).

        `presence`: the interface appeared or went, for the trackers that follow only that
        (`dont_track_primary`); the others follow its link state."""
        trackers = [
            m
            for m in users
            if any(
                t.name == name and t.presence == presence for t in m.core.settings.track_interfaces
            )
        ]
        if not presence:
            log.info("interface %s is %s", name, "up" if up else "down")
        if not trackers:
            return
        now = self.clock()
        for managed in trackers:
            self.run(managed, managed.core.set_interface_state(name, up, now), now)
        self.rearm()

    def on_script(self, name: str, ok: bool) -> None:
        log.info("vrrp_script %s is now %s", name, "OK" if ok else "FAILING")
        now = self.clock()
        for managed in list(self.registry.instances.values()):
            if any(t.name == name for t in managed.core.settings.track_scripts):
                self.run(managed, managed.core.set_script_result(name, ok, now), now)
        self.rearm()

    def on_file(self, name: str, value: int) -> None:
        log.info("track_file %s now holds %d", name, value)
        now = self.clock()
        for managed in list(self.registry.instances.values()):
            if any(t.name == name for t in managed.core.settings.track_files):
                self.run(managed, managed.core.set_file_value(name, value, now), now)
        self.rearm()

    def on_process(self, name: str, up: bool) -> None:
        now = self.clock()
        for managed in list(self.registry.instances.values()):
            if any(t.name == name for t in managed.core.settings.track_processes):
                self.run(managed, managed.core.set_process_state(name, up, now), now)
        self.rearm()
