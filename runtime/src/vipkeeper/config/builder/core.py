"""The builder's core: typed drafts and the walk over the block tree.

Each block is parsed into a draft, a `Draft` subclass that declares every field a handler
may set as a `Field[T]` descriptor named exactly as the model's field. A handler names the
field through the draft class (`h_int(InstanceDraft.priority, 1, 255)`), so mypy checks the
name and the value type. A field left unset is absent from `values`, and the model's own
default applies when the finishing step calls `Model(**draft.values)`. A field declared
`Field(model=False)` is parse state that the finishing step consumes (notify commands, a
script's user) and is kept in `aside`. `nodes` keeps the node of a keyword, so validation
can point at the line that set it.

The walk dispatches each statement of a block to the handler of its context (see
`registry.py`). An unknown keyword is an error with a suggestion; a recognized keyword that
vipkeeper does not implement is a warning, and the names inside its block are still checked;
a statement given a block it does not take is an error.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar, cast, overload

from vipkeeper.config.builder.registry import LIST, Registry
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.keywordstatus import no_effect_note
from vipkeeper.config.lexer import Token
from vipkeeper.config.model import Location
from vipkeeper.config.parser import Node
from vipkeeper.config.values import FALSE_WORDS, TRUE_WORDS, ValueError_

# Keywords whose keepalived handler checks for its value itself, so that a missing one is
# not the parser's missing-parameter exit (2): "error" is a general config error (exit 5),
# "ignored" a line keepalived accepts and ignores (a warning here). Keyed by
# "context:keyword", or by the keyword alone for every block that has it.
MISSING_VALUE_RULES: dict[str, str] = {
    "root:vrrp_instance": "error",
    "root:vrrp_sync_group": "error",
    "global_defs:router_id": "error",
    "global_defs:notification_email_from": "error",
    "global_defs:smtp_helo_name": "ignored",
    "global_defs:default_interface": "error",
    "global_defs:notify_fifo": "error",
    "global_defs:notify_fifo_script": "error",
    "global_defs:vrrp_notify_fifo": "error",
    "global_defs:vrrp_notify_fifo_script": "error",
    "global_defs:lvs_notify_fifo": "error",
    "global_defs:lvs_notify_fifo_script": "error",
    "global_defs:script_user": "error",
    "vrrp_script:script": "ignored",
    "virtual_server:sorry_server_lvs_method": "error",
    "virtualhost": "error",
    "HTTP_GET:http_protocol": "error",
    "HTTP_GET:sni_name": "error",
    "url:status_code": "ignored",
    "MISC_CHECK:misc_path": "ignored",
    "MISC_CHECK:user": "error",
    "DNS_CHECK:name": "error",
    "SMTP_CHECK:helo_name": "error",
}

# How a flag keyword treats an argument (see Builder.flag).
FlagArgs = Literal["bool", "ignored", "set"]

if TYPE_CHECKING:
    from vipkeeper.config.builder.extensions import VipkeeperDraft
    from vipkeeper.config.builder.global_defs import GlobalDraft
    from vipkeeper.config.builder.lvs import VirtualServerDraft
    from vipkeeper.config.builder.tls import SslDraft
    from vipkeeper.config.builder.vrrp import InstanceDraft
    from vipkeeper.config.model import (
        IpRule,
        TrackFile,
        TrackProcess,
        VirtualIP,
        VirtualRoute,
        VirtualServer,
        VirtualServerGroup,
        VrrpScript,
        VrrpSyncGroup,
    )

T = TypeVar("T")
DraftT = TypeVar("DraftT", bound="Draft")

MAX_TIME = 1e6
TINY = 1e-6  # keepalived's smallest time: "must be greater than 0"


class Field(Generic[T]):
    """A field of a draft: read as `T | None` (None while unset), set with a `T`."""

    def __init__(self, *, model: bool = True) -> None:
        self.name = ""
        self.model = model  # False: parse state, not passed to the model

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @overload
    def __get__(self, draft: None, owner: type[Any] | None = None) -> Field[T]: ...

    @overload
    def __get__(self, draft: Draft, owner: type[Any] | None = None) -> T | None: ...

    def __get__(self, draft: Draft | None, owner: type[Any] | None = None) -> Field[T] | T | None:
        if draft is None:
            return self
        return cast("T | None", (draft.values if self.model else draft.aside).get(self.name))

    def __set__(self, draft: Draft, value: T) -> None:
        (draft.values if self.model else draft.aside)[self.name] = value


class Draft:
    """The keywords of one block parsed so far (see the module docstring)."""

    def __init__(self) -> None:
        self.values: dict[str, Any] = {}  # model fields set, by name
        self.aside: dict[str, Any] = {}  # `model=False` fields set, by name
        self.nodes: dict[str, Node] = {}  # the node that set a field, for diagnostics

    def get(self, field: Field[T]) -> T | None:
        """The value of `field`, None while unset."""
        return cast("T | None", (self.values if field.model else self.aside).get(field.name))

    def set(self, field: Field[T], value: T) -> None:
        """Set `field`."""
        (self.values if field.model else self.aside)[field.name] = value

    def default(self, field: Field[T], value: T) -> T:
        """Set `field` to `value` unless a keyword set it; its value either way."""
        return cast("T", (self.values if field.model else self.aside).setdefault(field.name, value))

    def is_set(self, field: Field[Any]) -> bool:
        """True once a handler set `field`."""
        return field.name in (self.values if field.model else self.aside)

    def remember(self, field: Field[Any], node: Node) -> None:
        """Keep the node of the keyword that sets `field`."""
        self.nodes[field.name] = node

    def node_of(self, field: Field[Any]) -> Node | None:
        """The node of the keyword that set `field`, if remembered."""
        return self.nodes.get(field.name)

    def update(self, other: Draft) -> None:
        """Take every field `other` set (a repeated block: the later one wins)."""
        self.values.update(other.values)
        self.aside.update(other.aside)
        self.nodes.update(other.nodes)

    def copy(self: DraftT) -> DraftT:
        """A copy whose fields can be finished without touching this draft."""
        out = object.__new__(type(self))
        out.__dict__.update(self.__dict__)
        out.values, out.aside, out.nodes = dict(self.values), dict(self.aside), dict(self.nodes)
        return out


def loc(node: Node | Token) -> Location:
    """The location of a node or token."""
    if isinstance(node, Node):
        node = node.keyword
    return Location(file=node.file, line=node.line, column=node.column)


class Builder:
    """Walks the tree, calling handlers and collecting diagnostics and finished blocks."""

    def __init__(self, diagnostics: list[Diagnostic], registry: Registry) -> None:
        self.diagnostics = diagnostics
        self.registry = registry
        self.context = "root"  # the block of the statement being handled
        self.global_defs: GlobalDraft | None = None
        self.global_node: Node | None = None
        self.vipkeeper: VipkeeperDraft | None = None  # the vipkeeper-only block
        self.ssl: SslDraft | None = None  # the root SSL block
        self.instances: list[tuple[Node, InstanceDraft]] = []
        self.sync_groups: list[VrrpSyncGroup] = []
        self.scripts: list[VrrpScript] = []
        self.track_files: list[TrackFile] = []
        self.track_processes: list[TrackProcess] = []
        self.vs_groups: list[VirtualServerGroup] = []
        self.virtual_servers: list[VirtualServer] = []
        self.static_ips: list[VirtualIP] = []
        self.static_routes: list[VirtualRoute] = []
        self.static_rules: list[IpRule] = []
        self.rule_priority = {4: 16384, 6: 16384}  # keepalived's next preference by family
        self.track_groups: set[str] = set()  # the track_group blocks read so far
        self.vs_nodes: list[tuple[Node, VirtualServerDraft]] = []
        self.hints: dict[tuple[str, str], str | None] = {}  # suggestions made in this load

    def report(
        self, where: Node | Token, code: Code, message: str, *, warning: bool = False
    ) -> None:
        """Record a diagnostic at `where`."""
        tok = where.keyword if isinstance(where, Node) else where
        sev = Severity.WARNING if warning else Severity.ERROR
        self.diagnostics.append(Diagnostic(tok.file, tok.line, tok.column, sev, message, code))

    def bad(self, where: Node | Token, message: str) -> None:
        """Record a bad-value error."""
        self.report(where, Code.BAD_VALUE, message)

    def arg(self, node: Node, what: str = "a value", index: int = 0) -> str | None:
        """Argument `index` of `node`, or an error when it is missing."""
        if len(node.args) <= index:
            rule = MISSING_VALUE_RULES.get(
                f"{self.context}:{node.name}", MISSING_VALUE_RULES.get(node.name)
            )
            if index > 0 or rule == "error":
                self.report(node, Code.MISSING_VALUE, f"'{node.name}' needs {what}")
            elif rule == "ignored":
                msg = f"'{node.name}' without {what} is ignored"
                self.report(node, Code.MISSING_VALUE, msg, warning=True)
            else:  # keepalived's parser stops here: exit 2
                self.report(node, Code.MISSING_PARAMETER, f"'{node.name}' needs {what}")
            return None
        return node.args[index].text

    def only(self, node: Node, count: int) -> None:
        """Warn about arguments beyond `count`."""
        if len(node.args) > count:
            extra = " ".join(t.text for t in node.args[count:])
            self.report(
                node.args[count],
                Code.BAD_VALUE,
                f"'{node.name}': extra arguments ignored: {extra}",
                warning=True,
            )

    def convert(self, node: Node, fn: Callable[[], T]) -> T | None:
        """Run a value parser, turning ValueError_ into a diagnostic (returns None)."""
        try:
            return fn()
        except ValueError_ as exc:
            self.bad(node, f"{node.name}: {exc}")
            return None

    def flag(self, node: Node, args: FlagArgs = "bool") -> bool | None:
        """A flag: bare means true; what an argument means depends on keepalived's handler.

        `bool`: one of on|off|true|false|yes|no (exact case, as keepalived's
        check_true_false), anything else an error that leaves the flag unchanged;
        `ignored`: the handler never reads its arguments, so the flag is set whatever
        follows (a warning says so); `set`: a valid boolean sets the flag even when it is
        false (keepalived's skip_check_adv_addr), anything else an error.
        """
        if not node.args:
            return True
        if args == "ignored":
            extra = " ".join(t.text for t in node.args)
            self.report(
                node.args[0],
                Code.BAD_VALUE,
                f"'{node.name}' takes no argument; '{extra}' ignored (keepalived sets the flag)",
                warning=True,
            )
            return True
        self.only(node, 1)
        text = node.args[0].text
        if text in TRUE_WORDS or text in FALSE_WORDS:
            return True if args == "set" else text in TRUE_WORDS
        self.bad(node, f"{node.name}: '{text}' is not a boolean (on|off|true|false|yes|no)")
        return None

    def entries(self, node: Node) -> list[Node]:
        """The entries of a list block (error when the block is missing)."""
        if node.children is None:
            self.report(node, Code.MISSING_BLOCK, f"'{node.name}' needs a block {{ ... }}")
            return []
        out = []
        for child in node.children:
            if child.children is not None:
                self.report(child, Code.UNEXPECTED_BRACE, f"unexpected block after '{child.name}'")
            out.append(child)
        return out

    def walk(self, node: Node, context: str, draft: DraftT) -> DraftT:
        """Apply the handlers of `context` to the statements of `node`'s block."""
        if node.children is None:
            self.report(node, Code.MISSING_BLOCK, f"'{node.name}' needs a block {{ ... }}")
            return draft
        self.statements(node.children, context, draft)
        return draft

    def statements(self, nodes: list[Node], context: str, draft: Draft) -> None:
        """Dispatch each statement to its handler."""
        keywords = self.registry.contexts.get(context, {})
        handlers = self.registry.handlers.get(context, {})
        for child in nodes:
            spec = keywords.get(child.name)
            if spec is None:
                self.unknown(child, context)
                continue
            if spec.block is None and child.children is not None:
                self.report(child, Code.UNEXPECTED_BRACE, f"'{child.name}' does not take a block")
                continue
            if not spec.supported:
                self.report(
                    child,
                    Code.UNSUPPORTED,
                    f"keyword '{child.name}' is not supported by vipkeeper",
                    warning=True,
                )
                if spec.block is not None and spec.block != LIST and child.children is not None:
                    self.check_names(child.children, spec.block)
                if context == "root" and child.name == "track_group" and child.args:
                    self.track_groups.add(child.args[0].text)
                continue
            outer, self.context = self.context, context
            handlers[child.name](self, child, draft)
            self.context = outer
            note = no_effect_note(context, child.name)
            if note is not None:  # read and checked, but it changes nothing here
                msg = f"keyword '{child.name}' is not supported by vipkeeper"
                self.report(
                    child, Code.UNSUPPORTED, f"{msg}: {note}" if note else msg, warning=True
                )

    def check_names(self, nodes: list[Node], context: str) -> None:
        """Flag unknown keywords inside a skipped (unsupported) block."""
        for child in nodes:
            spec = self.registry.lookup(context, child.name)
            if spec is None:
                self.unknown(child, context)
            elif spec.block is not None and spec.block != LIST and child.children is not None:
                self.check_names(child.children, spec.block)

    def unknown(self, node: Node, context: str) -> None:
        """An unknown keyword: error with a suggestion."""
        where = "at top level" if context == "root" else f"in {context}"
        msg = f"unknown keyword '{node.name}' {where}"
        key = (context, node.name)
        if key in self.hints:
            hint = self.hints[key]
        else:
            hint = self.hints[key] = self.registry.suggest(context, node.name)
        if hint:
            msg += f" - did you mean '{hint}'?"
        self.report(node, Code.UNKNOWN_KEYWORD, msg)

    def build_root(self, nodes: list[Node]) -> None:
        """Handle the top-level statements."""
        if nodes and nodes[-1].children is None:
            spec = self.registry.contexts.get("root", {}).get(nodes[-1].name)
            if spec is not None and spec.block is not None:
                # keepalived looks for a block's '{' on the next line; a block keyword that
                # ends the configuration has none, and it takes the block as empty in silence
                nodes = [*nodes[:-1], dataclasses.replace(nodes[-1], children=[])]
        self.statements(nodes, "root", Draft())


def name_of(b: Builder, node: Node) -> str | None:
    """The single name argument of a named block."""
    name = b.arg(node, "a name")
    if name is not None:
        b.only(node, 1)
    return name
