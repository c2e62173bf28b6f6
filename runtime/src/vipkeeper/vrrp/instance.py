"""One VRRP instance as a sans-IO state machine (aioquic-shaped).

The daemon feeds it ``receive_advert(data, src, dst, ttl, now)``, ``handle_timer(now)`` when
``get_timer()`` is due, tracker results, ``start(now)`` and ``stop(now)``; every call returns the
actions to carry out, in order. Transitions are in ``state.py``; the rules applied here:

- BACKUP, valid advert: priority 0 -> master-down timer = skew alone; accepted as master when
  nopreempt, priority >= ours, or a preempt_delay is still running (armed at start and when a
  lower-priority master is first seen) -> timer := master_down_interval (a v3 backup first adopts
  the advertised interval); otherwise (preempt, lower priority) the advert is ignored, so we take
  over when the timer runs out. An accepted advert from a router below the master we follow
  neither brings the timer forward nor changes the master or interval (a loser's parting advert
  with a shorter interval would make us take over from a live master once its sender fell
  silent); while it would push the timer later it is followed as usual.
- MASTER, valid advert: higher priority, or equal priority from a higher primary address ->
  BACKUP. Priority 0 (another master resigned) -> advert now and a GARP burst. Lower priority ->
  a second master exists (split brain). By default: advert now, then a GARP burst of
  garp_lower_prio_repeat; with lower_prio_no_advert (strict RFC) no extra advert, and the GARP
  burst follows our next regular advert, the one that demotes the other master. Either way one
  more burst follows after garp_lower_prio_delay, when the other master has certainly released
  the addresses (its own GARPs or ARP replies may otherwise win the caches).
- Becoming MASTER: advert, VIPs, routes, a GARP burst of garp_master_repeat at once and again
  after garp_master_delay; a burst of garp_master_refresh_repeat every garp_master_refresh.
- Leaving MASTER for STOP or FAULT: one advert with priority 0 first; routes and VIPs go.
- Leaving MASTER for a higher-priority advert: routes and VIPs go, then (unless
  split_brain_parting_advert is off) one "parting" advert with our own priority. Without it the
  winner would re-send GARP only if it happened to receive one of our adverts before we received
  one of its own; with it, the winner always sees a lower-priority advert, and only after we
  released the addresses, so its GARP lands when nobody else can answer for them.
- ``demote(now, hold)``: a master resigns (priority-0 advert, addresses released) and stays
  BACKUP; until ``now + hold`` it accepts any master and its down timer cannot end earlier.
- Starting into BACKUP or FAULT removes our routes and VIPs (idempotently), as keepalived's
  "removing VIPs." at start-up: a node that crashed as MASTER, or took over from a crashed
  keepalived, must not keep answering for the addresses while another router is master.
- Own adverts looped back (source = our address) are ignored.
- ``auth_type AH`` (``ah.py``): every advert round takes the next AH sequence number and IP id
  and is sent as a whole IPv4 packet (protocol 51). Received adverts must pass the AH checks,
  and keep the counter as keepalived does: a BACKUP clears the cycled mark, a MASTER hearing a
  lower priority jumps to its number + 1, and a cycled counter restarts at 0 on becoming
  MASTER. AH adverts never take the fast path (each one carries a new number).
- Receive fast path: a BACKUP keeps the last advert that passed every check and was accepted
  as its master's for a reason that cannot expire (priority >= ours, or nopreempt), with its
  source, destination and TTL. The same bytes again only count as received and re-arm the down
  timer, which is all the full path would do. Any other call (another packet, a timer, a
  tracker, a transition, ``reconfigure``) or a new ``settings`` object forgets it.
- ``reconfigure(settings, now)``: a reload that keeps the instance's identity (VRID, family and
  version; the daemon adds interface and sync group) takes the new settings over in place, with
  no transition. Trackers keep their values (new ones start from the settings); the effective
  priority is recomputed and FAULT entered or left as it requires. A MASTER removes dropped
  routes and VIPs, adds new ones with one GARP burst for the new addresses, and sends an advert
  at once when what it advertises changed; a lower priority does not make it resign (a higher
  advert does, as keepalived). A BACKUP records new addresses; its down timer is re-armed from
  when it last heard the master if the down interval changed, and a running preempt_delay keeps
  its start.
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from dataclasses import field

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.actions import (
    Action,
    AddRoutes,
    AddRules,
    AddVips,
    AdvertDropped,
    IntervalMismatch,
    PriorityChanged,
    RemoveRoutes,
    RemoveRules,
    RemoveVips,
    RunNotify,
    SendAdvert,
    SendAlert,
    SendGratuitous,
    StateChanged,
    WriteNotifyFifo,
)
from vipkeeper.vrrp.ah import IPPROTO_AH, AhHeader, SeqCounter, ah_key, encode_ah_packet
from vipkeeper.vrrp.errors import DropReason, LocalProtocolError, PacketError
from vipkeeper.vrrp.packet import Advert, encode_advert
from vipkeeper.vrrp.settings import AuthType, InstanceSettings, IPAddress
from vipkeeper.vrrp.state import State, Trigger, next_state
from vipkeeper.vrrp.timing import master_down_interval, skew_time
from vipkeeper.vrrp.tracking import TrackResult, evaluate
from vipkeeper.vrrp.validate import check_advert

GARP_BECAME_MASTER = "became_master"
GARP_MASTER_DELAY = "garp_master_delay"
GARP_REFRESH = "garp_master_refresh"
GARP_LOWER_PRIO = "lower_priority_advert"
GARP_SPLIT_BRAIN_HEAL = "split_brain_heal"
GARP_PEER_RESIGNED = "peer_master_resigned"
GARP_RECONFIGURED = "reconfigured"

# What a running instance cannot change in place (``reconfigure``): these make another router.
IDENTITY_FIELDS = ("vrid", "family", "version")


@dataclass(**SLOTS)
class Stats:
    """Counters of one instance (keepalived's per-instance stats plus each drop reason)."""

    received: int = 0
    ignored_not_running: int = 0
    own_adverts: int = 0
    dropped: Counter[DropReason] = field(default_factory=Counter)
    interval_mismatch: int = 0
    sent: int = 0
    priority_zero_received: int = 0
    priority_zero_sent: int = 0
    lower_priority_received: int = 0
    became_master: int = 0
    released_master: int = 0


# The receive fast path's advert: payload, source, destination, TTL, the settings it was
# checked against and the down interval it re-arms.
FastAdvert = tuple[bytes, IPAddress, IPAddress, int, InstanceSettings, float]


class VrrpInstance:
    """A VRRP instance: feed it events with ``now``, carry out the actions it returns."""

    def __init__(self, settings: InstanceSettings, *, fast_path: bool = True) -> None:
        """Build the instance in INIT; nothing happens before ``start``."""
        self.settings = settings
        self.fast_path = fast_path
        self.fast_path_hits = 0  # diagnostics only: adverts handled by the fast path
        self.state = State.INIT
        self.stats = Stats()
        self.master_adv_int = settings.advert_int
        self.current_master: IPAddress | None = None
        self._master_priority = 0  # the priority current_master last advertised
        self._scripts = {t.name: t.initially_ok for t in settings.track_scripts}
        self._interfaces = {t.name: t.initially_up for t in settings.track_interfaces}
        self._files = {t.name: t.initial_value for t in settings.track_files}
        self._processes = {t.name: t.initially_up for t in settings.track_processes}
        self._track: TrackResult = self._evaluate(settings)
        self._sync_fault = False
        self._io_fault: str | None = None  # why the daemon cannot send or receive for it
        self._down_at: float | None = None
        self._down_from = 0.0  # when the down timer was last armed (master heard, or start)
        self._down_skew_only = False  # armed for the skew alone (after a priority-0 advert)
        # The fast path's advert: (data, src, dst, ttl, settings, down interval), or None.
        self._fast: FastAdvert | None = None
        # Encoded adverts by priority, for the settings they were encoded with: a master sends
        # the same bytes every interval, and a backup has its first advert ready to go.
        self._encoded: dict[int, tuple[tuple[IPAddress, bytes], ...]] = {}
        self._encoded_for: InstanceSettings | None = None
        self._advert_at: float | None = None
        self._refresh_at: float | None = None
        self._garp_bursts: list[tuple[float, int, str]] = []
        self._preempt_at: float | None = None
        self._heal_pending = False
        self.held_until: float | None = None
        self.ah_counter = SeqCounter()  # auth_type AH: the sequence counter (ah.py)
        self._ip_id = 0  # auth_type AH: the IP id of the last advert round (never 0 on the wire)

    # ---- read-only views -------------------------------------------------------------------

    @property
    def name(self) -> str:
        """Instance name."""
        return self.settings.name

    @property
    def priority(self) -> int:
        """Effective priority (base plus tracking, clamped)."""
        return self._track.priority

    @property
    def faults(self) -> tuple[str, ...]:
        """Trackers (and an I/O fault) currently holding this instance in FAULT."""
        if self._io_fault is None:
            return self._track.faults
        return (*self._track.faults, self._io_fault)

    @property
    def own_fault(self) -> bool:
        """Whether this instance's own trackers, or an I/O fault, require FAULT."""
        return bool(self._track.faults) or self._io_fault is not None

    @property
    def io_fault(self) -> str | None:
        """Why the instance can neither send nor hear adverts (None when it can)."""
        return self._io_fault

    @property
    def sync_fault(self) -> bool:
        """Whether the sync group holds this instance in FAULT."""
        return self._sync_fault

    @property
    def in_fault(self) -> bool:
        """Whether FAULT is required, by own trackers or by the sync group."""
        return self.own_fault or self._sync_fault

    @property
    def down_interval(self) -> float:
        """The current master_down_interval."""
        return self._down_interval_for(self.master_adv_int)

    def _down_interval_for(self, master_adv_int: float) -> float:
        s = self.settings
        return master_down_interval(s.version, self.priority, master_adv_int, s.down_timer_adverts)

    @property
    def skew(self) -> float:
        """The current skew time."""
        return skew_time(self.settings.version, self.priority, self.master_adv_int)

    def get_timer(self) -> float | None:
        """When ``handle_timer`` must next be called, or None."""
        if self.state is State.BACKUP:
            return self._down_at
        if self.state is State.MASTER:
            times = [t for t, _, _ in self._garp_bursts]
            if self._advert_at is not None:
                times.append(self._advert_at)
            if self._refresh_at is not None:
                times.append(self._refresh_at)
            return min(times) if times else None
        return None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self, now: float) -> list[Action]:
        """Start (or restart after stop): BACKUP, MASTER for the owner, or FAULT."""
        self._fast = None
        self.master_adv_int = self.settings.advert_int
        if self.in_fault:
            trigger = Trigger.STARTED_IN_FAULT
        elif self.settings.is_owner:
            trigger = Trigger.STARTED_AS_OWNER
        else:
            trigger = Trigger.STARTED
        return self._transition(trigger, now)

    def stop(self, now: float) -> list[Action]:
        """Stop: a master resigns with one priority-0 advert, then releases its addresses."""
        self._fast = None
        return self._transition(Trigger.STOPPED, now)

    def delete(self, now: float) -> list[Action]:
        """A reload removed the instance: stop it, notified as keepalived's clear_diff_vrrp
        does: DELETED with notify_deleted, else FAULT (nothing more when already in FAULT)."""
        self._fast = None
        n = self.settings.notify
        was_fault = self.state is State.FAULT
        acts = self._transition(Trigger.STOPPED, now, notify=False)
        if n.send_deleted:
            acts += self._notify_as("DELETED", n.deleted)
        elif not was_fault:
            acts += self._notify_as(State.FAULT.value, n.fault)
        return acts

    def demote(self, now: float, hold: float) -> list[Action]:
        """Planned switchover: resign like a stop but stay BACKUP, holding off for ``hold`` s."""
        return self.demote_until(now + hold, now)

    def demote_until(self, until: float, now: float) -> list[Action]:
        """Resign now and hold BACKUP until ``until`` (a sync group demotes its members so)."""
        if until < now:
            raise LocalProtocolError(f"hold ends at {until}, before now ({now})")
        self._fast = None
        self.held_until = until
        return self._transition(Trigger.DEMOTED, now)

    def _held(self, now: float) -> bool:
        return self.held_until is not None and now < self.held_until

    def _arm_down_timer(self, at: float, now: float) -> None:
        if self._held(now) and self.held_until is not None:
            at = max(at, self.held_until)
        self._down_at = at

    def _arm_down(self, now: float, *, skew_only: bool = False) -> None:
        """Arm the down timer from ``now``: the master_down_interval, or the skew alone."""
        self._down_from = now
        self._down_skew_only = skew_only
        self._arm_down_timer(now + (self.skew if skew_only else self.down_interval), now)

    # ---- packets ---------------------------------------------------------------------------

    def receive_advert(
        self,
        data: bytes,
        src: IPAddress,
        dst: IPAddress,
        ttl: int,
        now: float,
        *,
        ah: AhHeader | None = None,
    ) -> list[Action]:
        """Handle one received VRRP payload (IP header stripped by the daemon); ``ah``: the IP
        and AH headers when it came as IP protocol 51 (``ah.split_ah``)."""
        fast = self._fast
        if (
            fast is not None
            and ah is None
            and data == fast[0]
            and ttl == fast[3]
            and (src is fast[1] or src == fast[1])
            and (dst is fast[2] or dst == fast[2])
            and self.refresh(fast, now) is not None
        ):
            return []
        self._fast = None
        self.stats.received += 1
        if self.state not in (State.BACKUP, State.MASTER):
            self.stats.ignored_not_running += 1
            return []
        if src == self.settings.source:
            self.stats.own_adverts += 1
            return []
        try:
            checked = check_advert(
                data,
                src,
                dst,
                ttl,
                settings=self.settings,
                current_master=self.current_master,
                ah=ah,
                ah_counter=self.ah_counter,
            )
        except PacketError as err:
            self.stats.dropped[err.reason] += 1
            return [AdvertDropped(self.name, err.reason, src, err.detail)]
        advert = checked.advert
        actions: list[Action] = []
        if checked.interval_mismatch:
            self.stats.interval_mismatch += 1
            actions.append(
                IntervalMismatch(self.name, src, advert.interval_seconds, self.settings.advert_int)
            )
        if advert.priority == 0:
            self.stats.priority_zero_received += 1
        if self.state is State.BACKUP:
            if ah is not None:
                self.ah_counter.cycle = False
            steady = self._backup_rx(advert, src, now)
            if steady and not actions and self.fast_path and ah is None:
                self._fast = (bytes(data), src, dst, ttl, self.settings, self.down_interval)
        else:
            actions += self._master_rx(advert, src, now, ah)
        return actions

    @property
    def fast_advert(self) -> FastAdvert | None:
        """The advert the receive fast path takes as its master's again (see the top), or None.

        A caller that finds a received packet repeats it exactly (the same payload, source,
        destination and TTL) may call ``refresh`` with it instead of ``receive_advert``.
        """
        return self._fast

    def refresh(self, fast: FastAdvert, now: float) -> float | None:
        """The fast path's advert ``fast`` received again at ``now``: count it, re-arm the timer.

        All the full path would do with it. The new down timer; None, with nothing done, when
        ``fast`` is no longer the fast path's advert (or the settings it was checked against
        were replaced): the packet must then go through ``receive_advert``.
        """
        if fast is not self._fast or self.settings is not fast[4]:
            return None
        self.stats.received += 1
        self.fast_path_hits += 1
        self._down_from = now
        self._arm_down_timer(now + fast[5], now)
        return self._down_at

    def _interval_from(self, advert: Advert) -> float:
        """The master interval an accepted advert sets: its own in v3, else unchanged."""
        if self.settings.version == 3 and advert.interval > 0:
            return advert.interval_seconds
        return self.master_adv_int

    def _adopt_interval(self, advert: Advert) -> None:
        self.master_adv_int = self._interval_from(advert)

    def _outranked(self, advert: Advert, src: IPAddress, now: float) -> bool:
        """Whether the master we follow still covers an advert from a router it outranks.

        It outranks a lower priority, and an equal one from a lower address (the tie-break
        it would win). Such an advert (a loser's parting advert, another backup's stray one,
        a second owner that has yet to hear the master) must not bring the down timer
        forward, nor hand us its shorter interval: once its sender went quiet, we would take
        over from a master that is alive. While it would only push the timer later it is
        accepted as usual, so a new master is followed once the old one's timer would have
        run out.
        """
        if self.current_master is None or src == self.current_master or self._down_at is None:
            return False
        if advert.priority > self._master_priority:
            return False
        if advert.priority == self._master_priority and int(src) > int(self.current_master):
            return False
        return now + self._down_interval_for(self._interval_from(advert)) < self._down_at

    def _backup_rx(self, advert: Advert, src: IPAddress, now: float) -> bool:
        """Handle an advert as BACKUP; True when the same advert again would only re-arm."""
        s = self.settings
        if advert.priority == 0:
            self._adopt_interval(advert)
            self._arm_down(now, skew_only=True)
            return False
        lower = advert.priority < self.priority
        if lower and s.preempt_delay > 0 and self._preempt_at is None:
            self._preempt_at = now + s.preempt_delay
        delaying = lower and self._preempt_at is not None and now < self._preempt_at
        if s.nopreempt or not lower or delaying or self._held(now):
            if not lower:
                self._preempt_at = None
            if self._outranked(advert, src, now):
                return False
            self._adopt_interval(advert)
            self.current_master = src
            self._master_priority = advert.priority
            self._arm_down(now)
            # accepted for a reason that does not run out (unlike a preempt delay or a hold)
            return s.nopreempt or not lower
        # else: preempt a lower-priority master: ignore it and let the down timer run out
        return False

    def _master_rx(
        self, advert: Advert, src: IPAddress, now: float, ah: AhHeader | None = None
    ) -> list[Action]:
        s = self.settings
        if advert.priority == 0:
            resigned = self._send_adverts(self.priority, now)
            return resigned + self._garp(s.lower_prio_repeat, GARP_PEER_RESIGNED)
        higher = advert.priority > self.priority or (
            advert.priority == self.priority and int(src) > int(s.source)
        )
        if ah is not None:  # keepalived: a lower master's number + 1 becomes ours
            if not higher:
                self.ah_counter.seq = (ah.seq + 1) & 0xFFFFFFFF
            self.ah_counter.cycle = False
        if higher:
            self._adopt_interval(advert)
            self.current_master = src
            self._master_priority = advert.priority
            return self._transition(Trigger.HIGHER_PRIORITY_ADVERT, now)
        # Lower priority: another router also thinks it is master (a split brain healing).
        self.stats.lower_priority_received += 1
        acts: list[Action] = []
        if s.lower_prio_no_advert:
            self._heal_pending = True
        else:
            acts += self._send_adverts(self.priority, now)
            acts += self._garp(s.lower_prio_repeat, GARP_LOWER_PRIO)
        if s.lower_prio_delay > 0 and not any(
            r == GARP_SPLIT_BRAIN_HEAL for _, _, r in self._garp_bursts
        ):
            self._garp_bursts.append(
                (now + s.lower_prio_delay, s.lower_prio_repeat, GARP_SPLIT_BRAIN_HEAL)
            )
        # keepalived's send_event_notify: the command as written, and a FIFO line
        n = s.notify
        if n.master_rx_lower_pri:
            acts.append(RunNotify(self.name, "master_rx_lower_pri", n.master_rx_lower_pri))
        if n.fifo:
            line = f'INSTANCE "{self.name}" MASTER_RX_LOWER_PRI {self.priority}'
            acts.append(WriteNotifyFifo(self.name, line))
        return acts

    # ---- timers ----------------------------------------------------------------------------

    def handle_timer(self, now: float) -> list[Action]:
        """Run whatever timers are due at ``now``."""
        self._fast = None
        if self.state is State.BACKUP:
            if self._down_at is not None and now >= self._down_at:
                return self._transition(Trigger.MASTER_DOWN_TIMER, now)
            return []
        if self.state is not State.MASTER:
            return []
        s = self.settings
        acts: list[Action] = []
        if self._advert_at is not None and now >= self._advert_at:
            acts += self._send_adverts(self.priority, now)
            if self._heal_pending:
                self._heal_pending = False
                acts += self._garp(s.lower_prio_repeat, GARP_SPLIT_BRAIN_HEAL)
        due = [b for b in self._garp_bursts if b[0] <= now]
        if due:
            self._garp_bursts = [b for b in self._garp_bursts if b[0] > now]
            for _, repeat, reason in sorted(due):
                acts += self._garp(repeat, reason)
        if self._refresh_at is not None and now >= self._refresh_at:
            self._refresh_at = now + s.garp_master_refresh
            acts += self._garp(s.garp_master_refresh_repeat, GARP_REFRESH)
        return acts

    def hold_takeover(self, now: float) -> list[Action]:
        """The daemon's takeover guard heard another holder of the VIPs: stay BACKUP and run
        the down timer again from ``now`` (the takeover is tried again when it runs out)."""
        if self.state is State.BACKUP and self._down_at is not None and now >= self._down_at:
            self._arm_down(now)
        return []

    # ---- tracking --------------------------------------------------------------------------

    def set_script_result(self, name: str, ok: bool, now: float) -> list[Action]:
        """A tracked script's (rise/fall-filtered) result changed."""
        self._require(name in self._scripts, f"unknown tracked script {name!r}")
        self._scripts[name] = ok
        return self._retrack(now)

    def set_interface_state(self, name: str, up: bool, now: float) -> list[Action]:
        """A tracked interface went up or down."""
        self._require(name in self._interfaces, f"unknown tracked interface {name!r}")
        self._interfaces[name] = up
        return self._retrack(now)

    def set_file_value(self, name: str, value: int, now: float) -> list[Action]:
        """A tracked file holds a new value."""
        self._require(name in self._files, f"unknown tracked file {name!r}")
        self._files[name] = value
        return self._retrack(now)

    def set_process_state(self, name: str, up: bool, now: float) -> list[Action]:
        """A tracked process gained (up) or lost its quorum."""
        self._require(name in self._processes, f"unknown tracked process {name!r}")
        self._processes[name] = up
        return self._retrack(now)

    def _evaluate(self, settings: InstanceSettings) -> TrackResult:
        return evaluate(settings, self._scripts, self._interfaces, self._files, self._processes)

    def set_track_state(self, kind: str, name: str, value: int | bool, now: float) -> list[Action]:
        """Generic form: ``kind`` is script|interface|file|process."""
        if kind == "script":
            return self.set_script_result(name, bool(value), now)
        if kind == "interface":
            return self.set_interface_state(name, bool(value), now)
        if kind == "file":
            return self.set_file_value(name, int(value), now)
        if kind == "process":
            return self.set_process_state(name, bool(value), now)
        raise LocalProtocolError(f"unknown tracker kind {kind!r}")

    def set_io_fault(self, reason: str | None, now: float) -> list[Action]:
        """The daemon can (None) or cannot (`reason`) send and receive this instance's adverts.

        An instance that can neither hear its master nor be heard must not elect itself:
        it would become a second MASTER. keepalived runs no timer for an instance whose
        socket could not be opened; here it is held in FAULT (a MASTER resigns) until the
        socket opens, and then elects as after any other fault.
        """
        if reason == self._io_fault:
            return []
        self._io_fault = reason
        self._fast = None
        return self._apply_fault(now, own=True)

    def _retrack(self, now: float) -> list[Action]:
        self._fast = None
        old = self._track
        self._track = self._evaluate(self.settings)
        acts: list[Action] = []
        if old.priority != self._track.priority:
            acts += self._priority_changed(old.priority, self._track.priority, now)
        acts += self._apply_fault(now, own=True)
        return acts

    # ---- reload ----------------------------------------------------------------------------

    def reconfigure(self, settings: InstanceSettings, now: float) -> list[Action]:
        """Take over changed settings in place, keeping the state (rules at the top)."""
        old = self.settings
        for name in IDENTITY_FIELDS:
            if getattr(settings, name) != getattr(old, name):
                raise LocalProtocolError(
                    f"reconfigure cannot change {name} ({getattr(old, name)} -> "
                    f"{getattr(settings, name)}): stop the instance and start a new one"
                )
        self._fast = None
        was_master = self.state is State.MASTER
        old_wire = self._wire_signature()
        old_span = self._down_span()
        old_priority = self.priority
        self.settings = settings
        self._scripts = {
            t.name: self._scripts.get(t.name, t.initially_ok) for t in settings.track_scripts
        }
        self._interfaces = {
            t.name: self._interfaces.get(t.name, t.initially_up) for t in settings.track_interfaces
        }
        self._files = {
            t.name: self._files.get(t.name, t.initial_value) for t in settings.track_files
        }
        self._processes = {
            t.name: self._processes.get(t.name, t.initially_up) for t in settings.track_processes
        }
        self._track = self._evaluate(settings)
        acts: list[Action] = []
        if self.priority != old_priority:
            acts += self._priority_changed(old_priority, self.priority, now)
        if self._preempt_at is not None:  # a running preempt_delay keeps its start
            began = self._preempt_at - old.preempt_delay
            self._preempt_at = began + settings.preempt_delay if settings.preempt_delay else None
        if was_master:
            acts += self._drop_addresses(old)
        fault = self._apply_fault(now, own=True)
        if fault:
            return acts + fault
        if self.state is State.MASTER:
            acts += self._master_reconfigured(old, old_wire, now)
        elif self.state is State.BACKUP:
            if settings.version == 2 or self.current_master is None:
                self.master_adv_int = settings.advert_int  # v3 keeps the interval it adopted
            if self._down_span() != old_span:
                self._arm_down_timer(self._down_from + self._down_span(), now)
        return acts

    def _down_span(self) -> float:
        """The length of the down timer as last armed, with the current figures."""
        return self.skew if self._down_skew_only else self.down_interval

    def _wire_signature(self) -> tuple[object, ...]:
        """What our next regular advert carries and where it goes."""
        s = self.settings
        return (
            self.build_advert(self.priority),
            s.advert_destinations,
            s.source,
            s.advert_ttl,
            s.v3_checksum_as_v2,
        )

    def _drop_addresses(self, old: InstanceSettings) -> list[Action]:
        """Remove the routes and VIPs ``old`` had and the current settings do not."""
        s = self.settings
        acts: list[Action] = []
        rules = tuple(r for r in old.virtual_rules if r not in s.virtual_rules)
        if rules:
            acts.append(RemoveRules(self.name, rules))
        routes = tuple(r for r in old.virtual_routes if r not in s.virtual_routes)
        if routes:
            acts.append(RemoveRoutes(self.name, routes))
        keep = set(s.vips + s.excluded_vips)
        gone = tuple(a for a in old.vips + old.excluded_vips if a not in keep)
        if gone:
            acts.append(RemoveVips(self.name, gone))
        return acts

    def _master_reconfigured(
        self, old: InstanceSettings, old_wire: tuple[object, ...], now: float
    ) -> list[Action]:
        """A MASTER's part of ``reconfigure``: new addresses, a changed advert at once."""
        s = self.settings
        self.current_master = s.source
        self._master_priority = self.priority
        self.master_adv_int = s.advert_int
        acts: list[Action] = []
        if self._wire_signature() != old_wire:
            acts += self._send_adverts(self.priority, now)
        had = set(old.vips + old.excluded_vips)
        added = tuple(a for a in s.vips + s.excluded_vips if a not in had)
        if added:
            acts.append(AddVips(self.name, added))
        routes = tuple(r for r in s.virtual_routes if r not in old.virtual_routes)
        if routes:
            acts.append(AddRoutes(self.name, routes))
        rules = tuple(r for r in s.virtual_rules if r not in old.virtual_rules)
        if rules:
            acts.append(AddRules(self.name, rules))
        acts += self._garp_for(added, s.garp_master_repeat, GARP_RECONFIGURED)
        if s.garp_master_refresh != old.garp_master_refresh:
            refresh = s.garp_master_refresh
            self._refresh_at = now + refresh if refresh > 0 else None
        return acts

    # ---- sync group hooks ------------------------------------------------------------------

    def set_sync_fault(self, fault: bool, now: float) -> list[Action]:
        """The sync group holds (or releases) this member in FAULT."""
        self._fast = None
        self._sync_fault = fault
        return self._apply_fault(now, own=False)

    def sync_to(self, target: State, now: float) -> list[Action]:
        """The sync group moves this member to MASTER or BACKUP (no-op if not applicable)."""
        self._fast = None
        if target is State.MASTER and self.state is State.BACKUP:
            return self._transition(Trigger.SYNC_MASTER, now)
        if target is State.BACKUP and self.state is State.MASTER:
            return self._transition(Trigger.SYNC_BACKUP, now)
        if target not in (State.MASTER, State.BACKUP):
            raise LocalProtocolError(f"sync_to {target} is not supported")
        return []

    def _apply_fault(self, now: float, own: bool) -> list[Action]:
        if self.in_fault and self.state in (State.BACKUP, State.MASTER):
            return self._transition(Trigger.FAULT_DETECTED if own else Trigger.SYNC_FAULT, now)
        if not self.in_fault and self.state is State.FAULT:
            if not own:
                return self._transition(Trigger.SYNC_FAULT_CLEARED, now)
            if self.settings.is_owner:
                return self._transition(Trigger.FAULT_CLEARED_AS_OWNER, now)
            return self._transition(Trigger.FAULT_CLEARED, now)
        return []

    # ---- transitions -----------------------------------------------------------------------

    def _transition(self, trigger: Trigger, now: float, *, notify: bool = True) -> list[Action]:
        self._fast = None
        old = self.state
        new = next_state(old, trigger)
        acts: list[Action] = [StateChanged(self.name, old, new, trigger, now)]
        if old is State.MASTER:
            resign = new in (State.STOP, State.FAULT) or trigger is Trigger.DEMOTED
            acts += self._leave_master(now, resign=resign)
            if (
                trigger is Trigger.HIGHER_PRIORITY_ADVERT
                and self.settings.split_brain_parting_advert
            ):
                acts += self._send_adverts(self.priority, now, arm=False)
        self.state = new
        self._down_at = None
        if trigger is not Trigger.DEMOTED:
            self.held_until = None
        if new is State.BACKUP:
            if old in (State.INIT, State.STOP, State.FAULT):
                self.master_adv_int = self.settings.advert_int
                self.current_master = None
                self._master_priority = 0
                if self.settings.preempt_delay > 0:
                    self._preempt_at = now + self.settings.preempt_delay
            self._arm_down(now)
            self.encoded_adverts(self.priority)  # ready for when the master goes quiet
            self.encoded_adverts(0)  # and the resignation, for a stop once master
        elif new is State.MASTER:
            acts += self._enter_master(now)
        if trigger in (Trigger.STARTED, Trigger.STARTED_IN_FAULT):
            acts += self._release()
        if notify:
            acts += self._notify(new)
        return acts

    def _enter_master(self, now: float) -> list[Action]:
        s = self.settings
        self.stats.became_master += 1
        if self.ah_counter.cycle:  # keepalived resets a cycled AH counter on becoming MASTER
            self.ah_counter.cycle = False
            self.ah_counter.seq = 0
        self.master_adv_int = s.advert_int
        self.current_master = s.source
        self._master_priority = self.priority
        self._preempt_at = None
        self._heal_pending = False
        acts = self._send_adverts(self.priority, now)
        acts.append(AddVips(self.name, s.vips + s.excluded_vips))
        if s.virtual_routes:
            acts.append(AddRoutes(self.name, s.virtual_routes))
        if s.virtual_rules:
            acts.append(AddRules(self.name, s.virtual_rules))
        acts += self._garp(s.garp_master_repeat, GARP_BECAME_MASTER)
        self._garp_bursts = []
        if s.garp_master_delay > 0:
            self._garp_bursts.append(
                (now + s.garp_master_delay, s.garp_master_repeat, GARP_MASTER_DELAY)
            )
        self._refresh_at = now + s.garp_master_refresh if s.garp_master_refresh > 0 else None
        return acts

    def _leave_master(self, now: float, resign: bool) -> list[Action]:
        self.stats.released_master += 1
        acts: list[Action] = []
        if resign:
            acts += self._send_adverts(0, now)
        self._advert_at = None
        self._refresh_at = None
        self._garp_bursts = []
        self._heal_pending = False
        return acts + self._release()

    def _release(self) -> list[Action]:
        s = self.settings
        acts: list[Action] = []
        if s.virtual_rules:
            acts.append(RemoveRules(self.name, s.virtual_rules))
        if s.virtual_routes:
            acts.append(RemoveRoutes(self.name, s.virtual_routes))
        acts.append(RemoveVips(self.name, s.vips + s.excluded_vips))
        return acts

    # ---- building actions ------------------------------------------------------------------

    def build_advert(self, priority: int) -> Advert:
        """The advert this instance sends with ``priority``."""
        s = self.settings
        return Advert(
            version=s.version,
            vrid=s.vrid,
            priority=priority,
            interval=s.wire_interval,
            addresses=s.vips,
            family=s.family,
            auth_type=int(s.auth.type) if s.version == 2 else 0,
            auth_data=s.auth.wire_data if s.version == 2 else b"",
        )

    def encoded_adverts(self, priority: int) -> tuple[tuple[IPAddress, bytes], ...]:
        """(destination, packet) of each advert sent with ``priority``, encoded once."""
        s = self.settings
        if self._encoded_for is not s:
            self._encoded, self._encoded_for = {}, s
        packets = self._encoded.get(priority)
        if packets is None:
            advert = self.build_advert(priority)
            packets = tuple(
                (dst, encode_advert(advert, s.source, dst, v3_checksum_as_v2=s.v3_checksum_as_v2))
                for dst in s.advert_destinations
            )
            if len(self._encoded) >= 4:  # priority 0, the current one and a few recent ones
                zero = self._encoded.get(0)
                self._encoded = {} if zero is None else {0: zero}
            self._encoded[priority] = packets
        return packets

    def _send_adverts(self, priority: int, now: float, arm: bool = True) -> list[Action]:
        s = self.settings
        acts: list[Action]
        if s.auth.type is AuthType.AH:
            acts = list(self._ah_adverts(priority))
        else:
            acts = [
                SendAdvert(self.name, data, s.source, dst, s.advert_ttl, priority)
                for dst, data in self.encoded_adverts(priority)
            ]
        self.stats.sent += len(acts)
        if priority == 0:
            self.stats.priority_zero_sent += len(acts)
        elif arm:
            self._advert_at = now + s.advert_int
        return acts

    def _ah_adverts(self, priority: int) -> list[SendAdvert]:
        """One AH advert round: the next sequence number and IP id, a whole IPv4 packet for
        each destination."""
        s = self.settings
        seq = self.ah_counter.next_send()
        self._ip_id = self._ip_id % 0xFFFF + 1  # 1..65535: the kernel fills in an id of 0
        key = ah_key(s.auth.password)
        acts = []
        for dst, vrrp in self.encoded_adverts(priority):
            if not (isinstance(s.source, ipaddress.IPv4Address) and dst.version == 4):
                raise LocalProtocolError("AH authentication is IPv4 only")
            packet = encode_ah_packet(
                vrrp,
                s.source,
                ipaddress.IPv4Address(dst),
                key=key,
                seq=seq,
                ip_id=self._ip_id,
                ttl=s.advert_ttl,
                unicast=bool(s.unicast_peers),
            )
            acts.append(
                SendAdvert(self.name, packet, s.source, dst, s.advert_ttl, priority, IPPROTO_AH)
            )
        return acts

    def _garp(self, repeat: int, reason: str) -> list[Action]:
        s = self.settings
        return self._garp_for(s.vips + s.excluded_vips, repeat, reason)

    def _garp_for(self, addrs: tuple[IPAddress, ...], repeat: int, reason: str) -> list[Action]:
        acts: list[Action] = []
        for family in (4, 6):
            group = tuple(a for a in addrs if a.version == family)
            if group:
                acts.append(SendGratuitous(self.name, group, family, repeat, reason))
        return acts

    def _priority_changed(self, old: int, new: int, now: float) -> list[Action]:
        """The effective priority changed: logged, and with notify_priority_changes a FIFO
        line (keepalived's send_instance_priority_notifies)."""
        acts: list[Action] = [PriorityChanged(self.name, old, new, now)]
        n = self.settings.notify
        if n.fifo and n.priority_changes:
            what = "MASTER_PRIORITY" if self.state is State.MASTER else "BACKUP_PRIORITY"
            acts.append(WriteNotifyFifo(self.name, f'INSTANCE "{self.name}" {what} {new}'))
        return acts

    def _notify(self, new: State) -> list[Action]:
        n = self.settings.notify
        specific = {
            State.MASTER: n.master,
            State.BACKUP: n.backup,
            State.FAULT: n.fault,
            State.STOP: n.stop,
        }.get(new, ())
        return self._notify_as(new.value, specific)

    def _notify_as(self, state: str, specific: tuple[str, ...]) -> list[Action]:
        """keepalived's send_instance_notifies for `state`: the state's command, the generic
        one, the FIFO line, the mail."""
        n = self.settings.notify
        acts: list[Action] = []
        if specific:
            acts.append(RunNotify(self.name, state.lower(), specific))
        prio = str(self.priority)
        if n.generic:
            acts.append(
                RunNotify(self.name, "generic", (*n.generic, "INSTANCE", self.name, state, prio))
            )
        if n.fifo:
            acts.append(WriteNotifyFifo(self.name, f'INSTANCE "{self.name}" {state} {prio}'))
        if n.smtp_alert and (n.smtp_faults or state != State.FAULT.value):
            acts.append(SendAlert(self.name, state))
        return acts

    @staticmethod
    def _require(cond: bool, message: str) -> None:
        if not cond:
            raise LocalProtocolError(message)


def ip(text: str) -> IPAddress:
    """Parse an address (convenience for callers and tests)."""
    return ipaddress.ip_address(text)
