# keepalived.conf lexical rules:
# - `#` and `!` start a comment anywhere on a line, except inside double quotes;
# - `{` and `}` are tokens of their own wherever they appear;
# - "..." is one token (the quotes are removed); an unterminated quote runs to end of line;
# - every other run of non-blank characters is one word.
"""Tokenizer for keepalived.conf lines (never raises)."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class TokenKind(enum.Enum):
    """What a token is."""

    WORD = "word"
    QUOTED = "quoted"
    LBRACE = "{"
    RBRACE = "}"


@dataclass(frozen=True, slots=True)
class Token:
    """One token with the place it came from."""

    kind: TokenKind
    text: str
    file: str
    line: int
    column: int


@dataclass(frozen=True, slots=True)
class LexError:
    """A lexical problem found on a line."""

    column: int
    message: str


def strip_comment(text: str) -> str:
    """`text` without its `#`/`!` comment; quotes protect comment characters."""
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
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch in "#!":
            break
        if ch.isspace():
            i += 1
            continue
        col = i + 1
        if ch == "{":
            tokens.append(Token(TokenKind.LBRACE, "{", file, line, col))
            i += 1
        elif ch == "}":
            tokens.append(Token(TokenKind.RBRACE, "}", file, line, col))
            i += 1
        elif ch == '"':
            end = text.find('"', i + 1)
            if end < 0:
                errors.append(LexError(col, f"unterminated quote: {text[i : i + 40]!r}"))
                tokens.append(Token(TokenKind.QUOTED, text[i + 1 :], file, line, col))
                break
            tokens.append(Token(TokenKind.QUOTED, text[i + 1 : end], file, line, col))
            i = end + 1
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in '{}#!"':
                j += 1
            tokens.append(Token(TokenKind.WORD, text[i:j], file, line, col))
            i = j
    return tokens, errors
