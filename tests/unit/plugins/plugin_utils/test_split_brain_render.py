"""The split-brain settings in the render: the `vipkeeper { }` block, site-wide and per cluster,
for the vipkeeper daemon only; every bad value or disagreement is an error naming its place."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    plan,
    plan_from_dict,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import render_host
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hosts

LB = hosts({"lb1": "10.213.1.11/24", "lb2": "10.213.1.12/24", "lb3": "10.213.1.13/24"})


def cluster(name: str, vip: str, **kw: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"name": name, "hosts": ["lb1", "lb2"], "interface": "eth0"}
    base.update({"vips": [vip]}, **kw)
    return base


def block_of(text: str) -> list[str]:
    """The lines inside the rendered `vipkeeper {` block; [] when there is none."""
    lines = text.splitlines()
    if "vipkeeper {" not in lines:
        return []
    start = lines.index("vipkeeper {") + 1
    return [line.strip() for line in lines[start : lines.index("}", start)]]


def render_errors(clusters: list[dict[str, Any]], host: str = "lb1", **kw: Any) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        render_host(plan(clusters, LB), host, **kw)
    return info.value.errors


def plan_errors(clusters: list[dict[str, Any]]) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        plan(clusters, LB)
    return info.value.errors


def test_nothing_set_renders_no_block_for_either_daemon() -> None:
    the_plan = plan([cluster("web", "10.213.1.100/24")], LB)
    for daemon in ("vipkeeper", "keepalived"):
        text = render_host(the_plan, "lb1", daemon=daemon, split_brain={})
        assert "vipkeeper {" not in text
        assert text == render_host(the_plan, "lb1")


def test_site_wide_settings_render_the_block() -> None:
    site = {"conflict_interval": 2, "takeover_guard": 0.03, "conflict_detection": "report"}
    text = render_host(plan([cluster("web", "10.213.1.100/24")], LB), "lb1", split_brain=site)
    assert block_of(text) == [
        "conflict_detection report",
        "conflict_interval 2",
        "takeover_guard 0.03",
    ]
    assert "enable_script_security" not in text  # no hook, no script


def test_a_cluster_key_overrides_the_site_wide_one_on_its_hosts_only() -> None:
    clusters = [
        cluster("web", "10.213.1.100/24", split_brain={"takeover_guard": 0.05}),
        cluster("db", "10.213.1.101/24", hosts=["lb3", "lb2"]),
    ]
    the_plan = plan(clusters, LB)
    site = {"takeover_guard": "off", "conflict_interval": 10}
    assert block_of(render_host(the_plan, "lb1", split_brain=site)) == [
        "conflict_interval 10",
        "takeover_guard 0.05",
    ]
    assert block_of(render_host(the_plan, "lb3", split_brain=site)) == [
        "conflict_interval 10",
        "takeover_guard off",
    ]


def test_yaml_off_and_false_mean_off_and_agree_between_clusters() -> None:
    # `takeover_guard: off` in YAML 1.1 is false; 0 is off too: the same value everywhere.
    clusters = [
        cluster("web", "10.213.1.100/24", split_brain={"takeover_guard": False}),
        cluster("db", "10.213.1.101/24", split_brain={"takeover_guard": 0}),
        cluster("api", "10.213.1.102/24", split_brain={"conflict_detection": False}),
    ]
    text = render_host(plan(clusters, LB), "lb1")
    assert block_of(text) == ["conflict_detection off", "takeover_guard off"]


def test_two_clusters_of_one_host_that_disagree_are_named_at_plan_time() -> None:
    clusters = [
        cluster("web", "10.213.1.100/24", split_brain={"takeover_guard": 0.03}),
        cluster("db", "10.213.1.101/24", hosts=["lb2", "lb3"], split_brain={"takeover_guard": 0.1}),
    ]
    (error,) = plan_errors(clusters)
    assert error.startswith("host lb2: clusters ")
    assert "web" in error and "db" in error and "takeover_guard" in error
    assert "0.03" in error and "0.1" in error


def test_the_render_of_a_plan_dict_finds_a_disagreement_too() -> None:
    web = plan([cluster("web", "10.213.1.100/24", split_brain={"conflict_interval": 3})], LB)
    db = plan([cluster("db", "10.213.1.101/24", split_brain={"conflict_interval": 4})], LB)
    both = web.to_dict(redact=False)
    both["clusters"].update(db.to_dict(redact=False)["clusters"])
    with pytest.raises(PlanError) as info:
        render_host(plan_from_dict(both), "lb1")
    (error,) = info.value.errors
    assert "host lb1: clusters web and db set split_brain conflict_interval differently" in error


def test_the_plan_dict_keeps_the_settings() -> None:
    the_plan = plan([cluster("web", "10.213.1.100/24", split_brain={"conflict_interval": 7})], LB)
    data = the_plan.to_dict(redact=False)
    assert data["clusters"]["web"]["split_brain"] == {"conflict_interval": 7}
    again = plan_from_dict(data)
    assert render_host(again, "lb2") == render_host(the_plan, "lb2")


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"conflict_interval": 0.5}, "conflict_interval must be a number of seconds in 1..3600"),
        ({"conflict_interval": 3601}, "conflict_interval must be a number of seconds in 1..3600"),
        ({"conflict_interval": True}, "conflict_interval must be a number of seconds in 1..3600"),
        ({"takeover_guard": 0.001}, "takeover_guard must be off (or 0), or a number of seconds"),
        ({"takeover_guard": 2}, "takeover_guard must be off (or 0), or a number of seconds"),
        ({"takeover_guard": True}, "takeover_guard must be off (or 0), or a number of seconds"),
        ({"conflict_detection": "enforce"}, "conflict_detection must be report or off"),
        ({"conflict_notify": "a\nb"}, "conflict_notify must be a command"),
        ({"conflict_notify": ""}, "conflict_notify must be a command"),
        ({"takover_guard": 0.03}, "unknown keys takover_guard"),
    ],
)
def test_bad_cluster_values_name_the_cluster(settings: dict[str, Any], message: str) -> None:
    (error,) = plan_errors([cluster("web", "10.213.1.100/24", split_brain=settings)])
    assert error.startswith("cluster web: split_brain")
    assert message in error


def test_a_cluster_split_brain_that_is_no_mapping() -> None:
    errors = plan_errors([cluster("web", "10.213.1.100/24", split_brain="on")])
    assert any(e.startswith("cluster web: split_brain must be a mapping") for e in errors)


def test_bad_site_wide_values_name_the_variable_and_host() -> None:
    (error,) = render_errors(
        [cluster("web", "10.213.1.100/24")], split_brain={"conflict_interval": 0}
    )
    assert error.startswith("vipkeeper_split_brain (host lb1): conflict_interval must be")


def test_a_keepalived_host_with_a_site_wide_setting_is_an_error_naming_it() -> None:
    (error,) = render_errors(
        [cluster("web", "10.213.1.100/24")],
        daemon="keepalived",
        split_brain={"conflict_detection": "report"},
    )
    assert error.startswith("host lb1 runs keepalived (vipkeeper_daemon)")
    assert "from vipkeeper_split_brain" in error


def test_a_keepalived_host_in_a_cluster_with_settings_is_an_error_naming_both() -> None:
    clusters = [
        cluster("web", "10.213.1.100/24", split_brain={"takeover_guard": 0.03}),
        cluster("db", "10.213.1.101/24", hosts=["lb3", "lb2"]),
    ]
    (error,) = render_errors(clusters, host="lb2", daemon="keepalived")
    assert error.startswith("host lb2 runs keepalived")
    assert "from cluster web" in error
    # lb3 is not in web: it runs keepalived with no block and no error
    text = render_host(plan(clusters, LB), "lb3", daemon="keepalived")
    assert "vipkeeper" not in text.replace("vipkeeper.vrrp", "")


def vipkeeper_check(tmp_path: Path, text: str) -> dict[str, Any]:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(text)
    exe = shutil.which("vipkeeper", path=f"{Path(sys.executable).parent}:/usr/local/bin")
    assert exe, "the vipkeeper runtime is not installed next to this Python"
    done = subprocess.run(
        [exe, "check", "-f", str(conf), "--json"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def test_the_rendered_block_passes_vipkeeper_check(tmp_path: Path) -> None:
    clusters = [
        cluster(
            "web",
            "10.213.1.100/24",
            split_brain={"conflict_notify": "/usr/local/bin/vip-conflict web"},
        )
    ]
    site = {"conflict_detection": "report", "conflict_interval": 2.5, "takeover_guard": 0.03}
    text = render_host(plan(clusters, LB), "lb1", split_brain=site)
    assert block_of(text) == [
        "conflict_detection report",
        "conflict_interval 2.5",
        "takeover_guard 0.03",
        'conflict_notify "/usr/local/bin/vip-conflict web"',
    ]
    assert "enable_script_security" in text and "script_user root" in text
    result = vipkeeper_check(tmp_path, text)
    assert not [d for d in result.get("diagnostics", []) if d.get("severity") == "error"]


def test_guard_off_and_detection_off_pass_vipkeeper_check(tmp_path: Path) -> None:
    site = {"conflict_detection": "off", "takeover_guard": "off", "conflict_interval": 3600}
    text = render_host(plan([cluster("web", "10.213.1.100/24")], LB), "lb2", split_brain=site)
    assert block_of(text) == [
        "conflict_detection off",
        "conflict_interval 3600",
        "takeover_guard off",
    ]
    vipkeeper_check(tmp_path, text)
