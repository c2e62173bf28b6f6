# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
# What the import's modules share: the report of what could not be expressed, and the reading
# of kaexport's values (SET markers, whole floats, commands).

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.kaexport import SET


class Report:
    """What could not be expressed, by name, and what was renamed."""

    def __init__(self) -> None:
        self.unsupported: list[str] = []
        self.renamed: list[str] = []

    def no(self, text: str) -> None:
        if text not in self.unsupported:
            self.unsupported.append(text)


def marked(obj: Mapping[str, Any]) -> frozenset[str]:
    return frozenset(obj.get(SET, ()))


def plain(value: Any) -> Any:
    """An exported value without the SET markers (for comparisons)."""
    if isinstance(value, Mapping):
        return {k: plain(v) for k, v in value.items() if k != SET}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def number(value: Any) -> Any:
    """A whole float as an int (advert_int 1, not 1.0)."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def command(cmd: Mapping[str, Any] | None, what: str, report: Report) -> str | None:
    if not cmd:
        return None
    if cmd.get("user") or cmd.get("group"):
        report.no(f"{what}: the user/group of the command ({cmd.get('user')}) is not modelled")
    return str(cmd["command"])
