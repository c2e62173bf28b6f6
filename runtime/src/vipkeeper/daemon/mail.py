"""SMTP alerts, as keepalived's core/smtp.c sends them: plain SMTP (HELO, MAIL, RCPT, DATA,
QUIT), one connection per mail, no TLS and no AUTH.

`Mailer.submit` never blocks and never raises: the mail joins a bounded queue that one task
empties in order. Each step of a conversation (the connect, then each reply) waits at most
`smtp_connect_timeout`, as keepalived's `smtp_connection_to`, so a server that accepts the
connection and never answers, or a refused port, costs only that task's time; the event loop
that sends adverts never waits for it. A full queue drops the new mail. Failures are logged and
counted (`smtp_sent`, `smtp_failed`, `smtp_dropped` in the daemon's counters), never raised.

The texts are keepalived's (vrrp_notify.c vrrp_smtp_notifier, vrrp_sync_smtp_notifier, and the
checkers'): the subject "[router_id] VRRP Instance NAME - Entering MASTER state", the headers
Date, From, Subject, X-Mailer: Keepalived and To, then the one-line body.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import pwd
import socket
from collections import deque
from collections.abc import Callable
from datetime import datetime
from email.utils import format_datetime

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config import model as m
from vipkeeper.lvs.alerts import Text  # a queued mail: subject and body from the router_id

log = logging.getLogger("vipkeeper")

QUEUE_MAX = 32  # mails waiting; keepalived has no queue (one connection per mail at once)
REPLY_MAX = 1024  # keepalived's SMTP_BUFFER_MAX: a longer reply line ends the conversation
UNKNOWN_NAME = "<unknown>"

# (subject, body) per state entered: vrrp_notify.c
INSTANCE_TEXTS = {
    "MASTER": ("Entering MASTER state", "=> VRRP Instance is now owning VRRP VIPs <="),
    "BACKUP": ("Entering BACKUP state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "FAULT": ("Entering FAULT state", "=> VRRP Instance is no longer owning VRRP VIPs <="),
    "STOP": ("Stopping", "=> VRRP Instance stopping <="),
    "DELETED": ("Deleted", "=> VRRP Deleted at reload <="),
}
GROUP_TEXTS = {
    "MASTER": ("Entering MASTER state", "=> All VRRP group instances are now in MASTER state <="),
    "BACKUP": ("Entering BACKUP state", "=> All VRRP group instances are now in BACKUP state <="),
    "FAULT": ("Entering FAULT state", "=> All VRRP group instances are now in FAULT state <="),
    "STOP": ("Stopping", "=> All VRRP group instances are now stopping <="),
}


class SmtpError(Exception):
    """One conversation failed; the message says at which step."""


@dataclass(frozen=True, **SLOTS)
class MailSettings:
    """What global_defs says about mail; None fields take keepalived's defaults when the first
    mail goes (the host's canonical name, looked up off the event loop)."""

    server: str
    port: int
    recipients: tuple[str, ...]
    sender: str | None
    helo: str | None
    timeout: float
    router_id: str | None


def mail_settings(g: m.GlobalDefs) -> MailSettings | None:
    """The mail settings, or None when keepalived would send nothing (no server or no
    recipient)."""
    if g.smtp_server is None or not g.notification_email:
        return None
    return MailSettings(
        server=g.smtp_server,
        port=g.smtp_server_port,
        recipients=g.notification_email,
        sender=g.notification_email_from,
        helo=g.smtp_helo_name,
        timeout=g.smtp_connect_timeout,
        router_id=g.router_id,
    )


def vrrp_alert(router_id: str, name: str, state: str, *, group: bool) -> tuple[str, str] | None:
    """Subject and body of a VRRP alert, None for a state keepalived does not mail."""
    texts = (GROUP_TEXTS if group else INSTANCE_TEXTS).get(state)
    if texts is None:
        return None
    what = "VRRP Group" if group else "VRRP Instance"
    return f"[{router_id}] {what} {name} - {texts[0]}", texts[1]


def format_address(addr: str) -> str:
    """keepalived's format_email_addr: a display name with specials is quoted."""
    if not addr.endswith(">") or "<" not in addr:
        return addr
    cut = addr.rindex("<")
    name = addr[:cut].rstrip(" \t")
    if not any(c in name for c in '()<>[]:;@\\,."'):
        return addr
    quoted = name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}"{addr[len(name) :]}'


