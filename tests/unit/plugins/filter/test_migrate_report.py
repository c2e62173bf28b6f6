"""The migration report (migrate_report, migrate_report_markdown): the client's probes of each
cluster's VIP, split by the steps of the rolling switch, against one handover."""

from __future__ import annotations

from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.filter.migrate_report import (
    FilterModule as Report,
)
from ansible_collections.vipkeeper.vrrp.plugins.filter.migrate_report_markdown import (
    FilterModule as Markdown,
)
from ansible_collections.vipkeeper.vrrp.plugins.filter.vrrp_plan import FilterModule as Plan
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.probe import analyze
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars

vrrp_plan = Plan().filters()["vrrp_plan"]
migrate_report = Report().filters()["migrate_report"]
migrate_report_markdown = Markdown().filters()["migrate_report_markdown"]

HOSTS = ["lb1", "lb2", "lb3"]
HOSTVARS = {
    h: hostvars(h, {"eth0": (f"10.213.5.{10 + i}/24", None)}) for i, h in enumerate(HOSTS, 1)
}
T0 = 1796320000.0
INTERVAL = 0.1


def plan(hosts: list[str], **extra: Any) -> dict[str, Any]:
    cluster = {"name": "web", "hosts": hosts, "interface": "eth0", "vips": ["10.213.5.100/24"]}
    return vrrp_plan([{**cluster, **extra}], HOSTVARS)


def probe(seconds: float, lost: list[tuple[float, float]]) -> dict[str, Any]:
    """vip_probe's result: a probe every 0.1 s from T0 for `seconds`, lost within each span."""
    records = []
    for seq in range(round(seconds / INTERVAL)):
        at = round(T0 + seq * INTERVAL, 3)
        ok = not any(round(a / INTERVAL) <= seq < round(b / INTERVAL) for a, b in lost)
        records.append({"seq": seq, "at": at, "ok": ok, "rtt_ms": 0.2 if ok else None})
    result = analyze(records, INTERVAL)
    result.update(mode="icmp", interval=INTERVAL, started_at=T0, ended_at=T0 + seconds)
    return result


def step(
    host: str, began: float, ended: float, handover: bool = False, **extra: Any
) -> dict[str, Any]:
    return {"host": host, "from": "keepalived", "to": "vipkeeper", "switch": True,
            "handover": ["web"] if handover else [], "clusters": ["web"],
            "began": T0 + began, "ended": T0 + ended, **extra}  # fmt: skip


def report(
    p: dict[str, Any], result: dict[str, Any], steps: list[dict[str, Any]], **kw: Any
) -> dict[str, Any]:
    probes = [{"cluster": "web", "vip": "10.213.5.100", "mode": "icmp", "interval": INTERVAL,
               "result": result}]  # fmt: skip
    return migrate_report(p, probes, steps, started_at="20261203T190000Z",
                          migrate_from="keepalived", migrate_to="vipkeeper", client="client",
                          **kw)  # fmt: skip


def test_backup_loses_nothing_master_one_handover() -> None:
    # lb2 (priority 140) switches first, then lb1 (150) hands over: 6 probes lost in lb1's turn
    out = report(plan(["lb1", "lb2"]), probe(40, [(25.0, 25.6)]),
                 [step("lb2", 5, 15), step("lb1", 20, 32, handover=True)])  # fmt: skip
    (web,) = out["clusters"]
    assert web["verdict"] == "pass", web["problems"]
    assert web["fault"] == "migrate" and out["fault"] == "migrate"
    assert [s["host"] for s in web["steps"]] == ["lb2", "lb1"]
    assert [s["action"] for s in web["steps"]] == [
        "keepalived -> vipkeeper",
        "handover, keepalived -> vipkeeper",
    ]
    assert [s["lost_probes"] for s in web["steps"]] == [0, 6]
    assert [s["longest_gap_seconds"] for s in web["steps"]] == [0.0, 0.6]
    assert web["lost_probes"] == 6 and web["probes_sent"] == 400
    assert web["client_outage_seconds"] == 0.6
    assert web["client_total_outage_seconds"] == 0.6
    assert web["outside_steps"] == []
    # one handover: lb2 (140) takes over after (256 - 140) / 256 x 1 s, plus a probe and 1 s
    assert web["bound"]["takes_over"] == "lb2" and web["bound"]["master"] == "lb1"
    assert web["bound"]["skew_seconds"] == 0.453
    assert web["slo_seconds"] == web["bound"]["seconds"] == 1.553
    assert web["old_master"] == "lb1" and web["new_master"] == "lb2"
    assert out["slo_seconds"] == 1.553
    assert [s["host"] for s in out["steps"]] == ["lb2", "lb1"]


def test_more_than_one_handover_fails() -> None:
    out = report(plan(["lb1", "lb2"]), probe(40, [(25.0, 27.0)]),
                 [step("lb2", 5, 15), step("lb1", 20, 32, handover=True)])  # fmt: skip
    (web,) = out["clusters"]
    assert web["verdict"] == "fail"
    assert web["problems"] == ["the client lost 2.0s (20 probes), more than one handover (1.553s)"]
    assert web["steps"][1]["longest_gap_seconds"] == 2.0


