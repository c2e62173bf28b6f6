"""`vrrp_track_process` blocks and the `track_process` entries of instances and sync groups.

keepalived 2.2.7 (vrrp_parser.c, vrrp_track.c) reports each bad value as a config error and
ignores that keyword; the block without a `process` is dropped. An entry naming a block is
resolved when it is read, so the block must come before the instance that tracks it.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from vipkeeper.config.builder.core import Builder, Draft, Field, loc, name_of
from vipkeeper.config.builder.registry import Handler, opens
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.model import (
    QUORUM_MAX_UNSET,
    ParamMatch,
    TrackProcess,
    TrackProcessRef,
    VrrpInstanceConfig,
    VrrpSyncGroup,
)
from vipkeeper.config.parser import Node

_INT = re.compile(r"^[+-]?[0-9]+$")
_DECIMAL = re.compile(r"^[0-9]+(\.[0-9]{0,6})?$|^\.[0-9]{1,6}$")
MAX_DELAY = 3600.0


class TrackProcessDraft(Draft):
    """A `vrrp_track_process` block."""

    pname: Field[str] = Field(model=False)  # the block's name, for the messages
    process: Field[str] = Field()
    params: Field[tuple[str, ...]] = Field()
    param_match: Field[ParamMatch] = Field()
    full_command: Field[bool] = Field()
    weight: Field[int] = Field()
    weight_reverse: Field[bool] = Field()
    quorum: Field[int] = Field()
    quorum_max: Field[int] = Field()
    fork_delay: Field[float] = Field()
    terminate_delay: Field[float] = Field()


D = TrackProcessDraft


def _int(text: str, lo: int, hi: int) -> int | None:
    if not _INT.match(text):
        return None
    value = int(text)
    return value if lo <= value <= hi else None


def _delay(text: str) -> float | None:
    if not _DECIMAL.match(text):
        return None
    value = float(text)
    return value if 0.000001 <= value <= MAX_DELAY else None


def _ranged(
    b: Builder, node: Node, d: TrackProcessDraft, text: str, *, what: str, lo: int, hi: int
) -> int | None:
    """``text`` as an integer in ``[lo, hi]``, or None after keepalived's range message."""
    value = _int(text, lo, hi)
    if value is None:
        b.report(
            node,
            Code.RANGE,
            f"{what} ({text}) for vrrp_track_process {d.pname} must be between "
            f"[{lo}..{hi}] inclusive. Ignoring...",
        )
    return value


