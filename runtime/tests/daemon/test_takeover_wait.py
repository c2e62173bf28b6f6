"""The wait before a takeover: a backup's down timer wakes the loop early, and the daemon waits
out the rest reading its VRRP sockets. Stand-ins replace the cores and the event loop (the wait
uses neither the kernel's addresses nor a bridge); a socketpair stands in for a VRRP socket.
The wire behaviour (never before the down interval) is asserted in test_election.py."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from vrrp.vrrpkit import make_settings

from vipkeeper.daemon.registry import Registry
from vipkeeper.daemon.scheduler import REHEARSAL_ROOM, TAKEOVER_LEAD, Scheduler
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.state import State


class Core:
    settings = None  # what a rehearsal's copy shares with the core

    def __init__(self, state: State, at: float | None) -> None:
        self.state = state
        self.at = at
        self.rehearsed: list[float] = []

    def get_timer(self) -> float | None:
        return self.at

    def handle_timer(self, now: float) -> list[Any]:
        self.rehearsed.append(now)  # on the rehearsal's copy only
        return []


class Clock:
    """The loop's clock: each reading is `step` after the last, so no test depends on speed."""

    def __init__(self, step: float = 10e-6) -> None:
        self.now = 1000.0
        self.step = step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


class Sock:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock

    def fileno(self) -> int:
        return self.sock.fileno()


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    b.setblocking(False)
    yield a, b
    a.close()
    b.close()


def daemon(
    cores: dict[str, Core], sock: socket.socket, on_readable: Any, clock: Clock | None = None
) -> Scheduler:
    def read(sock: Sock, first: float | None) -> None:
        assert first is None, "a datagram read while waiting counts from when it is read"
        on_readable(sock)

    return Scheduler(
        clock=clock or Clock(),
        registry=Registry({n: SimpleNamespace(name=n, core=c) for n, c in cores.items()}),  # type: ignore[misc]
        timer=None,  # type: ignore[arg-type]
        run=None,  # type: ignore[arg-type]
        sockets={("eth0", 4): Sock(sock)},  # type: ignore[dict-item]
        read=read,  # type: ignore[arg-type]
    )


def test_only_a_backup_timer_within_the_lead_is_a_takeover(pair: Any) -> None:
    now = 1000.0
    cores = {
        "master": Core(State.MASTER, now + TAKEOVER_LEAD / 4),
        "far": Core(State.BACKUP, now + 1.0),
        "fault": Core(State.FAULT, None),
    }
    d = daemon(cores, pair[1], lambda _s: None)
    assert d.next_takeover(now) is None
    cores["soon"] = Core(State.BACKUP, now + TAKEOVER_LEAD / 2)
    cores["sooner"] = Core(State.BACKUP, now + TAKEOVER_LEAD / 3)
    d = daemon(cores, pair[1], lambda _s: None)
    assert d.next_takeover(now) == now + TAKEOVER_LEAD / 3


def test_the_wait_ends_at_the_deadline_never_before(pair: Any) -> None:
    clock = Clock()
    at = clock.now + TAKEOVER_LEAD
    d = daemon({"b": Core(State.BACKUP, at)}, pair[1], lambda _s: pytest.fail("no datagram"), clock)
    reached = d.wait_for_takeover(at)
    assert reached is not None and reached >= at


def test_an_advert_in_the_last_moment_cancels_the_takeover(pair: Any) -> None:
    sender, receiver = pair
    clock = Clock()
    core = Core(State.BACKUP, clock.now + TAKEOVER_LEAD)
    read: list[bytes] = []

    def on_readable(sock: Sock) -> None:
        read.append(sock.sock.recv(100))
        core.at = clock.now + 1.0  # the master's advert re-arms the down timer

    d = daemon({"b": core}, receiver, on_readable, clock)
    sender.send(b"advert")
    assert d.wait_for_takeover(core.at) is None
    assert read == [b"advert"]


def test_an_advert_for_another_instance_keeps_the_takeover(pair: Any) -> None:
    sender, receiver = pair
    clock = Clock()
    at = clock.now + TAKEOVER_LEAD
    core = Core(State.BACKUP, at)
    read: list[bytes] = []
    d = daemon({"b": core}, receiver, lambda sock: read.append(sock.sock.recv(100)), clock)
    sender.send(b"other")
    reached = d.wait_for_takeover(at)
    assert read == [b"other"]
    assert reached is not None and reached >= at


def test_a_rehearsal_leaves_the_core_as_it_was(pair: Any) -> None:
    core = VrrpInstance(make_settings())
    core.start(0.0)
    at = core.get_timer()
    assert core.state is State.BACKUP and at is not None
    before = (core.state, core.get_timer(), core.stats, core.current_master, core.master_adv_int)
    stats = dataclasses.asdict(core.stats)
    d = daemon({"VI_1": core}, pair[1], lambda _s: pytest.fail("no datagram"))  # type: ignore[dict-item]
    d.rehearse(at)
    assert (
        core.state,
        core.get_timer(),
        core.stats,
        core.current_master,
        core.master_adv_int,
    ) == before
    assert dataclasses.asdict(core.stats) == stats
    # The real takeover then runs as ever: one advert, the VIP, the notify.
    actions = core.handle_timer(at)
    assert core.state is State.MASTER
    assert [type(a).__name__ for a in actions][:3] == ["StateChanged", "SendAdvert", "AddVips"]


def test_a_failing_rehearsal_changes_nothing(pair: Any) -> None:
    class Uncopyable(Core):
        def __deepcopy__(self, memo: Any) -> Any:
            raise TypeError("cannot copy")

    clock = Clock()
    at = clock.now + TAKEOVER_LEAD
    core = Uncopyable(State.BACKUP, at)
    d = daemon({"b": core}, pair[1], lambda _s: pytest.fail("no datagram"), clock)
    reached = d.wait_for_takeover(at)
    assert reached is not None and reached >= at


def test_rehearsals_stop_when_the_room_runs_out(pair: Any) -> None:
    copies: list[str] = []

    class Counted(Core):
        def __deepcopy__(self, memo: Any) -> Any:
            copies.append("copy")
            return Core(self.state, self.at)

    clock = Clock(step=REHEARSAL_ROOM / 3)  # each reading of the clock costs a third of the room
    at = clock.now + TAKEOVER_LEAD
    cores = {f"VI_{n}": Counted(State.BACKUP, at) for n in range(20)}  # a sync group, say
    d = daemon(cores, pair[1], lambda _s: pytest.fail("no datagram"), clock)
    d.rehearse(at)
    assert 1 <= len(copies) < 20
    assert at - clock.now < REHEARSAL_ROOM + clock.step  # stopped once the room ran out
