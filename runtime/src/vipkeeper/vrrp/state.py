"""The VRRP instance state machine: every legal transition in one table (h11 ``_state.py`` style).

Rules (keepalived 2.2 semantics, RFC 3768/5798 section 6.4):

- INIT is where an instance is built; nothing is sent until ``start``.
- ``start`` enters BACKUP with the master-down timer armed, MASTER at once when the instance is
  the address owner (base priority 255), or FAULT when a tracker already reports a fault. A
  stopped instance may be started again the same way.
- BACKUP -> MASTER when the master-down timer expires (no valid advert from a master for
  ``master_down_interval``, or for the skew alone after a priority-0 advert).
- MASTER -> BACKUP when an advert arrives with a higher priority, or an equal priority from a
  higher primary address.
- BACKUP/MASTER -> FAULT when a tracker with weight 0 fails, a tracked interface goes down, or a
  track_file result falls below -253. FAULT -> BACKUP (or MASTER for the owner) once every fault
  has cleared.
- A sync group forces members to MASTER, BACKUP or FAULT together (the SYNC_* triggers).
- MASTER -> BACKUP on ``demote`` (a planned switchover): like a stop, a priority-0 advert and
  the VIPs released, but the instance stays running as a BACKUP that neither preempts nor takes
  over until the hold time has passed.
- Any state -> STOP on ``stop``; a master first sends one priority-0 advert and releases its VIPs.
- Everything else is illegal: asking for it is our bug and raises ``LocalProtocolError``.
"""

from __future__ import annotations

from vipkeeper._compat import StrEnum
from vipkeeper.vrrp.errors import LocalProtocolError


class State(StrEnum):
    """VRRP instance states."""

    INIT = "INIT"
    BACKUP = "BACKUP"
    MASTER = "MASTER"
    FAULT = "FAULT"
    STOP = "STOP"


class Trigger(StrEnum):
    """What caused a transition; carried as the reason of ``StateChanged``."""

    STARTED = "started"
    STARTED_AS_OWNER = "started_as_owner"
    STARTED_IN_FAULT = "started_in_fault"
    MASTER_DOWN_TIMER = "master_down_timer"
    HIGHER_PRIORITY_ADVERT = "higher_priority_advert"
    DEMOTED = "demoted"
    FAULT_DETECTED = "fault_detected"
    FAULT_CLEARED = "fault_cleared"
    FAULT_CLEARED_AS_OWNER = "fault_cleared_as_owner"
    SYNC_MASTER = "sync_group_master"
    SYNC_BACKUP = "sync_group_backup"
    SYNC_FAULT = "sync_group_fault"
    SYNC_FAULT_CLEARED = "sync_group_fault_cleared"
    STOPPED = "stopped"


S, T = State, Trigger

# (current state, trigger) -> next state. Nothing else is legal.
TRANSITIONS: dict[tuple[State, Trigger], State] = {
    # start / restart
    (S.INIT, T.STARTED): S.BACKUP,
    (S.INIT, T.STARTED_AS_OWNER): S.MASTER,
    (S.INIT, T.STARTED_IN_FAULT): S.FAULT,
    (S.STOP, T.STARTED): S.BACKUP,
    (S.STOP, T.STARTED_AS_OWNER): S.MASTER,
    (S.STOP, T.STARTED_IN_FAULT): S.FAULT,
    # election
    (S.BACKUP, T.MASTER_DOWN_TIMER): S.MASTER,
    (S.MASTER, T.HIGHER_PRIORITY_ADVERT): S.BACKUP,
    (S.MASTER, T.DEMOTED): S.BACKUP,
    # tracking
    (S.BACKUP, T.FAULT_DETECTED): S.FAULT,
    (S.MASTER, T.FAULT_DETECTED): S.FAULT,
    (S.FAULT, T.FAULT_CLEARED): S.BACKUP,
    (S.FAULT, T.FAULT_CLEARED_AS_OWNER): S.MASTER,
    # sync groups
    (S.BACKUP, T.SYNC_MASTER): S.MASTER,
    (S.MASTER, T.SYNC_BACKUP): S.BACKUP,
    (S.BACKUP, T.SYNC_FAULT): S.FAULT,
    (S.MASTER, T.SYNC_FAULT): S.FAULT,
    (S.FAULT, T.SYNC_FAULT_CLEARED): S.BACKUP,
    # stop
    (S.INIT, T.STOPPED): S.STOP,
    (S.BACKUP, T.STOPPED): S.STOP,
    (S.MASTER, T.STOPPED): S.STOP,
    (S.FAULT, T.STOPPED): S.STOP,
}


def next_state(current: State, trigger: Trigger) -> State:
    """Look up a transition; an unlisted one is our bug."""
    try:
        return TRANSITIONS[(current, trigger)]
    except KeyError:
        raise LocalProtocolError(f"illegal transition from {current} on {trigger}") from None
