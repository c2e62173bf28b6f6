"""A tiny real server for the LVS lab: greets each TCP connection with its name, then echoes."""

from __future__ import annotations

import contextlib
import socket
import sys
import threading


def serve(name: str, port: int) -> None:
    """Listen on all addresses; one thread per connection."""
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))
    srv.listen(256)

    def handle(conn: socket.socket) -> None:
        with conn, contextlib.suppress(OSError):  # health checks hang up at once
            conn.sendall(name.encode() + b"\n")
            while data := conn.recv(4096):
                conn.sendall(data)

    while True:
        conn, _ = srv.accept()
        threading.Thread(target=handle, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    serve(sys.argv[1], int(sys.argv[2]))
