"""A TLS HTTP server for the SSL_GET tests that records what each client sent.

python tlsserver.py PORT CERT KEY LOG [--client-ca CA] [--min VERSION] [--max VERSION]
                    [--chunked | --short]

Answers every request with `200` and the body `tls ok`. Each handshake appends one JSON line to
LOG: the SNI name the client sent (null for none), the TLS version, and the client
certificate's subject CN (null when none was presented). With --client-ca the server requires
a client certificate signed by CA. VERSION is a name of ssl.TLSVersion (TLSv1_1, TLSv1_3...).
"""

from __future__ import annotations

import argparse
import json
import socket
import ssl
import threading
import warnings

BODY = b"tls ok"


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("port", type=int)
    p.add_argument("cert")
    p.add_argument("key")
    p.add_argument("log")
    p.add_argument("--client-ca")
    p.add_argument("--min")
    p.add_argument("--max")
    p.add_argument("--chunked", action="store_true", help="send the body in HTTP/1.1 chunks")
    p.add_argument("--short", action="store_true", help="announce more bytes than are sent")
    a = p.parse_args()
    warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1_1, on purpose
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(a.cert, a.key)
    if a.min:
        ctx.minimum_version = ssl.TLSVersion[a.min]
    if a.max:
        ctx.maximum_version = ssl.TLSVersion[a.max]
        if ssl.TLSVersion[a.max] < ssl.TLSVersion.TLSv1_2:
            ctx.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
            ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # OpenSSL 3 offers TLS < 1.2 only at level 0
    if a.client_ca:
        ctx.verify_mode = ssl.CERT_REQUIRED
        ctx.load_verify_locations(a.client_ca)
    names: dict[int, str | None] = {}

    def sni(sslobj: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
        names[id(sslobj)] = name

    ctx.sni_callback = sni  # type: ignore[assignment]
    lock = threading.Lock()
    listener = socket.create_server(("0.0.0.0", a.port), reuse_port=False)

    def serve(conn: socket.socket) -> None:
        try:
            with ctx.wrap_socket(conn, server_side=True) as tls:
                peer = tls.getpeercert() or {}
                cn = next(
                    (v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"),
                    None,
                )
                entry = {"sni": names.pop(id(tls), None), "version": tls.version(), "client": cn}
                with lock, open(a.log, "a") as fh:
                    fh.write(json.dumps(entry) + "\n")
                tls.settimeout(5)
                data = b""
                while b"\r\n\r\n" not in data:
                    more = tls.recv(4096)
                    if not more:
                        return
                    data += more
                if a.chunked:
                    head = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                    body = b"%x\r\n%s\r\n0\r\n\r\n" % (len(BODY), BODY)
                else:
                    length = len(BODY) + (10 if a.short else 0)
                    head = f"HTTP/1.0 200 OK\r\nContent-Length: {length}\r\n\r\n".encode()
                    body = BODY
                tls.sendall(head + body)
        except (OSError, ssl.SSLError) as exc:
            with lock, open(a.log, "a") as fh:
                fh.write(json.dumps({"error": str(exc)}) + "\n")

    while True:
        conn, _ = listener.accept()
        threading.Thread(target=serve, args=(conn,), daemon=True).start()


if __name__ == "__main__":
    main()
