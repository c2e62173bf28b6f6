"""Checker timing when the config leaves it unset: keepalived 2.2.7's per-type defaults.

The table reflects keepalived.conf(5) and keepalived/check/check_api.c (queue_checker: retry 1,
delay_before_retry 1 s), check_http.c (delay_before_retry 3 s), check_misc.c (retry 0),
check_dns.c (retry 3, delay_before_retry = delay_loop) and check_data.c
validate_check_config (checker -> real_server -> virtual_server -> type default; warmup =
delay_loop). tests/lvs/test_checker_defaults_vm.py compares them with keepalived's own dump.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from vipkeeper.config import LoadResult
from vipkeeper.config.model import Checker

Conf = Callable[..., LoadResult]

CHECKERS = """        TCP_CHECK {
        }
        HTTP_GET {
            url {
                path /
            }
        }
        SSL_GET {
            url {
                path /
            }
        }
        MISC_CHECK {
            misc_path /usr/bin/true
        }
        DNS_CHECK {
            name example.org
        }
        UDP_CHECK {
        }
        PING_CHECK {
        }
"""

KINDS = ["TCP_CHECK", "HTTP_GET", "SSL_GET", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK", "PING_CHECK"]


def service(vs_lines: str = "", rs_lines: str = "", checkers: str = CHECKERS) -> str:
    return f"""global_defs {{
    enable_script_security
    script_user root
}}
virtual_server 10.213.30.1 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
{vs_lines}
    real_server 10.213.30.10 80 {{
{rs_lines}
{checkers}    }}
}}
"""


def timings(conf: Conf, text: str) -> dict[str, tuple[float, ...]]:
    res = conf(text)
    assert res.config is not None, [d.format() for d in res.errors]
    assert [d.message for d in res.errors] == []
    checkers: tuple[Checker, ...] = res.config.virtual_servers[0].real_servers[0].checkers
    return {
        c.kind: (c.retry, c.delay_before_retry, c.warmup, c.delay_loop, c.connect_timeout)
        for c in checkers
    }


# kind: (retry, delay_before_retry, warmup, delay_loop, connect_timeout) with nothing set
UNSET = {
    "TCP_CHECK": (1, 1.0, 60.0, 60.0, 5.0),
    "HTTP_GET": (1, 3.0, 60.0, 60.0, 5.0),
    "SSL_GET": (1, 3.0, 60.0, 60.0, 5.0),
    "MISC_CHECK": (0, 1.0, 60.0, 60.0, 5.0),
    "DNS_CHECK": (3, 60.0, 60.0, 60.0, 5.0),
    "UDP_CHECK": (1, 1.0, 60.0, 60.0, 5.0),
    "PING_CHECK": (1, 1.0, 60.0, 60.0, 5.0),
}


def test_defaults_per_checker_type(conf: Conf) -> None:
    assert timings(conf, service()) == UNSET


def test_delay_loop_drives_warmup_and_dns_retry_delay(conf: Conf) -> None:
    got = timings(conf, service("    delay_loop 7"))
    assert {k: v[2] for k, v in got.items()} == dict.fromkeys(KINDS, 7.0)
    assert got["DNS_CHECK"][:2] == (3, 7.0)
    assert got["HTTP_GET"][:2] == (1, 3.0)
    # a checker's own delay_loop is the one its defaults follow
    one = service(
        "    delay_loop 7", checkers="        DNS_CHECK {\n            delay_loop 4\n        }\n"
    )
    assert timings(conf, one)["DNS_CHECK"] == (3, 4.0, 4.0, 4.0, 5.0)


@pytest.mark.parametrize(
    ("vs_lines", "rs_lines", "expect"),
    [
        # the virtual server's settings reach every checker type, MISC and DNS included
        ("    retry 2\n    delay_before_retry 2\n    warmup 0", "", (2, 2.0, 0.0)),
        # the real server's win over the virtual server's
        ("    retry 2", "        retry 4\n        delay_before_retry 0.5", (4, 0.5, None)),
    ],
)
def test_inherited_settings_beat_type_defaults(
    conf: Conf, vs_lines: str, rs_lines: str, expect: tuple[float, float, float | None]
) -> None:
    got = timings(conf, service(vs_lines, rs_lines))
    retry, dbr, warmup = expect
    for kind in KINDS:
        assert got[kind][:2] == (retry, dbr), kind
        assert got[kind][2] == (60.0 if warmup is None else warmup), kind


def test_checker_settings_beat_inherited_ones(conf: Conf) -> None:
    own = "        MISC_CHECK {\n            misc_path /usr/bin/true\n"
    own += "            retry 5\n        }\n"
    got = timings(conf, service("    retry 2", checkers=own))
    assert got["MISC_CHECK"][0] == 5


def test_file_check_takes_no_inherited_timing(conf: Conf) -> None:
    # keepalived does not poll FILE_CHECK: retry/delay_before_retry/warmup never apply to it
    text = service(
        "    retry 3\n    delay_before_retry 2\n    warmup 5",
        checkers="        FILE_CHECK {\n            track_file tf\n        }\n",
    )
    text += "track_file tf {\n    file /run/vk-test-tf\n}\n"
    assert timings(conf, text)["FILE_CHECK"][:3] == (0, 0.0, 0.0)
