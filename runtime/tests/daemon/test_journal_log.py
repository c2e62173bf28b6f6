"""Logs under journald carry sd-daemon priority prefixes; elsewhere `TIME LEVEL message` (#17).

systemd names the journal stream it gives a service in JOURNAL_STREAM ("DEV:INODE"). Each
test runs a real process whose stderr is a file or a pipe and sets JOURNAL_STREAM to that
stream's device and inode (as systemd would), to another stream's, or not at all.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

import pytest

from vipkeeper.daemon.logsetup import priority, under_journald

SRC = str(Path(__file__).resolve().parents[2] / "src")
STAMP = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}"

# Every level, then a traceback: what a daemon log may hold, through the daemon's own setup.
LOGGER = """
import logging
from vipkeeper.daemon.logsetup import setup_logging
setup_logging("debug")
log = logging.getLogger("vipkeeper")
log.debug("a debug line")
log.info("an info line")
log.warning("a warning line")
log.error("an error line")
log.critical("a critical line")
log.info("two\\nlines")
try:
    raise ValueError("boom")
except ValueError:
    log.exception("failed")
"""


def _env(journal: str | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "JOURNAL_STREAM"}
    env["PYTHONPATH"] = SRC
    if journal is not None:
        env["JOURNAL_STREAM"] = journal
    return env


def _stream_id(fd: int) -> str:
    st = os.fstat(fd)
    return f"{st.st_dev}:{st.st_ino}"


def _other_stream(tmp_path: Path) -> str:
    """The device and inode of a file that is not the process's stderr."""
    other = tmp_path / "other"
    other.touch()
    st = other.stat()
    return f"{st.st_dev}:{st.st_ino}"


@contextmanager
def _file_stderr(tmp_path: Path) -> Iterator[IO[bytes]]:
    with (tmp_path / "stderr").open("w+b") as out:
        yield out


def _run(argv: list[str], stderr: IO[bytes] | int, journal: str | None) -> int:
    return subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=stderr, env=_env(journal), timeout=60, check=False
    ).returncode


def _logger_to_file(tmp_path: Path, journal: str | bool | None) -> list[str]:
    """Run LOGGER with stderr on a file; journal=True names that file in JOURNAL_STREAM."""
    with _file_stderr(tmp_path) as out:
        stream = _stream_id(out.fileno()) if journal is True else journal
        assert _run([sys.executable, "-c", LOGGER], out, stream or None) == 0
        out.seek(0)
        return out.read().decode().splitlines()


def test_under_journald_every_line_has_its_priority_and_no_timestamp(tmp_path: Path) -> None:
    lines = _logger_to_file(tmp_path, journal=True)
    assert lines[:7] == [
        "<7>DEBUG a debug line",
        "<6>INFO an info line",
        "<4>WARNING a warning line",
        "<3>ERROR an error line",
        "<2>CRITICAL a critical line",
        "<6>INFO two",
        "<6>lines",  # journald reads each line alone: without the prefix it would be <6> anyway
    ]
    # The traceback: every line an error, or journald files the frames at the default level.
    trace = lines[7:]
    assert trace[0] == "<3>ERROR failed"
    assert trace[1] == "<3>Traceback (most recent call last):"
    assert trace[-1] == "<3>ValueError: boom"
    assert len(trace) >= 4
    assert all(line.startswith("<3>") for line in trace), trace
    assert not any(re.search(STAMP, line) for line in lines)


@pytest.mark.parametrize("journal", [None, "", "garbage", "1:2", "other-stream"])
def test_elsewhere_the_format_is_todays(tmp_path: Path, journal: str | None) -> None:
    if journal == "other-stream":  # inherited from a unit, but stderr was redirected since
        journal = _other_stream(tmp_path)
    lines = _logger_to_file(tmp_path, journal=journal)
    assert re.fullmatch(f"{STAMP} DEBUG a debug line", lines[0]), lines
    assert re.fullmatch(f"{STAMP} ERROR an error line", lines[3]), lines
    assert lines[6] == "lines"
    assert not any(line.startswith("<") for line in lines), lines


@pytest.mark.root  # vipkeeper run starts as root
def test_the_daemon_itself_logs_with_priorities_to_a_journal_pipe(tmp_path: Path) -> None:
    """`vipkeeper run` with a config that cannot start: its errors, through a pipe."""
    conf = tmp_path / "missing.conf"
    argv = [
        sys.executable,
        "-m",
        "vipkeeper.cli",
        "run",
        "-f",
        str(conf),
        "--state-dir",
        str(tmp_path),
        "--control-socket",
        str(tmp_path / "control.sock"),
        "--dump-dir",
        str(tmp_path),
    ]
    read_end, write_end = os.pipe()
    try:
        code = _run(argv, write_end, _stream_id(write_end))
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as pipe:
            read_end = -1
            lines = pipe.read().decode().splitlines()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)
    assert code == 4
    assert lines == [
        f"<3>ERROR ({conf}) configuration file '{conf}' not found",
        f"<3>ERROR {conf}: the config has errors; not starting",
    ], lines
    # The same run to a file that JOURNAL_STREAM does not name: today's format.
    with _file_stderr(tmp_path) as out:
        assert _run(argv, out, _other_stream(tmp_path)) == 4
        out.seek(0)
        plain = out.read().decode().splitlines()
    assert len(plain) == 2
    assert re.fullmatch(f"{STAMP} ERROR {re.escape(str(conf))}: the config has errors.*", plain[1])


def test_priority_of_levels_between_the_named_ones() -> None:
    assert [priority(n) for n in (0, 5, 10, 15, 20, 25, 30, 35, 40, 45, 50, 60)] == [
        7, 7, 7, 7, 6, 6, 4, 4, 3, 3, 2, 2,
    ]  # fmt: skip


def test_under_journald_needs_the_stream_of_that_fd(tmp_path: Path) -> None:
    with (tmp_path / "f").open("wb") as f, (tmp_path / "g").open("wb") as g:
        ident = _stream_id(f.fileno())
        assert under_journald(f.fileno(), {"JOURNAL_STREAM": ident})
        assert not under_journald(g.fileno(), {"JOURNAL_STREAM": ident})
        assert not under_journald(f.fileno(), {})
        assert not under_journald(f.fileno(), {"JOURNAL_STREAM": ident + "x"})
    assert not under_journald(9999, {"JOURNAL_STREAM": ident})  # a closed fd
