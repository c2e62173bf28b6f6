"""Differential test: `vipkeeper check` and `keepalived -t` agree on every corpus config.

Both run inside a throwaway network namespace that has the interfaces the corpus uses
(eth0, eth1), with config-id node1. keepalived gets `-e` so that a missing include is an
error for it too (vipkeeper always treats it as one).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from config.differential import check_node, keepalived_t, vipkeeper_check
from netlab import Node

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "configs"
CORPUS = sorted(CONFIGS.glob("*.conf"))

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 (veth to a private bridge) and eth1 (a bridge), both addressed."""
    with check_node("chk", "10.213.250.1/24", eth1="10.213.252.1/24") as n:
        yield n


def test_corpus_is_not_empty() -> None:
    assert len(CORPUS) >= 20


@pytest.mark.parametrize("conf", CORPUS, ids=lambda p: p.name)
def test_both_accept_or_both_reject(node: Node, conf: Path) -> None:
    k_rc, k_err = keepalived_t(node, conf, "-e", "-i", "node1")
    v_rc, v_err = vipkeeper_check(node, conf, "-i", "node1")
    assert k_rc in (0, 4, 5, 6), f"keepalived -t failed oddly ({k_rc}): {k_err}"
    assert (k_rc == 0) == (v_rc == 0), (
        f"keepalived -t exit {k_rc}:\n{k_err}\nvipkeeper check exit {v_rc}:\n{v_err}"
    )
    assert (v_rc == 0) == (not conf.name.startswith("bad-"))
