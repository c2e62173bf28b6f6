"""Every module's argument spec is its documentation; the shared parts come from one fragment."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.common_args import (
    CONFIG_DAEMON_ARGS,
    DAEMON_ARGS,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.module_docs import (
    FRAGMENT,
    MODULES,
    documented,
    fragment,
    load,
    module_kwargs,
    spec_view,
    validation_errors,
)

ACTIONS = Path(__file__).resolve().parents[3] / "plugins" / "action"


def test_the_collection_has_its_nine_modules() -> None:
    assert len(MODULES) == 9


@pytest.mark.parametrize("name", MODULES)
def test_the_argument_spec_is_the_documented_one(name: str) -> None:
    options = documented(name)["options"]
    spec = module_kwargs(name)["argument_spec"]
    assert {k: spec_view(v) for k, v in spec.items()} == {
        k: spec_view(v) for k, v in options.items()
    }


@pytest.mark.parametrize("name", MODULES)
def test_every_module_takes_the_common_attributes_from_the_fragment(name: str) -> None:
    raw = yaml.safe_load(load(name).DOCUMENTATION)
    assert FRAGMENT in raw["extends_documentation_fragment"]
    for attribute, value in raw["attributes"].items():
        # what the fragment says is not pasted again; a module states only where it differs
        assert value != fragment(FRAGMENT)["attributes"].get(attribute), attribute
        assert "support" not in value or attribute not in ("check_mode", "platform"), attribute
    doc = documented(name)["attributes"]
    assert doc["check_mode"]["support"] == "full"
    assert doc["diff_mode"]["support"] in ("none", "full")
    assert doc["platform"]["platforms"] in ("posix", "linux")


@pytest.mark.parametrize("name", MODULES)
def test_a_module_run_by_its_action_plugin_takes_its_attributes_from_the_fragment(
    name: str,
) -> None:
    raw = yaml.safe_load(load(name).DOCUMENTATION)
    has_action = (ACTIONS / f"{name}.py").is_file()
    assert (f"{FRAGMENT}.action" in raw["extends_documentation_fragment"]) == has_action
    shared = fragment(f"{FRAGMENT}.action")["attributes"]
    assert not set(shared) & set(raw["attributes"]), "pasted again"
    doc = documented(name)["attributes"]
    for attribute, value in shared.items():
        assert (doc.get(attribute) == value) == has_action, attribute


@pytest.mark.parametrize(
    ("slug", "spec"),
    [(f"{FRAGMENT}.daemon", DAEMON_ARGS), (f"{FRAGMENT}.config_daemon", CONFIG_DAEMON_ARGS)],
)
def test_the_daemon_fragments_are_the_shared_argument_specs(slug: str, spec: object) -> None:
    options = fragment(slug)["options"]
    assert {k: spec_view(v) for k, v in spec.items()} == {  # type: ignore[attr-defined]
        k: spec_view(v) for k, v in options.items()
    }


@pytest.mark.parametrize("name", MODULES)
def test_no_module_pastes_the_daemon_options(name: str) -> None:
    raw = yaml.safe_load(load(name).DOCUMENTATION)
    for option in ("daemon", "socket"):
        pasted = raw["options"].get(option, {})
        assert not {"type", "choices", "default"} & set(pasted), (name, option)


@pytest.mark.parametrize(
    ("params", "missing"),
    [
        ({"fault": "service"}, "tracked_service"),
        ({"fault": "service", "state": "restored"}, "tracked_service"),
        ({"fault": "link", "allow_link_down": True}, "interface"),
        ({"fault": "demote"}, "instance"),
    ],
)
def test_vrrp_fault_requires_the_argument_of_its_fault(
    params: dict[str, object], missing: str
) -> None:
    errors = validation_errors("vrrp_fault", params)
    assert f"fault is {params['fault']} but all of the following are missing: {missing}" in errors


def test_vrrp_fault_needs_nothing_more_for_other_faults() -> None:
    for fault in ("stop", "kill", "isolate"):
        assert validation_errors("vrrp_fault", {"fault": fault}) == ""
