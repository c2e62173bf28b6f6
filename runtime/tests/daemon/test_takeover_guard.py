"""The scheduler's takeover guard: probe first, then take over or stay BACKUP.

Real VRRP cores, a stand-in guard and an explicit clock; the wire behaviour is asserted in
test_split_brain.py.
"""

from __future__ import annotations

from types import SimpleNamespace

from vrrp.vrrpkit import ip, make_settings, peer_advert

from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.daemon.scheduler import TAKEOVER_LEAD, Scheduler
from vipkeeper.vrrp.actions import Action
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.settings import MCAST_V4
from vipkeeper.vrrp.state import State

WINDOW = 0.03


class Timer:
    def __init__(self) -> None:
        self.at: float | None = None

    def arm(self, at: float) -> None:
        self.at = at

    def cancel(self) -> None:
        self.at = None


class Guard:
    def __init__(self, window: float = WINDOW) -> None:
        self.guard_window = window
        self.started: list[tuple[str, float]] = []
        self.ended: list[str] = []
        self.answer: str | None = None

    def start_guard(self, managed: Managed, now: float) -> None:
        self.started.append((managed.name, now))

    def guard_verdict(self, managed: Managed) -> str | None:
        return self.answer

    def end_guard(self, managed: Managed) -> None:
        self.ended.append(managed.name)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def setup(guard: Guard) -> tuple[Scheduler, VrrpInstance, Clock, list[list[Action]]]:
    clock = Clock()
    settings = make_settings(advert_int=1.0)
    core = VrrpInstance(settings)
    core.start(0.0)
    registry = Registry()
    plan = SimpleNamespace(settings=settings, sync_group=None, interface="eth0")
    registry.instances[settings.name] = Managed(plan, core)  # type: ignore[arg-type]
    ran: list[list[Action]] = []

    def run(managed: Managed, actions: list[Action], now: float) -> None:
        ran.append(actions)

    sched = Scheduler(
        clock=clock,
        registry=registry,
        timer=Timer(),
        run=run,
        sockets={},
        read=lambda sock, first: None,
        guard=guard,
    )
    return sched, core, clock, ran


def fire(sched: Scheduler, clock: Clock, at: float) -> None:
    clock.now = at
    sched.on_timer(at)


def test_nobody_answers_the_takeover_runs_after_the_window() -> None:
    guard = Guard()
    sched, core, clock, _ = setup(guard)
    due = core.get_timer()
    assert due is not None
    fire(sched, clock, due)
    assert guard.started == [("VI_1", due)]
    assert core.state is State.BACKUP
    assert sched.timer.at == due + WINDOW
    fire(sched, clock, due + WINDOW / 2)  # an early wake-up changes nothing
    assert core.state is State.BACKUP and len(guard.started) == 1
    fire(sched, clock, due + WINDOW)
    assert core.state is State.MASTER
    assert sched.guarding == {}


def test_another_holder_answers_the_backup_stays() -> None:
    guard = Guard()
    sched, core, clock, ran = setup(guard)
    due = core.get_timer()
    assert due is not None
    fire(sched, clock, due)
    guard.answer = "02:00:00:00:00:02 answers for 10.213.100.1 on eth0"
    fire(sched, clock, due + WINDOW)
    assert core.state is State.BACKUP
    assert ran == [[]]  # held: no advert, no VIP
    again = due + WINDOW + core.down_interval
    assert core.get_timer() == again
    assert sched.timer.at == again - TAKEOVER_LEAD
    # the next expiry probes again
    fire(sched, clock, again)
    assert guard.started[-1] == ("VI_1", again)


def test_an_advert_in_the_window_ends_the_guard() -> None:
    guard = Guard()
    sched, core, clock, _ = setup(guard)
    due = core.get_timer()
    assert due is not None
    fire(sched, clock, due)
    advert = peer_advert(core.settings, 150, "10.213.0.2")
    core.receive_advert(advert, ip("10.213.0.2"), MCAST_V4, 255, due + 0.01)
    fire(sched, clock, due + WINDOW)
    assert core.state is State.BACKUP
    assert guard.ended == ["VI_1"] and sched.guarding == {}


def test_without_a_window_the_takeover_is_immediate() -> None:
    guard = Guard(window=0.0)
    sched, core, clock, _ = setup(guard)
    due = core.get_timer()
    assert due is not None
    fire(sched, clock, due)
    assert core.state is State.MASTER and guard.started == []
