"""Lexer: comments, braces, quotes; never crashes."""

from __future__ import annotations

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from vipkeeper.config.lexer import TokenKind, strip_comment, tokenize_line


def texts(line: str) -> list[str]:
    return [t.text for t in tokenize_line(line)[0]]


def test_words_and_braces_are_separate_tokens() -> None:
    assert texts("virtual_ipaddress {10.0.0.1}") == ["virtual_ipaddress", "{", "10.0.0.1", "}"]
    kinds = [t.kind for t in tokenize_line("a{b}")[0]]
    assert kinds == [TokenKind.WORD, TokenKind.LBRACE, TokenKind.WORD, TokenKind.RBRACE]


def test_comments_hash_and_bang() -> None:
    assert texts("priority 100 # the priority") == ["priority", "100"]
    assert texts("priority 100 ! also a comment") == ["priority", "100"]
    assert texts("! whole line") == []


def test_quotes_make_one_token_and_protect_comment_chars() -> None:
    toks, errors = tokenize_line('script "/bin/check --x=#1 ! y"')
    assert [t.text for t in toks] == ["script", "/bin/check --x=#1 ! y"]
    assert toks[1].kind is TokenKind.QUOTED
    assert errors == []
    assert strip_comment('notify "a # b" # c') == 'notify "a # b" '


def test_unterminated_quote_is_reported_with_column() -> None:
    toks, errors = tokenize_line('router_id "lb1', "f.conf", 3)
    assert toks[-1].text == "lb1"
    assert len(errors) == 1
    assert errors[0].column == 11
    assert "unterminated quote" in errors[0].message


def test_columns_are_one_based() -> None:
    toks, _ = tokenize_line("  state MASTER", "k.conf", 7)
    assert [(t.line, t.column) for t in toks] == [(7, 3), (7, 9)]


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_lexer_never_crashes(text: str) -> None:
    tokens, errors = tokenize_line(text)
    for tok in tokens:
        assert tok.column >= 1
        if tok.kind in (TokenKind.LBRACE, TokenKind.RBRACE):
            assert tok.text in "{}"
    for err in errors:
        assert err.column >= 1


@settings(max_examples=200, deadline=None)
@given(st.lists(st.from_regex(r"[a-z_0-9./]{1,12}", fullmatch=True), min_size=1, max_size=8))
def test_plain_words_round_trip(words: list[str]) -> None:
    assert texts(" ".join(words)) == words


KEYWORDISH = st.sampled_from(
    ["vrrp_instance", "global_defs", "virtual_server", "{", "}", '"', "$A", "${A}", "$A=",
     "~SEQ(i,1,3)", "~LST(x,a)", "@node1", "@^node1", "\\", "#", "!", "\n", " ", "10.0.0.1/24"]
)  # fmt: skip


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(KEYWORDISH, st.text(max_size=8)), max_size=40).map("".join))
def test_whole_pipeline_never_raises(text: str) -> None:
    from vipkeeper.config import load_text

    assume("include" not in text)  # no reading of random files from the cwd
    res = load_text(text)
    assert res.exit_code in (0, 2, 4, 5, 6)
    assert all(d.code != "internal-error" for d in res.diagnostics), res.diagnostics
