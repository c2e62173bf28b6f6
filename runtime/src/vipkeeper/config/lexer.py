# keepalived.conf lexical rules:
# - `#` and `!` start a comment anywhere on a line, except inside double quotes;
# - `{` and `}` are tokens of their own wherever they appear;
# - "..." is one token (the quotes are removed); an unterminated quote runs to end of line;
# - every other run of non-blank characters is one word.
"""Tokenizer for keepalived.conf lines (never raises)."""

from __future__ import annotations

import enum
import re
from typing import NamedTuple

from vipkeeper._compat import SLOTS, dataclass


class TokenKind(enum.Enum):
    """What a token is."""

    WORD = "word"
    QUOTED = "quoted"
    LBRACE = "{"
    RBRACE = "}"


class Token(NamedTuple):
    """One token with the place it came from (a tuple: cheap to make by the thousand)."""

    kind: TokenKind
    text: str
    file: str
    line: int
    column: int


@dataclass(frozen=True, **SLOTS)
class LexError:
    """A lexical problem found on a line."""

    column: int
    message: str


_TOKEN_RE = re.compile(r'([{}])|"([^"]*)(")?|([^\s{}#!"]+)|([#!])')


def strip_comment(text: str) -> str:
    """`text` without its `#`/`!` comment; quotes protect comment characters."""
    if "#" not in text and "!" not in text:
        return text
    if '"' not in text:
        cut = min(i for i in (text.find("#"), text.find("!")) if i >= 0)
        return text[:cut]
    quoted = False
    for i, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch in "#!" and not quoted:
            return text[:i]
    return text


def tokenize_line(
    text: str, file: str = "<string>", line: int = 1
) -> tuple[list[Token], list[LexError]]:
    """Split one logical line into tokens; comments are dropped."""
    tokens: list[Token] = []
    errors: list[LexError] = []
    for m in _TOKEN_RE.finditer(text):
        brace, quoted, close, word, comment = m.groups()
        col = m.start() + 1
        if word is not None:
            tokens.append(Token(TokenKind.WORD, word, file, line, col))
        elif brace is not None:
            kind = TokenKind.LBRACE if brace == "{" else TokenKind.RBRACE
            tokens.append(Token(kind, brace, file, line, col))
        elif quoted is not None:
            if close is None:
                errors.append(
                    LexError(col, f"unterminated quote: {text[m.start() : m.start() + 40]!r}")
                )
            tokens.append(Token(TokenKind.QUOTED, quoted, file, line, col))
        elif comment is not None:
            break
    return tokens, errors
