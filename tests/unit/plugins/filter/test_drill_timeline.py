"""The drill report as a picture (drill_timeline_svg) on drill reports recorded in the lab.

fixtures/drill-*.json are real reports of the drill role (kill with ICMP probes, stop with HTTP
probes) on a two-host vipkeeper cluster of the nspawn lab; the SVG is checked as XML: the lanes,
the probe runs, the VIP holders and the marks where the record puts them.
"""

from __future__ import annotations

import copy
import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.filter.drill_timeline_svg import FilterModule
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper import drilltimeline

drill_timeline_svg = FilterModule().filters()["drill_timeline_svg"]
NS = {"s": "http://www.w3.org/2000/svg"}
RECORDED = sorted((Path(__file__).parent / "fixtures").glob("drill-*.json"))


def parse(text: str) -> ET.Element:
    root = ET.fromstring(text)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def of_class(root: ET.Element, tag: str, cls: str) -> list[ET.Element]:
    return [e for e in root.iter(f"{{{NS['s']}}}{tag}") if e.get("class") == cls]


def texts(root: ET.Element) -> list[str]:
    return [e.text or "" for e in root.iter(f"{{{NS['s']}}}text")]


def x_of(cluster: dict[str, Any], root: ET.Element) -> Any:
    """Unix time to x as the picture drew it, from its axis ticks (seconds from the fault)."""
    ticks = {
        float(e.text.replace(" s", "")): float(e.get("x", "nan"))
        for e in root.iter(f"{{{NS['s']}}}text")
        if e.get("class") == "tick" and e.text
    }
    assert 0.0 in ticks and len(ticks) >= 3, ticks
    last = max(ticks)
    scale = (ticks[last] - ticks[0.0]) / last
    return lambda t: ticks[0.0] + (t - cluster["injected_at"]) * scale


def test_there_are_recorded_reports() -> None:
    assert len(RECORDED) >= 2, "the recorded drill reports are missing"


