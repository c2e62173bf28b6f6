"""The `vipkeeper { }` block: settings keepalived has no keyword for (docs/split-brain.md).

keepalived reports the block as an unknown keyword, so a config that uses it is for vipkeeper
only; a config without it keeps its `keepalived -t` verdict. Several blocks may appear; a
keyword of a later one replaces the earlier value, as in global_defs.
"""

from __future__ import annotations

from vipkeeper.config.builder.core import Builder, Draft, Field, loc
from vipkeeper.config.builder.handlers import h_choice, h_float, h_script
from vipkeeper.config.builder.registry import Handler, opens
from vipkeeper.config.model import ConflictMode, Location, ScriptCommand, VipkeeperDefs
from vipkeeper.config.parser import Node
from vipkeeper.config.values import parse_float

# The bounds of the settings: a probe of every VIP at least once an hour and at most once a
# second; a guard of at most one second (a takeover waits this long).
INTERVAL_MIN, INTERVAL_MAX = 1.0, 3600.0
GUARD_MIN, GUARD_MAX = 0.005, 1.0


class VipkeeperDraft(Draft):
    """The fields of `VipkeeperDefs` that keywords set."""

    conflict_detection: Field[ConflictMode] = Field()
    conflict_interval: Field[float] = Field()
    conflict_notify: Field[ScriptCommand] = Field()
    takeover_guard: Field[float] = Field()
    location: Field[Location] = Field()


V = VipkeeperDraft


def _guard(b: Builder, node: Node, d: Draft) -> None:
    """`takeover_guard off|SECONDS` (0 and off: no guard)."""
    text = b.arg(node, "off or a number of seconds")
    if text is None:
        return
    b.only(node, 1)
    if text.lower() in ("off", "0"):
        d.set(V.takeover_guard, 0.0)
        return
    value = b.convert(node, lambda: parse_float(text, GUARD_MIN, GUARD_MAX))
    if value is not None:
        d.set(V.takeover_guard, value)


VIPKEEPER_HANDLERS: dict[str, Handler[Draft]] = {
    "conflict_detection": h_choice(
        V.conflict_detection, {"OFF": ConflictMode.OFF, "REPORT": ConflictMode.REPORT}
    ),
    "conflict_interval": h_float(V.conflict_interval, INTERVAL_MIN, INTERVAL_MAX),
    "conflict_notify": h_script(V.conflict_notify),
    "takeover_guard": _guard,
}


def _vipkeeper(b: Builder, node: Node, _: Draft) -> None:
    b.only(node, 0)
    block = b.walk(node, "vipkeeper", VipkeeperDraft())
    if b.vipkeeper is None:
        b.vipkeeper = block
    else:
        b.vipkeeper.update(block)
    if b.vipkeeper.get(V.location) is None:
        b.vipkeeper.set(V.location, loc(node))


VIPKEEPER = opens("vipkeeper", _vipkeeper)


def finish_vipkeeper(b: Builder) -> VipkeeperDefs:
    """The vipkeeper block of the whole config (the defaults when there is none)."""
    d = b.vipkeeper if b.vipkeeper is not None else VipkeeperDraft()
    return VipkeeperDefs(**d.values)
