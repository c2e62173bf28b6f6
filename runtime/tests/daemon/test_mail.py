"""The SMTP alert client (daemon/mail.py) against aiosmtpd on the loopback, a server that never
answers and a refused port: keepalived's texts, the bounded queue, and a loop that never waits.

The daemon in namespaces, with `vipkeeper run` changing state, is test_smtp_alerts.py.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from daemon.smtpsink import Sink

from vipkeeper.config import model as m
from vipkeeper.daemon.mail import (
    Mailer,
    MailSettings,
    envelope,
    format_address,
    mail_settings,
    message,
    vrrp_alert,
)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def smtp_server(out: Path) -> Iterator[int]:
    """aiosmtpd on 127.0.0.1; each mail becomes a file in `out`."""
    port = _free_port()
    controller = Controller(Sink(out), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


def _settings(port: int, **kw: Any) -> MailSettings:
    base: dict[str, Any] = {
        "server": "127.0.0.1",
        "port": port,
        "recipients": ("ops@example.org", "Ops Team <team@example.org>"),
        "sender": "vk@example.org",
        "helo": "vk.example.org",
        "timeout": 5.0,
        "router_id": "lb1",
    }
    base.update(kw)
    return MailSettings(**base)


def _mails(out: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(out.glob("[0-9]*.json"))]


async def _run_mailer(
    settings: MailSettings, alerts: list[tuple[str, str, bool]], *, until: Any, limit: float
) -> tuple[dict[str, int], float]:
    """Queue `alerts`, run the loop until `until(counters)` (at most `limit` s); the counters
    and the longest gap between two ticks of a 10 ms ticker meanwhile."""
    counters: dict[str, int] = {}
    mailer = Mailer(counters, resolve=lambda: "host.example.org")
    mailer.configure(settings)
    mailer.start()
    loop = asyncio.get_running_loop()
    worst, last = 0.0, loop.time()
    for name, state, group in alerts:
        mailer.vrrp(name, state, group=group)
    end = loop.time() + limit
    while not until(counters) and loop.time() < end:
        await asyncio.sleep(0.01)
        now = loop.time()
        worst, last = max(worst, now - last), now
    await mailer.stop()
    return counters, worst


def test_keepalived_texts() -> None:
    assert vrrp_alert("lb1", "VI_1", "MASTER", group=False) == (
        "[lb1] VRRP Instance VI_1 - Entering MASTER state",
        "=> VRRP Instance is now owning VRRP VIPs <=",
    )
    assert vrrp_alert("lb1", "VI_1", "DELETED", group=False) == (
        "[lb1] VRRP Instance VI_1 - Deleted",
        "=> VRRP Deleted at reload <=",
    )
    assert vrrp_alert("lb1", "G", "STOP", group=True) == (
        "[lb1] VRRP Group G - Stopping",
        "=> All VRRP group instances are now stopping <=",
    )
    assert vrrp_alert("lb1", "G", "DELETED", group=True) is None  # groups are never deleted


def test_addresses_as_keepalived_writes_them() -> None:
    assert format_address("a@b.org") == "a@b.org"
    assert format_address("Ops Team <team@b.org>") == "Ops Team <team@b.org>"
    assert format_address("Ops, Team <team@b.org>") == '"Ops, Team" <team@b.org>'
    assert format_address('O"ps. <t@b.org>') == '"O\\"ps." <t@b.org>'
    assert envelope("a@b.org") == "<a@b.org>"
    assert envelope("Ops Team <team@b.org>") == "<team@b.org>"


def test_message_headers_and_body() -> None:
    now = datetime(2026, 12, 3, 19, 30, 5, tzinfo=timezone(timedelta(hours=1)))
    data = message("vk@b.org", ("a@b.org", "Ops <o@b.org>"), "[lb1] S", "body\n.dot", now)
    assert data == (
        b"Date: Thu, 03 Dec 2026 19:30:05 +0100\r\n"
        b"From: vk@b.org\r\n"
        b"Subject: [lb1] S\r\n"
        b"X-Mailer: Keepalived\r\n"
        b"To: a@b.org,\r\n Ops <o@b.org>\r\n"
        b"\r\n"
        b"body\r\n..dot\r\n"
        b"\r\n.\r\n"
    )


def test_settings_only_with_a_server_and_recipients() -> None:
    assert mail_settings(m.GlobalDefs(smtp_server="10.0.0.1")) is None
    assert mail_settings(m.GlobalDefs(notification_email=("a@b.org",))) is None
    s = mail_settings(m.GlobalDefs(smtp_server="10.0.0.1", notification_email=("a@b.org",)))
    assert s is not None and (s.port, s.timeout, s.sender, s.helo) == (25, 30.0, None, None)


def test_alerts_reach_a_real_smtp_server(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as port:
        counters, _ = asyncio.run(
            _run_mailer(
                _settings(port),
                [("VI_1", "BACKUP", False), ("VI_1", "MASTER", False), ("G", "FAULT", True)],
                until=lambda c: c.get("smtp_sent", 0) >= 3,
                limit=10,
            )
        )
        mails = _mails(tmp_path)
    assert counters == {"smtp_sent": 3, "smtp_failed": 0, "smtp_dropped": 0}
    assert [m["helo"] for m in mails] == ["vk.example.org"] * 3
    assert {m["mail_from"] for m in mails} == {"vk@example.org"}
    assert mails[0]["rcpt_tos"] == ["ops@example.org", "team@example.org"]
    heads, body = zip(*(m["data"].split("\r\n\r\n", 1) for m in mails))
    subjects = [next(h for h in x.split("\r\n") if h.startswith("Subject: ")) for x in heads]
    assert subjects == [  # in the order queued
        "Subject: [lb1] VRRP Instance VI_1 - Entering BACKUP state",
        "Subject: [lb1] VRRP Instance VI_1 - Entering MASTER state",
        "Subject: [lb1] VRRP Group G - Entering FAULT state",
    ]
    assert body[1].strip() == "=> VRRP Instance is now owning VRRP VIPs <="
    first = heads[0].split("\r\n")
    assert first[1:4] == ["From: vk@example.org", subjects[0], "X-Mailer: Keepalived"]
    assert first[4:] == ["To: ops@example.org,", " Ops Team <team@example.org>"]
    sent = datetime.strptime(first[0], "Date: %a, %d %b %Y %H:%M:%S %z")
    assert abs(sent.timestamp() - time.time()) < 60


def test_defaults_from_the_host_name(tmp_path: Path) -> None:
    with smtp_server(tmp_path) as port:
        settings = _settings(port, sender=None, helo=None, router_id=None)
        counters, _ = asyncio.run(
            _run_mailer(
                settings,
                [("VI_1", "MASTER", False)],
                until=lambda c: c.get("smtp_sent", 0) >= 1,
                limit=10,
            )
        )
        (mail,) = _mails(tmp_path)
    assert counters["smtp_sent"] == 1
    assert mail["helo"] == "host.example.org"
    assert mail["mail_from"] == "root@host.example.org"
    assert "Subject: [host.example.org] VRRP Instance VI_1 - " in mail["data"]


def test_a_server_that_never_answers_times_out_and_the_loop_runs_on() -> None:
    async def scenario() -> tuple[dict[str, int], float, int]:
        held: list[asyncio.StreamWriter] = []

        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            held.append(writer)  # never a word

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            counters, worst = await _run_mailer(
                _settings(port, timeout=0.3),
                [("VI_1", "BACKUP", False), ("VI_1", "MASTER", False)],
                until=lambda c: c.get("smtp_failed", 0) >= 2,
                limit=5,
            )
        finally:
            for w in held:
                w.close()
            server.close()
        return counters, worst, len(held)

    started = time.monotonic()
    counters, worst, accepted = asyncio.run(scenario())
    assert counters == {"smtp_sent": 0, "smtp_failed": 2, "smtp_dropped": 0}
    assert accepted == 2
    assert 0.5 < time.monotonic() - started < 4  # two greetings waited for, 0.3 s each
    assert worst < 0.25, f"the loop stalled {worst:.3f}s"


def test_a_refused_port_fails_at_once() -> None:
    counters, worst = asyncio.run(
        _run_mailer(
            _settings(_free_port()),
            [("VI_1", "MASTER", False)],
            until=lambda c: c.get("smtp_failed", 0) >= 1,
            limit=5,
        )
    )
    assert counters == {"smtp_sent": 0, "smtp_failed": 1, "smtp_dropped": 0}
    assert worst < 0.25


def test_the_queue_is_bounded() -> None:
    async def scenario() -> dict[str, int]:
        async def accept(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await asyncio.sleep(10)

        server = await asyncio.start_server(accept, "127.0.0.1", 0)
        counters: dict[str, int] = {}
        mailer = Mailer(counters, resolve=lambda: "h", queue_max=2)
        mailer.configure(_settings(server.sockets[0].getsockname()[1], timeout=5.0))
        mailer.start()
        for _ in range(6):  # one in flight at most, two waiting, the rest dropped
            mailer.vrrp("VI_1", "MASTER", group=False)
            await asyncio.sleep(0.05)
        assert mailer.pending == 2
        await mailer.stop()
        server.close()
        return counters

    counters = asyncio.run(scenario())
    assert counters == {"smtp_sent": 0, "smtp_failed": 0, "smtp_dropped": 3 + 2}


def test_without_settings_nothing_is_queued() -> None:
    counters: dict[str, int] = {}
    mailer = Mailer(counters)
    mailer.vrrp("VI_1", "MASTER", group=False)
    assert mailer.pending == 0 and counters["smtp_dropped"] == 0
