"""Every keepalived.conf example in docs/ passes `vipkeeper check`.

The rule that finds the examples (so that a new one cannot escape):

- every fenced code block (``` or ~~~, indented up to 3 spaces, as in a list item) of every
  Markdown file under docs/ is read, without the fence's indentation;
- a block is a keepalived.conf example when its info string is `keepalived`, or when a line of
  it, at column 0, opens a block with one of keepalived's top-level keywords (`global_defs`,
  `vrrp_instance`, `virtual_server`, ... as the config builder knows them), e.g.
  `virtual_server 192.168.10.100 80 {`;
- a block found by its content must also say `keepalived` as its info string, so the docs say
  which blocks are configs (a log line such as `vrrp_instance VI_1 notify_master (...)`
  opens no block and is not one).

Each example is checked as a whole file with `vipkeeper check --skip-interfaces
--skip-scripts`: the examples name interfaces and scripts of an imagined host, as
`vipkeeper check` run off-host would not find them either. No root needed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from vipkeeper import cli
from vipkeeper.config.build import HANDLERS
from vipkeeper.config.builder.unsupported import UNSUPPORTED

DOCS = Path(__file__).resolve().parents[3] / "docs"
INFO = "keepalived"
ROOT_KEYWORDS = sorted(set(HANDLERS["root"]) | set(UNSUPPORTED.get("root", {})))
OPENS_ROOT_BLOCK = re.compile(
    rf"^(?:{'|'.join(map(re.escape, ROOT_KEYWORDS))})(?:\s[^\n{{}}]*)?\{{\s*$", re.M
)
FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})(?P<info>.*)$")


@dataclass(frozen=True)
class Block:
    """One fenced code block of a doc."""

    path: Path
    line: int  # of the opening fence, 1-based
    info: str
    text: str

    @property
    def where(self) -> str:
        return f"{self.path.relative_to(DOCS.parent)}:{self.line}"


def fenced_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (CommonMark fences: ``` or ~~~, 3 or more)."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    i = 0
    while i < len(lines):
        m = FENCE.match(lines[i])
        if m is None:
            i += 1
            continue
        fence = m["fence"]
        end = i + 1
        closing = re.compile(rf"^ {{0,3}}{fence[0]}{{{len(fence)},}}\s*$")
        while end < len(lines) and not closing.match(lines[end]):
            end += 1
        info = m["info"].strip().split(maxsplit=1)[0] if m["info"].strip() else ""
        # A fence indented (in a list item) indents its content as much: take that off.
        strip = re.compile(rf"^ {{0,{len(m['indent'])}}}")
        text = "".join(strip.sub("", line) + "\n" for line in lines[i + 1 : end])
        blocks.append(Block(path, i + 1, info, text))
        i = end + 1
    return blocks


def all_blocks() -> list[Block]:
    return [b for path in sorted(DOCS.rglob("*.md")) for b in fenced_blocks(path)]


def looks_like_config(block: Block) -> bool:
    return OPENS_ROOT_BLOCK.search(block.text) is not None


EXAMPLES = [b for b in all_blocks() if b.info == INFO or looks_like_config(b)]


def test_the_rule_finds_the_examples() -> None:
    # Not vacuous: the LVS page's example is found, and the rule matches only opened blocks.
    assert any(b.path.name == "lvs.md" for b in EXAMPLES), [b.where for b in EXAMPLES]
    assert looks_like_config(Block(DOCS, 1, "", "vrrp_instance VI_1 {\n}\n"))
    assert looks_like_config(Block(DOCS, 1, "", "virtual_server 10.0.0.1 80 {\n}\n"))
    log = "vrrp_instance VI_1 notify_master (/etc/keepalived/keepalived.conf:12:5): refused\n"
    assert not looks_like_config(Block(DOCS, 1, "", log))
    assert not looks_like_config(Block(DOCS, 1, "", "    real_server 10.0.0.2 80 {\n"))


def test_config_examples_say_keepalived() -> None:
    untagged = [b.where for b in EXAMPLES if b.info != INFO]
    assert not untagged, f"fence these keepalived.conf examples as ```{INFO}: {untagged}"


@pytest.mark.parametrize("block", EXAMPLES, ids=lambda b: b.where)
def test_example_passes_vipkeeper_check(
    block: Block, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "keepalived.conf"
    conf.write_text(block.text)
    code = cli.main(["check", "-f", str(conf), "--skip-interfaces", "--skip-scripts"])
    out, err = capsys.readouterr()
    assert code == 0, f"{block.where}: vipkeeper check exits {code}:\n{out}{err}"
    assert err == "", f"{block.where}: vipkeeper check warns:\n{err}"
