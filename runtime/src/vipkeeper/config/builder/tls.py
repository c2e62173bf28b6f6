"""The root `SSL` block: the files of SSL_GET's TLS client context, read as keepalived does.

keepalived 2.2.7 (check_parser.c): a second `SSL` block is an error and replaces the first; a
keyword without a value is an error (`SSL cafile missing`); a keyword given twice is an error
and the second value wins; words after the value are ignored in silence. The block is made
final once the whole file is read, and put on every SSL_GET checker (`attach_ssl`).
"""

from __future__ import annotations

import dataclasses

from vipkeeper.config.builder.core import Builder, Draft, Field, loc
from vipkeeper.config.builder.registry import Handler, opens
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import (
    HttpCheck,
    Location,
    RealServer,
    SslDefs,
    VirtualServer,
)
from vipkeeper.config.parser import Node


class SslDraft(Draft):
    """The root `SSL` block."""

    password: Field[str] = Field()
    ca: Field[str] = Field()
    certificate: Field[str] = Field()
    key: Field[str] = Field()
    location: Field[Location] = Field()


# keyword -> the name keepalived's messages give it
_NAMES = {"password": "password", "ca": "cafile", "certificate": "certfile", "key": "keyfile"}


def _file(field: Field[str], keyword: str) -> Handler[SslDraft]:
    def handle(b: Builder, node: Node, d: SslDraft) -> None:
        name = _NAMES[keyword]
        if not node.args:
            b.report(node, Code.MISSING_VALUE, f"SSL {name} missing")
            return
        if d.get(field) is not None:
            b.report(node, Code.DEFAULTED, f"SSL {name} already specified - replacing")
        d.set(field, node.args[0].text)

    return handle


SSL_HANDLERS: dict[str, Handler[SslDraft]] = {
    "password": _file(SslDraft.password, "password"),
    "ca": _file(SslDraft.ca, "ca"),
    "certificate": _file(SslDraft.certificate, "certificate"),
    "key": _file(SslDraft.key, "key"),
}


def _ssl(b: Builder, node: Node, _: Draft) -> None:
    if b.ssl is not None:
        b.report(node, Code.DEFAULTED, "SSL context already specified - replacing")
    block = b.walk(node, "SSL", SslDraft())
    block.location = loc(node)
    b.ssl = block


SSL_ROOT = opens("SSL", _ssl)


def finish_ssl(b: Builder) -> SslDefs | None:
    """The SSL block of the whole config, or None when there is none."""
    return None if b.ssl is None else SslDefs(**b.ssl.values)


def attach_ssl(
    services: tuple[VirtualServer, ...], ssl: SslDefs | None
) -> tuple[VirtualServer, ...]:
    """The virtual servers with `ssl` on each SSL_GET checker (keepalived's one context)."""
    if ssl is None:
        return services

    def real(rs: RealServer) -> RealServer:
        checkers = tuple(
            dataclasses.replace(c, tls=ssl) if isinstance(c, HttpCheck) and c.ssl else c
            for c in rs.checkers
        )
        return dataclasses.replace(rs, checkers=checkers)

    return tuple(
        dataclasses.replace(vs, real_servers=tuple(real(rs) for rs in vs.real_servers))
        for vs in services
    )
