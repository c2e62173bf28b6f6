"""`vipkeeper status --json` answers on stdout with JSON also when no daemon does (#17).

The real CLI, in a subprocess, against a missing socket, a socket nobody listens on, a
listener that answers garbage and one that refuses the request.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _status(sock: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "vipkeeper.cli", "status", "--socket", str(sock), *flags],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
        timeout=60,
        check=False,
    )


@contextmanager
def _serve_once(path: Path, answer: bytes) -> Iterator[None]:
    """A listener on `path` that reads one request line and sends `answer`."""
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            conn.makefile("rb").readline()
            conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield
    finally:
        thread.join(10)
        server.close()


@pytest.fixture
def unlistened(tmp_path: Path) -> Iterator[Path]:
    """A unix socket bound but not listening: connect() is refused (ECONNREFUSED)."""
    path = tmp_path / "dead.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.bind(str(path))
        yield path


def _unreachable(result: subprocess.CompletedProcess[str], sock: Path, errtext: str) -> None:
    assert result.returncode == 3, result
    answer = json.loads(result.stdout)
    assert answer["ok"] is False
    assert answer["socket"] == str(sock)
    assert answer["error"].startswith(f"cannot reach the daemon at {sock}: ")
    assert errtext in answer["error"]
    assert "cannot reach the daemon" in result.stderr


def test_json_error_when_the_socket_is_missing(tmp_path: Path) -> None:
    sock = tmp_path / "nosuch.sock"
    _unreachable(_status(sock, "--json"), sock, "No such file or directory")


def test_json_error_when_nobody_listens(unlistened: Path) -> None:
    _unreachable(_status(unlistened, "--json"), unlistened, "Connection refused")


def test_json_error_when_the_answer_is_not_json(tmp_path: Path) -> None:
    sock = tmp_path / "garbage.sock"
    with _serve_once(sock, b"not json\n"):
        result = _status(sock, "--json")
    assert result.returncode == 3, result
    assert json.loads(result.stdout)["ok"] is False


def test_json_error_when_the_daemon_refuses(tmp_path: Path) -> None:
    sock = tmp_path / "refuses.sock"
    with _serve_once(sock, b'{"ok": false, "error": "busy"}\n'):
        result = _status(sock, "--json")
    assert result.returncode == 1, result
    assert json.loads(result.stdout) == {"ok": False, "error": "busy", "socket": str(sock)}


def test_without_json_stdout_stays_empty(tmp_path: Path, unlistened: Path) -> None:
    for sock in (tmp_path / "nosuch.sock", unlistened):
        result = _status(sock)
        assert (result.returncode, result.stdout) == (3, ""), result
        assert result.stderr.startswith(f"vipkeeper status: cannot reach the daemon at {sock}: ")
