"""Parser: block structure, brace placement, unbalanced braces, depth."""

from __future__ import annotations

from vipkeeper.config.diagnostics import Code, Diagnostic
from vipkeeper.config.parser import MAX_DEPTH, Node, parse
from vipkeeper.config.preprocess import SourceLine


def tree(text: str) -> tuple[list[Node], list[Diagnostic]]:
    diags: list[Diagnostic] = []
    lines = [SourceLine(t, "k.conf", i + 1) for i, t in enumerate(text.split("\n"))]
    return parse(lines, diags), diags


def shape(nodes: list[Node]) -> list[object]:
    out: list[object] = []
    for n in nodes:
        out.append(
            (" ".join(n.words), shape(n.children)) if n.children is not None else " ".join(n.words)
        )
    return out


def test_brace_on_same_line_next_line_and_one_line_blocks() -> None:
    nodes, diags = tree("a x {\n b 1\n}\nc\n{\n d\n}\ne { f g }")
    assert shape(nodes) == [("a x", ["b 1"]), ("c", ["d"]), ("e", ["f g"])]
    assert diags == []


def test_nested_blocks_and_locations() -> None:
    nodes, _ = tree("vs 1 {\n  rs 2 {\n    HTTP_GET { url { path / } }\n  }\n}")
    assert shape(nodes) == [("vs 1", [("rs 2", [("HTTP_GET", [("url", ["path /"])])])])]
    http = nodes[0].children[0].children[0]  # type: ignore[index]
    assert (http.file, http.line, http.column) == ("k.conf", 3, 5)


def test_unterminated_block_names_opening_line() -> None:
    _, diags = tree("a {\n b {\n c\n")
    assert [(d.code, d.line) for d in diags] == [
        (Code.UNTERMINATED_BLOCK, 2),
        (Code.UNTERMINATED_BLOCK, 1),
    ]
    assert "'b'" in diags[0].message


def test_extra_closing_brace() -> None:
    nodes, diags = tree("a 1\n}\nb 2")
    assert shape(nodes) == ["a 1", "b 2"]
    assert [(d.code, d.line) for d in diags] == [(Code.UNEXPECTED_BRACE, 2)]


def test_brace_without_keyword() -> None:
    _, diags = tree("a {\n}\n{\n}")
    assert [(d.code, d.line) for d in diags] == [(Code.UNEXPECTED_BRACE, 3)]


def test_deep_nesting_is_bounded_without_recursion() -> None:
    depth = 1000
    text = "\n".join(f"k{i} {{" for i in range(depth)) + "\n" + "}\n" * depth
    nodes, diags = tree(text)
    assert [d.code for d in diags] == [Code.NESTING_TOO_DEEP]
    assert f"deeper than {MAX_DEPTH}" in diags[0].message
    assert len(nodes) == 1


def test_deep_nesting_unbalanced_reports_missing_braces() -> None:
    _, diags = tree("a {\n" * 1000)
    assert Code.NESTING_TOO_DEEP in [d.code for d in diags]
    assert Code.UNTERMINATED_BLOCK in [d.code for d in diags]
