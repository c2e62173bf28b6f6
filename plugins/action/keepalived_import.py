# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Read the host's live keepalived config with the runtime's config package, run on the host."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shlex
import tempfile
import zipfile
from pathlib import Path

from ansible.errors import AnsibleActionFail
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.import_args import (
    ARGUMENT_SPEC,
)

# plugins/action/keepalived_import.py -> the collection's root
_COLLECTION = Path(__file__).resolve().parents[2]
_EXPORTER = _COLLECTION / "plugins" / "plugin_utils" / "_vipkeeper" / "kaexport.py"
_MAIN = "import sys\nimport kaexport\nsys.exit(kaexport.main(sys.argv))\n"


def runtime_package():
    """The runtime's `vipkeeper` package directory: the collection's runtime/src (the built
    collection ships it), else the package installed on the controller."""
    shipped = _COLLECTION / "runtime" / "src" / "vipkeeper"
    if (shipped / "config" / "__init__.py").is_file():
        return shipped
    spec = importlib.util.find_spec("vipkeeper")
    if spec is not None and spec.origin:
        installed = Path(spec.origin).parent
        if (installed / "config" / "__init__.py").is_file():
            return installed
    raise AnsibleActionFail(
        "the vipkeeper runtime's config package was found neither in the collection"
        " (runtime/src) nor on the controller (pip install ./runtime)"
    )


def parser_zip():
    """A zip application: the runtime's config package and the exporter as __main__."""
    package = runtime_package()
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in ("__init__.py", "_compat.py"):
            zf.write(package / name, f"vipkeeper/{name}")
        # the whole config package, subpackages too (issue #21 splits config/build.py)
        for path in sorted((package / "config").rglob("*.py")):
            zf.write(path, "vipkeeper/" + path.relative_to(package).as_posix())
        zf.write(_EXPORTER, "kaexport.py")
        zf.writestr("__main__.py", _MAIN)
    return buf.getvalue()


def interfaces(task_vars):
    """The host's interface facts, keyed by interface name."""
    facts = task_vars.get("ansible_facts") or {}
    out = {}
    for name in facts.get("interfaces") or ():
        fact = facts.get(name) or facts.get(name.replace("-", "_").replace(".", "_"))
        if isinstance(fact, dict):
            out[name] = {k: fact.get(k) for k in ("ipv4", "ipv4_secondaries", "ipv6") if k in fact}
    return out


class ActionModule(ActionBase):
    """vipkeeper.vrrp.keepalived_import: parse on the host, return the model."""

    TRANSFERS_FILES = True
    _VALID_ARGS = frozenset(ARGUMENT_SPEC)
    _supports_check_mode = True

    def run(self, tmp=None, task_vars=None):
        task_vars = task_vars or {}
        result = super().run(tmp, task_vars)
        del tmp
        _validation, args = self.validate_argument_spec(argument_spec=ARGUMENT_SPEC)
        try:
            return self._run(result, args, task_vars)
        finally:
            self._remove_tmp_path(self._connection._shell.tmpdir)

    def _python(self, args, task_vars):
        if args.get("python"):
            return args["python"]
        given = task_vars.get("ansible_python_interpreter")
        if given and not str(given).startswith("auto"):
            return self._templar.template(given)
        found = (task_vars.get("ansible_facts") or {}).get("discovered_interpreter_python")
        return found or "/usr/bin/python3"

    def _run(self, result, args, task_vars):
        tmpdir = self._connection._shell.tmpdir or self._make_tmp_path()
        remote = self._connection._shell.join_path(tmpdir, "vipkeeper-import.zip")
        fd, local = tempfile.mkstemp(suffix=".zip")
        try:
            with os.fdopen(fd, "wb") as stream:
                stream.write(parser_zip())
            self._transfer_file(local, remote)
        finally:
            os.unlink(local)
        self._fixup_perms2((tmpdir, remote), execute=False)
        words = [self._python(args, task_vars), remote, args["src"], args.get("config_id") or ""]
        cmd = " ".join(shlex.quote(w) for w in words)
        ran = self._low_level_execute_command(cmd, sudoable=True)
        stdout = to_text(ran.get("stdout", ""))
        if ran.get("rc") != 0:
            raise AnsibleActionFail(
                "reading %s failed (rc %s): %s"
                % (args["src"], ran.get("rc"), to_text(ran.get("stderr", "")).strip()[-2000:])
            )
        try:
            data = json.loads(stdout)
        except ValueError:
            raise AnsibleActionFail(
                "the config reader printed no JSON: %s" % stdout[:500]
            ) from None
        result.update(data)
        result["interfaces"] = interfaces(task_vars)
        result["changed"] = False
        if data.get("config") is None:
            result["failed"] = True
            result["msg"] = "%s could not be read: %s" % (
                args["src"],
                "; ".join(d["message"] for d in data.get("diagnostics", [])),
            )
        return result
