"""Checkers against real servers in a namespace: each is taken down and brought back.

The director namespace runs the checker loops (asyncio, one thread); the real-server
namespace runs an HTTP server, a TLS server with a certificate made by the test, a TCP
listener, a DNS responder and a UDP echo. Removal must happen within
delay_loop + retry x (delay_before_retry + connect_timeout) + connect_timeout, re-adding
within delay_loop + connect_timeout (plus a little scheduling slack).
"""

from __future__ import annotations

import asyncio
import hashlib
import subprocess
import sys
import time
from collections.abc import Callable
from ipaddress import ip_address
from pathlib import Path

import pytest
from lvs.nsthread import NsThread
from netlab import NetLab, Node, stop_process, wait_for

from vipkeeper.checks.checkers import Target, run_check
from vipkeeper.checks.checkers.runner import CheckerLoop
from vipkeeper.config.model import (
    Checker,
    DnsCheck,
    HttpCheck,
    HttpUrl,
    PingCheck,
    TcpCheck,
    UdpCheck,
)

HERE = Path(__file__).parent
SERVERS = str(HERE / "servers.py")
RSERVER = str(HERE.parent.parent / "lvs" / "rserver.py")
BODY = "hello from the real server"
DIGEST = hashlib.md5(BODY.encode(), usedforsecurity=False).hexdigest()
RS = ip_address("10.213.1.11")
TIMING = {"delay_loop": 1.0, "connect_timeout": 1.0, "retry": 1, "delay_before_retry": 0.5}
SLACK = 1.0


def make_cert(workdir: str) -> tuple[str, str]:
    cert, key = f"{workdir}/cert.pem", f"{workdir}/key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
         "-days", "1", "-subj", "/CN=rs.test"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


CHECKERS: dict[str, tuple[Checker, int, Callable[[str, str], list[str]]]] = {
    "tcp": (TcpCheck(**TIMING), 9000, lambda c, k: [RSERVER, "rs", "9000"]),  # type: ignore[arg-type]
    "http": (
        HttpCheck(urls=(HttpUrl(path="/", digest=DIGEST),), **TIMING),  # type: ignore[arg-type]
        8080,
        lambda c, k: [SERVERS, "http", "8080", BODY],
    ),
    "ssl": (
        HttpCheck(
            kind="SSL_GET",
            ssl=True,
            enable_sni=True,
            virtualhost="rs.test",
            sni_host="rs.test",
            urls=(HttpUrl(path="/", digest=DIGEST),),
            **TIMING,
        ),  # type: ignore[arg-type]
        8443,
        lambda c, k: [SERVERS, "http", "8443", BODY, c, k],
    ),
    "dns": (
        DnsCheck(type="A", name="www.example.test", **TIMING),
        5353,
        lambda c, k: [SERVERS, "dns", "5353"],
    ),  # type: ignore[arg-type]
    "udp": (
        UdpCheck(payload=b"ping", require_reply=True, reply_data=b"ping", **TIMING),  # type: ignore[arg-type]
        7000,
        lambda c, k: [SERVERS, "udp", "7000"],
    ),
}


class Servers:
    def __init__(self, node: Node, cert: str, key: str) -> None:
        self.node, self.cert, self.key = node, cert, key
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str) -> None:
        argv = CHECKERS[name][2](self.cert, self.key)
        self.procs[name] = self.node.popen([sys.executable, *argv])

    def stop(self, name: str) -> None:
        stop_process(self.procs.pop(name))


