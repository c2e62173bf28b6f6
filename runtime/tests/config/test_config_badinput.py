"""Hostile or broken input: a clear error, bounded time and memory, never an exception."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vipkeeper.config import LoadResult, load
from vipkeeper.config.preprocess import MAX_FILE_BYTES

Conf = Callable[..., LoadResult]
MIB = 1024 * 1024
MAX_FILE_READS = 10_000  # vipkeeper.config.preprocess.MAX_FILE_READS (docs/runtime-config.md)
MAX_DIAGNOSTICS = 50_000  # vipkeeper.config.diagnostics.MAX_DIAGNOSTICS


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


@pytest.mark.slow  # 20000 instances: about 4 s
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


@pytest.mark.slow  # about 4 s
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


@pytest.mark.slow  # 10,000 reads under tracemalloc: about 11 s
@pytest.mark.timeout(120)
def test_sixteen_files_each_including_all_end_at_the_read_cap(tmp_path: Path) -> None:
    # Each file includes all sixteen: the reads grow exponentially (about 16! paths); the
    # include depth cap does not bound such a wide graph, the per-load read cap does.
    for i in range(16):
        (tmp_path / f"f{i:02}.conf").write_text("include *.conf\n")
    tracemalloc.start()
    try:
        res = load(tmp_path / "f00.conf", "x")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert set(codes(res)) == {"include-cycle", "include-limit"}
    [limit] = [d for d in res.errors if str(d.code) == "include-limit"]
    assert limit.format() == (
        f"({limit.file}: Line 1) include '*.conf' would read more than {MAX_FILE_READS} files"
        " in one load (each read counts, also of a file read before); stopping"
    )
    assert Path(limit.file).parent == tmp_path
    assert res.config is not None and len(res.config.files) == MAX_FILE_READS == 10_000
    # A cycle is reported once per include and file, however many paths reach it.
    cycles = [(d.file, d.line, d.message) for d in res.errors if str(d.code) == "include-cycle"]
    assert len(cycles) == len(set(cycles)) <= 16 * 16
    assert res.exit_code == 5
    assert peak < 16 * MIB


def _check_json(main: Path) -> dict[str, Any]:
    """`vipkeeper check --json` in a subprocess: a load that blocks fails the test, not hangs."""
    argv = [sys.executable, "-m", "vipkeeper.cli", "check", "--json", "--skip-interfaces"]
    proc = subprocess.run(
        [*argv, "-f", str(main)], check=False, capture_output=True, text=True, timeout=20
    )
    out: dict[str, Any] = json.loads(proc.stdout)
    assert proc.returncode == out["exit_code"]
    return out


def _fifo(path: Path) -> str:
    os.mkfifo(path)
    return "a FIFO"


def _fifo_link(path: Path) -> str:
    os.mkfifo(path.with_name("real-fifo"))
    path.symlink_to("real-fifo")
    return "a FIFO"


def _zero(path: Path) -> str:
    path.symlink_to("/dev/zero")
    return "a character device"


def _socket(path: Path) -> str:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(path.name)  # relative: the cwd is tmp_path, and socket paths are short
    return "a socket"


def _directory(path: Path) -> str:
    path.mkdir()
    return "a directory"


def _executable(path: Path) -> str:
    path.write_text("global_defs {\n}\n")
    path.chmod(0o755)
    return "executable (keepalived reads only non-executable files)"


NOT_REGULAR = {
    "fifo": _fifo,
    "symlink-to-fifo": _fifo_link,
    "dev-zero": _zero,
    "socket": _socket,
    "directory": _directory,
    "executable": _executable,
}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("make", NOT_REGULAR.values(), ids=NOT_REGULAR.keys())
def test_an_include_of_anything_but_a_regular_file_is_refused_unopened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, make: Callable[[Path], str]
) -> None:
    # As keepalived (lib/parser.c check_glob_file): only a regular, non-executable file is
    # read. The glob matches the odd file and a regular one; the regular one is still read.
    monkeypatch.chdir(tmp_path)
    what = make(tmp_path / "b.conf")
    if not what.startswith("executable"):
        what = f"{what}, not a regular file"
    (tmp_path / "a.conf").write_text("global_defs {\n    router_id a\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("include ?.conf\n")
    out = _check_json(main)
    assert out["exit_code"] == 4
    assert [(d["file"], d["line"], d["code"], d["message"]) for d in out["diagnostics"]] == [
        (str(main), 1, "file-unreadable", f"included file '{tmp_path}/b.conf' is {what}; not read")
    ]


@pytest.mark.timeout(60)
def test_a_fifo_as_the_main_file_is_refused_unopened(tmp_path: Path) -> None:
    main = tmp_path / "keepalived.conf"
    os.mkfifo(main)
    out = _check_json(main)
    assert out["exit_code"] == 4
    assert [(d["line"], d["code"], d["message"]) for d in out["diagnostics"]] == [
        (
            0,
            "file-unreadable",
            f"configuration file '{main}' is a FIFO, not a regular file; not read",
        )
    ]


@pytest.mark.timeout(120)
def test_a_flood_of_diagnostics_stops_reading_at_the_cap(tmp_path: Path) -> None:
    (tmp_path / "tail.conf").write_text("global_defs {\n}\n")
    main = tmp_path / "keepalived.conf"
    main.write_text("~SEQ(i,x) a\n" * (MAX_DIAGNOSTICS + 10_000) + "include tail.conf\n")
    res = load(main, "x")
    assert len(res.diagnostics) == MAX_DIAGNOSTICS + 1
    last = res.diagnostics[-1]
    assert (str(last.code), last.line) == ("too-many-diagnostics", MAX_DIAGNOSTICS + 1)
    assert last.message == (
        f"more than {MAX_DIAGNOSTICS} diagnostics; stopping (fix these and check again)"
    )
    assert res.config is not None and res.config.files == (str(main),)  # tail.conf not read
    assert res.exit_code == 5
