"""Differential test of includes: what keepalived -t reads, refuses and reports, and vipkeeper.

keepalived (lib/parser.c: open_and_check_glob, check_glob_file, open_conf_file) reads only
regular, non-executable files: a FIFO, device, socket, directory or executable file is
"skipping"-ed with a message, never opened. Plain `keepalived -t` then exits 0 (it would run
without that file); with `-e` every such include error ends the check, exit 6 for an include
and 4 for the main file. vipkeeper treats them as errors always (as `-e`), with its own exit
codes: 4 for a file it will not read, 5 for a missing include or an include cycle.

Each case builds its files in the lab's workdir and runs both tools in a namespace.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NamedTuple

import pytest
from config.differential import check_node, keepalived_t, vipkeeper_check
from netlab import Node

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

GLOBAL = "global_defs {\n    router_id diff\n}\n"


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 (the configs here name no interface)."""
    with check_node("inc", "10.213.248.1/24") as n:
        yield n


def _main(d: Path, text: str) -> Path:
    (d / "keepalived.conf").write_text(text)
    return d / "keepalived.conf"


def regular(d: Path) -> Path:
    (d / "a.conf").write_text(GLOBAL)
    return _main(d, "include a.conf\n")


def fifo(d: Path) -> Path:
    os.mkfifo(d / "a.conf")
    return _main(d, GLOBAL + "include a.conf\n")


def symlink_to_fifo(d: Path) -> Path:
    os.mkfifo(d / "fifo")
    (d / "a.conf").symlink_to("fifo")
    return _main(d, GLOBAL + "include a.conf\n")


def dev_zero(d: Path) -> Path:
    return _main(d, GLOBAL + "include /dev/zero\n")


def unix_socket(d: Path) -> Path:
    with socket.socket(socket.AF_UNIX) as sock:
        sock.bind(str(d / "a.conf"))
    return _main(d, GLOBAL + "include a.conf\n")


def directory_in_glob(d: Path) -> Path:
    (d / "conf.d" / "b.conf").mkdir(parents=True)
    (d / "conf.d" / "a.conf").write_text(GLOBAL)
    return _main(d, "include conf.d/*.conf\n")


def executable(d: Path) -> Path:
    (d / "a.conf").write_text(GLOBAL)
    (d / "a.conf").chmod(0o755)
    return _main(d, GLOBAL + "include a.conf\n")


def main_fifo(d: Path) -> Path:
    os.mkfifo(d / "keepalived.conf")
    return d / "keepalived.conf"


def main_executable(d: Path) -> Path:
    main = _main(d, GLOBAL)
    main.chmod(0o755)
    return main


def missing(d: Path) -> Path:
    return _main(d, GLOBAL + "include a.conf\n")


def self_include(d: Path) -> Path:
    # keepalived has no cycle check: it opens the file again until open() fails (EMFILE).
    return _main(d, GLOBAL + "include keepalived.conf\n")


class Case(NamedTuple):
    """Files to build, each tool's exit code and a piece of what each says."""

    setup: Callable[[Path], Path]
    keepalived: int  # keepalived -t
    keepalived_e: int  # keepalived -t -e
    vipkeeper: int
    keepalived_says: str
    vipkeeper_says: str


NOT_REGULAR = "not a regular non-executable file"
CASES = {
    "regular": Case(regular, 0, 0, 0, "", ""),
    "fifo": Case(fifo, 0, 6, 4, NOT_REGULAR, "is a FIFO"),
    "symlink-to-fifo": Case(symlink_to_fifo, 0, 6, 4, NOT_REGULAR, "is a FIFO"),
    "dev-zero": Case(dev_zero, 0, 6, 4, NOT_REGULAR, "is a character device"),
    "socket": Case(unix_socket, 0, 6, 4, NOT_REGULAR, "is a socket"),
    "directory-in-glob": Case(directory_in_glob, 0, 6, 4, "is a directory", "is a directory"),
    "executable": Case(executable, 0, 6, 4, NOT_REGULAR, "is executable"),
    "main-fifo": Case(main_fifo, 0, 4, 4, NOT_REGULAR, "is a FIFO"),
    "main-executable": Case(main_executable, 0, 4, 4, NOT_REGULAR, "is executable"),
    "missing": Case(missing, 0, 6, 5, "Config files missing", "not found"),
    "self-include": Case(self_include, 0, 6, 5, "Too many open files", "include cycle"),
}


@pytest.mark.timeout(120)
@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_refused_includes_agree(node: Node, case: Case) -> None:
    main = case.setup(Path(tempfile.mkdtemp(prefix="inc-", dir=node.lab.workdir)))
    rc, err = keepalived_t(node, main)
    assert (rc, case.keepalived_says in err) == (case.keepalived, True), err  # then skipped
    rc, err = keepalived_t(node, main, "-e")
    assert (rc, case.keepalived_says in err) == (case.keepalived_e, True), err
    # 20 s: a loader that blocks on a FIFO fails here instead of hanging the suite.
    rc, err = vipkeeper_check(node, main, "-i", "node1", timeout=20)
    assert (rc, case.vipkeeper_says in err) == (case.vipkeeper, True), err
    assert (rc == 0) == (case.keepalived_e == 0)  # the verdict of keepalived -t -e
