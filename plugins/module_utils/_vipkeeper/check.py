# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Run `vipkeeper check --json` or `keepalived -t` and return structured diagnostics."""

from __future__ import annotations

import json
import os
import re

# Exit codes shared by `keepalived -t` and `vipkeeper check`.
EXIT_OK = 0
EXIT_FATAL = 4  # file not found, bad interface, fatal
EXIT_CONFIG = 5  # other config errors
EXIT_SCRIPT_SECURITY = 6

_KEEPALIVED_LINE = re.compile(r"^\((?P<file>.+?): Line (?P<line>\d+)\) (?P<message>.*)$")
_SEARCH_DIRS = ["/opt/vipkeeper/bin", "/usr/local/bin", "/usr/local/sbin", "/usr/sbin", "/sbin"]
# A checker message that quotes a VRRPv2 password (an earlier vipkeeper printed "auth_pass 'x' is
# longer than 8 bytes"; today's does not, but a host may still run an earlier runtime).
_QUOTED_AUTH_PASS = re.compile(r"""(\bauth_pass[ \t]+)(?:'[^']*'|"[^"]*")""")


def mask_quoted_auth_pass(text):
    """Checker output with every quoted auth_pass value replaced by '********'."""
    return _QUOTED_AUTH_PASS.sub(r"\1'********'", text)


def diagnostic(message, severity="error", file=None, line=None, *, column=None, code=None):
    """One diagnostic in the shape `vipkeeper check --json` uses; auth_pass values masked."""
    return {
        "file": file,
        "line": line,
        "column": column,
        "severity": severity,
        "message": mask_quoted_auth_pass(message),
        "code": code,
    }


def parse_keepalived(output, rc):
    """Turn `keepalived -t` output lines into diagnostics."""
    found = []
    for raw in (output or "").splitlines():
        text = raw.strip()
        if not text:
            continue
        match = _KEEPALIVED_LINE.match(text)
        file = line = None
        if match:
            file, line, text = match.group("file"), int(match.group("line")), match.group("message")
        severity = "warning" if "warning" in text.lower() or rc == EXIT_OK else "error"
        found.append(diagnostic(text, severity, file, line))
    if rc != EXIT_OK and not any(d["severity"] == "error" for d in found):
        found.append(diagnostic("keepalived -t failed with exit code %d" % rc))
    return found


def parse_vipkeeper(stdout, stderr, rc):
    """Read the JSON report of `vipkeeper check --json`; fall back to stderr text."""
    try:
        report = json.loads(stdout or "")
    except ValueError:
        report = None
    if isinstance(report, dict) and isinstance(report.get("diagnostics"), list):
        found = []
        for item in report["diagnostics"]:
            if not isinstance(item, dict):
                continue
            found.append(
                diagnostic(
                    str(item.get("message", "")),
                    str(item.get("severity", "error")),
                    item.get("file"),
                    item.get("line"),
                    column=item.get("column"),
                    code=item.get("code"),
                )
            )
        return found
    text = (stderr or stdout or "").strip() or "vipkeeper check gave no JSON report"
    return [diagnostic(line) for line in text.splitlines() if line.strip()] if rc else []


def summary(path, rc, diagnostics):
    """The result dictionary both the module and the render action return."""
    return {
        "path": path,
        "ok": rc == EXIT_OK,
        "rc": rc,
        "diagnostics": diagnostics,
        "error_count": sum(1 for d in diagnostics if d["severity"] == "error"),
        "warning_count": sum(1 for d in diagnostics if d["severity"] == "warning"),
    }


def command(daemon, executable, path, config_id=None, skip_interfaces=False):
    """The argv of the check for one daemon."""
    if daemon == "keepalived":
        argv = [executable, "-t", "-f", path]
        if config_id:
            argv += ["-i", config_id]
        return argv
    argv = [executable, "check", "-f", path]
    if config_id:
        argv += ["-i", config_id]
    if skip_interfaces:
        argv.append("--skip-interfaces")
    return [*argv, "--json"]


class ConfigCheck:
    """Backend of the config_check module: one check of one file on this host."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def executable(self):
        """The checker binary: the given path, or found on PATH and the usual places."""
        if self.params.get("executable"):
            return self.params["executable"]
        name = "keepalived" if self.params["daemon"] == "keepalived" else "vipkeeper"
        return self.module.get_bin_path(name, required=True, opt_dirs=_SEARCH_DIRS)

    def run(self):
        """Check the file; return the summary dictionary."""
        path = self.params["path"]
        if not os.path.isfile(path):
            message = "configuration file %s not found" % path
            return summary(path, EXIT_FATAL, [diagnostic(message, file=path)])
        argv = command(
            self.params["daemon"],
            self.executable(),
            path,
            self.params.get("config_id"),
            self.params.get("skip_interfaces", False),
        )
        rc, stdout, stderr = self.module.run_command(argv)
        if self.params["daemon"] == "keepalived":
            found = parse_keepalived("\n".join([stderr or "", stdout or ""]), rc)
        else:
            found = parse_vipkeeper(stdout, stderr, rc)
        result = summary(path, rc, found)
        result["command"] = argv
        return result
