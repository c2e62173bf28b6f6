"""track_process without the kernel: the event decoder, the matcher, the counting and delays."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper.checks.trackproc import ProcessTracker, ProcInfo, matches, read_proc
from vipkeeper.config.model import ParamMatch, TrackProcess
from vipkeeper.net import procevents as pe


def _message(what: int, payload: bytes, *, idx: int = pe.CN_IDX_PROC) -> bytes:
    event = struct.pack("=IIQ", what, 0, 123) + payload
    cn = struct.pack("=IIIIHH", idx, pe.CN_VAL_PROC, 7, 0, len(event), 0) + event
    return struct.pack("=IHHII", 16 + len(cn), pe.NLMSG_DONE, 0, 0, 0) + cn


def test_subscription_is_the_connector_listen_message() -> None:
    msg = pe.subscription(True)
    assert struct.unpack_from("=IHHII", msg)[:2] == (len(msg), pe.NLMSG_DONE)
    assert struct.unpack_from("=IIIIHH", msg, 16) == (1, 1, 0, 0, 4, 0)
    assert struct.unpack_from("=I", msg, 36) == (pe.PROC_CN_MCAST_LISTEN,)


def test_events_decode() -> None:
    fork = _message(pe.PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 11, 11))
    assert pe.parse_event(fork) == pe.Fork(10, 11)
    assert pe.parse_event(_message(pe.PROC_EVENT_EXEC, struct.pack("=ii", 5, 5))) == pe.Exec(5)
    assert pe.parse_event(_message(pe.PROC_EVENT_EXIT, struct.pack("=iiII", 5, 5, 0, 17))) == (
        pe.Exit(5)
    )
    comm = _message(pe.PROC_EVENT_COMM, struct.pack("=ii", 6, 6) + b"worker\0".ljust(16, b"\0"))
    assert pe.parse_event(comm) == pe.Comm(6, "worker")
    assert pe.parse_event(_message(pe.PROC_EVENT_NONE, b"\0" * 8)) == pe.Listening()


def test_threads_and_strangers_are_not_events() -> None:
    thread = _message(pe.PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 12, 11))
    assert pe.parse_event(thread) is None
    assert pe.parse_event(_message(pe.PROC_EVENT_EXIT, struct.pack("=iiII", 6, 5, 0, 0))) is None
    other = _message(pe.PROC_EVENT_EXEC, struct.pack("=ii", 5, 5), idx=2)
    assert pe.parse_event(other) is None


@pytest.mark.parametrize("cut", [0, 1, 15, 16, 35, 36, 52, 55])
def test_truncated_or_garbled_datagrams_never_raise(cut: int) -> None:
    full = _message(pe.PROC_EVENT_FORK, struct.pack("=iiii", 10, 10, 11, 11))
    assert pe.parse_event(full[:cut]) is None
    garbled = bytearray(full)
    garbled[0:4] = struct.pack("=I", 9999)  # a length beyond the datagram
    assert pe.parse_event(bytes(garbled)) is None


def test_reader_counts_and_drops_what_it_cannot_decode() -> None:
    seen: list[pe.ProcEvent] = []
    reader = pe.ProcEventReader(seen.append)

    class FakeSock:
        def __init__(self, datagrams: list[bytes]) -> None:
            self.datagrams = datagrams

        def recvfrom(self, size: int) -> tuple[bytes, tuple[int, int]]:
            if not self.datagrams:
                raise BlockingIOError
            return self.datagrams.pop(0), (0, 1)

    good = _message(pe.PROC_EVENT_EXEC, struct.pack("=ii", 5, 5))
    reader._sock = FakeSock([b"junk", good, good[:20]])  # type: ignore[assignment]
    reader._readable()
    assert seen == [pe.Exec(5)]
    assert reader.errors == 2 and reader.events == 1


def _spec(**kw: object) -> TrackProcess:
    return TrackProcess(name="p", **kw)  # type: ignore[arg-type]


def _argv(*words: str) -> ProcInfo:
    return ProcInfo(tuple(w.encode() for w in words), "sleep")


def test_comm_is_matched_unless_full_command() -> None:
    assert matches(_spec(process="sleep"), _argv("/usr/bin/sleep", "5"))
    assert not matches(_spec(process="sleepy"), _argv("/usr/bin/sleep", "5"))
    full = _spec(process="/usr/bin/sleep", full_command=True)
    assert matches(full, _argv("/usr/bin/sleep", "5"))
    assert not matches(full, _argv("sleep", "5"))


@pytest.mark.parametrize(
    ("match", "params", "argv", "expected"),
    [
        (ParamMatch.EXACT, ("5",), ("5",), True),
        (ParamMatch.EXACT, ("5",), ("5", "6"), False),
        (ParamMatch.EXACT, ("5",), ("50",), False),
        (ParamMatch.EXACT, (), (), True),
        (ParamMatch.EXACT, (), ("5",), False),
        (ParamMatch.PARTIAL, ("5",), ("5", "6"), True),
        (ParamMatch.PARTIAL, ("5",), ("50",), False),
        (ParamMatch.PARTIAL, ("5", "6"), ("5",), False),
        (ParamMatch.INITIAL, ("5",), ("50",), True),
        (ParamMatch.INITIAL, ("5", "6"), ("5", "61", "x"), True),
        (ParamMatch.INITIAL, ("5", "6"), ("50", "6"), False),
        (ParamMatch.INITIAL, (), ("5",), True),
    ],
)
def test_param_match(
    match: ParamMatch, params: tuple[str, ...], argv: tuple[str, ...], expected: bool
) -> None:
    spec = _spec(process="/bin/x", params=params, param_match=match, full_command=True)
    assert matches(spec, _argv("/bin/x", *argv)) is expected


def test_read_proc_of_this_process() -> None:
    import os

    info = read_proc(os.getpid(), cmdline=True, comm=True)
    assert info is not None and info.argv and info.comm
    assert read_proc(2**22 + 1, cmdline=True, comm=True) is None


class Clock:
    """call_later for the tracker, run by hand."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], list[bool]]] = []

    def call_later(self, delay: float, fn: Callable[[], None]) -> Handle:
        flag = [False]
        self.timers.append((self.now + delay, fn, flag))
        return Handle(flag)

    def advance(self, to: float) -> None:
        self.now = to
        due = [t for t in self.timers if t[0] <= to and not t[2][0]]
        self.timers = [t for t in self.timers if t not in due]
        for _, fn, _flag in sorted(due, key=lambda t: t[0]):
            fn()


