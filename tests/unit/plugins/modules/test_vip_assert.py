"""vip_assert backend: one holder per VIP; split brain, no master and the rest named with hosts."""

from __future__ import annotations

from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.placement import check


def info(held: bool, state: str = "BACKUP", running: bool = True) -> dict[str, Any]:
    """A vip_info result for one host and the VIP 10.0.0.100."""
    row = {"address": "10.0.0.100", "instance": "web", "state": state, "held": held}
    return {
        "running": running,
        "error": None if running else "cannot reach vipkeeper",
        "vips": [row],
        "held": ["10.0.0.100"] if held else [],
    }


def test_one_holder_passes_and_names_it() -> None:
    rows, problems = check({"lb1": info(True, "MASTER"), "lb2": info(False)})
    assert problems == []
    assert rows == [
        {
            "vip": "10.0.0.100",
            "holders": ["lb1"],
            "holder": "lb1",
            "masters": ["lb1"],
            "faults": [],
            "expected": None,
            "status": "ok",
        }
    ]


def test_split_brain_names_both_hosts() -> None:
    rows, problems = check({"lb1": info(True, "MASTER"), "lb2": info(True, "MASTER")})
    assert rows[0]["status"] == "split_brain" and rows[0]["holder"] is None
    assert [(p["kind"], p["hosts"]) for p in problems] == [("split_brain", ["lb1", "lb2"])]
    assert "split brain, held by lb1, lb2" in problems[0]["message"]


def test_no_holder_names_the_hosts_checked() -> None:
    rows, problems = check({"lb1": info(False, "FAULT"), "lb2": info(False)})
    assert rows[0]["status"] == "no_holder" and rows[0]["faults"] == ["lb1"]
    assert problems[0]["kind"] == "no_holder" and problems[0]["hosts"] == ["lb1", "lb2"]
    assert "no master" in problems[0]["message"]


def test_expected_holder_with_and_without_prefix() -> None:
    facts = {"lb1": info(True, "MASTER"), "lb2": info(False)}
    _rows, problems = check(facts, ["10.0.0.100/24"], {"10.0.0.100/24": "lb1"})
    assert problems == []
    _rows, problems = check(facts, ["10.0.0.100"], {"10.0.0.100": "lb2"})
    assert [(p["kind"], p["hosts"]) for p in problems] == [("unexpected_holder", ["lb1", "lb2"])]
    assert "held by lb1, expected lb2" in problems[0]["message"]


def test_holder_that_is_not_master_is_a_state_mismatch() -> None:
    rows, problems = check({"lb1": info(True, "BACKUP"), "lb2": info(False, "MASTER")})
    assert rows[0]["status"] == "state_mismatch"
    assert problems[0]["kind"] == "state_mismatch" and problems[0]["hosts"] == ["lb1", "lb2"]


def test_daemon_down_is_named_unless_not_required() -> None:
    facts = {"lb1": info(True, "MASTER"), "lb2": info(False, running=False)}
    _rows, problems = check(facts)
    assert [(p["kind"], p["hosts"]) for p in problems] == [("daemon_down", ["lb2"])]
    _rows, problems = check(facts, require_running=False)
    assert problems == []


def test_unknown_vip_is_no_holder() -> None:
    rows, problems = check({"lb1": info(True, "MASTER")}, ["10.0.0.200"])
    assert rows[0]["vip"] == "10.0.0.200" and problems[0]["kind"] == "no_holder"
