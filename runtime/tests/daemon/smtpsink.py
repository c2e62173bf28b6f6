"""An SMTP server for the alert tests: `python smtpsink.py MODE ADDR PORT OUTDIR`.

MODE `smtp`: aiosmtpd, a real SMTP server; each mail it accepts becomes OUTDIR/NNN.json with
the HELO name, the envelope and the DATA as received. MODE `silent`: accepts TCP connections
and never says a word (a hung server); each accepted connection is counted in
OUTDIR/accepted. Either writes OUTDIR/ready once it listens, and runs until killed.
"""

from __future__ import annotations

import json
import socket
import sys
import threading
from pathlib import Path
from typing import Any


class Sink:
    """aiosmtpd's handler: every mail to a file."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        record = {
            "helo": session.host_name,
            "mail_from": envelope.mail_from,
            "rcpt_tos": list(envelope.rcpt_tos),
            "data": envelope.original_content.decode("utf-8", "replace"),
        }
        tmp = self.out / f".{self.count:03d}.json"
        tmp.write_text(json.dumps(record))
        tmp.rename(self.out / f"{self.count:03d}.json")
        return "250 OK"


def smtp(addr: str, port: int, out: Path) -> None:
    from aiosmtpd.controller import Controller

    controller = Controller(Sink(out), hostname=addr, port=port)
    controller.start()
    (out / "ready").write_text("1")
    try:
        threading.Event().wait()  # aiosmtpd serves on its own thread's loop
    finally:
        controller.stop()


def silent(addr: str, port: int, out: Path) -> None:
    family = socket.AF_INET6 if ":" in addr else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as srv:
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        srv.bind((addr, port))
        srv.listen(64)
        (out / "ready").write_text("1")
        held = []
        while True:
            conn, _ = srv.accept()
            held.append(conn)  # never answered, never closed
            (out / "accepted").write_text(str(len(held)))


def main() -> None:
    mode, addr, port, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    out.mkdir(parents=True, exist_ok=True)
    {"smtp": smtp, "silent": silent}[mode](addr, port, out)


if __name__ == "__main__":
    main()
