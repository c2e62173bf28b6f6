# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# The import's reader of a live keepalived config. It loads the config with the runtime's own
# config package (vipkeeper.config.load: includes, @id lines, variables, the typed model) and
# exports the built model as JSON. It imports nothing from Ansible or the collection, so that
# the keepalived_import action can run it on a managed host, zipped together with the runtime's
# config package (the host has Python, not the runtime), and tests can run it in-process.
"""Export a keepalived config's model as JSON: every value, and which ones are not defaults."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

SET = "@set"  # in an exported dataclass: the names of the fields that differ from their default


def _default(f: Any) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def _mark_set(value: Any, out: dict[str, Any]) -> None:
    """Add SET to a dataclass's exported dict: its exported fields that are not defaults."""
    out[SET] = [
        f.name
        for f in dataclasses.fields(value)
        if f.name in out and getattr(value, f.name) != _default(f)
    ]


def export(value: Any) -> Any:
    """The runtime's JSON view of the model (config/dump.py), without the locations, with SET."""
    from vipkeeper.config.dump import to_jsonable

    return to_jsonable(value, locations=False, annotate=_mark_set)


def read(path: str, config_id: str | None = None) -> dict[str, Any]:
    """Load `path` as keepalived would on this host; the model, files and diagnostics."""
    from vipkeeper.config import load

    result = load(path, config_id, check_scripts=False)
    return {
        "config": None if result.config is None else export(result.config),
        "files": [] if result.config is None else list(result.config.files),
        "diagnostics": [
            {
                "file": d.file,
                "line": d.line,
                "severity": d.severity.value,
                "message": d.message,
            }
            for d in result.diagnostics
        ],
        "ok": result.ok,
    }


def main(argv: list[str]) -> int:
    """`python3 kaexport.zip PATH [CONFIG_ID]`: the JSON on stdout."""
    path = argv[1] if len(argv) > 1 else "/etc/keepalived/keepalived.conf"
    config_id = argv[2] if len(argv) > 2 and argv[2] else None
    json.dump(read(path, config_id), sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
