"""VRRP sync groups: members move together (keepalived ``vrrp_sync_group`` semantics).

- A member demoted (planned switchover) demotes every MASTER member with the same hold.
- A member entering MASTER on its own (down timer, start as owner) takes every BACKUP member to
  MASTER with it; a member pushed out of MASTER by a higher-priority advert takes every MASTER
  member to BACKUP. Moves forced by the group do not cascade further.
- While any member's own trackers require FAULT, every member is held in FAULT; when none does,
  all leave FAULT together (to BACKUP).
- The group's state is FAULT if any member is FAULT, MASTER if all are MASTER, BACKUP otherwise
  (once running); each change of it runs the group's notify commands, the generic one with
  ``GROUP name STATE`` appended, and writes ``GROUP "name" STATE`` to the notify FIFO.
Use: call a member's method, then pass the actions it returned through ``follow``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import field

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.actions import Action, RunNotify, SendAlert, StateChanged, WriteNotifyFifo
from vipkeeper.vrrp.errors import LocalProtocolError
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import Notify
from vipkeeper.vrrp.state import State, Trigger

_SYNC_TRIGGERS = frozenset(
    {Trigger.SYNC_MASTER, Trigger.SYNC_BACKUP, Trigger.SYNC_FAULT, Trigger.SYNC_FAULT_CLEARED}
)


@dataclass(frozen=True, **SLOTS)
class SyncGroupSettings:
    """A ``vrrp_sync_group``: its name, member instance names and notify commands."""

    name: str
    members: tuple[str, ...]
    notify: Notify = field(default_factory=Notify)


class SyncGroup:
    """Keeps the member instances of one sync group in step."""

    def __init__(self, settings: SyncGroupSettings, instances: Mapping[str, VrrpInstance]) -> None:
        """Bind the group to its member instances (all must exist)."""
        missing = [m for m in settings.members if m not in instances]
        if missing:
            raise LocalProtocolError(f"sync group {settings.name}: unknown members {missing}")
        self.settings = settings
        self.members = tuple(instances[m] for m in settings.members)
        self.state = self._compute_state()

    def _compute_state(self) -> State:
        states = {m.state for m in self.members}
        if State.FAULT in states:
            return State.FAULT
        if states == {State.MASTER}:
            return State.MASTER
        if states <= {State.MASTER, State.BACKUP}:
            return State.BACKUP
        if states == {State.STOP}:
            return State.STOP
        return State.INIT

    def get_timer(self) -> float | None:
        """The earliest timer of any member."""
        timers = [t for t in (m.get_timer() for m in self.members) if t is not None]
        return min(timers) if timers else None

    def handle_timer(self, now: float) -> list[Action]:
        """Run every member's due timers and keep the group in step."""
        acts: list[Action] = []
        for m in self.members:
            acts += m.handle_timer(now)
        return self.follow(acts, now)

    def follow(self, actions: Iterable[Action], now: float) -> list[Action]:
        """Apply the group rules to the state changes among ``actions``; return all actions."""
        out = list(actions)
        pending = [a for a in out if isinstance(a, StateChanged)]
        names = {m.name for m in self.members}
        while True:
            new: list[Action] = []
            for change in pending:
                if change.instance not in names or change.reason in _SYNC_TRIGGERS:
                    continue
                if change.reason is Trigger.DEMOTED:
                    demoted = next(m for m in self.members if m.name == change.instance)
                    until = demoted.held_until if demoted.held_until is not None else now
                    for m in self.members:
                        if m.state is State.MASTER:
                            new += m.demote_until(until, now)
                elif change.new is State.MASTER:
                    for m in self.members:
                        new += m.sync_to(State.MASTER, now)
                elif change.old is State.MASTER and change.new is State.BACKUP:
                    for m in self.members:
                        new += m.sync_to(State.BACKUP, now)
            group_fault = any(m.own_fault for m in self.members)
            for m in self.members:
                if m.sync_fault != group_fault:
                    new += m.set_sync_fault(group_fault, now)
            if not new:
                break
            out += new
            pending = [a for a in new if isinstance(a, StateChanged)]
        return out + self._group_notify()

    def _group_notify(self) -> list[Action]:
        old, self.state = self.state, self._compute_state()
        if old is self.state or self.state is State.INIT:
            return []
        n, name, st = self.settings.notify, self.settings.name, self.state.value
        specific = {
            State.MASTER: n.master,
            State.BACKUP: n.backup,
            State.FAULT: n.fault,
            State.STOP: n.stop,
        }[self.state]
        acts: list[Action] = []
        if specific:
            acts.append(RunNotify(name, st.lower(), specific))
        if n.generic:
            acts.append(RunNotify(name, "generic", (*n.generic, "GROUP", name, st)))
        if n.fifo:
            acts.append(WriteNotifyFifo(name, f'GROUP "{name}" {st}'))
        if n.smtp_alert and (n.smtp_faults or self.state is not State.FAULT):
            acts.append(SendAlert(name, st, group=True))
        return acts
