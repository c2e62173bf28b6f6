"""A stand-in for AnsibleModule and a throwaway control socket, for the drill modules' tests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

FIXTURES = Path(__file__).parent / "fixtures"


class Failed(Exception):
    """fail_json was called."""

    def __init__(self, msg: str, **kw: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.result = kw


class FakeModule:
    """The slice of AnsibleModule the backends use; run_command is canned or real."""

    def __init__(self, check_mode: bool = False, **params: Any) -> None:
        self.params = params
        self.check_mode = check_mode
        self.calls: list[list[str]] = []
        self.answers: dict[str, tuple[int, str, str]] = {}
        self.real = False

    def fail_json(self, msg: str, **kw: Any) -> None:
        raise Failed(msg, **kw)

    def get_bin_path(self, name: str, required: bool = False) -> str | None:
        return shutil.which(name, path="/usr/sbin:/usr/bin:/sbin:/bin")

    def run_command(self, argv: list[str], data: str | None = None) -> tuple[int, str, str]:
        self.calls.append(list(argv))
        if self.real:
            done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
            return done.returncode, done.stdout, done.stderr
        for prefix, answer in self.answers.items():
            if " ".join(argv).startswith(prefix):
                return answer
        return 0, "", ""


class ControlServer:
    """A unix socket that answers one JSON line per connection through `handler`."""

    def __init__(self, path: Path, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        self.path = str(path)
        self.handler = handler
        self.requests: list[dict[str, Any]] = []
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(4)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _addr = self.sock.accept()
            except OSError:
                return
            with conn:
                line = conn.makefile("rb").readline()
                request = json.loads(line)
                self.requests.append(request)
                conn.sendall(json.dumps(self.handler(request)).encode() + b"\n")

    def close(self) -> None:
        self.sock.close()
        if os.path.exists(self.path):
            os.unlink(self.path)


class RawAnswerServer:
    """A unix socket that answers one connection with a control vector's raw bytes.

    `read` is "line" (the whole request line first) or a byte count (then it answers and closes
    early, as the daemon does with a request over its limit). Shared with the runtime's client
    test (runtime/tests/test_control_vectors.py loads this file by its path).
    """

    def __init__(self, path: Path, chunks: list[str], read: str | int = "line") -> None:
        self.path = str(path)
        self.chunks = [c.encode() for c in chunks]
        self.read = read
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.bind(self.path)
        self.sock.listen(1)
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            conn, _addr = self.sock.accept()
        except OSError:
            return
        with conn:
            if self.read == "line":
                conn.makefile("rb").readline()
            else:
                conn.recv(int(self.read))
            for chunk in self.chunks:
                conn.sendall(chunk)

    def close(self) -> None:
        self.sock.close()
        self.thread.join(5)
        if os.path.exists(self.path):
            os.unlink(self.path)


def wait_until(predicate: Callable[[], object], timeout: float, interval: float = 0.02) -> bool:
    """Poll `predicate()` until true or `timeout` seconds pass; whether it came true."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True