def test_losses_add_up_across_steps_and_outside_them() -> None:
    # 0.5 s in lb2's turn, 0.6 s in lb1's and 0.5 s between the turns: 1.6 s > 1.553 s
    out = report(plan(["lb1", "lb2"]), probe(40, [(10.0, 10.5), (17.0, 17.5), (25.0, 25.6)]),
                 [step("lb2", 5, 15), step("lb1", 20, 32, handover=True)])  # fmt: skip
    (web,) = out["clusters"]
    assert [s["lost_probes"] for s in web["steps"]] == [5, 6]
    assert [w["lost"] for w in web["outside_steps"]] == [5]
    assert web["client_total_outage_seconds"] == 1.6
    assert web["client_outage_seconds"] == 0.6
    assert web["verdict"] == "fail"


def test_three_nodes_the_best_backup_bounds_the_handover() -> None:
    # priorities 150, 140, 130: lb2 takes over from lb1
    steps = [step("lb3", 20, 30), step("lb2", 5, 15), step("lb1", 40, 52, handover=True)]
    out = report(plan(["lb1", "lb2", "lb3"]), probe(60, [(45.0, 45.5)]), steps)
    (web,) = out["clusters"]
    assert [s["host"] for s in web["steps"]] == ["lb2", "lb3", "lb1"]
    assert web["bound"]["takes_over"] == "lb2" and web["bound"]["priority"] == 140
    assert web["verdict"] == "pass"
    # without a handover step, the master is the plan's first host
    quiet = report(plan(["lb1", "lb2", "lb3"]), probe(10, []), [step("lb3", 2, 5)])
    assert quiet["clusters"][0]["bound"]["master"] == "lb1"
    assert quiet["clusters"][0]["verdict"] == "pass"
    assert quiet["clusters"][0]["steps"][0]["longest_gap_seconds"] == 0.0


def test_slack_and_advert_int_set_the_bound() -> None:
    out = report(plan(["lb1", "lb2"], advert_int=2), probe(10, []),
                 [step("lb1", 2, 5, handover=True)], slack=0.5)  # fmt: skip
    bound = out["clusters"][0]["bound"]
    assert bound["advert_int"] == 2.0 and bound["skew_seconds"] == 0.906
    assert bound["seconds"] == 1.506


def test_no_probe_result_or_no_recovery_fails() -> None:
    failed = report(plan(["lb1", "lb2"]), {"failed": True, "msg": "permission denied"},
                    [step("lb1", 2, 5, handover=True)])  # fmt: skip
    web = failed["clusters"][0]
    assert web["verdict"] == "fail"
    assert web["problems"] == ["no probe result: permission denied"]
    assert web["lost_probes"] is None and web["steps"][0]["lost_probes"] is None
    # the client lost the VIP and never got it back before the probes ended
    gone = report(
        plan(["lb1", "lb2"]), probe(10, [(3.0, 99.0)]), [step("lb1", 2, 5, handover=True)]
    )
    web = gone["clusters"][0]
    assert web["verdict"] == "fail"
    assert "the client had not reached the VIP again when the probes ended" in web["problems"]
    assert web["client_outage_seconds"] is None
    assert web["steps"][0]["longest_gap_seconds"] is None
    # a cluster no step touched
    idle = report(plan(["lb1", "lb2"]), probe(10, []), [])
    assert idle["clusters"][0]["problems"] == ["no step of the rolling switch touched this cluster"]


def test_restart_steps_and_string_times() -> None:
    # Ansible before 2.19 templates the times as strings; a restart is not a switch
    steps = [{"host": "lb1", "from": "vipkeeper", "to": "vipkeeper", "switch": False,
              "handover": ["web"], "clusters": ["web"],
              "began": str(T0 + 2), "ended": str(T0 + 5)}]  # fmt: skip
    out = report(plan(["lb1", "lb2"]), probe(10, [(3.0, 3.5)]), steps)
    (row,) = out["clusters"][0]["steps"]
    assert row["action"] == "handover, restart vipkeeper"
    assert row["lost_probes"] == 5 and row["seconds"] == 3.0


def test_markdown() -> None:
    out = report(plan(["lb1", "lb2"]), probe(40, [(25.0, 25.6)]),
                 [step("lb2", 5, 15), step("lb1", 20, 32, handover=True)])  # fmt: skip
    text = migrate_report_markdown(out)
    assert text.startswith("# vipkeeper migration 20261203T190000Z\n")
    assert "From keepalived to vipkeeper" in text
    assert "Probes: icmp every 0.1 s from client." in text
    assert "| web | pass | 10.213.5.100 | 6/400 | 0.6 | 0.6 | 1.553 |" in text
    assert "| 1 | lb2 | keepalived -> vipkeeper | 5.0 | 10.0 | 0 | 0.0 |" in text
    assert "| 2 | lb1 | handover, keepalived -> vipkeeper | 20.0 | 12.0 | 6 | 0.6 |" in text
    assert "lb2 (priority 140) takes over from lb1 after its skew time 0.453 s" in text
    # losses outside the steps get a row, and problems are listed
    bad = report(plan(["lb1", "lb2"]), probe(40, [(17.0, 19.0)]),
                 [step("lb2", 5, 15), step("lb1", 20, 32, handover=True)])  # fmt: skip
    text = migrate_report_markdown(bad)
    assert "| - | - | outside the steps | - | - | 20 | 2.0 |" in text
    assert "**web**: the client lost 2.0s (20 probes), more than one handover (1.553s)" in text


def test_bad_input() -> None:
    with pytest.raises(AnsibleFilterError):
        migrate_report([], [], [], started_at="x", migrate_from="a", migrate_to="b")
    with pytest.raises(AnsibleFilterError):
        migrate_report({}, {}, [], started_at="x", migrate_from="a", migrate_to="b")
    with pytest.raises(AnsibleFilterError):
        migrate_report_markdown("report")
