"""The health checker blocks of a real server, their `url` blocks, and the timing keywords
that virtual_server, real_server and checkers share.

A checker takes each timing it leaves unset from its real server, then its virtual server;
only when all three leave it unset does the checker type's keepalived default apply
(`config/checkdefaults.py`). FILE_CHECK and BFD_CHECK are not polled by keepalived, so their
type's timings always apply. SMTP_CHECK and BFD_CHECK are parsed, then warned about.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, ClassVar, cast

from vipkeeper.config.builder.core import MAX_TIME, TINY, Builder, Draft, Field, loc
from vipkeeper.config.builder.handlers import (
    h_choice,
    h_deprecated,
    h_flag,
    h_float,
    h_int,
    h_ip,
    h_run_as,
    h_script,
    h_str,
    h_weight,
)
from vipkeeper.config.builder.registry import Handler, Opens, opens
from vipkeeper.config.checkdefaults import (
    DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELAY_LOOP,
    NOT_POLLED,
    resolve_timing,
)
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import (
    BfdCheck,
    Checker,
    CheckerBase,
    DnsCheck,
    FileCheck,
    HttpCheck,
    HttpUrl,
    IPAddress,
    Location,
    MiscCheck,
    PingCheck,
    ScriptCommand,
    SmtpCheck,
    TcpCheck,
    UdpCheck,
)
from vipkeeper.config.parser import Node


class TimingDraft(Draft):
    """The timings a checker inherits from its real server and virtual server."""

    connect_timeout: Field[float] = Field()
    delay_loop: Field[float] = Field()
    retry: Field[int] = Field()
    delay_before_retry: Field[float] = Field()
    warmup: Field[float] = Field()
    alpha: Field[bool] = Field()
    INHERITED: ClassVar[tuple[Field[Any], ...]] = (
        connect_timeout,
        delay_loop,
        retry,
        delay_before_retry,
        warmup,
        alpha,
    )


class UrlDraft(Draft):
    """A `url` block of HTTP_GET / SSL_GET."""

    path: Field[str] = Field()
    digest: Field[str] = Field()
    status_codes: Field[tuple[tuple[int, int], ...]] = Field()
    virtualhost: Field[str] = Field()
    tls_compliant: Field[bool] = Field(model=False)  # accepted in a url block, and unused


class CheckerDraft(TimingDraft):
    """A checker block: the union of every checker type's fields."""

    location: Field[Location] = Field()
    kind: Field[str] = Field()
    connect_ip: Field[IPAddress] = Field()
    connect_port: Field[int] = Field()
    bindto: Field[IPAddress] = Field()
    bind_port: Field[int] = Field()
    bind_if: Field[str] = Field()
    fwmark: Field[int] = Field()
    log_all_failures: Field[bool] = Field()
    # HTTP_GET, SSL_GET
    ssl: Field[bool] = Field()
    urls: Field[tuple[HttpUrl, ...]] = Field()
    virtualhost: Field[str] = Field()
    http_protocol: Field[str] = Field()
    enable_sni: Field[bool] = Field()
    sni_name: Field[str] = Field()
    sni_host: Field[str] = Field()
    fast_recovery: Field[bool] = Field()
    tls_compliant: Field[bool] = Field()
    # MISC_CHECK
    misc_path: Field[ScriptCommand] = Field()
    misc_timeout: Field[float] = Field()
    misc_dynamic: Field[bool] = Field()
    user: Field[str] = Field(model=False)
    group: Field[str | None] = Field(model=False)
    # DNS_CHECK, BFD_CHECK
    type: Field[str] = Field()
    name: Field[str] = Field()
    # UDP_CHECK
    payload: Field[bytes] = Field()
    require_reply: Field[bool] = Field()
    reply_data: Field[bytes] = Field()
    min_reply_length: Field[int] = Field()
    max_reply_length: Field[int] = Field()
    # FILE_CHECK
    track_file: Field[str] = Field()
    weight: Field[int] = Field()
    reverse: Field[bool] = Field()
    # SMTP_CHECK
    helo_name: Field[str] = Field()

    def __init__(self, checker: str) -> None:
        super().__init__()
        self.checker = checker  # the keyword: TCP_CHECK, SSL_GET...


T = TimingDraft
C = CheckerDraft


def _retry_handler() -> Handler[Draft]:
    return h_int(T.retry, 1, 2**32 - 1)


TIMING_HANDLERS: dict[str, Handler[TimingDraft]] = {
    "connect_timeout": h_float(T.connect_timeout, TINY, 4294.0),
    "delay_loop": h_float(T.delay_loop, TINY, MAX_TIME),
    "retry": _retry_handler(),
    "delay_before_retry": h_float(T.delay_before_retry, 0.0, MAX_TIME),
    "warmup": h_float(T.warmup, 0.0, MAX_TIME),
    "alpha": h_flag(T.alpha),
}

