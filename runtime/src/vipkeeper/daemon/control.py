"""The control socket: a root-only unix stream socket speaking one JSON object per line."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from vipkeeper._aiocompat import wait_for

log = logging.getLogger("vipkeeper.control")
MAX_REQUEST = 65536  # bytes in one request line before its newline (asyncio's limit)
READ_TIMEOUT = 5.0

Handler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class ControlServer:
    """Answers requests `{"command": ..., ...}` with `{"ok": bool, ...}`."""

    def __init__(self, path: str, handler: Handler) -> None:
        self.path = path
        self.handler = handler
        self._server: asyncio.AbstractServer | None = None

    async def start(self) -> None:
        """Listen (replacing a stale socket file), mode 0600."""
        sock_path = Path(self.path)
        sock_path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
        with contextlib.suppress(FileNotFoundError):
            if sock_path.is_socket():
                sock_path.unlink()
        old_umask = os.umask(0o177)
        try:
            self._server = await asyncio.start_unix_server(
                self._serve, path=self.path, limit=MAX_REQUEST
            )
        finally:
            os.umask(old_umask)
        os.chmod(self.path, 0o600)

    async def stop(self) -> None:
        """Stop listening and remove the socket file."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await wait_for(self._server.wait_closed(), 1.0)
            self._server = None
        with contextlib.suppress(OSError):
            os.unlink(self.path)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            try:
                line = await wait_for(reader.readline(), READ_TIMEOUT)
            except ValueError:  # asyncio's limit: the line is longer than MAX_REQUEST
                response = {"ok": False, "error": f"request longer than {MAX_REQUEST} bytes"}
            else:
                response = await self._answer(line)
            writer.write(json.dumps(response).encode() + b"\n")
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError) as exc:
            log.debug("control client: %s", exc)
        finally:
            writer.close()

    async def _answer(self, line: bytes) -> dict[str, Any]:
        try:
            request = json.loads(line or b"{}")
        except (ValueError, RecursionError) as exc:  # RecursionError: absurdly nested JSON
            return {"ok": False, "error": f"bad request: not JSON: {exc}"}
        if not isinstance(request, dict):
            return {"ok": False, "error": "bad request: a JSON object is expected"}
        try:
            return await self.handler(request)
        except Exception:  # a bug: the client still gets an answer, the log the traceback
            log.exception("control request %r failed", request.get("command"))
            return {"ok": False, "error": "internal error (the daemon's log has the details)"}


def json_number(value: object) -> float | None:
    """A JSON number as a float; None for anything else, `true`/`false` included."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def request(path: str, payload: dict[str, Any], timeout: float = 5.0) -> dict[str, Any]:
    """Send one request to a running daemon and return its answer (blocking client).

    The daemon may answer (and close) before it has read all of a request it refuses, such as
    one longer than MAX_REQUEST: the answer is still read when the send breaks off.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(path)
        # A broken send means the daemon answered early: its answer is waiting.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(json.dumps(payload).encode() + b"\n")
        chunks = []
        while True:
            try:
                chunk = sock.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            chunks.append(chunk)
    answer = json.loads(b"".join(chunks) or b"{}")
    if not isinstance(answer, dict):
        raise TypeError("the daemon's answer is not a JSON object")
    return answer