@pytest.mark.parametrize("path", RECORDED, ids=[p.stem for p in RECORDED])
def test_a_recorded_drill_draws_probes_holders_and_marks(path: Path) -> None:
    report = json.loads(path.read_text())
    [cluster] = report["clusters"]
    assert cluster["verdict"] == "pass" and cluster["injected_at"] is not None
    root = parse(drill_timeline_svg(report))
    assert int(root.get("height", "0")) > 200 and root.get("width") == str(drilltimeline.WIDTH)

    words = texts(root)
    assert f"client ({cluster['probe_mode']})" in words
    for host in cluster["hosts"]:
        assert f"VIP on {host}" in words
    headline = [t for t in words if t.startswith(f"cluster {cluster['cluster']}: PASS")]
    assert headline and f"{cluster['fault']} on {cluster['old_master']}" in headline[0]
    figures = next(t for t in words if t.startswith("detection "))
    assert f"client outage {cluster['client_outage_seconds']:.1f} s" in figures
    assert f"({cluster['lost_probes']} of {cluster['probes_sent']} " in figures

    # one rectangle per run of the client's timeline (and per loss window after the restore)
    runs = cluster["client_timeline"]
    after = cluster["client_after_restore"]["windows"]
    lost = of_class(root, "rect", "probe-lost")
    assert len(lost) == sum(r["state"] == "lost" for r in runs) + len(after)
    assert len(of_class(root, "rect", "probe-ok")) == sum(r["state"] == "ok" for r in runs)
    counts = [int(re.match(r"\d+", e.findtext("s:title", "", NS)).group()) for e in lost]
    assert sum(counts[: len(lost) - len(after)]) == cluster["lost_probes"]

    # the marks, in the order of the record, where its times put them
    marks = {
        name: float(lines[0].get("x1", "nan"))
        for name in ("fault", "master", "vip", "restore")
        if (lines := of_class(root, "line", f"mark-{name}"))
    }
    # (the new master's MASTER and the VIP's creation are within milliseconds, either order)
    assert marks["fault"] < marks["master"] and marks["fault"] < marks["vip"]
    x = x_of(cluster, root)
    assert marks["master"] == pytest.approx(x(cluster["became_master_at"]), abs=0.2)
    # a kill needs no restore (systemd restarts the daemon): no restore mark then
    assert ("restore" in marks) is (cluster["restored_at"] is not None)
    if cluster["restored_at"] is not None:
        assert marks["restore"] == pytest.approx(x(cluster["restored_at"]), abs=0.2)
        assert marks["restore"] > marks["vip"]
    # the first lost probe where the record puts it
    first_lost = min(r["from"] for r in runs if r["state"] == "lost")
    assert float(lost[0].get("x", "nan")) == pytest.approx(x(first_lost), abs=0.2)

    # the VIP: the old master until the fault, the new master from the VIP's creation, the
    # final holder after the restore and at the final check
    by_title = {e.findtext("s:title", "", NS): e for e in of_class(root, "rect", "holder")}
    old = by_title.pop(f"{cluster['old_master']} holds the VIP until the fault")
    assert float(old.get("x", "0")) + float(old.get("width", "0")) == pytest.approx(
        marks["fault"], abs=0.2
    )
    new = by_title.pop(f"{cluster['new_master']} holds the VIP (added by the kernel)")
    assert float(new.get("x", "0")) == pytest.approx(marks["vip"], abs=0.2)
    after_restore = f"{cluster['final_holder']} holds the VIP after the restore"
    if cluster["restored_at"] is not None:
        assert float(by_title.pop(after_restore).get("x", "nan")) >= marks["restore"] - 0.2
    assert by_title == {}
    [unknown] = of_class(root, "rect", "unknown")  # the old master between fault and move
    assert float(unknown.get("x", "nan")) == pytest.approx(marks["fault"], abs=0.2)
    [final] = of_class(root, "rect", "final")
    assert (
        final.findtext("s:title", "", NS) == f"{cluster['final_holder']} holds the VIP at the end"
    )
    # each on its host's lane: the lanes in the cluster's order
    lane_y = {h: i for i, h in enumerate(cluster["hosts"])}
    ys = {
        cluster["old_master"]: float(old.get("y", "0")),
        cluster["new_master"]: float(new.get("y", "0")),
    }
    assert sorted(ys, key=ys.__getitem__) == sorted(ys, key=lane_y.__getitem__)
    assert float(final.get("y", "0")) == ys[cluster["final_holder"]]


def test_a_refused_drill_draws_its_probes_and_says_so() -> None:
    report = json.loads(RECORDED[0].read_text())
    cluster = report["clusters"][0]
    cluster.update(
        verdict="refused", injected_at=None, restored_at=None, became_master_at=None,
        vip_added_at=None, new_master=None, problems=["split brain: lb1 and lb2 hold 10.0.0.1"],
    )  # fmt: skip
    root = parse(drill_timeline_svg(report))
    words = texts(root)
    assert any(t.endswith("REFUSED - no fault injected") for t in words)
    assert "split brain: lb1 and lb2 hold 10.0.0.1" in words
    assert not of_class(root, "line", "mark-fault") and not of_class(root, "line", "mark-restore")
    assert of_class(root, "rect", "probe-ok")
    assert "seconds" in words and "seconds from the fault" not in words


def test_names_are_escaped_and_empty_reports_still_draw() -> None:
    report = copy.deepcopy(json.loads(RECORDED[0].read_text()))
    report["clusters"][0]["cluster"] = "<web & 'db'>"
    root = parse(drill_timeline_svg(report))
    assert any(t.startswith("cluster <web & 'db'>: PASS") for t in texts(root))
    assert "no cluster was drilled" in texts(parse(drill_timeline_svg({"clusters": []})))
    bare = {"clusters": [{"cluster": "x", "verdict": "fail", "injected_at": None}]}
    assert "no probe result and no event to draw" in texts(parse(drill_timeline_svg(bare)))


@pytest.mark.parametrize("bad", [None, [], "text", {"clusters": "web"}])
def test_the_filter_wants_a_report(bad: Any) -> None:
    with pytest.raises(AnsibleFilterError, match="expects the drill's report"):
        drill_timeline_svg(bad)