@pytest.mark.netns
@pytest.mark.slow
def test_checkers_detect_down_and_up(lab: NetLab) -> None:
    director = lab.add_node("dir", addrs=["10.213.1.1/24"])
    rs = lab.add_node("rs", addrs=[f"{RS}/24"])
    cert, key = make_cert(lab.workdir)
    servers = Servers(rs, cert, key)
    for name in CHECKERS:
        servers.start(name)
    events: dict[str, list[tuple[float, bool]]] = {name: [] for name in CHECKERS}
    ns = NsThread(director.ns)
    loops: dict[str, CheckerLoop] = {}

    def record(name: str) -> Callable[[CheckerLoop], None]:
        return lambda loop: events[name].append((time.monotonic(), loop.up))

    async def start() -> None:
        for name, (checker, port, _) in CHECKERS.items():
            loops[name] = CheckerLoop(checker, Target(RS, port), record(name), bootstrap=0.2)
            loops[name].start()

    try:
        ns.run(start())
        # every checker sees its server up (servers may need a moment to start)
        assert wait_for(lambda: all(loop.has_run and loop.up for loop in loops.values()), 15), {
            n: loop.last for n, loop in loops.items()
        }
        t = TIMING
        down_bound = (
            t["delay_loop"]
            + t["retry"] * (t["delay_before_retry"] + t["connect_timeout"])
            + t["connect_timeout"]
            + SLACK
        )
        up_bound = TIMING["delay_loop"] + TIMING["connect_timeout"] + SLACK
        for name in CHECKERS:
            events[name].clear()
            stopped = time.monotonic()
            servers.stop(name)
            assert wait_for(lambda n=name: events[n] != [], down_bound + 1), (
                f"{name}: never went down"
            )
            at, up = events[name][0]
            assert up is False
            assert at - stopped <= down_bound, f"{name}: down after {at - stopped:.2f}s"
            assert all(loops[o].up for o in CHECKERS if o != name), "another checker was disturbed"
            started = time.monotonic()
            servers.start(name)
            assert wait_for(lambda n=name: len(events[n]) > 1, up_bound + 2), (
                f"{name}: never came back"
            )
            at, up = events[name][1]
            assert up is True
            # the server process needs a moment to bind; count from start, allow its start-up
            assert at - started <= up_bound + 1.0, f"{name}: up after {at - started:.2f}s"
    finally:

        async def stop() -> None:
            for loop in loops.values():
                await loop.stop()

        ns.run(stop())
        ns.close()


@pytest.mark.netns
def test_http_status_digest_vhost_and_ping(lab: NetLab) -> None:
    director = lab.add_node("dir", addrs=["10.213.1.1/24"])
    rs = lab.add_node("rs", addrs=[f"{RS}/24"])
    cert, key = make_cert(lab.workdir)
    servers = Servers(rs, cert, key)
    servers.start("http")
    servers.start("ssl")
    ns = NsThread(director.ns)
    try:
        t = Target(RS, 8080)
        for port in (8080, 8443):
            up = wait_for(lambda p=port: ns.run(run_check(TcpCheck(), Target(RS, p))).ok, 10)
            assert up is not None, f"server on {port} did not start"

        def check(c: Checker, target: Target = t) -> tuple[bool, str]:
            r = ns.run(run_check(c, target))
            return r.ok, r.detail

        assert check(HttpCheck(urls=(HttpUrl(path="/", digest=DIGEST),)))[0]
        ok, why = check(HttpCheck(urls=(HttpUrl(path="/", digest="0" * 32),)))
        assert not ok and "digest mismatch" in why
        ok, why = check(HttpCheck(urls=(HttpUrl(path="/missing"),)))
        assert not ok and "status 404" in why
        assert check(HttpCheck(urls=(HttpUrl(path="/missing", status_codes=((400, 404),)),)))[0]
        # every url must pass
        assert not check(HttpCheck(urls=(HttpUrl(path="/"), HttpUrl(path="/missing"))))[0]
        ssl_check = HttpCheck(kind="SSL_GET", ssl=True, urls=(HttpUrl(path="/", digest=DIGEST),))
        assert check(ssl_check, Target(RS, 8443))[0]
        # plain HTTP against the TLS port fails
        assert not check(HttpCheck(urls=(HttpUrl(path="/"),)), Target(RS, 8443))[0]
        # ICMP echo: the real server answers, an absent address does not
        assert check(PingCheck(connect_timeout=1.0), Target(RS, 0))[0]
        ok, why = check(PingCheck(connect_timeout=0.5), Target(ip_address("10.213.1.200"), 0))
        assert not ok and "no echo reply" in why
    finally:
        ns.close()


def test_fetch_sends_virtualhost() -> None:
    from vipkeeper.checks.checkers.http import build_request

    assert build_request("/x", "www.test") == (
        b"GET /x HTTP/1.0\r\nUser-Agent: KeepAliveClient\r\nHost: www.test\r\n\r\n"
    )
    assert b"Connection: close" in build_request("/", "h", "1.1")
    asyncio.run(asyncio.sleep(0))


