"""render action: the diff masks the VRRPv2 auth_pass; the written file keeps it."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any
from unittest.mock import MagicMock

import pytest
from ansible.errors import AnsibleActionFail

from ansible_collections.vipkeeper.vrrp.plugins.action.render import (
    ActionModule,
    mask_auth_pass,
    mask_diff,
)
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.check import (
    parse_keepalived,
    parse_vipkeeper,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.helpers import hostvars
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import SCENARIOS

NGINX = SCENARIOS[0]
PASS = "46qBW4gK"  # what the nginx scenario derives for lb1 (golden/nginx/lb1.conf)
LONG_PASS = """vrrp_instance web {
  state MASTER
  interface lo
  virtual_router_id 9
  priority 100
  authentication {
    auth_type PASS
    auth_pass longsecret1
  }
  virtual_ipaddress {
    10.213.9.9/32
  }
}
"""


def action(args: dict[str, Any]) -> ActionModule:
    """The action with its task args; the templar returns its input."""
    task = MagicMock()
    task.args = args
    task.check_mode = False
    templar = MagicMock()
    templar.template.side_effect = lambda value: value
    return ActionModule(task, MagicMock(), MagicMock(), MagicMock(), templar, None)


def render_lb1(copy_result: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """Run the action for lb1 with the copy stubbed: the result, and every content copied."""
    mod = action(
        {
            "dest": "/etc/vipkeeper/keepalived.conf",
            "clusters": NGINX.clusters,
            "secrets": NGINX.secrets,
            "validate": "",
        }
    )
    written: list[str] = []

    def fake_copy(content: str, dest: str, validate: str, task_vars: Any) -> dict[str, Any]:
        written.append(content)
        out = dict(copy_result)
        if "diff" in out:
            out["diff"] = [{"before": "", "after": content, "after_header": dest}]
        return out

    mod._copy = fake_copy  # type: ignore[method-assign]
    task_vars = {
        "inventory_hostname": "lb1",
        "hostvars": {name: hostvars(name, ifaces) for name, ifaces in NGINX.hosts.items()},
    }
    return mod._run({}, task_vars), written


def test_the_file_keeps_auth_pass_and_the_diff_masks_it() -> None:
    result, written = render_lb1({"changed": True, "diff": True})
    assert len(written) == 1
    assert f"    auth_pass {PASS}\n" in written[0]  # the real file content
    after = result["diff"][0]["after"]
    assert PASS not in after
    assert "    auth_pass ********\n" in after
    # nothing else of the file is hidden
    assert after == written[0].replace(PASS, "********")
    assert PASS not in repr(result)


def test_without_diff_the_result_holds_no_secret() -> None:
    result, written = render_lb1({"changed": True})
    assert PASS in written[0]
    assert "diff" not in result
    assert PASS not in repr(result)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        ("    auth_pass 46qBW4gK", "    auth_pass ********"),
        ("\tauth_pass   abc # note", "\tauth_pass   ********"),
        ('  auth_pass "a b"', "  auth_pass ********"),
        ("auth_pass x", "auth_pass ********"),
        ("    auth_type PASS", "    auth_type PASS"),
        ("    # no auth_pass here", "    # no auth_pass here"),
        ("    auth_pass", "    auth_pass"),
    ],
)
def test_mask_auth_pass_lines(line: str, masked: str) -> None:
    assert mask_auth_pass(f"a\n{line}\nb\n") == f"a\n{masked}\nb\n"


def test_mask_diff_before_and_after_in_a_dict_or_a_list() -> None:
    old = "  auth_pass oldpass1\n"
    new = "  auth_pass newpass1\n"
    single = mask_diff({"diff": {"before": old, "after": new, "before_header": "x"}})
    assert single["diff"] == {
        "before": "  auth_pass ********\n",
        "after": "  auth_pass ********\n",
        "before_header": "x",
    }
    listed = mask_diff({"diff": [{"before": old, "after": new}, {"dst_binary": 1}]})
    assert listed["diff"] == [
        {"before": "  auth_pass ********\n", "after": "  auth_pass ********\n"},
        {"dst_binary": 1},
    ]
    assert mask_diff({"changed": False}) == {"changed": False}


def test_checker_messages_mask_a_quoted_auth_pass(tmp_path: Path) -> None:
    """`vipkeeper check` quotes a too long auth_pass; the diagnostics do not."""
    conf = tmp_path / "k.conf"
    conf.write_text(LONG_PASS)
    exe = shutil.which("vipkeeper", path=f"{Path(sys.executable).parent}:/usr/local/bin")
    assert exe
    argv = [exe, "check", "-f", str(conf), "--json"]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    assert "longsecret1" not in done.stdout + done.stderr  # the checker never prints it
    found = parse_vipkeeper(done.stdout, done.stderr, done.returncode)
    assert "auth_pass is 11 bytes, longer than 8; truncated to 8" in [d["message"] for d in found]
    assert "longsecret1" not in repr(found)
    (plain,) = parse_vipkeeper("", 'auth_pass "longsecret1" is longer than 8 bytes', 5)
    assert plain["message"] == "auth_pass '********' is longer than 8 bytes"
    (kept,) = parse_keepalived("(k.conf: Line 7) Truncating auth_pass to 8 characters", 0)
    assert kept["message"] == "Truncating auth_pass to 8 characters"


def render_lb1_with(current: dict[str, Any] | None, **args: Any) -> tuple[dict[str, Any], int]:
    """lb1 rendered with O(current) (and more args): the result, and how many copies ran."""
    base = {
        "dest": "/etc/vipkeeper/keepalived.conf",
        "clusters": NGINX.clusters,
        "secrets": NGINX.secrets,
        "validate": "",
        "owner": "root",
        "group": "root",
        "mode": "0640",
        **args,
    }
    copies: list[str] = []

    def fake_copy(content: str, dest: str, validate: str, task_vars: Any) -> dict[str, Any]:
        copies.append(content)
        return {"changed": False, "dest": dest}

    task_vars = {
        "inventory_hostname": "lb1",
        "hostvars": {name: hostvars(name, ifaces) for name, ifaces in NGINX.hosts.items()},
    }
    probe = action(dict(base))
    probe._copy = fake_copy  # type: ignore[method-assign]
    text_checksum = probe._run({}, task_vars)["checksum"]
    copies.clear()
    if current is not None:
        base["current"] = {k: (text_checksum if v == "RENDERED" else v) for k, v in current.items()}
    mod = action(base)
    mod._copy = fake_copy  # type: ignore[method-assign]
    return mod._run({}, task_vars), len(copies)


SAME = {"exists": True, "type": "file", "mode": "0640", "owner": "root", "group": "root",
        "checksum": "RENDERED"}  # fmt: skip


def test_an_unchanged_file_is_not_copied() -> None:
    result, copies = render_lb1_with(SAME)
    assert copies == 0
    assert result["changed"] is False
    assert result["dest"] == "/etc/vipkeeper/keepalived.conf"
    assert result["instances"] and "plan_warnings" in result
    assert PASS not in repr(result)


@pytest.mark.parametrize(
    ("current", "args"),
    [
        (None, {}),
        ({**SAME, "checksum": "0" * 40}, {}),
        ({**SAME, "mode": "0644"}, {}),
        ({**SAME, "owner": "nobody"}, {}),
        ({**SAME, "group": "adm"}, {}),
        ({**SAME, "type": "link"}, {}),
        ({"exists": False}, {}),
        (SAME, {"mode": "u=rw,g=r"}),
        (SAME, {"setype": "etc_t"}),
    ],
)
def test_any_difference_goes_through_copy(current: dict[str, Any] | None, args: Any) -> None:
    _result, copies = render_lb1_with(current, **args)
    assert copies == 1


def test_an_octal_mode_in_any_spelling_matches() -> None:
    for mode in ("0640", "640", 0o640):
        _result, copies = render_lb1_with(SAME, mode=mode)
        assert copies == 0, mode


def render_lb1_split_brain(args: dict[str, Any], **inventory: Any) -> tuple[dict[str, Any], str]:
    """lb1 rendered with the copy stubbed and these inventory variables: result, text copied."""
    mod = action(
        {
            "dest": "/etc/vipkeeper/keepalived.conf",
            "clusters": NGINX.clusters,
            "secrets": NGINX.secrets,
            "validate": "",
            **args,
        }
    )
    written: list[str] = []

    def fake_copy(content: str, dest: str, validate: str, task_vars: Any) -> dict[str, Any]:
        written.append(content)
        return {"changed": True, "dest": dest}

    mod._copy = fake_copy  # type: ignore[method-assign]
    task_vars = {
        "inventory_hostname": "lb1",
        "hostvars": {name: hostvars(name, ifaces) for name, ifaces in NGINX.hosts.items()},
        **inventory,
    }
    result = mod._run({}, task_vars)
    return result, written[0] if written else ""


def test_split_brain_defaults_to_the_inventory_variable() -> None:
    text = render_lb1_split_brain({}, vipkeeper_split_brain={"takeover_guard": 0.03})[1]
    assert "\nvipkeeper {\n  takeover_guard 0.03\n}\n" in text
    # the argument replaces the inventory variable
    text = render_lb1_split_brain(
        {"split_brain": {"conflict_interval": 9}}, vipkeeper_split_brain={"takeover_guard": 0.03}
    )[1]
    assert "\nvipkeeper {\n  conflict_interval 9\n}\n" in text


def test_split_brain_on_a_keepalived_host_fails_naming_it_before_any_copy() -> None:
    with pytest.raises(AnsibleActionFail) as info:
        render_lb1_split_brain(
            {"daemon": "keepalived"}, vipkeeper_split_brain={"conflict_detection": "report"}
        )
    assert "vipkeeper render refused:\n- host lb1 runs keepalived" in str(info.value)
    # unset: the keepalived host renders as before, without the block
    result, text = render_lb1_split_brain({"daemon": "keepalived"}, vipkeeper_split_brain={})
    assert result["changed"] and text and "\nvipkeeper {" not in text