def envelope(addr: str) -> str:
    """The <address> of MAIL FROM / RCPT TO: the part in angle brackets, if any."""
    if addr.endswith(">") and "<" in addr:
        return addr[addr.rindex("<") :]
    return f"<{addr}>"


def message(
    sender: str, recipients: tuple[str, ...], subject: str, body: str, now: datetime
) -> bytes:
    """The DATA of one mail, ended by the lone dot (keepalived's body_cmd)."""
    head = (
        f"Date: {format_datetime(now)}\r\n"
        f"From: {format_address(sender)}\r\n"
        f"Subject: {subject}\r\n"
        "X-Mailer: Keepalived\r\n"
        "To:" + ",\r\n".join(f" {format_address(r)}" for r in recipients)
    )
    lines = [("." + line if line.startswith(".") else line) for line in body.split("\n")]
    text = head + "\r\n\r\n" + "\r\n".join(lines) + "\r\n\r\n.\r\n"
    return text.encode("utf-8", "replace")


def local_name() -> str:
    """keepalived's get_local_name: the canonical name of the host's node name (blocking)."""
    node = os.uname().nodename
    try:
        infos = socket.getaddrinfo(node, None, flags=socket.AI_CANONNAME)
    except OSError:
        return UNKNOWN_NAME
    return next((i[3] for i in infos if i[3]), UNKNOWN_NAME)


def default_sender(name: str) -> str | None:
    """keepalived's default From: the daemon's user at the host's name."""
    if name == UNKNOWN_NAME:
        return None
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
    except KeyError:
        return None
    return f"{user}@{name}"


async def _reply(reader: asyncio.StreamReader, timeout: float, step: str) -> int:
    """The code of one (possibly multi-line) reply."""
    while True:
        try:
            line = await asyncio.wait_for(reader.readline(), timeout)
        except asyncio.TimeoutError:
            raise SmtpError(f"timeout reading the reply to {step}") from None
        except ValueError:  # longer than the reader's limit
            raise SmtpError(f"reply to {step} too long") from None
        if not line:
            raise SmtpError(f"the server closed the connection at {step}")
        if len(line) >= 4 and line[3:4] == b"-":
            continue
        try:
            return int(line[:3])
        except ValueError:
            raise SmtpError(f"bad reply to {step}: {line[:40]!r}") from None


async def deliver(
    server: str,
    port: int,
    *,
    helo: str,
    sender: str,
    recipients: tuple[str, ...],
    data: bytes,
    timeout: float,
) -> None:
    """One conversation: connect, HELO, MAIL, RCPT per recipient, DATA, the mail, QUIT.

    Raises SmtpError (or OSError) on the first failure; a refused step still says QUIT.
    """
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(server, port, limit=REPLY_MAX), timeout
        )
    except asyncio.TimeoutError:
        raise SmtpError(f"timeout connecting to {server}:{port}") from None
    try:
        steps: list[tuple[str, bytes | None, int]] = [
            ("(E)SMTP", None, 220),
            ("HELO", f"HELO {helo}\r\n".encode(), 250),
            ("MAIL", f"MAIL FROM:{envelope(sender)}\r\n".encode(), 250),
            *(("RCPT", f"RCPT TO:{envelope(r)}\r\n".encode(), 250) for r in recipients),
            ("DATA", b"DATA\r\n", 354),
            ("BODY", data, 250),
        ]
        for step, line, expected in steps:
            if line is not None:
                writer.write(line)
                await asyncio.wait_for(writer.drain(), timeout)
            code = await _reply(reader, timeout, step)
            if code != expected:
                with contextlib.suppress(Exception):
                    writer.write(b"QUIT\r\n")
                    await asyncio.wait_for(writer.drain(), timeout)
                raise SmtpError(f"{step} refused: SMTP status code {code}")
        writer.write(b"QUIT\r\n")
        await asyncio.wait_for(writer.drain(), timeout)
        with contextlib.suppress(SmtpError):  # the mail is accepted: QUIT's reply is a courtesy
            await _reply(reader, timeout, "QUIT")
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(writer.wait_closed(), timeout)


