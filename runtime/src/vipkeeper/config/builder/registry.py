"""The keyword registry: what keepalived accepts in each block, and what vipkeeper does with it.

A keyword is implemented when its block's handler table has a handler for it. Every other
keyword keepalived accepts is listed in `unsupported.py`: vipkeeper warns about it and skips
it. The registry merges the two, so the implemented keywords are never listed twice, and a
keyword cannot be both (the merge raises on a clash, at import time).

A handler whose keyword opens a block says so by being an `Opens` (a named block context, or
`LIST` for a block of free-form entries); any other handler is a plain statement.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Generic, Protocol, TypeVar

from vipkeeper._compat import SLOTS, dataclass

if TYPE_CHECKING:
    from vipkeeper.config.builder.core import Builder
    from vipkeeper.config.parser import Node

LIST = "[]"  # pseudo-context of free-form list blocks

D = TypeVar("D")
D_contra = TypeVar("D_contra", contravariant=True)


class Handler(Protocol[D_contra]):
    """Parses one keyword of a block into that block's draft `D`."""

    def __call__(self, b: Builder, node: Node, draft: D_contra, /) -> None: ...


@dataclass(frozen=True, **SLOTS)
class Opens(Generic[D]):
    """A handler whose keyword opens a block: a context's name, or LIST."""

    block: str
    handle: Handler[D]

    def __call__(self, b: Builder, node: Node, draft: D, /) -> None:
        self.handle(b, node, draft)


def opens(block: str, handle: Handler[D]) -> Opens[D]:
    """Mark `handle` as the handler of a keyword that opens a `block`."""
    return Opens(block, handle)


def block_of(handle: Handler[Any]) -> str | None:
    """The block a handler's keyword opens, or None for a plain statement."""
    return handle.block if isinstance(handle, Opens) else None


@dataclass(frozen=True, **SLOTS)
class Keyword:
    """One recognized keyword in one context."""

    name: str
    context: str
    supported: bool
    block: str | None  # context of the block it opens, LIST, or None for a plain statement


def compile_unsupported(table: Mapping[str, str]) -> dict[str, dict[str, Keyword]]:
    """Words `name`, `name{ctx}` (opens a block in `ctx`) or `name[]` (a LIST block)."""
    out: dict[str, dict[str, Keyword]] = {}
    for context, text in table.items():
        entries: dict[str, Keyword] = {}
        for word in text.split():
            block: str | None = None
            if word.endswith(LIST):
                word, block = word[: -len(LIST)], LIST
            elif word.endswith("}"):
                word, _, rest = word.partition("{")
                block = rest[:-1]
            entries[word] = Keyword(word, context, False, block)
        out[context] = entries
    return out


class Registry:
    """Every keyword of every block: the handler tables merged with the unsupported ones."""

    def __init__(
        self,
        handlers: Mapping[str, Mapping[str, Handler[Any]]],
        unsupported: Mapping[str, Mapping[str, Keyword]],
    ) -> None:
        self.handlers = handlers
        self.contexts: dict[str, dict[str, Keyword]] = {}
        for context in (*handlers, *(c for c in unsupported if c not in handlers)):
            table = {
                name: Keyword(name, context, True, block_of(handle))
                for name, handle in handlers.get(context, {}).items()
            }
            for name, spec in unsupported.get(context, {}).items():
                if name in table:
                    raise ValueError(f"{context}: '{name}' is implemented and listed unsupported")
                table[name] = spec
            self.contexts[context] = table

    def lookup(self, context: str, name: str) -> Keyword | None:
        """The keyword `name` in block `context`, if keepalived has it there."""
        return self.contexts.get(context, {}).get(name)

    def suggest(self, context: str, name: str) -> str | None:
        """The closest keyword of `context` to a misspelt `name`, if any is close."""
        names = list(self.contexts.get(context, {}))
        matches = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
        return matches[0] if matches else None
