"""render action: typed arguments, secrets from the inventory, no silent unauthenticated v2.

The module's first EXAMPLE (dest, mode, backup) with `vipkeeper_secrets` in the inventory must
render the authentication block; a VRRPv2 cluster the inventory has a secret for is never
rendered without one.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from unittest.mock import MagicMock

import pytest
import yaml
from ansible.errors import AnsibleActionFail

from ansible_collections.vipkeeper.vrrp.plugins.action.render import ActionModule
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.render_args import (
    ARGUMENT_SPEC,
)
from ansible_collections.vipkeeper.vrrp.plugins.modules import render as render_doc
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import host_facts
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    derive_auth_pass,
    plan,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.module_docs import documented
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import SCENARIOS

NGINX = SCENARIOS[0]  # one VRRPv2 cluster, web, on lb1 and lb2
DEST = "/etc/vipkeeper/keepalived.conf"
FIRST_EXAMPLE = yaml.safe_load(render_doc.EXAMPLES)[0]["vipkeeper.vrrp.render"]


def action(args: dict[str, Any], check_mode: bool = False) -> ActionModule:
    """The action with its task args; the templar returns its input."""
    task = MagicMock()
    task.args = args
    task.check_mode = check_mode
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    # shared_loader_obj has no default before ansible-core 2.17.
    return ActionModule(task, MagicMock(), MagicMock(), MagicMock(), templar, None)


def inventory(**extra: Any) -> dict[str, Any]:
    """task_vars of lb1: the nginx scenario's clusters and facts, plus `extra`."""
    return {
        "inventory_hostname": "lb1",
        "vipkeeper_clusters": NGINX.clusters,
        "hostvars": {name: hostvars(name, ifaces) for name, ifaces in NGINX.hosts.items()},
        **extra,
    }


def run(
    args: dict[str, Any], task_vars: dict[str, Any], check_mode: bool = False
) -> tuple[dict[str, Any], list[str], MagicMock]:
    """Run the action with the copy stubbed: the result, every content copied, the display."""
    mod = action(args, check_mode)
    written: list[str] = []

    def fake_copy(content: str, dest: str, validate: str, task_vars: Any) -> dict[str, Any]:
        written.append(content)
        return {"changed": True}  # what ansible.builtin.copy says in check mode

    mod._copy = fake_copy  # type: ignore[method-assign]
    mod._display = MagicMock()
    return mod._run({}, task_vars), written, mod._display


def test_the_first_example_renders_the_inventory_secrets() -> None:
    assert set(FIRST_EXAMPLE) == {"dest", "mode", "backup"}
    _result, written, _display = run(
        dict(FIRST_EXAMPLE), inventory(vipkeeper_secrets={"web": "s3cret"})
    )
    (conf,) = written
    assert "authentication {\n" in conf and "auth_type PASS\n" in conf
    assert f"auth_pass {derive_auth_pass('s3cret', 'web')}\n" in conf


def test_the_site_wide_secret_of_the_inventory_is_used() -> None:
    _result, written, _display = run({"dest": DEST}, inventory(vipkeeper_auth_secret="site"))
    assert f"auth_pass {derive_auth_pass('site', 'web')}\n" in written[0]


def test_explicit_secrets_still_win() -> None:
    task_vars = inventory(vipkeeper_secrets={"web": "s3cret"})
    _result, written, _display = run({"dest": DEST, "secrets": {"web": "other"}}, task_vars)
    assert f"auth_pass {derive_auth_pass('other', 'web')}\n" in written[0]


def test_a_cluster_the_inventory_protects_is_never_rendered_without_auth() -> None:
    task_vars = inventory(vipkeeper_secrets={"web": "s3cret"})
    with pytest.raises(AnsibleActionFail, match=r"cluster web: VRRPv2 instance web would be"):
        run({"dest": DEST, "secrets": {}}, task_vars)
    # a plan computed without the secret is refused as well
    facts = {n: host_facts(n, v, set(NGINX.hosts[n])) for n, v in task_vars["hostvars"].items()}
    bare = plan(NGINX.clusters, facts).to_dict(redact=False)
    with pytest.raises(AnsibleActionFail, match=r"vipkeeper_secrets has a secret for it"):
        run({"dest": DEST, "plan": bare}, task_vars)
    with pytest.raises(AnsibleActionFail, match=r"site-wide secret"):
        run({"dest": DEST, "plan": bare}, inventory(vipkeeper_auth_secret="site"))


def test_no_secret_anywhere_renders_without_auth_but_warns() -> None:
    _result, written, display = run({"dest": DEST}, inventory())
    assert "authentication" not in written[0]
    warned = " ".join(str(c.args[0]) for c in display.warning.call_args_list)
    assert "cluster web: VRRPv2 instance web has no authentication" in warned


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ({"dest": DEST, "settings": "yes"}, r"settings.*dict"),
        ({"dest": DEST, "secrets": "web"}, r"secrets.*dict"),
        ({"dest": DEST, "clusters": "web"}, r"clusters.*dict"),
        ({"dest": DEST, "daemon": "bird"}, r"daemon must be one of: vipkeeper, keepalived"),
        ({"dest": DEST, "backup": "maybe"}, r"backup.*bool"),
        ({"mode": "0640"}, r"missing required arguments: dest"),
    ],
)
def test_arguments_are_checked_for_their_types(args: dict[str, Any], message: str) -> None:
    with pytest.raises(AnsibleActionFail, match=message) as caught:
        run(args, inventory())
    assert "dictionary update sequence" not in str(caught.value)


def test_check_mode_returns_dest_and_checksum() -> None:
    task_vars = inventory(vipkeeper_secrets={"web": "s3cret"})
    result, written, _display = run({"dest": DEST, "validate": ""}, task_vars, check_mode=True)
    assert result["dest"] == DEST
    assert result["checksum"] == hashlib.sha1(written[0].encode()).hexdigest()
    assert result["changed"]


def _doc_spec(option: dict[str, Any]) -> dict[str, Any]:
    keys = ("type", "required", "default", "choices", "elements")
    return {k: option[k] for k in keys if k in option and option[k] not in (None, False)}


def test_the_argument_spec_is_the_documented_one() -> None:
    options = documented("render")["options"]
    spec = {
        name: {k: v for k, v in s.items() if k != "no_log"} for name, s in ARGUMENT_SPEC.items()
    }
    in_docs = {name: _doc_spec(o) for name, o in options.items()}
    assert {n: _doc_spec(s) for n, s in spec.items()} == in_docs


def test_no_secret_in_the_examples_default() -> None:
    """The docs no longer claim secrets defaults to an empty mapping."""
    options = documented("render")["options"]
    assert "default" not in options["secrets"]
    assert re.search(r"vipkeeper_secrets", " ".join(options["secrets"]["description"]))
