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
import enum
import ipaddress
import json
import sys
from typing import Any

SET = "@set"  # in an exported dataclass: the names of the fields that differ from their default
_IP_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
_SKIP = ("location", "files")


def _default(f: Any) -> Any:
    if f.default is not dataclasses.MISSING:
        return f.default
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return dataclasses.MISSING


def export(value: Any) -> Any:
    """Dataclasses become dicts (with SET), enums their value, addresses strings, bytes hex."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        changed: list[str] = []
        for f in dataclasses.fields(value):
            if f.name in _SKIP:
                continue
            item = getattr(value, f.name)
            out[f.name] = export(item)
            if item != _default(f):
                changed.append(f.name)
        out[SET] = changed
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _IP_TYPES):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list)):
        return [export(v) for v in value]
    return value


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
