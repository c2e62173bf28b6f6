"""The metric families of a status snapshot: the split-brain and SMTP figures are exported.

Pure: a hand-made snapshot in the shape daemon/dumps.py gives (the namespace tests in
test_systemd_metrics.py scrape a real daemon)."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("prometheus_client")  # the [metrics] extra; `make deps` installs it

from vipkeeper.daemon.metricset import families


def snapshot() -> dict[str, Any]:
    counters = {"adverts_sent": 3, "adverts_received": 0}
    counters |= {"priority_zero_received": 0, "priority_zero_sent": 0}
    return {
        "version": "0.0.0",
        "started_at": 1.0,
        "counters": {"smtp_sent": 2, "smtp_failed": 1, "smtp_dropped": 0, "vip_conflicts": 1,
                     "vip_conflict_answers": 4, "takeovers_held": 0},
        "instances": [
            {"name": "VI_1", "vrid": 51, "interface": "eth0", "family": 4, "state": "MASTER",
             "base_priority": 150, "effective_priority": 150, "counters": counters,
             "conflicts": [{"address": "10.0.0.100", "mac": "02:00:00:00:00:09",
                            "interface": "eth1"}]},
        ],
    }  # fmt: skip


def samples() -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in families(snapshot()):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def test_the_conflict_gauge_names_the_other_mac_and_where_it_was_heard() -> None:
    labels = {"vrrp_instance": "VI_1", "vrid": "51", "interface": "eth0", "family": "ipv4"}
    labels |= {"address": "10.0.0.100", "mac": "02:00:00:00:00:09", "vip_interface": "eth1"}
    assert samples()[("vipkeeper_vip_conflict", tuple(sorted(labels.items())))] == 1.0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("vipkeeper_smtp_alerts_sent_total", 2),
        ("vipkeeper_smtp_alerts_failed_total", 1),
        ("vipkeeper_smtp_alerts_dropped_total", 0),
        ("vipkeeper_vip_conflicts_total", 1),
        ("vipkeeper_vip_conflict_answers_total", 4),
        ("vipkeeper_takeovers_held_total", 0),
    ],
)
def test_daemon_counters_are_exported(name: str, value: int) -> None:
    assert samples()[(name, ())] == value