CHECKER_COMMON: dict[str, Handler[CheckerDraft]] = {
    **TIMING_HANDLERS,
    "retry": h_int(C.retry, 0, 2**32 - 1),  # a checker may retry 0 times; a service not
    "connect_ip": h_ip(C.connect_ip),
    "connect_port": h_int(C.connect_port, 1, 65535),
    "bindto": h_ip(C.bindto),
    "bind_port": h_int(C.bind_port, 1, 65535),
    "bind_if": h_str(C.bind_if),
    "fwmark": h_int(C.fwmark, 0, 2**32 - 1),
    "log_all_failures": h_flag(C.log_all_failures),
}

CONNECTION_KEYWORDS = frozenset(
    {"connect_ip", "connect_port", "bindto", "bind_port", "bind_if", "connect_timeout", "fwmark"}
)

_STATUS_RE = re.compile(r"^(\d{3})(?:-(\d{3}))?$")


def _status_code(b: Builder, node: Node, d: UrlDraft) -> None:
    if b.arg(node, "a status code") is None:
        return
    ranges = list(d.status_codes or ())
    for tok in node.args:
        for part in tok.text.split(","):
            m = _STATUS_RE.match(part)
            lo = int(m.group(1)) if m else 0
            hi = int(m.group(2) or lo) if m else 0
            if not m or not 100 <= lo <= hi <= 599:
                b.bad(node, f"status_code: '{part}' is not a status code or range")
                continue
            ranges.append((lo, hi))
    d.status_codes = tuple(ranges)


_HEX = re.compile(r"^[0-9a-fA-F]{32}$")


def _digest(b: Builder, node: Node, d: UrlDraft) -> None:
    text = b.arg(node, "an MD5 digest")
    if text is None:
        return
    if d.digest is not None:  # keepalived keeps the first, and calls it an error
        b.report(node, Code.DEFAULTED, f"Digest '{text}' is a duplicate")
        return
    if not _HEX.match(text):
        b.bad(node, f"digest: '{text}' is not 32 hex digits")
        return
    d.digest = text.lower()


def _url(b: Builder, node: Node, d: CheckerDraft) -> None:
    sub = b.walk(node, "url", UrlDraft())
    if sub.path is None:
        b.report(node, Code.MISSING_VALUE, "HTTP/SSL_GET checker url has no path")
        return
    d.urls = (*(d.urls or ()), HttpUrl(location=loc(node), **sub.values))


URL_HANDLERS: dict[str, Handler[UrlDraft]] = {
    "path": h_str(UrlDraft.path),
    "digest": _digest,
    "status_code": _status_code,
    "virtualhost": h_str(UrlDraft.virtualhost),
    "tls_compliant": h_flag(UrlDraft.tls_compliant),
}


def _http_protocol(b: Builder, node: Node, d: CheckerDraft) -> None:
    text = b.arg(node, "1.0, 1.0C, 1.0K or 1.1")
    if text is None:
        return
    if text.upper() not in ("1.0", "1.0C", "1.0K", "1.1"):
        b.bad(node, f"http_protocol: '{text}' is not 1.0, 1.0C, 1.0K or 1.1")
        return
    d.http_protocol = text.upper()


def _hex(b: Builder, node: Node) -> bytes | None:
    """The hex data of `payload` / `require_reply`; b"" when none; None when bad."""
    text = "".join(t.text for t in node.args)
    try:
        return bytes.fromhex(text)
    except ValueError:
        b.bad(node, f"{node.name}: '{text}' is not hex data")
        return None


def _payload(b: Builder, node: Node, d: CheckerDraft) -> None:
    if not node.args:  # keepalived's payload_handler
        b.report(node, Code.MISSING_VALUE, "UDP_CHECK payload requires a payload")
        return
    data = _hex(b, node)
    if data is not None:
        d.payload = data


def _require_reply(b: Builder, node: Node, d: CheckerDraft) -> None:
    if not node.args:
        d.require_reply = True
        return
    data = _hex(b, node)
    if data is not None:
        d.require_reply = True
        d.reply_data = data


