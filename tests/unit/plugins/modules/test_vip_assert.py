"""vip_assert backend: one holder per VIP; split brain, no master and the rest named with hosts."""

from __future__ import annotations

from typing import Any

import pytest

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


# --- the addresses the hosts carry, whatever the daemons say ------------------------------------


def carrying(*addresses: str, running: bool = True) -> dict[str, Any]:
    """A vip_info result whose daemon lists no VIP, on a host that carries `addresses`."""
    return {
        "running": running,
        "error": None,
        "vips": [],
        "held": [],
        "addresses": [
            {"address": "10.0.0.11", "prefix": 24, "interface": "eth0"},
            *({"address": a, "prefix": 32, "interface": "eth0"} for a in addresses),
        ],
    }


PLAN = {
    "clusters": {
        "web": {"hosts": ["lb1", "lb2"], "instances": [{"vips": ["10.0.0.100/24"]}]},
        "db": {"hosts": ["db1", "db2"], "instances": [{"vips": ["10.0.9.9/24"]}]},
    }
}


def test_a_vip_two_hosts_carry_is_split_brain_though_no_daemon_lists_it() -> None:
    facts = {"lb1": carrying("10.0.0.100"), "lb2": carrying("10.0.0.100")}
    rows, problems = check(facts, plan=PLAN)
    assert [r["vip"] for r in rows] == ["10.0.0.100"]  # db's hosts are not in facts
    assert rows[0]["status"] == "split_brain" and rows[0]["holders"] == ["lb1", "lb2"]
    assert [(p["kind"], p["hosts"]) for p in problems] == [("split_brain", ["lb1", "lb2"])]
    # the same with the VIP given: the daemons' rows do not decide who holds it
    rows, problems = check(facts, ["10.0.0.100"])
    assert rows[0]["status"] == "split_brain"
    # without a plan or vips, nothing names the VIP, so the hosts' addresses are not guessed at
    assert check(facts) == ([], [])


def test_plan_vips_are_checked_besides_the_daemons() -> None:
    """lb1's daemon lists the VIP and holds it; lb2 carries it too, its daemon says nothing."""
    facts = {"lb1": info(True, "MASTER"), "lb2": carrying("10.0.0.100")}
    _rows, problems = check(facts)
    assert [p["kind"] for p in problems] == ["split_brain"]
    rows, problems = check({"lb1": carrying(), "lb2": carrying()}, plan=PLAN)
    assert rows[0]["status"] == "no_holder" and problems[0]["kind"] == "no_holder"
    rows, problems = check({"lb1": carrying("10.0.0.100"), "lb2": carrying()}, plan=PLAN)
    assert rows[0]["holders"] == ["lb1"] and rows[0]["status"] == "state_mismatch"


def test_a_plan_that_is_not_one_is_refused() -> None:
    with pytest.raises(TypeError, match="vrrp_plan"):
        check({"lb1": carrying()}, plan={"web": {}})
