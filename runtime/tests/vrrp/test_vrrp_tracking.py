"""keepalived's weight semantics for tracked scripts, interfaces and files."""

from __future__ import annotations

import pytest
from vrrpkit import make_settings

from vipkeeper.vrrp.settings import TrackFile, TrackInterface, TrackProcess, TrackScript
from vipkeeper.vrrp.tracking import evaluate


def one_script(weight: int, ok: bool, reverse: bool = False, base: int = 100) -> tuple[int, bool]:
    s = make_settings(priority=base, track_scripts=(TrackScript("s", weight, reverse),))
    r = evaluate(s, {"s": ok}, {}, {})
    return r.priority, bool(r.faults)


@pytest.mark.parametrize(
    ("weight", "ok", "reverse", "expected"),
    [
        (0, True, False, (100, False)),
        (0, False, False, (100, True)),
        (0, True, True, (100, True)),  # reverse: success counts as failure
        (0, False, True, (100, False)),
        (10, True, False, (110, False)),  # >0 added while succeeding
        (10, False, False, (100, False)),
        # reverse multiplies the weight by -1 (keepalived's weight_multiplier), and the weight
        # still applies while succeeding for > 0 and while failing for < 0
        (10, True, True, (90, False)),
        (10, False, True, (100, False)),
        (-10, True, False, (100, False)),
        (-10, False, False, (90, False)),  # <0 subtracted while failing
        (-10, True, True, (100, False)),
        (-10, False, True, (110, False)),
    ],
)
def test_script_weights(weight: int, ok: bool, reverse: bool, expected: tuple[int, bool]) -> None:
    assert one_script(weight, ok, reverse) == expected


def test_interfaces_like_scripts() -> None:
    s = make_settings(
        track_interfaces=(
            TrackInterface("eth0"),
            TrackInterface("eth1", weight=-50),
            TrackInterface("eth2", weight=5),
        )
    )
    assert evaluate(s, {}, {"eth0": True, "eth1": True, "eth2": True}, {}).priority == 105
    r = evaluate(s, {}, {"eth0": True, "eth1": False, "eth2": False}, {})
    assert (r.priority, r.faults) == (50, ())
    assert evaluate(s, {}, {"eth0": False, "eth1": True, "eth2": True}, {}).faults == (
        "interface:eth0",
    )


@pytest.mark.parametrize(
    ("weight", "reverse", "value", "expected"),
    [
        (1, False, 0, (100, False)),
        (1, False, 20, (120, False)),
        (1, False, -20, (80, False)),
        (-2, False, 10, (80, False)),
        (-2, True, 10, (120, False)),
        (1, False, -253, (1, False)),  # -253 is not below -253: clamped, no fault
        (1, False, -254, (100, True)),  # below -253: FAULT
        (-1, False, 254, (100, True)),
        (0, False, 0, (100, False)),
        (0, False, 7, (100, True)),  # weight 0: non-zero means failure
    ],
)
def test_file_values(weight: int, reverse: bool, value: int, expected: tuple[int, bool]) -> None:
    s = make_settings(track_files=(TrackFile("f", weight, reverse),))
    r = evaluate(s, {}, {}, {"f": value})
    assert (r.priority, bool(r.faults)) == expected


def test_clamped_to_1_254() -> None:
    assert one_script(200, True) == (254, False)
    assert one_script(-200, False) == (1, False)
    assert one_script(100, True, base=154) == (254, False)
    assert one_script(-99, False, base=100) == (1, False)
    assert one_script(-98, False, base=100) == (2, False)


def test_owner_is_never_adjusted_but_can_fault() -> None:
    assert one_script(-50, False, base=255) == (255, False)
    assert one_script(50, True, base=255) == (255, False)
    assert one_script(0, False, base=255) == (255, True)


def test_weights_add_up() -> None:
    s = make_settings(
        track_scripts=(TrackScript("a", 10), TrackScript("b", -20)),
        track_files=(TrackFile("f", 3),),
    )
    assert evaluate(s, {"a": True, "b": False}, {}, {"f": 4}).priority == 100 + 10 - 20 + 12


@pytest.mark.parametrize(
    ("weight", "up", "reverse", "expected"),
    [  # keepalived's vrrp_track_process: reverse multiplies the weight by -1
        (0, True, False, (100, False)),
        (0, False, False, (100, True)),
        (0, True, True, (100, True)),
        (0, False, True, (100, False)),
        (10, True, False, (110, False)),
        (10, False, False, (100, False)),
        (10, True, True, (90, False)),
        (10, False, True, (100, False)),
        (-10, True, False, (100, False)),
        (-10, False, False, (90, False)),
        (-10, True, True, (100, False)),
        (-10, False, True, (110, False)),
    ],
)
def test_process_weights(weight: int, up: bool, reverse: bool, expected: tuple[int, bool]) -> None:
    s = make_settings(priority=100, track_processes=(TrackProcess("p", weight, reverse),))
    r = evaluate(s, {}, {}, {}, {"p": up})
    assert (r.priority, bool(r.faults)) == expected


def test_process_state_moves_the_instance() -> None:
    from vipkeeper.vrrp.instance import VrrpInstance

    s = make_settings(priority=100, track_processes=(TrackProcess("p", 0, initially_up=False),))
    core = VrrpInstance(s)
    core.start(0.0)
    assert core.state.value == "FAULT"
    core.set_process_state("p", True, 1.0)
    assert core.state.value != "FAULT"
    core.set_process_state("p", False, 2.0)
    assert core.state.value == "FAULT"