def _process(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    text = b.arg(node, "a process name")
    if text is None:
        return
    if d.process is not None:
        b.bad(node, f"Process already set for track process {d.pname} - ignoring {text}")
        return
    d.process = text
    params = tuple(t.text for t in node.args[1:])
    if params:
        d.params = params
        if d.param_match is None:
            d.param_match = ParamMatch.EXACT
        d.full_command = True


def _param_match(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    if not node.args:
        d.param_match = ParamMatch.EXACT
    elif node.args[0].text in ("initial", "partial"):
        d.param_match = ParamMatch(node.args[0].text)
    else:
        b.bad(node, f"Invalid param_match type {node.args[0].text} - ignoring")
        return
    d.full_command = True


def _weight(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    if not node.args:
        b.bad(node, f"No weight specified for track process {d.pname} - ignoring")
        return
    text = node.args[0].text
    if d.weight:
        b.bad(node, f"Weight already set for track process {d.pname} - ignoring {text}")
        return
    weight = _ranged(b, node, d, text, what="Weight", lo=-254, hi=254)
    if weight is None:
        return
    if len(node.args) >= 2:
        option = node.args[1].text
        if option == "reverse":
            d.weight_reverse = True
        else:
            b.bad(node, f"vrrp_track_process {d.pname} unknown weight option {option}")
    d.weight = weight


def _quorum_max_now(d: TrackProcessDraft) -> int:
    return d.quorum_max if d.quorum_max is not None else QUORUM_MAX_UNSET


def _quorum(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    text = b.arg(node, "a number")
    if text is None:
        return
    quorum = _ranged(b, node, d, text, what="Quorum", lo=1, hi=65535)
    if quorum is None:
        return
    if quorum > _quorum_max_now(d):
        b.bad(node, "Quorum is greater than quorum_max - ignoring")
        return
    d.quorum = quorum


def _quorum_max(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    text = b.arg(node, "a number")
    if text is None:
        return
    quorum_max = _ranged(b, node, d, text, what="quorum_max", lo=0, hi=65535)
    if quorum_max is None:
        return
    quorum = d.quorum if d.quorum is not None else 1
    # keepalived allows quorum_max 0 while quorum is left at its default
    if (quorum_max or quorum > 1) and quorum_max < quorum:
        b.bad(node, "quorum_max is less than quorum - ignoring")
        return
    d.quorum_max = quorum_max
    if quorum_max == 0:
        d.quorum = 0
    elif not quorum:
        d.quorum = 1


def _h_delay(prefix: str, fork: bool, terminate: bool) -> Handler[TrackProcessDraft]:
    def handle(b: Builder, node: Node, d: TrackProcessDraft) -> None:
        text = b.arg(node, "a time in seconds")
        if text is None:
            return
        delay = _delay(text)
        if delay is None:
            b.report(
                node,
                Code.RANGE,
                f"{prefix}delay ({text}) for vrrp_track_process {d.pname} must be between "
                "[0.000001..3600] inclusive. Ignoring...",
            )
            return
        if fork:
            d.fork_delay = delay
        if terminate:
            d.terminate_delay = delay

    return handle


def _full_command(b: Builder, node: Node, d: TrackProcessDraft) -> None:
    d.full_command = True


TRACK_PROCESS_HANDLERS: dict[str, Handler[TrackProcessDraft]] = {
    "process": _process,
    "param_match": _param_match,
    "weight": _weight,
    "quorum": _quorum,
    "quorum_max": _quorum_max,
    "delay": _h_delay("", True, True),
    "terminate_delay": _h_delay("terminate_", False, True),
    "fork_delay": _h_delay("fork_", True, False),
    "full_command": _full_command,
}


def _track_process_block(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    draft = TrackProcessDraft()
    draft.pname = name or ""
    d = b.walk(node, "vrrp_track_process", draft)
    if name is None:
        return
    if d.process is None:
        if node.children is not None:
            b.report(node, Code.MISSING_VALUE, f"track process '{name}' process name not specified")
        return
    b.track_processes.append(TrackProcess(name=name, location=loc(node), **d.values))


TRACK_PROCESS_ROOT_HANDLERS: dict[str, Handler[Draft]] = {
    "vrrp_track_process": opens("vrrp_track_process", _track_process_block),
}


def parse_track_process(
    b: Builder, node: Node, seen: tuple[TrackProcessRef, ...]
) -> TrackProcessRef | None:
    """`NAME [weight N [reverse|noreverse]]`, resolved against the blocks read so far."""
    words = node.words
    name = words[0]
    if not any(t.name == name for t in b.track_processes):
        b.report(node, Code.UNDEFINED_REFERENCE, f"track process {name} not found, ignoring...")
        return None
    if any(r.name == name for r in seen):
        b.report(node, Code.DUPLICATE, f"duplicate track_process {name} - ignoring")
        return None
    ref = TrackProcessRef(name=name, location=loc(node))
    if len(words) < 2:
        return ref
    if words[1] != "weight":
        b.bad(node, f"unknown track process option {words[1]} - ignoring")
        return None
    if len(words) == 2:
        b.bad(node, f"weight without value specified for track process {name} - ignoring")
        return None
    weight = _int(words[2], -254, 254)
    if weight is None:
        b.report(
            node,
            Code.RANGE,
            f"weight for track process {name} must be in [-254..254] inclusive. Ignoring...",
        )
    reverse: bool | None = None
    if len(words) >= 4:
        if words[3] in ("reverse", "noreverse"):
            reverse = words[3] == "reverse"
        else:
            b.bad(node, f"unknown track_process {name} weight option {words[3]} - ignoring")
    return TrackProcessRef(name=name, weight=weight, reverse=reverse, location=loc(node))


def owner_groups_unweighted(
    b: Builder, groups: Sequence[VrrpSyncGroup], instances: Sequence[VrrpInstanceConfig]
) -> list[VrrpSyncGroup]:
    """keepalived: a sync group with an address owner (priority 255) among its members cannot
    have weighted track_process entries; it reports each one and sets its weight to 0."""
    owners = {i.name for i in instances if i.priority == 255}
    blocks = {t.name: t for t in b.track_processes}
    out = []
    for group in groups:
        if not owners.intersection(group.group):
            out.append(group)
            continue
        refs = []
        for ref in group.track_processes:
            block = blocks.get(ref.name)
            weight = ref.weight if ref.weight is not None else (block.weight if block else 0)
            if weight:
                where = group.location
                b.diagnostics.append(
                    Diagnostic(
                        where.file if where else "",
                        0,
                        0,
                        Severity.ERROR,
                        f"({group.name}) Cannot have weighted track process '{ref.name}' with "
                        "member having priority 255 - setting weight 0",
                        Code.DEFAULTED,
                    )
                )
                ref = dataclasses.replace(ref, weight=0)
            refs.append(ref)
        out.append(dataclasses.replace(group, track_processes=tuple(refs)))
    return out
