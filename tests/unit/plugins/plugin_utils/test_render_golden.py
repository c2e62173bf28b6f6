"""Golden renders of the seed scenarios; set VIPKEEPER_REGEN_GOLDEN=1 to rewrite them."""

from __future__ import annotations

import os

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.render import kblock, kvalue
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import (
    CASE_IDS,
    CASES,
    Scenario,
)


@pytest.mark.parametrize(("scenario", "host"), CASES, ids=CASE_IDS)
def test_render_matches_golden(scenario: Scenario, host: str) -> None:
    text = scenario.rendered(host)
    path = scenario.golden(host)
    if os.environ.get("VIPKEEPER_REGEN_GOLDEN"):
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    assert text == path.read_text()


def test_nginx_backup_differs_only_in_role() -> None:
    from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.plugin_utils.scenarios import (
        SCENARIOS,
    )

    nginx = SCENARIOS[0]
    master, backup = nginx.rendered("lb1"), nginx.rendered("lb2")
    assert "state MASTER" in master
    assert "priority 150" in master
    assert "state BACKUP" in backup
    assert "priority 140" in backup


def test_kvalue_quotes_only_when_needed() -> None:
    assert kvalue("eth0") == "eth0"
    assert kvalue(2.0) == "2"
    assert kvalue(0.5) == "0.5"
    assert kvalue("/usr/bin/pgrep -x nginx") == '"/usr/bin/pgrep -x nginx"'
    assert kvalue('say "hi"') == "'say \"hi\"'"
    assert kvalue("a#b") == '"a#b"'


def test_kblock_nests_mappings_and_repeats_lists_of_mappings() -> None:
    text = kblock(
        {"a": 1, "flag": True, "off": False, "b": {"c": "x y"}, "u": [{"p": 1}, {"p": 2}]}
    )
    assert text.splitlines() == [
        "  a 1",
        "  flag",
        "  b {",
        '    c "x y"',
        "  }",
        "  u {",
        "    p 1",
        "  }",
        "  u {",
        "    p 2",
        "  }",
    ]
