"""Small real servers for checker tests: HTTP(S) with a fixed body, DNS responder, UDP echo.

python servers.py http PORT BODY [CERT KEY]
python servers.py dns PORT
python servers.py udp PORT
"""

from __future__ import annotations

import socket
import ssl
import struct
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def http(port: int, body: bytes, cert: str | None, key: str | None) -> None:
    """Serve `body` on every path; 404 on /missing; TLS when cert and key are given."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            status = 404 if self.path == "/missing" else 200
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Host", self.headers.get("Host", ""))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("0.0.0.0", port), Handler)
    if cert and key:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    server.serve_forever()


def dns(port: int) -> None:
    """Answer every query with one A record 10.213.1.53."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, addr = sock.recvfrom(512)
        if len(data) < 12:
            continue
        qid = data[:2]
        end = 12
        while data[end] != 0:
            end += data[end] + 1
        question = data[12 : end + 5]
        answer = b"\xc0\x0c" + struct.pack("!HHIH", 1, 1, 60, 4) + bytes([10, 213, 1, 53])
        header = qid + struct.pack("!HHHHH", 0x8180, 1, 1, 0, 0)
        sock.sendto(header + question + answer, addr)


def udp(port: int) -> None:
    """Echo every datagram."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("0.0.0.0", port))
    while True:
        data, addr = sock.recvfrom(4096)
        sock.sendto(data, addr)


if __name__ == "__main__":
    kind, port = sys.argv[1], int(sys.argv[2])
    if kind == "http":
        http(port, sys.argv[3].encode(), *(sys.argv[4:6] or [None, None]))
    elif kind == "dns":
        dns(port)
    else:
        udp(port)