CHECKER_HANDLERS: dict[str, dict[str, Handler[Any]]] = {
    "TCP_CHECK": CHECKER_COMMON,
    "PING_CHECK": CHECKER_COMMON,
    "HTTP_GET": {
        **CHECKER_COMMON,
        "nb_get_retry": h_deprecated(
            _retry_handler(), "nb_get_retry is deprecated - please use 'retry'"
        ),
        "virtualhost": h_str(C.virtualhost),
        "http_protocol": _http_protocol,
        "enable_sni": h_flag(C.enable_sni),
        "sni_name": h_str(C.sni_name),
        "fast_recovery": h_flag(C.fast_recovery),
        "tls_compliant": h_flag(C.tls_compliant),
        "url": opens("url", _url),
    },
    "url": URL_HANDLERS,
    "MISC_CHECK": {  # keepalived installs no connection keywords here (check_misc.c)
        **{k: h for k, h in CHECKER_COMMON.items() if k not in CONNECTION_KEYWORDS},
        "misc_path": h_script(C.misc_path),
        "misc_timeout": h_float(C.misc_timeout, 0.0, MAX_TIME),
        "misc_dynamic": h_flag(C.misc_dynamic, args="ignored"),
        "user": h_run_as(C.user, C.group),
    },
    "DNS_CHECK": {
        **CHECKER_COMMON,
        "type": h_choice(C.type, {t: t for t in ("A", "NS", "CNAME", "SOA", "MX", "TXT", "AAAA")}),
        "name": h_str(C.name),
    },
    "UDP_CHECK": {
        **CHECKER_COMMON,
        "payload": _payload,
        "require_reply": _require_reply,
        "min_reply_length": h_int(C.min_reply_length, 0, 65535),
        "max_reply_length": h_int(C.max_reply_length, 0, 65535),
    },
    "FILE_CHECK": {
        **CHECKER_COMMON,
        "track_file": h_str(C.track_file),
        "weight": h_weight(C.weight, -254, 254, C.reverse),
    },
    "SMTP_CHECK": {**CHECKER_COMMON, "helo_name": h_str(C.helo_name)},
    "BFD_CHECK": {**CHECKER_COMMON, "name": h_str(C.name)},
}

# the checker keywords of a real_server: the model type and the context of their block
CHECKER_TYPES: dict[str, tuple[type[CheckerBase], str]] = {
    "TCP_CHECK": (TcpCheck, "TCP_CHECK"),
    "HTTP_GET": (HttpCheck, "HTTP_GET"),
    "SSL_GET": (HttpCheck, "HTTP_GET"),
    "MISC_CHECK": (MiscCheck, "MISC_CHECK"),
    "DNS_CHECK": (DnsCheck, "DNS_CHECK"),
    "UDP_CHECK": (UdpCheck, "UDP_CHECK"),
    "PING_CHECK": (PingCheck, "PING_CHECK"),
    "FILE_CHECK": (FileCheck, "FILE_CHECK"),
    "SMTP_CHECK": (SmtpCheck, "SMTP_CHECK"),
    "BFD_CHECK": (BfdCheck, "BFD_CHECK"),
}


class HasCheckers(Draft):
    """A draft that collects checker drafts (a real server's)."""

    def __init__(self) -> None:
        super().__init__()
        self.checkers: list[CheckerDraft] = []


def checker_handler(kind: str) -> Opens[HasCheckers]:
    """The handler of a checker keyword of a real_server."""
    context = CHECKER_TYPES[kind][1]

    def handle(b: Builder, node: Node, d: HasCheckers) -> None:
        b.only(node, 0)
        sub = b.walk(node, context, CheckerDraft(kind))
        sub.location = loc(node)
        if kind in ("HTTP_GET", "SSL_GET") and not sub.urls:
            b.report(node, Code.MISSING_VALUE, f"{kind} checker has no urls specified")
        d.checkers.append(sub)

    return opens(context, handle)


def finish_checker(
    raw: CheckerDraft,
    rs: TimingDraft,
    vs: TimingDraft,
    virtualhost: str | None,
    vs_virtualhost: str | None = None,
) -> Checker:
    """Build a checker: timings from it, its real server, its virtual server, else its type.

    `virtualhost` is its real server's, else its virtual server's (HTTP_GET and SSL_GET);
    `vs_virtualhost` the virtual server's alone, the last SNI name keepalived tries.
    """
    kind = raw.checker
    d = raw.copy()
    for field in TimingDraft.INHERITED:
        if not d.is_set(field):
            for parent in (rs, vs):
                value = parent.get(field)
                if value is not None:
                    d.set(field, value)
                    break
    delay_loop = d.delay_loop
    if delay_loop is None:
        delay_loop = d.delay_loop = DEFAULT_DELAY_LOOP
    if d.connect_timeout is None:
        d.connect_timeout = DEFAULT_CONNECT_TIMEOUT
    for name, value in resolve_timing(kind, delay_loop).items():
        if kind in NOT_POLLED or name not in d.values:
            d.values[name] = value
    if kind in ("HTTP_GET", "SSL_GET"):
        d.kind = kind
        d.ssl = kind == "SSL_GET"
        sni_host = d.virtualhost if d.virtualhost is not None else vs_virtualhost
        if sni_host is not None:
            d.sni_host = sni_host
        if d.virtualhost is None and virtualhost is not None:
            d.virtualhost = virtualhost
    if kind == "MISC_CHECK":
        if d.misc_timeout is None:
            d.misc_timeout = delay_loop
        if d.misc_path is not None and d.user is not None:
            d.misc_path = dataclasses.replace(d.misc_path, user=d.user, group=d.group)
    model = CHECKER_TYPES[kind][0]
    return cast(Checker, model(**d.values))
