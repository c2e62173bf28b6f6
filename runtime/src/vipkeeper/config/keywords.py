"""The keyword registry: every keepalived keyword, the block it belongs to, and its status.

A keyword is implemented when its block has a handler in `config/build.py` (`HANDLERS`); every
other keyword keepalived 2.4 accepts is in `config/builder/unsupported.py`, and vipkeeper
warns about it and skips it. This module is the public view of the two, merged: a unit test
checks that every keyword of keepalived 2.4 (docs/keepalived-keywords.txt) is present.
"""

from __future__ import annotations

from vipkeeper.config.build import REGISTRY
from vipkeeper.config.builder.registry import LIST, Keyword

__all__ = ["CONTEXTS", "LIST", "Keyword", "context_names", "lookup", "suggest"]

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
