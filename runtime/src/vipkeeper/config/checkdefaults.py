# keepalived 2.2.7's checker timing when a config leaves it unset (keepalived.conf(5);
# keepalived/check/check_api.c queue_checker, check_data.c validate_check_config,
# check_http.c, check_misc.c, check_dns.c):
# - each timing keyword is looked up on the checker, then its real_server, then its
#   virtual_server; only when all three leave it unset does the checker type's default apply;
# - delay_loop: 60 s (the virtual_server's default); connect_timeout: 5 s (likewise);
# - retry: 1, except MISC_CHECK 0 and DNS_CHECK 3;
# - delay_before_retry: 1 s, except HTTP_GET/SSL_GET 3 s and DNS_CHECK the checker's delay_loop;
# - warmup: the checker's delay_loop (the first check starts at a random point within it);
# - FILE_CHECK and BFD_CHECK are not polled by keepalived (file/BFD events drive them), so none
#   of this applies, inherited settings included; vipkeeper polls a FILE_CHECK often, with no
#   retries and no warmup, so a change counts at the next read.
"""Checker timing defaults per checker type, as keepalived resolves them."""

from __future__ import annotations

from vipkeeper._compat import SLOTS, dataclass

DEFAULT_DELAY_LOOP = 60.0
DEFAULT_CONNECT_TIMEOUT = 5.0


@dataclass(frozen=True, **SLOTS)
class TimingDefaults:
    """What a checker type falls back to; None means "the checker's own delay_loop"."""

    retry: int
    delay_before_retry: float | None
    warmup: float | None = None


_POLLED = TimingDefaults(retry=1, delay_before_retry=1.0)

TIMING_DEFAULTS: dict[str, TimingDefaults] = {
    "TCP_CHECK": _POLLED,
    "HTTP_GET": TimingDefaults(retry=1, delay_before_retry=3.0),
    "SSL_GET": TimingDefaults(retry=1, delay_before_retry=3.0),
    "MISC_CHECK": TimingDefaults(retry=0, delay_before_retry=1.0),
    "DNS_CHECK": TimingDefaults(retry=3, delay_before_retry=None),
    "UDP_CHECK": _POLLED,
    "PING_CHECK": _POLLED,
    "SMTP_CHECK": _POLLED,
    "FILE_CHECK": TimingDefaults(retry=0, delay_before_retry=0.0, warmup=0.0),
    "BFD_CHECK": TimingDefaults(retry=0, delay_before_retry=0.0, warmup=0.0),
}


NOT_POLLED = frozenset({"FILE_CHECK", "BFD_CHECK"})  # inherited timings do not apply either


def resolve_timing(kind: str, delay_loop: float) -> dict[str, float | int]:
    """The retry, delay_before_retry and warmup a `kind` checker gets when nothing sets them."""
    d = TIMING_DEFAULTS[kind]
    return {
        "retry": d.retry,
        "delay_before_retry": delay_loop if d.delay_before_retry is None else d.delay_before_retry,
        "warmup": delay_loop if d.warmup is None else d.warmup,
    }