class Handle:
    def __init__(self, flag: list[bool]) -> None:
        self.flag = flag

    def cancel(self) -> None:
        self.flag[0] = True


def _proc_dir(tmp_path: Path, procs: dict[int, str]) -> str:
    for pid, comm in procs.items():
        d = tmp_path / str(pid)
        d.mkdir(exist_ok=True)
        (d / "cmdline").write_bytes(f"/usr/bin/{comm}\0".encode())
        (d / "stat").write_bytes(f"{pid} ({comm}) S 1 2 3".encode())
    return str(tmp_path)


def _tracker(
    tmp_path: Path, procs: dict[int, str], **kw: object
) -> tuple[ProcessTracker, list[tuple[str, bool]], Clock]:
    changes: list[tuple[str, bool]] = []
    clock = Clock()
    spec = _spec(process="nginx", **kw)
    t = ProcessTracker(
        [spec], lambda n, up: changes.append((n, up)), clock.call_later,
        proc_root=_proc_dir(tmp_path, procs),
    )  # fmt: skip
    t.scan()
    return t, changes, clock


def test_scan_then_quorum_follows_forks_and_exits(tmp_path: Path) -> None:
    t, changes, _ = _tracker(tmp_path, {10: "nginx", 11: "bash"}, quorum=2, quorum_max=3)
    assert t.count["p"] == 1 and t.up["p"] is False and changes == []
    t.handle(pe.Fork(10, 12))
    assert changes == [("p", True)]
    t.handle(pe.Fork(11, 13))  # a child of an uncounted process
    t.handle(pe.Fork(12, 14))
    t.handle(pe.Fork(12, 15))  # the fourth: above quorum_max
    assert changes[-1] == ("p", False) and t.count["p"] == 4
    t.handle(pe.Exit(15))
    assert changes[-1] == ("p", True)
    for pid in (14, 12, 13):
        t.handle(pe.Exit(pid))
    assert changes[-1] == ("p", False) and t.count["p"] == 1


def test_exec_and_comm_are_matched_again(tmp_path: Path) -> None:
    t, changes, _ = _tracker(tmp_path, {10: "bash"})
    assert t.up["p"] is False
    _proc_dir(tmp_path, {10: "nginx"})
    t.handle(pe.Exec(10))
    assert changes == [("p", True)]
    t.handle(pe.Comm(10, "nginx: worker"))
    assert changes[-1] == ("p", False)
    t.handle(pe.Comm(10, "nginx"))
    assert changes[-1] == ("p", True)
    t.handle(pe.Exec(10))  # the same program again: still counted once
    assert t.count["p"] == 1


def test_delays_wait_and_the_opposite_event_cancels(tmp_path: Path) -> None:
    t, changes, clock = _tracker(tmp_path, {10: "nginx"}, fork_delay=2.0, terminate_delay=3.0)
    assert t.up["p"] is True
    t.handle(pe.Exit(10))
    clock.advance(2.9)
    assert changes == []
    clock.advance(3.0)
    assert changes == [("p", False)]
    _proc_dir(tmp_path, {20: "nginx"})
    t.handle(pe.Exec(20))  # an exec is not a fork: at once
    assert changes[-1] == ("p", True)
    t.handle(pe.Exit(20))  # terminate_delay running...
    t.handle(pe.Exec(20))  # ...cancelled by the process coming back: no change at all
    clock.advance(10.0)
    assert changes == [("p", False), ("p", True)]


def test_lost_events_rescan_proc(tmp_path: Path) -> None:
    t, changes, clock = _tracker(tmp_path, {10: "nginx"})
    (tmp_path / "10" / "stat").write_bytes(b"10 (nginx) Z 1")  # now a zombie
    t.handle(pe.Lost())
    assert changes == []
    clock.advance(1.0)
    assert changes == [("p", False)]


def test_quorum_zero_is_up_without_processes(tmp_path: Path) -> None:
    t, changes, _ = _tracker(tmp_path, {}, quorum=0, quorum_max=0)
    assert t.up["p"] is True
    _proc_dir(tmp_path, {30: "nginx"})
    t.handle(pe.Exec(30))
    assert changes == [("p", False)]
