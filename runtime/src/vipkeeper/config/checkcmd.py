"""`vipkeeper check`: test a keepalived.conf as `keepalived -t` does.

Messages go to stderr as `(FILE: Line N) message`; the exit status is 0 (OK), 2 (a keyword
missing its value), 4 (file not found, fatal), 5 (other config errors, a missing interface
too) or 6 (script security). With
`--json`, stdout carries {"ok", "exit_code", "diagnostics": [{file, line, column, severity,
message, code}]} and nothing is written to stderr.
"""

from __future__ import annotations

import argparse
import json
import socket
import sys

from vipkeeper.config import EXIT_FATAL, LoadResult, load
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity

DEFAULT_CONFIG = "/etc/keepalived/keepalived.conf"


def interface_exists(name: str) -> bool:
    """True when the kernel knows an interface called `name` (this network namespace)."""
    try:
        socket.if_nametoindex(name)
    except (OSError, ValueError):
        return False
    return True


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of `vipkeeper check`."""
    parser.add_argument(
        "-f",
        "--use-file",
        dest="file",
        default=DEFAULT_CONFIG,
        help=f"configuration file (default {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "-i",
        "--config-id",
        dest="config_id",
        default=None,
        help="config-id for @id lines (default: host name up to its first dot)",
    )
    parser.add_argument(
        "--json", action="store_true", help="print diagnostics as JSON on stdout (stable format)"
    )
    parser.add_argument(
        "--skip-interfaces",
        action="store_true",
        help="do not check that interfaces exist (for checking a config off-host)",
    )
    parser.add_argument(
        "--skip-scripts",
        action="store_true",
        help="do not check that scripts exist and are secure (for checking off-host)",
    )


def run_check(
    file: str, config_id: str | None, *, skip_interfaces: bool, skip_scripts: bool
) -> LoadResult:
    """Load the file with the checks selected."""
    return load(
        file,
        config_id,
        interface_exists=None if skip_interfaces else interface_exists,
        check_scripts=not skip_scripts,
    )


def render_json(result: LoadResult) -> str:
    """The --json document."""
    return json.dumps(
        {
            "ok": result.ok,
            "exit_code": result.exit_code,
            "diagnostics": [d.as_dict() for d in result.diagnostics],
        },
        indent=None,
    )


def main(args: argparse.Namespace) -> int:
    """Run the check; never raises."""
    try:
        result = run_check(
            args.file,
            args.config_id,
            skip_interfaces=args.skip_interfaces,
            skip_scripts=getattr(args, "skip_scripts", False),
        )
    except Exception as exc:  # load() does not raise; this is a last resort
        diag = Diagnostic(
            str(getattr(args, "file", "?")),
            0,
            0,
            Severity.ERROR,
            f"internal error: {type(exc).__name__}: {exc}",
            Code.INTERNAL,
        )
        result = LoadResult(None, [diag])
    if args.json:
        print(render_json(result))
    else:
        for diag in result.diagnostics:
            print(diag.format(), file=sys.stderr)
    code = result.exit_code
    return code if code in (0, 2, 4, 5, 6) else EXIT_FATAL
