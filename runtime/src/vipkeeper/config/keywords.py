"""The keyword registry: every keepalived keyword, the block it belongs to, and its status.

A keyword is implemented when its block has a handler in `config/build.py` (`HANDLERS`); every
other keyword keepalived 2.4 accepts is in `config/builder/unsupported.py`, and vipkeeper
warns about it and skips it. This module is the public view of the two, merged, with each
keyword's status from `config/keywordstatus.py` (`status`, `rows`): a unit test checks that
every keyword of keepalived 2.4 (docs/keepalived-keywords.txt) is present, and that none is
accepted in silence.
"""

from __future__ import annotations

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.build import REGISTRY
from vipkeeper.config.builder.registry import LIST, Keyword
from vipkeeper.config.keywordstatus import NO_EFFECT, NOTES, SMTP_BRANCH, Status

__all__ = [
    "CONTEXTS", "LIST", "Keyword", "Row", "Status", "context_names", "lookup", "rows", "status",
    "suggest",
]  # fmt: skip

CONTEXTS: dict[str, dict[str, Keyword]] = REGISTRY.contexts


def lookup(context: str, name: str) -> Keyword | None:
    """The keyword `name` in block `context`, if keepalived has it there."""
    return REGISTRY.lookup(context, name)


def suggest(context: str, name: str) -> str | None:
    """The closest keyword of `context` to a misspelt `name`, if any is close."""
    return REGISTRY.suggest(context, name)


def context_names() -> list[str]:
    """Every block context."""
    return list(CONTEXTS)


def status(context: str, name: str) -> Status | None:
    """What vipkeeper does with `name` in block `context` (None: not a keyword there)."""
    spec = lookup(context, name)
    if spec is None:
        return None
    if not spec.supported:
        return Status.UNSUPPORTED
    if name in NO_EFFECT.get(context, {}):
        return Status.NO_EFFECT
    if name in SMTP_BRANCH.get(context, frozenset()):
        return Status.SMTP_BRANCH
    return Status.IMPLEMENTED


@dataclass(frozen=True, **SLOTS)
class Row:
    """One keyword of one block, for the docs' table."""

    context: str
    name: str
    status: Status
    note: str


def rows() -> list[Row]:
    """Every keyword of every block, in the registry's order, with its status and note."""
    out = []
    for context, table in CONTEXTS.items():
        for name in table:
            state = status(context, name)
            assert state is not None
            note = NO_EFFECT.get(context, {}).get(name) or NOTES.get(context, {}).get(name, "")
            out.append(Row(context, name, state, note))
    return out
