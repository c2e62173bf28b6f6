"""The notify FIFOs of global_defs (notify_fifo, vrrp_notify_fifo) and their reader scripts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from vipkeeper.checks.process import Script, end_process, spawn_script
from vipkeeper.checks.script import ScriptPolicy
from vipkeeper.config import model as m
from vipkeeper.fifo import NotifyFifo

log = logging.getLogger("vipkeeper")


class Fifos:
    """The open FIFOs and the reader scripts started for them.

    `spawn` runs a coroutine as a task the daemon keeps (its failures are logged).
    """

    def __init__(self, spawn: Callable[[Coroutine[Any, Any, Any]], None]) -> None:
        self.spawn = spawn
        self.fifos: list[NotifyFifo] = []
        self.scripts: dict[str, tuple[Script, asyncio.subprocess.Process]] = {}

    def write(self, line: str) -> None:
        """One notify line to every FIFO."""
        for fifo in self.fifos:
            fifo.write(line)

    def open(self, config: m.Config, policy: ScriptPolicy) -> None:
        """Open the config's FIFOs, close those it dropped, and sync their reader scripts."""
        # A FIFO kept across a reload stays open: closing our end would give its reader EOF.
        g = config.global_defs
        old = {f.path: f for f in self.fifos}
        self.fifos = []
        wanted: dict[str, Script] = {}
        for path, owner_spec, script, what in (
            (g.notify_fifo, g.notify_fifo_owner, g.notify_fifo_script, "notify_fifo"),
            (
                g.vrrp_notify_fifo,
                g.vrrp_notify_fifo_owner,
                g.vrrp_notify_fifo_script,
                "vrrp_notify_fifo",
            ),
        ):
            if not path or any(f.path == path for f in self.fifos):
                continue
            owner = policy.fifo_owner(owner_spec)
            if isinstance(owner, str):  # keepalived ignores such a FIFO
                log.error("global_defs %s %s: %s; the FIFO is not used", what, path, owner)
                continue
            fifo = old.pop(path, None)
            if fifo is not None and fifo.owner != owner:
                fifo.close()  # the owner changed: opened and checked again
                fifo = None
            fifo = fifo or NotifyFifo(path, owner, what)
            try:
                fifo.open()
            except OSError as exc:
                log.error("%s", exc)
                continue
            self.fifos.append(fifo)
            vetted = policy.prepare(script, f"global_defs {what}_script")
            if isinstance(vetted, Script):
                wanted[path] = vetted.with_args((path,))  # keepalived passes the FIFO's name
        for fifo in old.values():
            fifo.close()
        self.spawn(self._sync_scripts(wanted))

    async def _sync_scripts(self, wanted: dict[str, Script]) -> None:
        """Start each FIFO reader script (argv + FIFO path); restart it when it changed."""
        for path, (script, proc) in list(self.scripts.items()):
            if wanted.get(path) != script or proc.returncode is not None:
                await end_process(proc)
                del self.scripts[path]
        for path, script in wanted.items():
            if path in self.scripts:
                continue
            started = await spawn_script(script)  # refused or failed: logged there
            if started is None:
                continue
            self.scripts[path] = (script, started)
            log.info("notify fifo script %s reading %s (pid %d)", script.argv[0], path, started.pid)

    async def close(self) -> None:
        """At the stop: let the readers take the last lines (STOP), end them, close the FIFOs."""
        if self.scripts:
            for _ in range(20):
                if not any(f.pending() for f in self.fifos):
                    await asyncio.sleep(0.2)  # read is not yet handled: a moment to act on it
                    break
                await asyncio.sleep(0.05)
        for _argv, proc in self.scripts.values():
            await end_process(proc)
        for fifo in self.fifos:
            fifo.close()
