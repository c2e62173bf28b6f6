"""The texts of keepalived's SMTP alerts about real and virtual servers (core/smtp.c
SMTP_MSG_RS and SMTP_MSG_VS, the checkers' bodies in check/check_*.c). Pure: the daemon's mailer
sends them (daemon/mail.py), with the router_id it knows when the mail goes.
"""

from __future__ import annotations

from collections.abc import Callable

# A mail's subject and body from the router_id (None: no mail after all).
Text = Callable[[str], "tuple[str, str] | None"]
Alert = Callable[[Text], None]

# (up, down) bodies per checker type: check_tcp.c, check_http.c, check_udp.c, check_ping.c,
# check_dns.c; MISC_CHECK's is made from its exit (check_misc.c), the others have none.
CHECKER_BODIES = {
    "TCP_CHECK": ("=> TCP CHECK succeed on service <=", "=> TCP CHECK failed on service <="),
    "HTTP_GET": (
        "=> CHECK succeed on service <=",
        "=> CHECK failed on service : HTTP/SSL request failed <=",
    ),
    "SSL_GET": (
        "=> CHECK succeed on service <=",
        "=> CHECK failed on service : HTTP/SSL request failed <=",
    ),
    "UDP_CHECK": ("=> UDP CHECK succeed on service <=", "=> UDP CHECK failed on service <="),
    "PING_CHECK": ("=> ICMP CHECK succeed on service <=", "=> ICMP CHECK failed on service <="),
    "DNS_CHECK": ("=> DNS_CHECK: succeed on service <=", "=> DNS_CHECK: failed on service <="),
    "MISC_CHECK": ("=> MISC CHECK succeeded on service <=", "=> MISC CHECK failed on service <="),
}


def checker_body(kind: str, up: bool) -> str | None:
    """The body keepalived mails when a checker of `kind` goes up or down (None: no mail)."""
    bodies = CHECKER_BODIES.get(kind)
    return None if bodies is None else bodies[0 if up else 1]


def rs_alert(rs: str, vs: str, alive: bool, body: str) -> Text:
    """A real server's alert: "[router_id] Realserver RS of virtual server VS - UP|DOWN"."""
    state = "UP" if alive else "DOWN"
    return lambda router_id: (
        f"[{router_id}] Realserver {rs} of virtual server {vs} - {state}",
        body,
    )


def vs_alert(vs: str, up: bool, body: str) -> Text:
    """A virtual server's quorum alert: "[router_id] Virtualserver VS - UP|DOWN"."""
    state = "UP" if up else "DOWN"
    return lambda router_id: (f"[{router_id}] Virtualserver {vs} - {state}", body)


def quorum_body(
    up: bool, *, init: bool, quorum: int, hysteresis: int, threshold: int, weight: int
) -> str:
    """keepalived's quorum message (ipwrapper.c do_vs_notifies)."""
    if up:
        what = "Starting with quorum up" if init else "Gained quorum"
    else:
        what = "Starting with quorum down" if init else "Lost quorum"
    return f"=> {what} {quorum}+{hysteresis}={threshold} <= {weight} <="
