"""`vipkeeper status`'s table: the VIP conflicts section (docs/runtime.md, split-brain.md)."""

from __future__ import annotations

from typing import Any

from vipkeeper.daemon.statuscmd import format_table


def _instance(conflicts: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "name": "VI_1",
        "state": "MASTER",
        "effective_priority": 150,
        "base_priority": 150,
        "master_address": None,
        "vrid": 51,
        "interface": "eth0",
        "counters": {"adverts_sent": 5, "adverts_received": 0, "drops": {}},
        "last_transition": None,
        "conflicts": conflicts,
    }


def test_a_conflict_is_listed_with_the_other_mac() -> None:
    conflict = {
        "address": "10.0.0.100",
        "mac": "52:54:00:12:34:56",
        "interface": "eth0",
        "answers": 3,
        "first_seen_ago": 12.0,
        "last_seen_ago": 2.04,
    }
    text = format_table({"instances": [_instance([conflict])]})
    assert text.splitlines()[-2:] == [
        "VIP conflicts (split brain?):",
        "  VI_1: 10.0.0.100 also held by 52:54:00:12:34:56 on eth0 (3 answers, last 2.0s ago)",
    ]


def test_no_conflict_no_section() -> None:
    assert "conflict" not in format_table({"instances": [_instance([])]})