class Mailer:
    """The queue of alerts and the task that sends them (see the module docstring).

    `counters` is the daemon's counter table; `resolve` gives the host's canonical name (run
    in the loop's default executor, once).
    """

    def __init__(
        self,
        counters: dict[str, int],
        *,
        resolve: Callable[[], str] = local_name,
        queue_max: int = QUEUE_MAX,
    ) -> None:
        self.settings: MailSettings | None = None
        self.counters = counters
        for key in ("smtp_sent", "smtp_failed", "smtp_dropped"):
            counters.setdefault(key, 0)
        self._resolve = resolve
        self._name: str | None = None
        self._queue: deque[Text] = deque()
        self._queue_max = queue_max
        self._wake: asyncio.Event | None = None  # made in start(), on the running loop
        self._task: asyncio.Task[None] | None = None
        self._busy = False  # a mail is being sent

    def configure(self, settings: MailSettings | None) -> None:
        """Take a (re)loaded config's mail settings; queued mails go with the new ones."""
        self.settings = settings

    def start(self) -> None:
        """Start the sending task (on the running loop)."""
        if self._task is None:
            self._wake = asyncio.Event()
            if self._queue:
                self._wake.set()
            self._task = asyncio.get_running_loop().create_task(self._run(self._wake))

    async def drain(self, limit: float) -> None:
        """Wait up to `limit` seconds for the queue to empty and the last mail to finish."""
        loop = asyncio.get_running_loop()
        end = loop.time() + limit
        while (self._queue or self._busy) and self._task is not None and loop.time() < end:
            await asyncio.sleep(0.05)

    async def stop(self) -> None:
        """Stop the task; mails still queued are dropped (counted), one in flight cut short."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self.counters["smtp_dropped"] += len(self._queue)
        self._queue.clear()

    def vrrp(self, name: str, state: str, *, group: bool) -> None:
        """Queue the alert of an instance or a sync group entering `state`."""
        if state in (GROUP_TEXTS if group else INSTANCE_TEXTS):
            self.submit(lambda router_id: vrrp_alert(router_id, name, state, group=group))

    def submit(self, text: Text) -> None:
        """Queue one mail, `text` giving its subject and body from the router_id; never
        blocks, never raises. A full queue drops it."""
        if self.settings is None:
            return
        if len(self._queue) >= self._queue_max:
            self.counters["smtp_dropped"] += 1
            log.warning(
                "SMTP alert dropped, %d already waiting [%d dropped so far]",
                len(self._queue),
                self.counters["smtp_dropped"],
            )
            return
        self._queue.append(text)
        if self._wake is not None:
            self._wake.set()

    @property
    def pending(self) -> int:
        """Mails waiting to be sent."""
        return len(self._queue)

    async def _run(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            while self._queue:
                self._busy = True
                try:
                    await self._send(self._queue.popleft())
                finally:
                    self._busy = False

    async def _send(self, text: Text) -> None:
        s = self.settings
        if s is None:
            return
        subject = "?"
        try:
            if self._name is None and (s.helo is None or s.sender is None or s.router_id is None):
                loop = asyncio.get_running_loop()
                self._name = await loop.run_in_executor(None, self._resolve)
            name = self._name or UNKNOWN_NAME
            made = text(s.router_id or name)
            if made is None:
                return
            subject, body = made
            sender = s.sender or default_sender(name)
            if sender is None:
                raise SmtpError("no notification_email_from, and the host has no name")
            data = message(sender, s.recipients, subject, body, datetime.now().astimezone())
            helo = s.helo or (name if name != UNKNOWN_NAME else "localhost")
            await deliver(
                s.server,
                s.port,
                helo=helo,
                sender=sender,
                recipients=s.recipients,
                data=data,
                timeout=s.timeout,
            )
        except (SmtpError, OSError) as exc:
            self.counters["smtp_failed"] += 1
            log.warning(
                "SMTP alert to %s:%d not sent: %s (%s) [%d failed so far]",
                s.server,
                s.port,
                exc,
                subject,
                self.counters["smtp_failed"],
            )
            return
        except Exception as exc:  # a bug here must not end the task
            self.counters["smtp_failed"] += 1
            log.error("SMTP alert failed: %r", exc)
            return
        self.counters["smtp_sent"] += 1
        log.info("SMTP alert sent to %s:%d: %s", s.server, s.port, subject)