DEFAULTS_CONF = f"""virtual_server 10.213.1.100 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
    delay_loop 1
    connect_timeout 1
    real_server {RS} 9000 {{
        TCP_CHECK {{
            connect_port 9000
        }}
        HTTP_GET {{
            connect_port 8080
            url {{
                path /
                digest {DIGEST}
            }}
        }}
        DNS_CHECK {{
            connect_port 5353
            type A
            name www.example.test
        }}
        UDP_CHECK {{
            connect_port 7000
            payload 70696e67
            require_reply 70696e67
        }}
    }}
}}
"""
BY_KIND = {"TCP_CHECK": "tcp", "HTTP_GET": "http", "DNS_CHECK": "dns", "UDP_CHECK": "udp"}


@pytest.mark.netns
@pytest.mark.slow
def test_type_defaults_bound_removal_and_return(lab: NetLab) -> None:
    """Checkers built from a config that leaves retry/delay_before_retry/warmup to their type.

    The bounds come from the resolved values (HTTP_GET: 1 retry 3 s apart, DNS_CHECK: 3 retries
    a delay_loop apart, ...): removal after at least retry x delay_before_retry and within
    delay_loop + retry x (delay_before_retry + connect_timeout) + connect_timeout.
    """
    from vipkeeper.config import load_text

    res = load_text(DEFAULTS_CONF)
    assert res.config is not None and res.ok, [d.format() for d in res.diagnostics]
    checkers = {c.kind: c for c in res.config.virtual_servers[0].real_servers[0].checkers}
    resolved = {k: (c.retry, c.delay_before_retry, c.warmup) for k, c in checkers.items()}
    assert resolved == {  # the type defaults are what this test exercises
        "TCP_CHECK": (1, 1.0, 1.0),
        "HTTP_GET": (1, 3.0, 1.0),
        "DNS_CHECK": (3, 1.0, 1.0),
        "UDP_CHECK": (1, 1.0, 1.0),
    }
    director = lab.add_node("dir", addrs=["10.213.1.1/24"])
    rs = lab.add_node("rs", addrs=[f"{RS}/24"])
    servers = Servers(rs, "", "")
    for name in BY_KIND.values():
        servers.start(name)
    events: dict[str, list[tuple[float, bool]]] = {kind: [] for kind in checkers}
    ns = NsThread(director.ns)
    loops: dict[str, CheckerLoop] = {}

    async def start() -> None:
        for kind, checker in checkers.items():
            target = Target(RS, checker.connect_port or 0)
            loops[kind] = CheckerLoop(
                checker, target, lambda lp, k=kind: events[k].append((time.monotonic(), lp.up))
            )
            loops[kind].start()

    try:
        ns.run(start())
        # bootstrap (1 s) + warmup (delay_loop) + an attempt, with time for the servers to start
        assert wait_for(lambda: all(lp.has_run and lp.up for lp in loops.values()), 15), {
            k: lp.last for k, lp in loops.items()
        }
        for kind, c in checkers.items():
            events[kind].clear()
            stopped = time.monotonic()
            servers.stop(BY_KIND[kind])
            low = c.retry * c.delay_before_retry
            high = (
                c.delay_loop
                + c.retry * (c.delay_before_retry + c.connect_timeout)
                + c.connect_timeout
                + SLACK
            )
            assert wait_for(lambda k=kind: events[k] != [], high + 1), f"{kind}: never went down"
            at, up = events[kind][0]
            assert up is False
            assert low - 0.1 <= at - stopped <= high, f"{kind}: down after {at - stopped:.2f}s"
            started = time.monotonic()
            servers.start(BY_KIND[kind])
            up_bound = c.delay_loop + c.connect_timeout + SLACK
            assert wait_for(lambda k=kind: len(events[k]) > 1, up_bound + 2), f"{kind}: not back"
            at, up = events[kind][1]
            assert up is True and at - started <= up_bound + 1.0, f"{kind}: up after {at - started}"
    finally:

        async def stop() -> None:
            for lp in loops.values():
                await lp.stop()

        ns.run(stop())
        ns.close()
