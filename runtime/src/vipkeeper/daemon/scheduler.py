"""The one timer of every instance: the timer pass, and the wait before a takeover.

After each event the single timer (daemon/timer.py) is re-armed to the earliest deadline any
core reports (aioquic's adapter shape). When it fires, every due core runs; a backup whose
down timer runs out within TAKEOVER_LEAD is waited for here, reading the VRRP sockets, so
the takeover starts when its timer runs out and not when the loop gets round to it.

With the takeover guard (docs/split-brain.md), a backup whose down timer ran out first has
its VIPs probed for the guard's window (`Scheduler.guarded`); the timer then wakes at the
window's end, and the backup takes over, or stays BACKUP when another MAC answered.
"""

from __future__ import annotations

import copy
import logging
import select
from collections.abc import Callable, Iterable, Mapping
from typing import Protocol

from vipkeeper.daemon.executor import addr_specs
from vipkeeper.daemon.registry import Managed, Registry, Run
from vipkeeper.net.vrrpsock import SocketKey, VrrpSocket
from vipkeeper.vrrp.actions import Action, AddVips, SendAdvert
from vipkeeper.vrrp.state import State

log = logging.getLogger("vipkeeper")
# A backup's down timer wakes the loop this much before it runs out, and the daemon waits out
# the rest reading its VRRP sockets: the takeover starts when the timer runs out, not when the
# loop gets round to it (the kernel's wake-up, epoll and the event loop take 0.1 to 0.2 ms).
TAKEOVER_LEAD = 0.001
# With this much of the wait left, the takeover is first rehearsed on a copy of the core: the
# real one then runs on warm caches (0.1 ms from the deadline to the advert's send, cold; 25 us
# rehearsed). A rehearsal takes 0.05 ms warm and up to 0.3 ms cold.
REHEARSAL_ROOM = 0.0006


class Guard(Protocol):
    """The takeover guard (daemon/conflict.py's ConflictWatch)."""

    @property
    def guard_window(self) -> float: ...

    def start_guard(self, managed: Managed, now: float) -> None: ...

    def guard_verdict(self, managed: Managed) -> str | None: ...

    def end_guard(self, managed: Managed) -> None: ...


class NoGuard:
    """No takeover guard: a backup takes over when its down timer runs out."""

    guard_window = 0.0

    def start_guard(self, managed: Managed, now: float) -> None:
        """Never called: the window is 0."""

    def guard_verdict(self, managed: Managed) -> str | None:
        """Nobody answers."""
        return None

    def end_guard(self, managed: Managed) -> None:
        """Nothing to end."""


class Timer(Protocol):
    """A one-shot timer for absolute loop times (daemon/timer.py's OneTimer)."""

    at: float | None

    def arm(self, at: float) -> None: ...

    def cancel(self) -> None: ...


def wake(at: float, state: State) -> float:
    """When the loop must wake for a timer due at `at`: a backup's down timer a little early."""
    return at - TAKEOVER_LEAD if state is State.BACKUP else at


def only_adverts(actions: list[Action]) -> bool:
    """Whether the actions are adverts to send and nothing else."""
    return all(type(action) is SendAdvert for action in actions)


def wake_at(managed: Managed) -> float | None:
    """When the loop must wake for this instance: a backup's down timer a little early."""
    core = managed.core
    at = core.get_timer()
    return None if at is None else wake(at, core.state)


