"""The LVS manager: virtual servers, their health checks, quorum, and the dataplane.

keepalived's rules (check/ipwrapper.c):
- a real server is alive while none of its checkers has failed (alpha: checkers start failed);
- alive servers are in the pool at their (possibly dynamic) weight; a dead one is removed, or
  kept at weight 0 with inhibit_on_failure;
- quorum: the sum of alive weights must reach `quorum + hysteresis` to gain it and drop
  below `quorum - hysteresis` to lose it; on loss the sorry server replaces the alive servers;
- reload keeps every unchanged real server (and its checker state) and never re-adds a
  failed one at once; stop removes our services (a bare lvs_flush_on_stop flushes everything); the
  nftables dataplane then deletes its table, so a stopped daemon leaves no hook behind.
- scripts (check/check_data.c check_check_script_security): MISC_CHECK, notify_up/down,
  quorum_up/down and lvs_notify_fifo_script are vetted by script security when a config is
  loaded (checks/script.py ScriptPolicy: their own user, else script_user, else
  keepalived_script, else root). A refused MISC_CHECK is dropped from its real server, as
  keepalived frees the checker; a refused notify is logged and never run.
- ha_suspend (check_api.c): while no local interface carries a virtual server's address, its
  checkers make no attempts and keep their state; the service stays programmed. A fwmark
  service has no address, so ha_suspend does not apply to it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from typing import Any

from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import zip_strict
from vipkeeper.checks.checkers import Target, unsupported_reason
from vipkeeper.checks.checkers.http import ssl_setup_error
from vipkeeper.checks.checkers.runner import BOOTSTRAP_DELAY, CheckerLoop
from vipkeeper.checks.process import Script, run_script, spawn_script
from vipkeeper.checks.script import ScriptPolicy
from vipkeeper.config.model import (
    Checker,
    Config,
    FileCheck,
    LvsFlushOnStop,
    MiscCheck,
    RealServer,
    VirtualServer,
)
from vipkeeper.config.scripts import Lookup, lookup_user
from vipkeeper.fifo import NotifyFifo
from vipkeeper.lvs.alerts import Alert, checker_body, quorum_body, rs_alert, vs_alert
from vipkeeper.lvs.dataplane import Dataplane, DataplaneError, open_backend
from vipkeeper.lvs.desired import (
    dest,
    ha_suspend_ranges,
    rs_label,
    service_for,
    service_keys,
    vs_label,
)
from vipkeeper.lvs.fifo import rs_line, vs_line
from vipkeeper.lvs.model import ServiceKey, ServiceState, Table
from vipkeeper.lvs.reconcile import DelDest, DelService, Op, apply_to, plan
from vipkeeper.net.addrwatch import Address, AddressWatch
from vipkeeper.net.netlink import NetlinkError

log = logging.getLogger(__name__)
NOTIFY_TIMEOUT = 60.0


def same(a: Any, b: Any) -> bool:
    """Equality that ignores `location` fields (moving a block in the file is no change)."""
    return bool(_strip(a) == _strip(b))


def _strip(value: Any) -> Any:
    if is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            tuple(
                (f.name, _strip(getattr(value, f.name)))
                for f in fields(value)
                if f.name != "location"
            ),
        )
    if isinstance(value, tuple):
        return tuple(_strip(v) for v in value)
    return value


class RealServerState:
    """A real server at run time: its checkers and their verdict."""

    def __init__(self, manager: LvsManager, vs: VirtualServerState, rs: RealServer) -> None:
        self.manager = manager
        self.vs = vs
        self.rs = rs
        self.loops: list[CheckerLoop] = []
        self.unsupported: list[str] = []
        self.alive = False
        self.reported: dict[int, bool] = {}  # id(loop) -> its state last alerted about
        what = f"real_server {rs_label(vs.vs, rs)} of virtual_server {vs.label}"
        self.what = what
        self.scripts = manager.vet({"notify_up": rs.notify_up, "notify_down": rs.notify_down}, what)
        # Per checker: the vetted MISC_CHECK command, why it is refused, or None (other kinds)
        self.vetted: list[Script | str | None] = [
            manager.policy.prepare(c.misc_path, f"{what} MISC_CHECK")
            if isinstance(c, MiscCheck)
            else None
            for c in rs.checkers
        ]

    @property
    def checks_ok(self) -> bool:
        """No checker has failed."""
        return all(loop.up for loop in self.loops)

    @property
    def weight(self) -> int:
        """The effective weight (a dynamic checker's, else the configured one)."""
        for loop in self.loops:
            if loop.weight is not None:
                return loop.weight
        return self.rs.weight

    def running(self) -> list[tuple[Checker, Script | None]]:
        """The checkers that get a loop (supported, and not refused by script security)."""
        return [
            (checker, vetted if isinstance(vetted, Script) else None)
            for checker, vetted in zip_strict(self.rs.checkers, self.vetted)
            if unsupported_reason(checker) is None and not isinstance(vetted, str)
        ]

    def build_loops(self) -> None:
        """Create a loop for every supported checker that script security lets run."""
        vs = self.vs.vs
        for checker, vetted in zip_strict(self.rs.checkers, self.vetted):
            reason = unsupported_reason(checker)
            if reason is not None:
                log.error("%s %s: %s", vs_label(vs), rs_label(vs, self.rs), reason)
                self.unsupported.append(reason)
                continue
            if isinstance(vetted, str):  # refused (logged): keepalived frees the checker
                self.unsupported.append(f"{checker.kind} disabled: {vetted}")
                continue
            target = Target(
                address=checker.connect_ip or self.rs.address,
                port=checker.connect_port or self.rs.port or vs.port or 0,
                bind_address=checker.bindto,
                bind_port=checker.bind_port,
                bind_if=checker.bind_if,
                fwmark=checker.fwmark,
                virtualhost=self.rs.virtualhost or vs.virtualhost,
            )
            file_path = None
            if isinstance(checker, FileCheck):
                tf = self.manager.config.track_file(checker.track_file)
                file_path = tf.file if tf else checker.track_file
            self.loops.append(
                CheckerLoop(
                    checker,
                    target,
                    self._changed,
                    base_weight=self.rs.weight,
                    file_path=file_path,
                    script=vetted,
                    bootstrap=self.manager.bootstrap,
                    label=f"{checker.kind} {rs_label(vs, self.rs)} of {vs_label(vs)}",
                )
            )
            self.reported[id(self.loops[-1])] = self.loops[-1].up

    def _changed(self, loop: CheckerLoop) -> None:
        self.manager.server_changed(self, loop)

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "address": str(self.rs.address),
            "port": self.rs.port,
            "name": rs_label(self.vs.vs, self.rs),
            "alive": self.alive,
            "weight": self.rs.weight,
            "effective_weight": self.weight,
            "inhibit_on_failure": self.rs.inhibit_on_failure,
            "checkers": [
                {
                    "kind": loop.checker.kind,
                    "target": loop.target.hostport,
                    "up": loop.up,
                    "has_run": loop.has_run,
                    "attempts": loop.attempts,
                    "failures": loop.failures,
                    "suspended": loop.suspended,
                    "result": None
                    if loop.last is None
                    else {"ok": loop.last.ok, "detail": loop.last.detail},
                }
                for loop in self.loops
            ],
            "unsupported": list(self.unsupported),
        }


