"""Handler factories: the common shapes of a keyword, each setting one typed draft field.

`h_int(InstanceDraft.priority, 1, 255)` is the handler of `priority N`: it reports a missing
or bad value at the keyword, warns about extra arguments, and sets the field only when the
value parses, so a bad value leaves the model's default in place.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import TypeVar

from vipkeeper.config.builder.core import (
    MAX_TIME,
    Builder,
    Draft,
    DraftT,
    Field,
    FlagArgs,
    loc,
)
from vipkeeper.config.builder.registry import LIST, Handler, Opens, opens
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import IPAddress, ScriptCommand
from vipkeeper.config.parser import Node
from vipkeeper.config.values import parse_float, parse_int, parse_ip, parse_script

T = TypeVar("T")


def h_int(field: Field[int], lo: int, hi: int) -> Handler[Draft]:
    """`keyword N` into an int field."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "a number")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_int(text, lo, hi))
            if value is not None:
                d.set(field, value)

    return handle


def h_float(field: Field[float], lo: float = 0.0, hi: float = MAX_TIME) -> Handler[Draft]:
    """`keyword SECONDS` into a float field."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "a number")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_float(text, lo, hi))
            if value is not None:
                d.set(field, value)

    return handle


def h_seconds_int(field: Field[float], lo: int, hi: int) -> Handler[Draft]:
    """`keyword N`: whole seconds (keepalived refuses fractions here), stored as float."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "a number")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_int(text, lo, hi))
            if value is not None:
                d.set(field, float(value))

    return handle


class Flag:
    """The handler of a flag keyword (`h_flag`); the differential tests list these.

    `args` is what keepalived's handler does with an argument (`Builder.flag`): most
    flags that predate check_true_false ignore it (`nopreempt 1`, `nopreempt false`).
    """

    __slots__ = ("args", "remember", "target", "value")

    def __init__(self, target: Field[bool], value: bool, args: FlagArgs, remember: bool) -> None:
        self.target = target
        self.value = value
        self.args: FlagArgs = args
        self.remember = remember

    def __call__(self, b: Builder, node: Node, d: Draft, /) -> None:
        got = b.flag(node, self.args)
        if got is not None:
            d.set(self.target, got if self.value else not got)
        if self.remember:
            d.remember(self.target, node)


def h_flag(
    field: Field[bool], value: bool = True, *, args: FlagArgs = "bool", remember: bool = False
) -> Flag:
    """A bare (or boolean) flag; `value=False` for negative keywords like no_accept."""
    return Flag(field, value, args, remember)


def h_str(field: Field[str]) -> Handler[Draft]:
    """`keyword WORD` into a str field."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node)
        if text is not None:
            b.only(node, 1)
            d.set(field, text)

    return handle


def h_ip(field: Field[IPAddress]) -> Handler[Draft]:
    """`keyword ADDRESS`."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "an IP address")
        if text is not None:
            b.only(node, 1)
            value = b.convert(node, lambda: parse_ip(text))
            if value is not None:
                d.set(field, value)

    return handle


def h_script(field: Field[ScriptCommand]) -> Handler[Draft]:
    """`keyword "command args" [user [group]]`."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        if b.arg(node, "a command") is not None:
            value = b.convert(node, lambda: parse_script([t.text for t in node.args]))
            if value is not None:
                d.set(field, dataclasses.replace(value, location=loc(node)))

    return handle


def h_choice(field: Field[T], choices: Mapping[str, T], *, exact: bool = False) -> Handler[Draft]:
    """`keyword WORD` where WORD is one of `choices` (case-insensitive unless `exact`)."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node)
        if text is None:
            return
        b.only(node, 1)
        value = choices.get(text if exact else text.upper())
        if value is None:
            b.bad(node, f"{node.name}: '{text}' is not one of {', '.join(choices)}")
        else:
            d.set(field, value)

    return handle


def h_weight(field: Field[int], lo: int, hi: int, reverse: Field[bool]) -> Handler[Draft]:
    """`weight N [reverse]`."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        text = b.arg(node, "a number")
        if text is None:
            return
        value = b.convert(node, lambda: parse_int(text, lo, hi))
        if value is not None:
            d.set(field, value)
        rest = [t.text for t in node.args[1:]]
        if rest == ["reverse"]:
            d.set(reverse, True)
        elif rest:
            b.bad(node, f"{node.name}: unexpected '{' '.join(rest)}'")

    return handle


def h_run_as(user: Field[str], group: Field[str | None]) -> Handler[Draft]:
    """`user USER [GROUP]`: who runs a vrrp_script or a MISC_CHECK."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        name = b.arg(node, "a user name")
        if name is not None:
            d.set(user, name)
            d.set(group, node.args[1].text if len(node.args) > 1 else None)
            b.only(node, 2)

    return handle


def h_deprecated(alias_of: Handler[DraftT], note: str) -> Handler[DraftT]:
    """A deprecated name: an error for `-t` (as keepalived), then it acts like `alias_of`."""

    def handle(b: Builder, node: Node, d: DraftT) -> None:
        b.report(node, Code.DEPRECATED, note)
        alias_of(b, node, d)

    return handle


def h_remember(field: Field[T], inner: Handler[DraftT]) -> Handler[DraftT]:
    """Run `inner` and keep the node under `field`, so validation can point at it."""

    def handle(b: Builder, node: Node, d: DraftT) -> None:
        inner(b, node, d)
        d.remember(field, node)

    return opens(inner.block, handle) if isinstance(inner, Opens) else handle


def h_list(field: Field[tuple[T, ...]], parse: Callable[[Builder, Node], T | None]) -> Opens[Draft]:
    """A list block whose entries `parse` turns into model items (None = skipped)."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        current = d.get(field)
        items = list(current) if current is not None else []
        for entry in b.entries(node):
            item = parse(b, entry)
            if item is not None:
                items.append(item)
        d.set(field, tuple(items))

    return opens(LIST, handle)


def h_words(field: Field[tuple[str, ...]]) -> Opens[Draft]:
    """A list block of plain words (every word of every line)."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        current = d.get(field)
        words = list(current) if current is not None else []
        for entry in b.entries(node):
            words.extend(entry.words)
        d.set(field, tuple(words))

    return opens(LIST, handle)


def h_block(
    field: Field[T],
    context: str,
    draft: Callable[[], DraftT],
    make: Callable[[Builder, Node, DraftT], T | None],
) -> Opens[Draft]:
    """A sub-block parsed in `context` into a new `draft`, then turned into an item by `make`."""

    def handle(b: Builder, node: Node, d: Draft) -> None:
        item = make(b, node, b.walk(node, context, draft()))
        if item is not None:
            d.set(field, item)

    return opens(context, handle)
