"""LvsManager's SMTP alerts on a fake dataplane: keepalived's texts for a checker going up or
down and for a virtual server's quorum, and which of them smtp_alert, smtp_alert_checker and
no_checker_emails let through. The mails themselves are test_mail.py's and
daemon/test_smtp_alerts.py's."""

from __future__ import annotations

import asyncio
from ipaddress import ip_address
from typing import Any

from vipkeeper.config.model import (
    Config,
    GlobalDefs,
    HttpCheck,
    RealServer,
    TcpCheck,
    VirtualServer,
)
from vipkeeper.lvs.alerts import Text, checker_body
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.manager import LvsManager

VIP = ip_address("10.213.2.100")
NEVER = 1e6  # checkers never run on their own in these tests
RS11 = "[10.213.1.11]:tcp:8080"
VS = "[10.213.2.100]:tcp:80"
DOWN = f"[lb1] Realserver {RS11} of virtual server {VS} - DOWN"
UP = f"[lb1] Realserver {RS11} of virtual server {VS} - UP"


def rs(n: int, *checkers: Any, **kw: Any) -> RealServer:
    return RealServer(
        address=ip_address(f"10.213.1.{n}"), port=8080, checkers=checkers or (TcpCheck(),), **kw
    )


def cfg(*servers: RealServer, vs_kw: Any = None, **gd: Any) -> Config:
    vs = VirtualServer(address=VIP, port=80, lb_algo="wrr", real_servers=servers, **(vs_kw or {}))
    return Config(virtual_servers=(vs,), global_defs=GlobalDefs(**gd))


def flip(mgr: LvsManager, n: int, up: bool, checker: int = 0) -> None:
    srv = next(
        s for s in mgr.virtual_servers[0].servers if s.rs.address == ip_address(f"10.213.1.{n}")
    )
    loop = srv.loops[checker]
    loop.up = up
    mgr.server_changed(srv, loop)


def run(config: Config, steps: list[tuple[int, bool, int]]) -> list[tuple[str, str]]:
    """The alerts (subject, body with router_id lb1) of `steps` (server, up, checker)."""
    sent: list[Text] = []

    async def scenario() -> None:
        mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=NEVER, alert=sent.append)
        await mgr.start()
        for n, up, checker in steps:
            flip(mgr, n, up, checker)
        await mgr.stop()

    asyncio.run(scenario())
    out = [text("lb1") for text in sent]
    return [x for x in out if x is not None]


def test_checker_down_and_up_mailed_by_default() -> None:
    """A real server's smtp_alert is on when nothing says otherwise (check_data.c)."""
    got = run(cfg(rs(11), rs(12)), [(11, False, 0), (11, True, 0), (11, True, 0)])
    assert got == [
        (DOWN, checker_body("TCP_CHECK", False)),
        (UP, "=> TCP CHECK succeed on service <="),
    ]
    assert got[0][1] == "=> TCP CHECK failed on service <="


def test_switches() -> None:
    steps = [(11, False, 0), (11, True, 0)]
    assert run(cfg(rs(11, smtp_alert=False), rs(12)), steps) == []
    assert run(cfg(rs(11), rs(12), smtp_alert_checker=False), steps) == []
    assert len(run(cfg(rs(11, smtp_alert=True), rs(12), smtp_alert_checker=False), steps)) == 2


def test_no_checker_emails_keeps_only_server_changes() -> None:
    """With two checkers, the second one's failure does not change the server's state."""
    server = rs(11, TcpCheck(), HttpCheck())
    steps = [(11, False, 0), (11, False, 1), (11, True, 0), (11, True, 1)]
    got = run(cfg(server, rs(12), no_checker_emails=True), steps)
    assert got == [
        (DOWN, "=> TCP CHECK failed on service <="),
        (UP, "=> CHECK succeed on service <="),
    ]
    every = run(cfg(server, rs(12)), steps)
    assert [s.rsplit(" - ", 1)[1] for s, _ in every] == ["DOWN", "DOWN", "DOWN", "UP"]


def test_quorum_alerts() -> None:
    quiet = (rs(11, smtp_alert=False), rs(12, smtp_alert=False))
    config = cfg(*quiet, vs_kw={"quorum": 2, "smtp_alert": True})
    got = run(config, [(11, False, 0), (11, True, 0)])
    assert got == [
        (f"[lb1] Virtualserver {VS} - DOWN", "=> Lost quorum 2+0=2 <= 1 <="),
        (f"[lb1] Virtualserver {VS} - UP", "=> Gained quorum 2+0=2 <= 2 <="),
    ]
    # a virtual server's smtp_alert is off by default
    assert run(cfg(rs(11, smtp_alert=False), rs(12), vs_kw={"quorum": 2}), [(11, False, 0)]) == []