class VirtualServerState:
    """A virtual server at run time: quorum, sorry server, and its real servers."""

    def __init__(self, vs: VirtualServer, keys: list[ServiceKey]) -> None:
        self.vs = vs
        self.keys = keys
        self.servers: list[RealServerState] = []
        self.quorum_up = True
        self.suspended = False  # ha_suspend: no local interface carries the address
        self.sorry_active = False
        total = sum(rs.weight for rs in vs.real_servers)
        self.quorum = min(vs.quorum, total) if total else vs.quorum
        self.hysteresis = min(vs.hysteresis, max(self.quorum - 1, 0))
        self.scripts: dict[str, Script | str] = {}  # quorum_up / quorum_down, vetted

    @property
    def label(self) -> str:
        """keepalived's name for the virtual server."""
        return vs_label(self.vs)

    def live_weight(self) -> int:
        """Sum of the alive servers' weights."""
        return sum(s.weight for s in self.servers if s.alive)

    def desired(self) -> Table:
        """The kernel services and destinations this virtual server wants now."""
        table: Table = {}
        for key in self.keys:
            dests = {}
            for srv in self.servers:
                use = srv.alive and not self.sorry_active
                if use or srv.rs.inhibit_on_failure:
                    d = dest(self.vs, key, srv.rs, srv.weight if use else 0)
                    dests[d.key] = d
            sorry = self.vs.sorry_server
            if sorry is not None and (self.sorry_active or self.vs.sorry_server_inhibit):
                d = dest(self.vs, key, sorry, 1 if self.sorry_active else 0)
                dests.setdefault(d.key, d)
            table[key] = ServiceState(service_for(self.vs, key), dests)
        return table

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state."""
        return {
            "name": self.label,
            "services": [str(k) for k in self.keys],
            "scheduler": self.vs.lb_algo,
            "method": str(self.vs.lb_kind),
            "protocol": str(self.vs.protocol),
            "quorum": self.quorum,
            "hysteresis": self.hysteresis,
            "quorum_up": self.quorum_up,
            "live_weight": self.live_weight(),
            "sorry_server": None
            if self.vs.sorry_server is None
            else str(self.vs.sorry_server.address),
            "sorry_server_active": self.sorry_active,
            "ha_suspend": self.vs.ha_suspend,
            "suspended": self.suspended,
            "real_servers": [s.snapshot() for s in self.servers],
        }


class LvsManager:
    """Owns the virtual servers of a config, their checkers, and the dataplane."""

    def __init__(
        self,
        config: Config,
        *,
        backend: Dataplane | None = None,
        lookup: Lookup = lookup_user,
        bootstrap: float = BOOTSTRAP_DELAY,
        watch_addresses: bool = True,
        alert: Alert | None = None,
    ) -> None:
        self.config = config
        self.alert = alert  # SMTP alerts go here (the daemon's mailer)
        self.backend = backend
        self._lookup = lookup
        # keepalived's script users and script security (default: script_user, else
        # keepalived_script, else root; none at all under enable_script_security)
        self.policy = ScriptPolicy(config.global_defs, lookup)
        self.bootstrap = bootstrap
        self.virtual_servers: list[VirtualServerState] = []
        self.errors: list[str] = []
        self._programmed: Table = {}
        self._owned: set[ServiceKey] = set()
        self._fifo: NotifyFifo | None = None
        self._fifo_proc: asyncio.subprocess.Process | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._dirty = False
        self._sync_lock = asyncio.Lock()
        self._sync_task: asyncio.Task[None] | None = None
        self._started = False
        self.reconciles = 0
        self.watch_addresses = watch_addresses  # False: the caller feeds address_changed()
        self.local_addresses: set[Address] = set()
        self._addr_watch: AddressWatch | None = None
        self._addresses_unknown = False  # the watch failed: checkers run (fail open)

    # ------------------------------------------------------------------ life cycle

    async def start(self) -> None:
        """Program the initial pool, then start every checker."""
        if not self.config.virtual_servers:
            self._started = True
            return
        if self.backend is None:
            self.backend = await open_backend()
        self._open_fifo(self.config)
        await self._start_fifo_script(self.config)
        if self.config.global_defs.lvs_flush:
            await self.backend.flush()
        else:  # a run that was killed left its nftables table (its hooks): start afresh
            await self.backend.discard_stale()
        self.virtual_servers = [
            self._new_vs(vs, self.config, None) for vs in self.config.virtual_servers
        ]
        self._programmed = await self.backend.read()
        await self._sync()
        await self._watch_addresses()
        self._started = True
        self._check_ssl_files(self.config)
        for vss in self.virtual_servers:
            for srv in vss.servers:
                for loop in srv.loops:
                    loop.start()

    async def apply(self, new_config: Config) -> None:
        """Reload: keep unchanged servers (and their checker state), delete removed services."""
        old = {vss.label: vss for vss in self.virtual_servers}
        self.config = new_config
        self.policy = ScriptPolicy(new_config.global_defs, self._lookup)
        if self.backend is None and new_config.virtual_servers:
            self.backend = await open_backend()
        g = new_config.global_defs
        if (
            self._fifo is None
            or self._fifo.path != g.lvs_notify_fifo
            or self._fifo.owner != self.policy.fifo_owner(g.lvs_notify_fifo_owner)
        ):
            if self._fifo is not None:
                self._fifo.close()
                self._fifo = None
            await self._stop_fifo_script()
            self._open_fifo(new_config)
            await self._start_fifo_script(new_config)
        new_states: list[VirtualServerState] = []
        for vs in new_config.virtual_servers:
            prev = old.pop(vs_label(vs), None)
            new_states.append(self._new_vs(vs, new_config, prev))
        stopping = [loop for vss in old.values() for s in vss.servers for loop in s.loops]
        for vss in new_states:
            kept = {id(loop) for s in vss.servers for loop in s.loops}
            prev_vs = next((p for p in self.virtual_servers if p.label == vss.label), None)
            if prev_vs is not None:
                stopping += [
                    loop for s in prev_vs.servers for loop in s.loops if id(loop) not in kept
                ]
        for loop in stopping:
            await loop.stop()
        self.virtual_servers = new_states
        if self.backend is not None:
            await self.wait_synced()
            self._programmed = await self.backend.read()
            await self._sync()
        await self._watch_addresses()
        self._check_ssl_files(new_config)
        for vss in self.virtual_servers:
            for srv in vss.servers:
                for loop in srv.loops:
                    loop.start()

    @staticmethod
    def _check_ssl_files(config: Config) -> None:
        """Log, once a start or reload, an SSL block whose files do not load (keepalived stops)."""
        why = ssl_setup_error(config)
        if why is not None:
            log.error("%s: every SSL_GET check fails until it loads", why)

    async def stop(self) -> None:
        """Stop the checkers and remove our services as lvs_flush_on_stop says."""
        if self._addr_watch is not None:
            await self._addr_watch.stop()
            self._addr_watch = None
        for vss in self.virtual_servers:
            for srv in vss.servers:
                for loop in srv.loops:
                    await loop.stop()
        await self.wait_synced()
        mode = self.config.global_defs.lvs_flush_on_stop
        for vss in self.virtual_servers:
            if vss.vs.omega:
                for srv in vss.servers:
                    if srv.alive and mode == LvsFlushOnStop.OFF:
                        srv.alive = False
                        self._rs_notify(vss, srv, stopping=True)
                vss.quorum_up = False
                self._vs_notify(vss)
        if self.backend is not None and self.virtual_servers:
            try:
                if mode == LvsFlushOnStop.ALL:
                    await self.backend.flush()
                else:
                    ops: list[Op] = []
                    for key in sorted(self._owned & set(self._programmed)):
                        if mode == LvsFlushOnStop.OFF:
                            ops += [DelDest(key, d) for d in sorted(self._programmed[key].dests)]
                        ops.append(DelService(key))
                    await self.backend.apply(ops)
            except DataplaneError as exc:
                self._error(f"stop: {exc}")
            self._programmed = {}
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=NOTIFY_TIMEOUT)
        if self._fifo is not None:
            self._fifo.close()
        await self._stop_fifo_script()
        if self.backend is not None:
            self.backend.close()

    # ------------------------------------------------------------------ state

    async def _start_fifo_script(self, config: Config) -> None:
        """Run lvs_notify_fifo_script with the FIFO's name, as keepalived does, for our lifetime."""
        if self._fifo is None:
            return
        what = "global_defs lvs_notify_fifo_script"
        vetted = self.policy.prepare(config.global_defs.lvs_notify_fifo_script, what)
        if isinstance(vetted, Script):  # keepalived passes the FIFO's name
            self._fifo_proc = await spawn_script(vetted.with_args((self._fifo.path,)))

    async def _stop_fifo_script(self) -> None:
        proc, self._fifo_proc = self._fifo_proc, None
        if proc is None or proc.returncode is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, sig)
            try:
                await wait_for(proc.wait(), 2.0)
            except TimeoutError:
                continue
            return

    def _open_fifo(self, config: Config) -> None:
        g = config.global_defs
        path = g.lvs_notify_fifo
        if not path:
            return
        owner = self.policy.fifo_owner(g.lvs_notify_fifo_owner)
        if isinstance(owner, str):  # keepalived ignores such a FIFO
            log.error("global_defs lvs_notify_fifo %s: %s; the FIFO is not used", path, owner)
            return
        fifo = NotifyFifo(path, owner, "lvs_notify_fifo")
        try:
            fifo.open()
        except OSError as exc:
            log.error("%s", exc)
            return
        self._fifo = fifo

    def _new_vs(
        self, vs: VirtualServer, config: Config, prev: VirtualServerState | None
    ) -> VirtualServerState:
        vss = VirtualServerState(vs, service_keys(vs, config))
        vss.scripts = self.vet(
            {"quorum_up": vs.quorum_up, "quorum_down": vs.quorum_down},
            f"virtual_server {vss.label}",
        )
        if prev is not None:
            vss.suspended = prev.suspended
        elif vs.ha_suspend and not ha_suspend_ranges(vs, config):
            log.warning("VS %s: ha_suspend needs an address; it has none, ignored", vss.label)
        for rs in vs.real_servers:
            old = None
            if prev is not None:
                old = next(
                    (
                        s
                        for s in prev.servers
                        if s.rs.address == rs.address and s.rs.port == rs.port
                    ),
                    None,
                )
            srv = RealServerState(self, vss, rs)
            running = srv.running()
            if (
                old is not None
                and same(old.rs.checkers, rs.checkers)
                and len(running) == len(old.loops)
            ):
                srv.loops = old.loops  # the checkers carry on, state intact
                srv.unsupported = old.unsupported
                for loop, (_checker, vetted) in zip_strict(srv.loops, running):
                    loop.on_change = srv._changed
                    loop.base_weight = rs.weight
                    loop.script = vetted  # vetted again under the new config
                srv.alive = old.alive
                srv.reported = old.reported
            else:
                srv.build_loops()
                srv.alive = srv.checks_ok
            vss.servers.append(srv)
        if prev is not None:
            vss.quorum_up = prev.quorum_up
            vss.sorry_active = prev.sorry_active
            self._update_quorum(vss, init=False)
        else:
            vss.quorum_up = vss.live_weight() >= vss.quorum + vss.hysteresis
            self._update_quorum(vss, init=True)
        return vss

    def server_changed(self, srv: RealServerState, loop: CheckerLoop | None = None) -> None:
        """A checker of `srv` (`loop`, when known) changed state or weight."""
        vss = srv.vs
        alive = srv.checks_ok
        was_alive = srv.alive
        if alive != srv.alive:
            srv.alive = alive
            log.info(
                "%s service %s %s VS %s",
                ("Enabling" if srv.rs.inhibit_on_failure else "Adding")
                if alive
                else ("Disabling" if srv.rs.inhibit_on_failure else "Removing"),
                rs_label(vss.vs, srv.rs),
                "to" if alive else "from",
                vss.label,
            )
            self._rs_notify(vss, srv)
        if loop is not None:
            self._checker_alert(srv, loop, was_alive)
        self._update_quorum(vss, init=False)
        self._schedule_reconcile()

    def _checker_alert(self, srv: RealServerState, loop: CheckerLoop, was_alive: bool) -> None:
        """keepalived's checker SMTP alert: a checker went up or down; with no_checker_emails
        only when that changed the real server's state."""
        before = srv.reported.get(id(loop))
        srv.reported[id(loop)] = loop.up
        if before is None or before == loop.up or self.alert is None:
            return
        g = self.config.global_defs
        wanted = srv.rs.smtp_alert
        if wanted is None:  # keepalived's default for a real server: on
            wanted = g.smtp_alert_checker is not False
        if not wanted or (g.no_checker_emails and was_alive == srv.alive):
            return
        body = checker_body(loop.checker.kind, loop.up)
        if body is not None:
            self.alert(rs_alert(rs_label(srv.vs.vs, srv.rs), srv.vs.label, srv.alive, body))

    def _update_quorum(self, vss: VirtualServerState, *, init: bool) -> None:
        weight = vss.live_weight()
        threshold = vss.quorum + (-1 if vss.quorum_up else 1) * vss.hysteresis
        sorry = vss.vs.sorry_server
        if not vss.quorum_up and weight >= threshold:
            vss.quorum_up = True
            log.info("Gained quorum %d+%d=%d <= %d for VS %s", vss.quorum, vss.hysteresis,
                     threshold, weight, vss.label)  # fmt: skip
            vss.sorry_active = False
            self._vs_notify(vss)
            self._vs_alert(
                vss,
                quorum_body(
                    True,
                    init=False,
                    quorum=vss.quorum,
                    hysteresis=vss.hysteresis,
                    threshold=threshold,
                    weight=weight,
                ),
            )
        elif (vss.quorum_up and (not weight or weight < threshold)) or (init and not vss.quorum_up):
            vss.quorum_up = False
            log.info("%s for VS %s", "Starting with quorum down" if init else "Lost quorum",
                     vss.label)  # fmt: skip
            if sorry is not None:
                vss.sorry_active = True
            self._vs_notify(vss)
            body = quorum_body(
                False,
                init=init,
                quorum=vss.quorum,
                hysteresis=vss.hysteresis,
                threshold=threshold,
                weight=weight,
            )
            self._vs_alert(vss, body)

    # ------------------------------------------------------------------ ha_suspend

    async def _watch_addresses(self) -> None:
        """Follow local addresses (netlink) once a virtual server uses ha_suspend."""
        wanted = any(vss.vs.ha_suspend for vss in self.virtual_servers)
        if wanted and self.watch_addresses and self._addr_watch is None:
            watch = AddressWatch(self.address_changed)
            try:
                await watch.start()
            except (OSError, NetlinkError) as exc:
                self._error(f"ha_suspend: cannot watch addresses, not suspending: {exc}")
                await watch.stop()
                self._addresses_unknown = True
            else:
                self._addr_watch = watch
        self._update_suspension()

    def address_changed(self, address: Address, present: bool) -> None:
        """A local address appeared or went; ha_suspend checkers suspend or resume."""
        if present:
            self.local_addresses.add(address)
        else:
            self.local_addresses.discard(address)
        self._update_suspension()

    def _suspended(self, vs: VirtualServer) -> bool:
        if not vs.ha_suspend or self._addresses_unknown:
            return False
        ranges = ha_suspend_ranges(vs, self.config)
        if not ranges:
            return False
        return not any(
            a.version == lo.version and int(lo) <= int(a) <= int(hi)
            for a in self.local_addresses
            for lo, hi in ranges
        )

    def _update_suspension(self) -> None:
        for vss in self.virtual_servers:
            suspended = self._suspended(vss.vs)
            if suspended != vss.suspended:
                vss.suspended = suspended
                for srv in vss.servers:
                    log.info(
                        "%s healthchecker for service %s for VS %s",
                        "Suspending" if suspended else "Activating",
                        rs_label(vss.vs, srv.rs),
                        vss.label,
                    )
            for srv in vss.servers:
                for loop in srv.loops:
                    loop.suspended = suspended and not isinstance(loop.checker, FileCheck)

    # ------------------------------------------------------------------ notifies

    def _spawn(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def vet(self, commands: Mapping[str, Any], what: str) -> dict[str, Script | str]:
        """Vet each configured command (keyword -> ScriptCommand | None) with script security."""
        vetted: dict[str, Script | str] = {}
        for keyword, cmd in commands.items():
            result = self.policy.prepare(cmd, f"{what} {keyword}")
            if result is not None:
                vetted[keyword] = result
        return vetted

    def _run_script(self, scripts: Mapping[str, Script | str], keyword: str, what: str) -> None:
        vetted = scripts.get(keyword)
        if vetted is None or not self._started:
            return
        if isinstance(vetted, str):
            log.warning("%s %s not run: %s", what, keyword, vetted)
            return
        self._spawn(run_script(vetted, timeout=NOTIFY_TIMEOUT))

    def _rs_notify(
        self, vss: VirtualServerState, srv: RealServerState, *, stopping: bool = False
    ) -> None:
        if stopping and not vss.vs.omega:
            return
        self._run_script(srv.scripts, "notify_up" if srv.alive else "notify_down", srv.what)
        if self._fifo is not None:
            self._fifo.write(rs_line(rs_label(vss.vs, srv.rs), vss.label, srv.alive))

    def _vs_alert(self, vss: VirtualServerState, body: str) -> None:
        """keepalived's virtual server SMTP alert (smtp_alert, else smtp_alert_checker)."""
        wanted = vss.vs.smtp_alert
        if wanted is None:
            wanted = bool(self.config.global_defs.smtp_alert_checker)
        if wanted and self.alert is not None:
            self.alert(vs_alert(vss.label, vss.quorum_up, body))

    def _vs_notify(self, vss: VirtualServerState) -> None:
        keyword = "quorum_up" if vss.quorum_up else "quorum_down"
        self._run_script(vss.scripts, keyword, f"virtual_server {vss.label}")
        if self._fifo is not None:
            self._fifo.write(vs_line(vss.label, vss.quorum_up))

    # ------------------------------------------------------------------ dataplane

    def desired(self) -> Table:
        """The whole desired table."""
        table: Table = {}
        for vss in self.virtual_servers:
            table.update(vss.desired())
        return table

    def _schedule_reconcile(self) -> None:
        self._dirty = True
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.ensure_future(self._sync())

    async def wait_synced(self) -> None:
        """Wait until the dataplane holds the current desired state."""
        while self._sync_task is not None and not self._sync_task.done():
            await asyncio.wait({self._sync_task})

    async def _sync(self) -> None:
        """Reconcile until no change is pending (one pass at a time, under the lock)."""
        self._dirty = True
        async with self._sync_lock:
            while self._dirty:
                self._dirty = False
                await self._reconcile_once()

    async def _reconcile_once(self) -> None:
        if self.backend is None:
            return
        desired = self.backend.normalize(self.desired())
        managed = self._owned | set(desired)
        ops = plan(desired, self._programmed, managed=managed)
        self._owned = set(desired)
        if not ops:
            return
        try:
            await self.backend.apply(ops)
        except DataplaneError as exc:
            self._error(str(exc))
            self._programmed = await self.backend.read()
            return
        self.reconciles += 1
        self._programmed = apply_to(self._programmed, ops)

    def _error(self, message: str) -> None:
        log.error("LVS: %s", message)
        self.errors = [*self.errors[-19:], message]

    # ------------------------------------------------------------------ status

    def snapshot(self) -> dict[str, Any]:
        """JSON-able state for `vipkeeper status` and the metrics."""
        return {
            "backend": None if self.backend is None else self.backend.name,
            "virtual_servers": [vss.snapshot() for vss in self.virtual_servers],
            "errors": list(self.errors),
        }


def all_loops(states: Iterable[VirtualServerState]) -> list[CheckerLoop]:
    """Every checker loop of some virtual servers."""
    return [loop for vss in states for s in vss.servers for loop in s.loops]
