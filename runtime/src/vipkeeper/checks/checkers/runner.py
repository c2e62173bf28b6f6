"""The checker loop: keepalived's delay_loop / retry / delay_before_retry / warmup / alpha rules.

- The first attempt runs `bootstrap` seconds after start plus a random share of `warmup`.
- Success: up (at once), next attempt after delay_loop, retry count reset.
- Failure while up (or before the first result): retry after delay_before_retry, up to
  `retry` times; the failure after that marks the checker down, next attempt after delay_loop.
- Failure while already down: next attempt after delay_loop.
- alpha: the checker starts down (the real server is not used until a check succeeds).
- FILE_CHECK is read every FILE_POLL_INTERVAL, not delay_loop: keepalived reacts to the file
  at once (inotify), and the type has no retries, so a change counts at the next read.
- suspended (ha_suspend): a due attempt is skipped and looked at again after delay_loop; the
  state and the retry count stay as they are until the checker resumes.
"""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import Callable

from vipkeeper._aiocompat import timeout
from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.aio import cancel_and_wait
from vipkeeper.checks.checkers import attempt_timeout, run_check
from vipkeeper.checks.checkers.result import CheckResult, Target
from vipkeeper.checks.process import Script
from vipkeeper.config.model import Checker, FileCheck

log = logging.getLogger(__name__)
BOOTSTRAP_DELAY = 1.0  # keepalived: first check one second after start (+ warmup)
FILE_POLL_INTERVAL = 0.2  # FILE_CHECK: a change to the file counts within this


@dataclass(frozen=True, **SLOTS)
class Timing:
    """The outcome of one attempt: next delay and whether the state changed."""

    delay: float
    changed: bool


class CheckerLoop:
    """Runs one checker against one real server forever, reporting state changes."""

    def __init__(
        self,
        checker: Checker,
        target: Target,
        on_change: Callable[[CheckerLoop], None],
        *,
        base_weight: int = 1,
        file_path: str | None = None,
        script: Script | None = None,
        bootstrap: float = BOOTSTRAP_DELAY,
        label: str = "",
    ) -> None:
        self.checker = checker
        self.target = target
        self.on_change = on_change
        self.base_weight = base_weight
        self.file_path = file_path
        self.script = script  # MISC_CHECK: the command script security vetted
        self.bootstrap = bootstrap
        self.label = label or f"{checker.kind} {target.hostport}"
        self.up = not checker.alpha
        self.suspended = False  # ha_suspend: no attempts, the state stays as it is
        self.has_run = False
        self.retry_it = 0
        self.weight: int | None = None
        self.last: CheckResult | None = None
        self.attempts = 0
        self.failures = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the loop as a task."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=self.label)

    async def stop(self) -> None:
        """Cancel the loop and wait for it."""
        task, self._task = self._task, None
        await cancel_and_wait(task)

    async def _run(self) -> None:
        first = self.bootstrap + (
            random.uniform(0, self.checker.warmup) if self.checker.warmup else 0
        )
        await asyncio.sleep(first)
        while True:
            if self.suspended:  # keepalived: the due attempt is skipped, the next is delay_loop on
                await asyncio.sleep(self.checker.delay_loop)
                continue
            result = await self.attempt()
            timing = self.epilog(result)
            if timing.changed:
                try:
                    self.on_change(self)
                except Exception:
                    log.exception("%s: state change handler failed", self.label)
            await asyncio.sleep(timing.delay)

    async def attempt(self) -> CheckResult:
        """One attempt, never longer than its timeout (plus a little slack)."""
        self.attempts += 1
        limit = attempt_timeout(self.checker) + 1.0
        try:
            async with timeout(limit):
                return await run_check(
                    self.checker,
                    self.target,
                    base_weight=self.base_weight,
                    file_path=self.file_path,
                    script=self.script,
                )
        except TimeoutError:
            return CheckResult(False, f"{self.label}: no result within {limit:g}s")
        except Exception as exc:  # a checker bug must not kill the loop
            log.exception("%s: checker failed", self.label)
            return CheckResult(False, f"{self.label}: internal error {exc!r}")

    def epilog(self, result: CheckResult) -> Timing:
        """Apply keepalived's retry rules to an attempt's result."""
        c = self.checker
        self.last = result
        changed = False
        if not result.ok:
            self.failures += 1
        if result.ok:
            delay = c.delay_loop
            self.retry_it = 0
            if result.weight != self.weight:
                self.weight = result.weight
                changed = True
            if not self.up or not self.has_run:
                if not self.up:
                    log.info("%s: success (%s), server up", self.label, result.detail)
                changed = changed or not self.up
                self.up = True
        elif (self.up or not self.has_run) and self.retry_it >= c.retry:
            delay = c.delay_loop
            self.retry_it = 0
            if self.up:
                log.info("%s: failed (%s), server down", self.label, result.detail)
                changed = True
            self.up = False
        elif self.up or not self.has_run:
            delay = c.delay_before_retry
            self.retry_it += 1
        else:
            delay = c.delay_loop
        if isinstance(c, FileCheck):
            delay = FILE_POLL_INTERVAL  # keepalived follows the file itself (inotify)
        self.has_run = True
        return Timing(delay, changed)
