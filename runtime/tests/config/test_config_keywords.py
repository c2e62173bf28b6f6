"""Keyword registry: every keepalived 2.4 keyword is recognized in its block."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper.config import LoadResult
from vipkeeper.config.build import HANDLERS
from vipkeeper.config.keywords import CONTEXTS, LIST, lookup, suggest

KEYWORDS_FILE = Path(__file__).resolve().parent / "keepalived-keywords.txt"
SHARED_COPY = Path("/work/shared/docs/keepalived-keywords.txt")

VRRP_BLOCKS = (
    "vrrp_instance", "vrrp_sync_group", "vrrp_script", "authentication",
    "vrrp_track_process", "garp_group", "track_group",
)  # fmt: skip
CHECK_BLOCKS = (
    "virtual_server", "real_server", "SSL", "url", "TCP_CHECK", "HTTP_GET", "MISC_CHECK",
    "DNS_CHECK", "UDP_CHECK", "PING_CHECK", "FILE_CHECK", "SMTP_CHECK", "BFD_CHECK",
)  # fmt: skip
# (area prefix, kind) -> the block contexts where keepalived accepts such a keyword
CONTEXTS_FOR: dict[tuple[str, str], tuple[str, ...]] = {
    ("core", "keyword_root"): ("root",),
    ("core", "keyword"): ("global_defs",),
    ("core", "keyword_quoted"): ("global_defs",),
    ("vrrp", "keyword_root"): ("root",),
    ("vrrp", "keyword"): VRRP_BLOCKS,
    ("vrrp", "keyword_quoted"): VRRP_BLOCKS,
    ("trackers", "keyword_root"): ("root",),
    ("trackers", "keyword"): ("track_file",),
    ("check", "keyword_root"): ("root",),
    ("check", "keyword"): CHECK_BLOCKS,
    ("check", "keyword_quoted"): CHECK_BLOCKS,
    ("check", "http_ssl_check_keyword"): ("real_server",),
    ("bfd", "keyword_root"): ("root",),
    ("bfd", "keyword"): ("bfd_instance",),
    ("bfd", "keyword_conditional"): ("bfd_instance",),
}


def keepalived_keywords() -> list[tuple[str, str, str]]:
    rows = []
    for raw in KEYWORDS_FILE.read_text().splitlines():
        if not raw.strip() or raw.startswith("#"):
            continue
        area, rest = raw.split(": ", 1)
        name, kind = rest.split()
        rows.append((area.split("/")[0], name, kind.strip("[]")))
    return rows


def test_keyword_list_is_complete_copy() -> None:
    rows = keepalived_keywords()
    assert len(rows) > 400
    if SHARED_COPY.exists():  # the design docs' copy, when present, must match ours
        assert SHARED_COPY.read_text() == KEYWORDS_FILE.read_text()


@pytest.mark.parametrize(("area", "name", "kind"), keepalived_keywords())
def test_every_keepalived_keyword_is_recognized(area: str, name: str, kind: str) -> None:
    contexts = CONTEXTS_FOR[(area, kind)]
    found = [c for c in contexts if lookup(c, name) is not None]
    assert found, f"{name} ({area} {kind}) is not known in any of {contexts}"


def test_every_implemented_keyword_has_a_handler_and_back() -> None:
    for context, table in CONTEXTS.items():
        implemented = {k for k, spec in table.items() if spec.supported}
        handlers = set(HANDLERS.get(context, {}))
        assert implemented == handlers, context


def test_block_contexts_exist() -> None:
    for table in CONTEXTS.values():
        for spec in table.values():
            assert spec.block in (None, LIST) or spec.block in CONTEXTS, spec


def test_suggestion() -> None:
    assert suggest("vrrp_instance", "priorty") == "priority"
    assert suggest("vrrp_instance", "virtual_routerid") == "virtual_router_id"
    assert suggest("global_defs", "zzzzzz") is None


BASE = """
vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 5
    virtual_ipaddress { 10.213.0.1/24 }
    %s
}
"""


def test_unknown_keyword_error_with_suggestion(conf: Callable[..., LoadResult]) -> None:
    res = conf(BASE % "advert_intt 2")
    [err] = res.errors
    assert err.code == "unknown-keyword"
    assert err.line == 6
    assert err.message == (
        "unknown keyword 'advert_intt' in vrrp_instance - did you mean 'advert_int'?"
    )
    assert res.exit_code == 5


def test_unsupported_keyword_warns_and_is_skipped(conf: Callable[..., LoadResult]) -> None:
    res = conf(BASE % "use_ipvlan\n    track_bfd {\n      bfd_a\n    }")
    assert res.ok
    assert [(d.line, d.message) for d in res.warnings] == [
        (6, "keyword 'use_ipvlan' is not supported by vipkeeper"),
        (7, "keyword 'track_bfd' is not supported by vipkeeper"),
    ]
    assert res.exit_code == 0


def test_unsupported_root_block_checks_inner_names(conf: Callable[..., LoadResult]) -> None:
    res = conf("bfd_instance b {\n  min_rx 10\n  min_rxx 10\n}\n" + BASE % "")
    assert [d.line for d in res.warnings] == [1]
    [err] = res.errors
    assert (err.line, err.code) == (3, "unknown-keyword")
    assert "did you mean 'min_rx'" in err.message


def test_track_process_block_names_its_unknown_keywords(conf: Callable[..., LoadResult]) -> None:
    res = conf("vrrp_track_process p {\n  process nginx\n  procces x\n}\n" + BASE % "")
    assert res.warnings == []
    [err] = res.errors
    assert (err.line, err.code) == (3, "unknown-keyword")
    assert "did you mean 'process'" in err.message


def test_keyword_in_wrong_block_is_unknown(conf: Callable[..., LoadResult]) -> None:
    res = conf("global_defs {\n  virtual_router_id 5\n}\n" + BASE % "")
    [err] = res.errors
    assert err.message.startswith("unknown keyword 'virtual_router_id' in global_defs")


def test_statement_given_a_block_it_does_not_take(conf: Callable[..., LoadResult]) -> None:
    res = conf(BASE % "priority 100 {\n }")
    assert [d.code for d in res.errors] == ["unexpected-brace"]
