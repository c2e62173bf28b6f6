# keepalived's vrrp_track_process (core/track_process.c): the matching processes are counted,
# the block is "up" while quorum <= count <= quorum_max, and each change of that goes to the
# instances tracking it. The count starts from one scan of /proc and then follows the kernel's
# process events (net/procevents.py): a fork of a counted process counts the child, an exec or
# a name change is matched again, an exit uncounts. A gain of quorum through a fork waits
# fork_delay, a loss through an exit waits terminate_delay; the opposite event within the delay
# cancels it. When events were lost (socket overrun) the table is rebuilt from /proc 1 s later.
"""track_process trackers: count matching processes from process events."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import Protocol

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.model import ParamMatch, TrackProcess
from vipkeeper.net.procevents import Comm, Exec, Exit, Fork, Listening, Lost, ProcEvent

log = logging.getLogger("vipkeeper")

RESCAN_AFTER = 1.0  # keepalived waits TIMER_HZ after an overrun before reading /proc again


class Cancellable(Protocol):
    def cancel(self) -> None: ...


CallLater = Callable[[float, Callable[[], None]], Cancellable]


@dataclass(frozen=True, **SLOTS)
class ProcInfo:
    """What is matched of one process: argv (cmdline split at NULs) and comm."""

    argv: tuple[bytes, ...]
    comm: str | None


def matches(spec: TrackProcess, info: ProcInfo) -> bool:
    """Whether a process counts for `spec` (keepalived's check_params)."""
    if not spec.full_command:
        return info.comm is not None and info.comm == spec.process
    if not info.argv or info.argv[0] != spec.process.encode():
        return False
    if spec.param_match is ParamMatch.NONE:
        return True
    have = b"".join(a + b"\0" for a in info.argv[1:])
    want = b"".join(p.encode() + b"\0" for p in spec.params)
    if spec.param_match is ParamMatch.EXACT:
        return have == want
    if len(have) < len(want):
        return False
    if not want or spec.param_match is ParamMatch.PARTIAL:
        return have.startswith(want)
    return have.startswith(want[:-1])  # INITIAL: the last argument is a prefix


def read_proc(pid: int, *, cmdline: bool, comm: bool, root: str = "/proc") -> ProcInfo | None:
    """/proc/PID's cmdline and comm, as far as asked; None when gone or a zombie."""
    argv: tuple[bytes, ...] = ()
    name: str | None = None
    try:
        if cmdline:
            with open(f"{root}/{pid}/cmdline", "rb") as fh:
                raw = fh.read(65536)
            argv = tuple(raw.split(b"\0")[:-1]) if raw.endswith(b"\0") else tuple(raw.split(b"\0"))
            if raw == b"":
                argv = ()
        if comm:
            with open(f"{root}/{pid}/stat", "rb") as fh:
                stat = fh.read(512)
            start, end = stat.find(b"("), stat.rfind(b")")
            if start < 0 or end < start or stat[end + 2 : end + 3] == b"Z":
                return None
            name = stat[start + 1 : end].decode(errors="replace")
    except OSError:
        return None
    return ProcInfo(argv, name)


def list_pids(root: str = "/proc") -> list[int]:
    try:
        return [int(n) for n in os.listdir(root) if n.isdigit()]
    except OSError:
        return []


class ProcessTracker:
    """Every vrrp_track_process block, counted over one table of processes.

    `on_change(name, up)` is called when a block gains or loses its quorum. `call_later` is
    the loop's (delays and the rescan). `proc_root` is /proc (a test may point elsewhere).
    """

    def __init__(
        self,
        specs: Iterable[TrackProcess],
        on_change: Callable[[str, bool], None],
        call_later: CallLater,
        *,
        proc_root: str = "/proc",
    ) -> None:
        self.specs = {s.name: s for s in specs}
        self.on_change = on_change
        self.call_later = call_later
        self.proc_root = proc_root
        self.count = dict.fromkeys(self.specs, 0)
        self.up = dict.fromkeys(self.specs, False)
        self.pids: dict[int, set[str]] = {}
        self.listening = False
        self._fork_timers: dict[str, Cancellable] = {}
        self._terminate_timers: dict[str, Cancellable] = {}
        self._rescan: Cancellable | None = None
        self._need_cmdline = any(s.full_command for s in self.specs.values())
        self._need_comm = any(not s.full_command for s in self.specs.values())

    # ---- the start and the rescan -----------------------------------------------------------

    def scan(self) -> None:
        """Count from /proc (at start): the quorum is set without delays or callbacks."""
        self.pids.clear()
        for name in self.count:
            self.count[name] = 0
        self._read_all()
        for name, spec in self.specs.items():
            self.up[name] = self._in_quorum(spec)

    def _read_all(self) -> None:
        for pid in list_pids(self.proc_root):
            info = self._info(pid)
            if info is None:
                continue
            for name, spec in self.specs.items():
                if matches(spec, info):
                    self.pids.setdefault(pid, set()).add(name)
                    self.count[name] += 1

    def rescan(self) -> None:
        """Rebuild the table after lost events; changes of quorum take their delays."""
        self._rescan = None
        before = dict(self.count)
        self.pids.clear()
        for name in self.count:
            self.count[name] = 0
        self._cancel_timers()
        self._read_all()
        for name, spec in self.specs.items():
            if self.count[name] == before[name]:
                continue
            up = self._in_quorum(spec)
            if up and spec.fork_delay:
                self._fork_timers[name] = self.call_later(spec.fork_delay, self._timer(name))
            elif not up and spec.terminate_delay:
                self._terminate_timers[name] = self.call_later(
                    spec.terminate_delay, self._timer(name)
                )
            else:
                self._set(name, up)

    def stop(self) -> None:
        self._cancel_timers()
        if self._rescan is not None:
            self._rescan.cancel()
            self._rescan = None

    def _cancel_timers(self) -> None:
        for timers in (self._fork_timers, self._terminate_timers):
            for handle in timers.values():
                handle.cancel()
            timers.clear()

    # ---- events -----------------------------------------------------------------------------

    def handle(self, event: ProcEvent) -> None:
        """One process event from the kernel."""
        if isinstance(event, Fork):
            self._fork(event.parent, event.child)
        elif isinstance(event, Exec):
            self._exec(event.pid)
        elif isinstance(event, Exit):
            self._exit(event.pid)
        elif isinstance(event, Comm):
            self._comm(event.pid, event.comm)
        elif isinstance(event, Listening):
            self.listening = True
        elif isinstance(event, Lost) and self._rescan is None:
            log.warning("track_process: process events were lost; reading /proc again")
            self._rescan = self.call_later(RESCAN_AFTER, self.rescan)

    def _fork(self, parent: int, child: int) -> None:
        names = self.pids.get(parent)
        if not names:
            return
        for name in sorted(names):
            self._add(child, name, fork=True)

    def _exec(self, pid: int) -> None:
        info = self._info(pid)
        counted = set(self.pids.get(pid, ()))
        for name, spec in self.specs.items():
            hit = info is not None and matches(spec, info)
            if hit and name not in counted:
                self._add(pid, name, fork=False)
            elif not hit and name in counted:
                self._remove(pid, name, exiting=False)

    def _comm(self, pid: int, comm: str) -> None:
        counted = set(self.pids.get(pid, ()))
        for name, spec in self.specs.items():
            if spec.full_command:
                continue  # a new comm leaves the command line as it was
            hit = comm == spec.process
            if hit and name not in counted:
                self._add(pid, name, fork=False)
            elif not hit and name in counted:
                self._remove(pid, name, exiting=False)

    def _exit(self, pid: int) -> None:
        for name in sorted(self.pids.get(pid, ())):
            self._remove(pid, name, exiting=True)
        self.pids.pop(pid, None)

    # ---- counting ---------------------------------------------------------------------------

    def _add(self, pid: int, name: str, *, fork: bool) -> None:
        spec = self.specs[name]
        self.pids.setdefault(pid, set()).add(name)
        self.count[name] += 1
        n = self.count[name]
        if n != spec.quorum and n != spec.quorum_max + 1:
            return
        pending = self._terminate_timers.pop(name, None)
        if pending is not None:
            pending.cancel()
        elif fork and spec.fork_delay:
            old = self._fork_timers.pop(name, None)
            if old is not None:
                old.cancel()
            self._fork_timers[name] = self.call_later(spec.fork_delay, self._timer(name))
            return
        self._set(name, self._in_quorum(spec))

    def _remove(self, pid: int, name: str, *, exiting: bool) -> None:
        spec = self.specs[name]
        names = self.pids.get(pid)
        if names is not None:
            names.discard(name)
            if not names:
                del self.pids[pid]
        old = self.count[name]
        self.count[name] = n = max(0, old - 1)
        if old != spec.quorum and n != spec.quorum_max:
            return
        pending = self._fork_timers.pop(name, None)
        if pending is not None:
            pending.cancel()
        elif exiting and spec.terminate_delay:
            prev = self._terminate_timers.pop(name, None)
            if prev is not None:
                prev.cancel()
            self._terminate_timers[name] = self.call_later(spec.terminate_delay, self._timer(name))
            return
        self._set(name, self._in_quorum(spec))

    def _timer(self, name: str) -> Callable[[], None]:
        def fire() -> None:
            self._fork_timers.pop(name, None)
            self._terminate_timers.pop(name, None)
            self._set(name, self._in_quorum(self.specs[name]))

        return fire

    def _in_quorum(self, spec: TrackProcess) -> bool:
        return spec.quorum <= self.count[spec.name] <= spec.quorum_max

    def _set(self, name: str, up: bool) -> None:
        if self.up[name] == up:
            return
        self.up[name] = up
        log.info("Quorum %s for tracked process %s", "gained" if up else "lost", name)
        self.on_change(name, up)

    def _info(self, pid: int) -> ProcInfo | None:
        return read_proc(pid, cmdline=self._need_cmdline, comm=self._need_comm, root=self.proc_root)