class Scheduler:
    """Arms the one timer, and runs the cores' timers when it fires.

    - `clock`: the event loop's time.
    - `timer`: the one timer; the daemon makes `on_timer` its callback.
    - `run`: carries out an instance's actions (Executor.run).
    - `sockets`: the VRRP sockets (the receiver's table), polled during a takeover wait.
    - `read`: reads what waits on one of them (Receiver.read; `None`: counts from now).
    """

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        registry: Registry,
        timer: Timer,
        run: Run,
        sockets: Mapping[SocketKey, VrrpSocket],
        read: Callable[[VrrpSocket, float | None], None],
        guard: Guard | None = None,
    ) -> None:
        self.clock = clock
        self.registry = registry
        self.timer = timer
        self.run = run
        self.sockets = sockets
        self.read = read
        self.guard: Guard = guard or NoGuard()
        self.guarding: dict[str, float] = {}  # instance -> when its takeover guard ends

    def rearm(self, touched: Iterable[Managed] | None = None) -> None:
        """Arm the one timer for the earliest deadline.

        With `touched` (the instances an event concerned) only an earlier deadline re-arms:
        a deadline that moved later (a backup hearing its master) lets the armed timer fire
        early and find nothing due, which costs less than re-arming on every advert.
        """
        armed = self.timer.at
        if touched is not None and armed is not None:
            earliest = armed
            for managed in touched:
                d = self.wake_at(managed)
                if d is not None and d < earliest:
                    earliest = d
            if earliest < armed:
                self.timer.arm(earliest)
            return
        for name in [n for n in self.guarding if n not in self.registry.instances]:
            del self.guarding[name]  # a reload removed it during its window
        wakes = [d for d in map(self.wake_at, self.registry.instances.values()) if d is not None]
        at = min(wakes) if wakes else None
        if at == armed:
            return
        if at is None:
            self.timer.cancel()
        else:
            self.timer.arm(at)

    def wake_at(self, managed: Managed) -> float | None:
        """When the loop must wake for this instance (a guarded takeover: when its window ends)."""
        ends = self.guarding.get(managed.name)
        at = wake_at(managed)
        if ends is None or at is None or managed.core.state is not State.BACKUP:
            return at
        return max(at, ends)

    def after_read(self, touched: set[Managed], due: float | None = None) -> None:
        """Re-arm after a read: `touched` went the full way, `due` is the earliest down timer
        the fast path re-armed (it moves earlier only when a stamp came before the last one).
        A sync-group member's actions may move any member's timer: then every timer counts."""
        if any(managed.plan.sync_group in self.registry.groups for managed in touched):
            self.rearm()
            return
        self.rearm(touched)
        armed = self.timer.at
        if due is not None and (armed is None or due - TAKEOVER_LEAD < armed):
            self.timer.arm(due - TAKEOVER_LEAD)

    def on_timer(self, fired: float) -> None:
        """The timer fired for `fired`: run what is due, wait out a takeover, re-arm."""
        takeover, wake = self.run_due(max(self.clock(), fired))
        if takeover is None and wake is not None:  # nothing ran: the next wake-up is known
            self.timer.arm(wake)
            return
        while takeover is not None:  # a backup's down timer runs out within the lead
            reached = self.wait_for_takeover(takeover)
            if reached is None:  # an advert came in time: nothing runs out
                break
            takeover, _ = self.run_due(reached)
        self.rearm()

    def run_due(self, now: float) -> tuple[float | None, float | None]:
        """Run every timer due by `now`.

        The soonest backup down timer within the lead, if any; and, when no timer ran, the
        earliest wake-up any instance needs (else None: running them may move any timer).
        """
        limit = now + TAKEOVER_LEAD
        soonest: float | None = None
        next_wake: float | None = None
        ran = False
        routine: list[tuple[Managed, list[Action]]] = []
        for managed in list(self.registry.instances.values()):
            core = managed.core
            at = core.get_timer()
            if at is None:
                continue
            if managed.name in self.guarding and (at > now or core.state is not State.BACKUP):
                del self.guarding[managed.name]  # an advert came, or it left BACKUP: no verdict
                self.guard.end_guard(managed)
            if at <= now and core.state is State.BACKUP and self.guard.guard_window > 0:
                guarded = self.guarded(managed, now)
                if guarded is not None:  # the guard's window is still open
                    next_wake = guarded if next_wake is None else min(next_wake, guarded)
                    continue
                ran = True
                continue
            if at <= now:
                ran = True
                was = core.state
                actions = core.handle_timer(now)
                if was is State.MASTER and core.state is State.MASTER and only_adverts(actions):
                    routine.append((managed, actions))
                else:
                    self.run(managed, actions, now)
                continue
            if core.state is State.BACKUP and at <= limit and (soonest is None or at < soonest):
                soonest = at
            at = wake(at, core.state)
            if next_wake is None or at < next_wake:
                next_wake = at
        # A master's routine adverts go out together once every core has had its turn: one
        # short burst each time the timer fires, which the peers then read in one wake-up.
        for managed, actions in routine:
            self.run(managed, actions, now)
        return soonest, None if ran else next_wake

    def guarded(self, managed: Managed, now: float) -> float | None:
        """A backup's down timer ran out with the takeover guard on.

        First the guard probes the VIPs, and this returns when its window ends. Once it has:
        another holder answered, and the backup stays BACKUP with its down timer run again;
        or nobody did, and the takeover runs. Then None.
        """
        ends = self.guarding.get(managed.name)
        if ends is None:
            ends = self.guarding[managed.name] = now + self.guard.guard_window
            self.guard.start_guard(managed, now)
            return ends
        if now < ends:
            return ends
        del self.guarding[managed.name]
        heard = self.guard.guard_verdict(managed)
        core = managed.core
        if heard is not None:
            log.error("(%s) takeover held: %s; staying BACKUP", managed.name, heard)
            self.run(managed, core.hold_takeover(now), now)
        else:
            self.run(managed, core.handle_timer(now), now)
        return None

    def next_takeover(self, now: float) -> float | None:
        """The earliest backup down timer that runs out by `now` plus the lead, if any."""
        limit = now + TAKEOVER_LEAD
        soonest: float | None = None
        for managed in self.registry.instances.values():
            core = managed.core
            if core.state is not State.BACKUP:
                continue
            at = core.get_timer()
            if at is not None and at <= limit and (soonest is None or at < soonest):
                soonest = at
        return soonest

    def rehearse(self, at: float) -> None:
        """Run the takeover due at `at` on copies of the cores, and throw the result away.

        The core is sans-IO: a copy's transition touches nothing but the copy (the settings it
        shares are frozen). The daemon's own pure steps for the result are warmed too. With
        many instances due at once, it stops when the room runs out: a rehearsal never delays
        the takeover it prepares.
        """
        for managed in self.registry.instances.values():
            core = managed.core
            if core.state is not State.BACKUP or core.get_timer() != at:
                continue
            if at - self.clock() < REHEARSAL_ROOM:
                return
            try:
                rehearsal = copy.deepcopy(core, {id(core.settings): core.settings})
                for action in rehearsal.handle_timer(at):
                    if isinstance(action, AddVips):
                        addr_specs(managed, action.addresses, removing=False)
            except Exception as exc:  # only a warm-up: the real takeover does not depend on it
                log.debug("(%s) takeover rehearsal: %r", managed.name, exc)

    def wait_for_takeover(self, at: float) -> float | None:
        """Wait until `at` (at most TAKEOVER_LEAD ahead), handling adverts as they come.

        The clock time reached, or None when the adverts re-armed every timer that was about
        to run out. The loop is held for at most the lead, and only when a backup has heard
        nothing from its master for the whole down interval.
        """
        poller = select.poll()
        by_fd: dict[int, VrrpSocket] = {}
        for sock in self.sockets.values():
            by_fd[sock.fileno()] = sock
            poller.register(sock.fileno(), select.POLLIN)
        clock = self.clock
        self.rehearse(at)
        while True:
            now = clock()
            if now >= at:
                return now
            ready = poller.poll(0)
            if ready:
                for fd, _events in ready:
                    self.read(by_fd[fd], None)  # each datagram counts from when it is read
                nxt = self.next_takeover(clock())
                if nxt is None:
                    return None
                at = nxt
