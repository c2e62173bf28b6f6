# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Plan every cluster, render this host's keepalived.conf, validate it, then write it."""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import Mapping

from ansible import constants as C
from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase
from ansible.utils.hashing import checksum_s

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.check import (
    mask_quoted_auth_pass,
    parse_keepalived,
    parse_vipkeeper,
    summary,
)
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.render_args import (
    ARGUMENT_SPEC,
    COPY_ARGS,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    collect_facts,
    settings_from,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    plan,
    plan_from_dict,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import (
    render_host,
)

VALIDATE = {
    "vipkeeper": "vipkeeper check -f %s --json",
    "keepalived": "keepalived -t -f %s",
}
MASK = "********"
# A keepalived.conf line that sets the VRRPv2 password: the value is everything after the keyword.
_AUTH_PASS_LINE = re.compile(r"(?m)^([ \t]*auth_pass[ \t]+)[^\s].*$")


def _octal(mode):
    """An octal mode (0640, "0640", "640") as an int; None for anything else (u=rw,g=r...)."""
    if isinstance(mode, bool):
        return None
    if isinstance(mode, int):
        return mode
    if isinstance(mode, str) and re.fullmatch(r"0?[0-7]{3,4}", mode.strip()):
        return int(mode.strip(), 8)
    return None


def mask_auth_pass(text):
    """The config text with every auth_pass value replaced by ********."""
    return _AUTH_PASS_LINE.sub(lambda m: m.group(1) + MASK, text)


def mask_diff(result):
    """Mask auth_pass values in a copy result's diff (a dict or a list of them), in place."""
    diffs = result.get("diff")
    for diff in diffs if isinstance(diffs, list) else [diffs]:
        if not isinstance(diff, dict):
            continue
        for key in ("before", "after"):
            if isinstance(diff.get(key), str):
                diff[key] = mask_auth_pass(diff[key])
    return result


class ActionModule(ActionBase):
    """vipkeeper.vrrp.render: like template, with the plan computed from the inventory."""

    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        try:
            return self._run(result, task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _arg(self, name, default=None):
        value = self._args.get(name)
        return default if value is None else value

    def _inventory(self, task_vars, name, default):
        """An inventory variable, templated (vaulted values come out decrypted)."""
        value = task_vars.get(name)
        return default if value is None else self._templar.template(value)

    def _secrets(self, task_vars):
        """O(secrets), by default the inventory's vipkeeper_secrets."""
        secrets = self._arg("secrets")
        if secrets is None:
            secrets = self._inventory(task_vars, "vipkeeper_secrets", {})
        if not isinstance(secrets, Mapping):
            raise AnsibleActionFail("secrets (default: vipkeeper_secrets) must be a mapping")
        return dict(secrets)

    def _settings(self, task_vars):
        """O(settings); their C(secret) defaults to the inventory's vipkeeper_auth_secret."""
        settings = dict(self._arg("settings", {}))
        if settings.get("secret") is None:
            site_secret = self._inventory(task_vars, "vipkeeper_auth_secret", "")
            if site_secret:
                settings["secret"] = site_secret
        return settings_from(settings)

    def _plan(self, task_vars):
        given = self._arg("plan")
        if given:
            if "clusters" not in given:
                raise AnsibleActionFail("plan must be the output of vipkeeper.vrrp.vrrp_plan")
            if any(
                inst.get("auth_pass") == "********"
                for cluster in given["clusters"].values()
                for inst in cluster.get("instances", [])
            ):
                raise AnsibleActionFail("plan is redacted: use vrrp_plan(..., redact=false)")
            return plan_from_dict(given)
        clusters = self._arg("clusters", task_vars.get("vipkeeper_clusters"))
        if clusters is None:
            raise AnsibleActionFail("no clusters: set vipkeeper_clusters or pass clusters")
        clusters = self._templar.template(clusters)
        if not isinstance(clusters, list):
            raise AnsibleActionFail("clusters must be a list")
        hostvars = task_vars.get("hostvars", {})
        return plan(
            clusters,
            collect_facts(clusters, hostvars),
            self._settings(task_vars),
            self._arg("lock", {}),
            self._secrets(task_vars),
        )

    def _auth_check(self, clusters, task_vars):
        """Fail on a VRRPv2 instance without authentication that the inventory meant to protect.

        The inventory means to protect a cluster when a secret is given for it (O(secrets),
        vipkeeper_secrets) or a site-wide secret is set (vipkeeper_auth_secret, the C(secret)
        setting). Any other VRRPv2 instance without authentication gets a warning.
        """
        given = self._arg("secrets")
        inventory = self._inventory(task_vars, "vipkeeper_secrets", {})
        site = self._arg("settings", {}).get("secret") or self._inventory(
            task_vars, "vipkeeper_auth_secret", ""
        )
        errors = []
        for cluster in clusters:
            for inst in cluster.instances:
                if inst.version != 2 or inst.auth_pass:
                    continue
                why = []
                if isinstance(inventory, Mapping) and cluster.name in inventory:
                    why.append("vipkeeper_secrets has a secret for it")
                if isinstance(given, Mapping) and cluster.name in given:
                    why.append("secrets names it")
                if site:
                    why.append("a site-wide secret (vipkeeper_auth_secret) is set")
                what = "cluster %s: VRRPv2 instance %s" % (cluster.name, inst.name)
                if why:
                    errors.append(
                        "%s would be rendered without authentication, but %s: pass its secret"
                        " (secrets defaults to vipkeeper_secrets), or a plan computed with it"
                        % (what, " and ".join(why))
                    )
                else:
                    self._display.warning(
                        "vipkeeper render: %s has no authentication (no secret for it in the"
                        " cluster, vipkeeper_secrets or vipkeeper_auth_secret)" % what
                    )
        if errors:
            raise AnsibleActionFail("vipkeeper render refused:\n- " + "\n- ".join(errors))

    def _template_text(self):
        name = self._arg("template")
        if not name:
            return None
        path = self._find_needle("templates", name)
        return to_text(self._loader.get_text_file_contents(path))

    def _run(self, result, task_vars):
        # Types, choices and required arguments, as a module's AnsibleModule would check them.
        _validation, self._args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        dest = self._args["dest"]
        daemon = self._args["daemon"]
        validate = self._args.get("validate")
        validate = VALIDATE[daemon] if validate is None else validate
        host = self._arg("host", task_vars.get("inventory_hostname"))
        try:
            the_plan = self._plan(task_vars)
        except PlanError as exc:
            message = "vipkeeper plan failed:\n- " + "\n- ".join(exc.errors)
            raise AnsibleActionFail(message) from None
        for text in the_plan.warnings:
            self._display.warning("vipkeeper plan: " + text)
        clusters = the_plan.for_host(host)
        self._auth_check(clusters, task_vars)
        split_brain = self._arg("split_brain")
        if split_brain is None:
            split_brain = self._inventory(task_vars, "vipkeeper_split_brain", {})
        try:
            content = render_host(
                the_plan,
                host,
                self._template_text(),
                self._arg("global_defs", {}),
                daemon=daemon,
                split_brain=split_brain,
            )
        except PlanError as exc:
            raise AnsibleActionFail(
                "vipkeeper render refused:\n- " + "\n- ".join(exc.errors)
            ) from None
        instances = [
            {"name": i.name, "cluster": c.name, "vrid": i.vrid, "state": i.member(host).state}
            for c in clusters
            for i in c.instances
        ]

        if self._task.check_mode and validate:
            checked = self._check_on_host(content, daemon, task_vars)
            if checked is not None and not checked["ok"]:
                result.update(checked, failed=True, instances=instances)
                result["msg"] = "rendered config does not pass the check on the host"
                return result

        current = self._unchanged(content, dest)
        if current is not None:
            # The host holds this text with these attributes already (O(current), read by
            # runtime_facts): copy would find nothing to do, after a stat and a file call.
            result.update(current)
            result["instances"] = instances
            result["plan_warnings"] = list(the_plan.warnings)
            return result

        copy_result = mask_diff(self._copy(content, dest, validate, task_vars))
        if copy_result.get("failed") and "exit_status" in copy_result:
            rc = int(copy_result["exit_status"])
            if daemon == "keepalived":
                found = parse_keepalived(copy_result.get("stderr", ""), rc)
            else:
                found = parse_vipkeeper(copy_result.get("stdout"), copy_result.get("stderr"), rc)
            for key in ("stdout", "stderr"):  # the checker's own report, as in diagnostics
                if isinstance(copy_result.get(key), str):
                    copy_result[key] = mask_quoted_auth_pass(copy_result[key])
                    if key + "_lines" in copy_result:
                        copy_result[key + "_lines"] = copy_result[key].splitlines()
            copy_result.update(summary(dest, rc, found))
            errors = [d["message"] for d in found if d["severity"] == "error"]
            copy_result["msg"] = "rendered config failed validation: " + "; ".join(errors[:5])
        result.update(copy_result)
        if not result.get("failed"):
            # As RETURN promises, also in check mode (where copy reports only `changed`): the
            # checksum is the SHA1 of the rendered text, the file's checksum once written.
            result.setdefault("dest", dest)
            result.setdefault("checksum", checksum_s(content))
        result["instances"] = instances
        result["plan_warnings"] = list(the_plan.warnings)
        return result

    def _unchanged(self, content, dest):
        """copy's unchanged result when O(current) shows the file as it would be written, else None.

        Only a regular file with the rendered SHA1 and the asked mode (octal), owner and group
        (names) counts; a link, a symbolic mode, a numeric owner or any SELinux argument leaves
        the decision to copy.
        """
        current = self._args.get("current")
        if not isinstance(current, Mapping) or not current.get("exists"):
            return None
        if current.get("type") != "file" or current.get("checksum") != checksum_s(content):
            return None
        if any(self._args.get(k) is not None for k in ("seuser", "serole", "setype", "selevel")):
            return None
        mode = self._args.get("mode")
        if mode is not None and _octal(mode) is None:
            return None
        if mode is not None and _octal(mode) != _octal(current.get("mode")):
            return None
        for key in ("owner", "group"):
            if self._args.get(key) is not None and self._args[key] != current.get(key):
                return None
        return {
            "changed": False,
            "dest": dest,
            "path": dest,
            "checksum": current["checksum"],
            "state": "file",
            "mode": current.get("mode"),
            "owner": current.get("owner"),
            "group": current.get("group"),
            "size": len(to_bytes(content, encoding="utf-8")),
        }

    def _copy(self, content, dest, validate, task_vars):
        new_task = self._task.copy()
        new_task.args = {k: self._args[k] for k in COPY_ARGS if self._args.get(k) is not None}
        local_tempdir = tempfile.mkdtemp(dir=C.DEFAULT_LOCAL_TMP)
        try:
            source = os.path.join(local_tempdir, os.path.basename(dest))
            with open(to_bytes(source, errors="surrogate_or_strict"), "wb") as handle:
                handle.write(to_bytes(content, encoding="utf-8"))
            new_task.args.update({"src": source, "dest": dest})
            if validate:
                new_task.args["validate"] = validate
            copy_action = self._shared_loader_obj.action_loader.get(
                "ansible.legacy.copy",
                task=new_task,
                connection=self._connection,
                play_context=self._play_context,
                loader=self._loader,
                templar=self._templar,
                shared_loader_obj=self._shared_loader_obj,
            )
            return copy_action.run(task_vars=task_vars)
        finally:
            shutil.rmtree(to_bytes(local_tempdir, errors="surrogate_or_strict"))

    def _check_on_host(self, content, daemon, task_vars):
        """In check mode: check the rendered text in a temp file on the host, if possible."""
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, "vipkeeper-render.conf")
        self._transfer_data(remote, content)
        self._fixup_perms2((tmpdir, remote), execute=False)
        checked = self._execute_module(
            module_name="vipkeeper.vrrp.config_check",
            module_args={"path": remote, "daemon": daemon, "fail_on_error": False},
            task_vars=task_vars,
        )
        if checked.get("failed"):  # no checker installed yet (first run in check mode)
            self._display.vvv("vipkeeper render: check skipped: %s" % checked.get("msg"))
            return None
        return checked
