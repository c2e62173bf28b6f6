"""The cluster schema: the vrrp role's argument spec, every error at once, naming its cluster."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper import schema
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    wanted_interfaces,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    plan,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hosts

LB = hosts({"lb1": "10.213.1.11/24", "lb2": "10.213.1.12/24"})
ROOT = Path(__file__).resolve().parents[4]


def cluster(name: str, **kw: object) -> dict[str, object]:
    return {"name": name, "hosts": ["lb1", "lb2"], "interface": "eth0",
            "vips": ["10.213.1.100/24"], **kw}  # fmt: skip


def errors_of(clusters: list[object]) -> tuple[str, ...]:
    with pytest.raises(PlanError) as info:
        plan(clusters, LB)
    return info.value.errors


def test_the_schema_is_the_role_argument_spec() -> None:
    spec = yaml.safe_load((ROOT / "roles/vrrp/meta/argument_specs.yml").read_text())
    options = spec["argument_specs"]["main"]["options"]["vrrp_clusters"]["options"]
    assert schema.cluster_options() == options
    assert {"name", "hosts", "vips", "vrid", "track", "notify"} <= set(options)
    assert options["hosts"]["options"]["state"]["choices"] == ["MASTER", "BACKUP"]


def test_every_error_of_every_cluster_at_once() -> None:
    errors = errors_of(
        [
            cluster("web", vird=5, preempt="maybe", version=4),
            cluster("db", hosts=["lb1", {"name": "lb2", "priority": "high", "colour": 1}]),
            cluster("api", track=[{"name": "chk", "script": "/bin/true", "fall": "x"}]),
        ]
    )
    assert errors == (
        "cluster web: unknown keys vird",
        "cluster web: version must be one of 2, 3, got 4",
        "cluster web: preempt must be true or false, got 'maybe'",
        "cluster db: host lb2: unknown keys colour",
        "cluster db: host lb2: priority must be an integer, got 'high'",
        "cluster api: track chk: fall must be an integer, got 'x'",
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"vrid": "seven"}, "cluster web: vrid must be an integer, got 'seven'"),
        ({"vrid": True}, "cluster web: vrid must be an integer, got True"),
        ({"advert_int": "fast"}, "cluster web: advert_int must be a number, got 'fast'"),
        ({"advert_int": True}, "cluster web: advert_int must be a number, got True"),
        ({"unicast": "sometimes"}, "cluster web: unicast must be true or false, got 'sometimes'"),
        ({"notify": ["x"]}, "cluster web: notify must be a mapping, got ['x']"),
        ({"instance_options": 5}, "cluster web: instance_options must be a mapping, got 5"),
        ({"track": {"name": "x"}}, "cluster web: track must be a list, got {'name': 'x'}"),
        ({"hosts": ["lb1", {"name": "lb2", "priority": 256}]},
         "cluster web: host lb2: priority must be 1..255, got 256"),
        ({"hosts": ["lb1", {"name": "lb2", "priority": True}]},
         "cluster web: host lb2: priority must be an integer, got True"),
        ({"track_interfaces": [{"name": "eth1", "weight": "w"}]},
         "cluster web: track_interfaces eth1: weight must be an integer, got 'w'"),
    ],
)  # fmt: skip
def test_wrong_types_name_the_cluster_and_key(extra: dict[str, object], message: str) -> None:
    assert errors_of([cluster("web", **extra)]) == (message,)


def test_unknown_keys_at_every_level() -> None:
    errors = errors_of(
        [
            cluster(
                "web",
                vird=5,
                hosts=["lb1", {"name": "lb2", "prio": 1}],
                track=[{"name": "chk", "script": "/bin/true", "intervall": 2}],
                track_interfaces=[{"name": "eth1", "weigth": 1}],
                notify={"master": "/bin/true", "on_master": "/bin/false"},
            )
        ]
    )
    assert errors == (
        "cluster web: unknown keys vird",
        "cluster web: host lb2: unknown keys prio",
        "cluster web: track chk: unknown keys intervall",
        "cluster web: track_interfaces eth1: unknown keys weigth",
        "cluster web: notify: unknown keys on_master",
    )


def test_a_choice_violated() -> None:
    errors = errors_of(
        [
            cluster("web", hosts=[{"name": "lb1", "state": "LEADER"}, "lb2"]),
            cluster("db", version=1, vips=["10.213.1.101/24"]),
        ]
    )
    assert errors == (
        "cluster web: host lb1: state must be one of MASTER, BACKUP, got 'LEADER'",
        "cluster db: version must be one of 2, 3, got 1",
    )


def test_state_is_case_insensitive_as_before() -> None:
    spec = cluster("web", hosts=[{"name": "lb1", "state": "backup"}, "lb2"])
    (inst,) = plan([spec], LB).clusters[0].instances
    assert [m.state for m in inst.members] == ["BACKUP", "BACKUP"]


def test_missing_required_keys_are_named() -> None:
    errors = errors_of(
        [
            {"name": "web", "interface": "eth0", "vips": ["10.213.1.100/24"]},
            cluster("db", track=[{"name": "chk"}, {"script": "/bin/true"}]),
        ]
    )
    assert errors == (
        "cluster web: missing required key hosts",
        "cluster db: track chk: missing required key script",
        "cluster db: track[1]: missing required key name",
    )


def test_ansible_conversions_apply_and_whole_numbers_stay_whole() -> None:
    spec = cluster("web", hosts="lb1,lb2", vips="10.213.1.100/24", vrid="7", preempt="no",
                   advert_int=2, preempt_delay=None)  # fmt: skip
    (inst,) = plan([spec], LB).clusters[0].instances
    assert (inst.vrid, inst.preempt, inst.advert_int) == (7, False, 2)
    assert isinstance(inst.advert_int, int)
    assert [m.host for m in inst.members] == ["lb1", "lb2"]
    assert wanted_interfaces([spec]) == {"lb1": {"eth0"}, "lb2": {"eth0"}}


def test_spec_defaults_are_the_planner_defaults() -> None:
    (result,) = plan([cluster("web")], LB).clusters
    (inst,) = result.instances
    assert (inst.preempt, inst.unicast, inst.notify, inst.options) == (True, False, (), ())
    assert (result.scripts, result.virtual_servers) == ((), ())
