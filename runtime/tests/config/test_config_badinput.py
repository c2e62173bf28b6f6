"""Hostile or broken input: a clear error, bounded time and memory, never an exception."""

from __future__ import annotations

import os
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper.config import LoadResult, load
from vipkeeper.config.preprocess import MAX_FILE_BYTES

Conf = Callable[..., LoadResult]
MIB = 1024 * 1024


def codes(res: LoadResult) -> list[str]:
    return [str(d.code) for d in res.errors]


@pytest.mark.timeout(30)
def test_binary_garbage(tmp_path: Path) -> None:
    path = tmp_path / "garbage.conf"
    path.write_bytes(b"global_defs {\n" + os.urandom(64 * 1024))
    res = load(path, "x")
    assert codes(res) == ["binary-data"]
    assert res.errors[0].format().startswith(f"({path}: Line ")
    assert res.exit_code == 5


def test_nul_bytes_in_otherwise_valid_text(tmp_path: Path) -> None:
    path = tmp_path / "nul.conf"
    path.write_bytes(b"global_defs {\n}\n\x00\n")
    res = load(path, "x")
    assert [(str(d.code), d.line) for d in res.errors] == [("binary-data", 3)]


def test_unterminated_brace(conf: Conf) -> None:
    res = conf("global_defs {\n    router_id x\n")
    assert [(str(d.code), d.line) for d in res.errors] == [("unterminated-block", 1)]
    assert res.errors[0].message == "block 'global_defs' opened here is missing its closing '}'"


def test_unterminated_quote(conf: Conf) -> None:
    res = conf('global_defs {\n    router_id "lb1\n}\n')
    assert [(str(d.code), d.line, d.column) for d in res.errors] == [("unterminated-quote", 2, 15)]


def test_missing_include(conf: Conf, tmp_path: Path) -> None:
    res = conf("include missing.conf\n")
    assert [(str(d.code), d.line) for d in res.errors] == [("include-missing", 1)]
    assert (
        res.errors[0].message == "included file '" + str(tmp_path / "missing.conf") + "' not found"
    )


def test_include_cycle(tmp_path: Path) -> None:
    (tmp_path / "a.conf").write_text("include b.conf\n")
    (tmp_path / "b.conf").write_text("include c.conf\n")
    (tmp_path / "c.conf").write_text("include a.conf\n")
    res = load(tmp_path / "a.conf", "x")
    assert codes(res) == ["include-cycle"]
    assert res.errors[0].file == str(tmp_path / "c.conf")


@pytest.mark.timeout(60)
def test_fifty_megabyte_file_is_refused_quickly_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.conf"
    line = b"# " + b"x" * 1021 + b"\n"
    with path.open("wb") as fh:
        for _ in range(50 * 1024):
            fh.write(line)
    assert path.stat().st_size == 50 * MIB
    tracemalloc.start()
    try:
        res = load(path, "x")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert codes(res) == ["file-too-large"]
    assert f"larger than {MAX_FILE_BYTES // MIB} MiB" in res.errors[0].message
    assert res.exit_code == 4
    assert peak < 2 * MAX_FILE_BYTES  # never the whole 50 MB


@pytest.mark.timeout(60)
def test_large_valid_file_under_the_cap_loads(tmp_path: Path) -> None:
    blocks = "".join(
        f"vrrp_instance VI_{i} {{\n interface eth0\n virtual_router_id {i % 255 + 1}\n"
        f" virtual_ipaddress {{\n  10.213.{i // 250}.{i % 250 + 1}/24\n }}\n}}\n"
        for i in range(20000)
    )
    path = tmp_path / "many.conf"
    path.write_text(blocks)
    res = load(path, "x", check_scripts=False)
    assert res.config is not None
    assert len(res.config.vrrp_instances) == 20000
    assert set(codes(res)) == {"vrid-conflict"}  # 20000 instances share 255 VRIDs on eth0


@pytest.mark.timeout(30)
def test_nesting_a_thousand_levels(conf: Conf) -> None:
    depth = 1000
    text = "".join("global_defs {\n" for _ in range(depth)) + "}\n" * depth
    res = conf(text)
    assert "nesting-too-deep" in codes(res)
    assert res.exit_code == 5


@pytest.mark.timeout(30)
def test_nesting_a_thousand_levels_on_one_line(conf: Conf) -> None:
    res = conf("a " + "{ " * 1000 + "} " * 1000 + "\n")
    assert "nesting-too-deep" in codes(res)


@pytest.mark.timeout(30)
def test_variable_that_expands_into_itself(conf: Conf) -> None:
    res = conf("$LOOP=a $LOOP b\nglobal_defs {\n    router_id $LOOP\n}\n")
    assert [(str(d.code), d.line) for d in res.errors] == [("variable-recursion", 3)]
    assert res.errors[0].message == "variable $LOOP expands into itself (LOOP -> LOOP)"


@pytest.mark.timeout(30)
def test_loop_bomb_is_bounded(conf: Conf) -> None:
    res = conf("~SEQ(a,1000) ~SEQ(b,1000) ~SEQ(c,1000) x $a $b $c\n")
    assert "expansion-too-large" in codes(res)


def test_directory_instead_of_file(tmp_path: Path) -> None:
    res = load(tmp_path, "x")
    assert codes(res) == ["file-unreadable"]
    assert res.exit_code == 4


def test_missing_main_file(tmp_path: Path) -> None:
    res = load(tmp_path / "nope.conf", "x")
    assert res.config is None
    assert codes(res) == ["file-not-found"]
    assert res.exit_code == 4
