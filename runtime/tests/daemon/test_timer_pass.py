"""One pass of the daemon's timer: what runs, in which order, and where the timer goes next.

Stand-in cores replace the VRRP cores (the pass only reads their timers and states and hands
on their actions); the actions they return are real. The wire behaviour of the same pass is
asserted in test_election.py (takeovers) and test_transport.py (adverts).
"""

from __future__ import annotations

from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

from vrrp.vrrpkit import ip

from vipkeeper.daemon.executor import Executor
from vipkeeper.daemon.registry import Managed, Registry
from vipkeeper.daemon.scheduler import TAKEOVER_LEAD, Scheduler
from vipkeeper.vrrp.actions import Action, SendAdvert, SendGratuitous
from vipkeeper.vrrp.state import State

SRC, DST = ip("10.213.0.1"), ip("224.0.0.18")


class Core:
    """A core whose timer runs out at `at`; `then` is its state after handle_timer."""

    def __init__(
        self,
        name: str,
        state: State,
        at: float | None,
        then: State | None = None,
        garp: bool = False,
    ) -> None:
        self.name = name
        self.state = state
        self.at = at
        self.then = then or state
        self.garp = garp
        self.ran: list[float] = []

    def get_timer(self) -> float | None:
        return self.at

    def handle_timer(self, now: float) -> list[Action]:
        self.ran.append(now)
        self.state = self.then
        self.at = now + 1.0
        out: list[Action] = [SendAdvert(self.name, b"advert", SRC, DST, 255, 100)]
        if self.garp:
            out.append(SendGratuitous(self.name, (ip("10.213.100.1"),), 4, 1, "refresh"))
        return out


class Timer:
    def __init__(self) -> None:
        self.at: float | None = None

    def arm(self, at: float) -> None:
        self.at = at

    def cancel(self) -> None:
        self.at = None


class Sock:
    """A VRRP socket whose sends go to `send` (the instance's name)."""

    def __init__(self, name: str, send: Callable[[str], None]) -> None:
        self.name = name
        self._send = send

    def send(self, data: bytes, dst: Any, src: Any) -> None:
        self._send(self.name)


def daemon(
    *cores: Core,
    groups: dict[str, Any] | None = None,
    send: Callable[[str], None] | None = None,
) -> tuple[Scheduler, list[Any]]:
    """A scheduler over the cores; the list records each send and each full run, in order.

    With `send` (what each instance's socket does with an advert), the actions are carried
    out by a real Executor; without, each full run is recorded instead.
    """
    registry = Registry(groups=groups or {})
    log: list[Any] = []
    sockets: dict[tuple[str, int, int], Any] = {}
    for core in cores:
        plan = SimpleNamespace(
            settings=SimpleNamespace(name=core.name, family=4),
            sync_group="G" if core.name.startswith("g") else None,
            interface=core.name,
            mcast_group=None,
            socket_key=(core.name, 4, 112),
        )
        registry.instances[core.name] = Managed(plan, core)  # type: ignore[arg-type]
        sockets[plan.socket_key] = Sock(core.name, send or (lambda name: None))

    def run(managed: Managed, actions: list[Action], now: float) -> None:
        log.append(("run", managed.core.name, [type(a).__name__ for a in actions]))  # type: ignore[attr-defined]

    executor = Executor(
        clock=lambda: 100.0,
        registry=registry,
        sockets=sockets,
        kernel=None,  # type: ignore[arg-type]
        links=None,  # type: ignore[arg-type]
        notify=None,  # type: ignore[arg-type]
        fifos=None,  # type: ignore[arg-type]
        counters={"send_errors": 0},
        rebind=lambda ifname: None,
    )
    d = Scheduler(
        clock=lambda: 100.0,
        registry=registry,
        timer=Timer(),
        run=executor.run if send is not None else run,
        sockets={},
        read=lambda sock, first: None,
    )
    return d, log


def test_a_takeover_goes_before_the_routine_adverts() -> None:
    m1 = Core("m1", State.MASTER, 99.0)
    b = Core("b", State.BACKUP, 99.5, then=State.MASTER)
    m2 = Core("m2", State.MASTER, 100.0)
    d, log = daemon(m1, b, m2)
    d.on_timer(100.0)
    assert log == [
        ("run", "b", ["SendAdvert"]),
        ("run", "m1", ["SendAdvert"]),
        ("run", "m2", ["SendAdvert"]),
    ]
    assert m1.ran == b.ran == m2.ran == [100.0]


def test_anything_but_a_routine_advert_runs_in_place() -> None:
    garp = Core("m1", State.MASTER, 99.0, garp=True)  # a GARP refresh with the advert
    falls = Core("m2", State.MASTER, 99.0, then=State.BACKUP)  # (a stand-in's whim)
    grouped = Core("g1", State.MASTER, 99.0)  # the sync group's rules apply
    m3 = Core("m3", State.MASTER, 99.0)
    d, log = daemon(garp, falls, grouped, m3, groups={"G": object()})
    d.on_timer(100.0)
    assert log == [
        ("run", "m1", ["SendAdvert", "SendGratuitous"]),
        ("run", "m2", ["SendAdvert"]),
        ("run", "g1", ["SendAdvert"]),  # with the routine adverts
        ("run", "m3", ["SendAdvert"]),
    ]


def test_a_failed_send_does_not_stop_the_others() -> None:
    m1, m2 = Core("m1", State.MASTER, 99.0), Core("m2", State.MASTER, 99.0)
    log: list[Any] = []

    def send(name: str) -> None:
        if name == "m1":
            raise RuntimeError("boom")
        log.append(("send", "m2"))

    # The real executor: its last step catches and logs a failed action.
    d, _ = daemon(m1, m2, send=send)
    d.on_timer(100.0)
    assert log == [("send", "m2")]


def test_with_nothing_due_the_timer_goes_to_the_earliest_wake_up() -> None:
    master = Core("m", State.MASTER, 100.4)
    backup = Core("b", State.BACKUP, 100.3)  # wakes the lead early
    fault = Core("f", State.FAULT, None)
    d, log = daemon(master, backup, fault)
    d.on_timer(100.0)
    assert log == []
    assert d.timer.at == 100.3 - TAKEOVER_LEAD
    master.at = 100.2
    d.on_timer(100.0)
    assert d.timer.at == 100.2


def test_after_a_run_every_timer_is_read_again() -> None:
    master = Core("m", State.MASTER, 99.0)
    backup = Core("b", State.BACKUP, 100.6)
    d, _ = daemon(master, backup)
    d.on_timer(100.0)
    assert d.timer.at == 100.6 - TAKEOVER_LEAD  # the master's next advert is at 101.0
