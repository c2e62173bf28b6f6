# keepalived runs notify scripts for a transition in order: the state-specific one
# (notify_master|backup|fault|stop) then the generic `notify` with "INSTANCE NAME STATE PRIO"
# appended. The notify FIFO gets one line per transition, e.g. `INSTANCE "VI_1" MASTER 100`.
# vipkeeper runs every notify strictly in order on one queue, kills one that hangs, and
# never lets a notify delay the VRRP timers. Each configured notify is vetted once per load
# (checks/script.py ScriptPolicy): the queue runs the vetted Script, as its own user, and a
# refused one is never run (keepalived frees it at load and so never runs it).
"""Notify commands on an ordered queue, and the notify FIFO."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence

from vipkeeper._aiocompat import wait_for
from vipkeeper.aio import cancel_and_wait
from vipkeeper.checks.process import RunAs, Script, run_script

log = logging.getLogger("vipkeeper.notify")
# The notify queue's key of the `vipkeeper { conflict_notify }` hook (no instance has this kind).
CONFLICT_HOOK = ("vipkeeper", "conflict")


class NotifyQueue:
    """Runs notify commands one after the other; each one is killed after `timeout`."""

    def __init__(self, timeout: float, user: RunAs | None = None) -> None:
        self.timeout = timeout
        self.user = user  # the default script user (kept for status; each Script has its own)
        self.queue: asyncio.Queue[tuple[str, Script]] = asyncio.Queue()
        self.ran = 0
        self.killed = 0
        self.failed = 0
        self.refused = 0
        # (instance or group name, kind) -> the vetted script, or why it is refused
        self.scripts: Mapping[tuple[str, str], Script | str] = {}
        self.retired: Mapping[tuple[str, str], Script | str] = {}  # of removed instances
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the worker."""
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._work())

    def set_scripts(self, scripts: Mapping[tuple[str, str], Script | str]) -> None:
        """The vetted notify scripts of the config now running (start and reload).

        Those of an instance the new config removes stay until the next load: the reload
        that removes it notifies it DELETED (or FAULT) with the old config's commands.
        """
        names = {name for name, _ in scripts}
        self.retired = {k: v for k, v in self.scripts.items() if k[0] not in names}
        self.scripts = dict(scripts)

    def notify(self, name: str, kind: str, argv: Sequence[str]) -> None:
        """Queue the `kind` notify of instance/group `name`; argv is the core's command line.

        What runs is the vetted script for (name, kind) with the core's extra arguments (the
        generic notify's TYPE NAME STATE PRIORITY); one refused at load is logged, not run.
        """
        if not argv:
            return
        entry = self.scripts.get((name, kind)) or self.retired.get((name, kind))
        if not isinstance(entry, Script):
            self.refused += 1
            why = entry or "it was not vetted by script security"
            log.warning("%s: notify %s %s not run: %s", name, kind, argv[0], why)
            return
        self.put(name, entry.with_args(argv[len(entry.argv) :]))

    def put(self, label: str, script: Script) -> None:
        """Queue one vetted script (never blocks)."""
        if script.argv:
            self.queue.put_nowait((label, script))

    async def drain(self, limit: float) -> None:
        """Wait until every queued command has run, at most `limit` seconds."""
        with contextlib.suppress(TimeoutError):
            await wait_for(self.queue.join(), limit)

    async def stop(self) -> None:
        """Stop the worker."""
        await cancel_and_wait(self._task)
        self._task = None

    async def _work(self) -> None:
        while True:
            label, script = await self.queue.get()
            argv = script.argv
            try:
                result = await run_script(script, timeout=self.timeout)
                if result.refused:  # its path became unsafe since the load (logged)
                    self.refused += 1
                    continue
                self.ran += 1
                if result.timed_out:
                    self.killed += 1
                    log.warning(
                        "%s: notify %s hung; killed after %.1fs", label, argv[0], self.timeout
                    )
                elif result.error:
                    self.failed += 1
                    log.warning("%s: notify %s could not run: %s", label, argv[0], result.error)
                elif result.returncode != 0:
                    self.failed += 1
                    log.info("%s: notify %s exited %s", label, argv[0], result.returncode)
            except Exception as exc:  # a notify must never end the worker
                log.error("%s: notify %s: %s", label, argv[0], exc)
            finally:
                self.queue.task_done()
