# keepalived.conf block structure: a statement is the words of a line up to a brace or the end
# of the line. `{` opens a block for the statement before it, on the same line or the previous
# one; `}` closes the innermost block. Words after a brace start a new statement.
"""Iterative parser from tokens to a block tree (no recursion, bounded depth)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import field

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.lexer import Token, TokenKind, tokenize_line
from vipkeeper.config.preprocess import SourceLine

MAX_DEPTH = 32


@dataclass(eq=False, **SLOTS)
class Node:
    """A statement: keyword, arguments and, when it opened a block, its children."""

    keyword: Token
    args: list[Token] = field(default_factory=list)
    children: list[Node] | None = None

    @property
    def name(self) -> str:
        """The keyword text."""
        return self.keyword.text

    @property
    def file(self) -> str:
        """File the statement is in."""
        return self.keyword.file

    @property
    def line(self) -> int:
        """Line the statement starts on."""
        return self.keyword.line

    @property
    def column(self) -> int:
        """Column the keyword starts at."""
        return self.keyword.column

    @property
    def words(self) -> list[str]:
        """Keyword and argument texts."""
        return [self.keyword.text, *(t.text for t in self.args)]


def parse(lines: Iterable[SourceLine], diagnostics: list[Diagnostic]) -> list[Node]:
    """Build the statement tree; problems become diagnostics, never exceptions."""
    root: list[Node] = []
    stack: list[tuple[list[Node], Node | None]] = [(root, None)]
    last: Node | None = None  # the last statement of the current block, for `{` on a new line
    too_deep = 0  # depth of blocks being skipped because they nest too deeply

    def error(code: Code, tok: Token | SourceLine, msg: str, col: int = 1) -> None:
        diagnostics.append(Diagnostic(tok.file, tok.line, col, Severity.ERROR, msg, code))

    for src in lines:
        tokens, lex_errors = tokenize_line(src.text, src.file, src.line)
        for err in lex_errors:
            error(Code.UNTERMINATED_QUOTE, src, err.message, err.column)
        stmt: Node | None = None
        for tok in tokens:
            if too_deep:
                if tok.kind is TokenKind.LBRACE:
                    too_deep += 1
                elif tok.kind is TokenKind.RBRACE:
                    too_deep -= 1
                continue
            if tok.kind is TokenKind.LBRACE:
                owner = stmt if stmt is not None else last
                if owner is None or owner.children is not None:
                    error(Code.UNEXPECTED_BRACE, tok, "'{' without a keyword before it", tok.column)
                    owner = Node(Token(TokenKind.WORD, "{", tok.file, tok.line, tok.column))
                    stack[-1][0].append(owner)
                if len(stack) > MAX_DEPTH:
                    error(
                        Code.NESTING_TOO_DEEP,
                        tok,
                        f"blocks nest deeper than {MAX_DEPTH} levels; the inner blocks are ignored",
                        tok.column,
                    )
                    too_deep = 1
                    owner.children = []
                    stmt = last = None
                    continue
                owner.children = []
                stack.append((owner.children, owner))
                stmt = last = None
            elif tok.kind is TokenKind.RBRACE:
                if len(stack) == 1:
                    error(Code.UNEXPECTED_BRACE, tok, "extra '}' found", tok.column)
                else:
                    stack.pop()
                stmt = last = None
            elif stmt is None:
                stmt = Node(tok)
                stack[-1][0].append(stmt)
                last = stmt
            else:
                stmt.args.append(tok)
    for _, owner in reversed(stack[1:]):
        assert owner is not None
        diagnostics.append(
            Diagnostic(
                owner.file,
                owner.line,
                owner.column,
                Severity.ERROR,
                f"block '{owner.name}' opened here is missing its closing '}}'",
                Code.UNTERMINATED_BLOCK,
            )
        )
    if too_deep:
        diagnostics.append(
            Diagnostic(
                "<config>",
                0,
                0,
                Severity.ERROR,
                f"{too_deep} deeply nested block(s) are missing their closing '}}'",
                Code.UNTERMINATED_BLOCK,
            )
        )
    return root
