"""Checker timing defaults and ha_suspend at start: vipkeeper against keepalived's own dump.

keepalived's checker process needs ip_vs, which this machine's kernel lacks, so the lab VM
(Debian's cloud kernel) runs keepalived 2.2.7 on a config that leaves the checker timings
unset (or sets them on the virtual or real server only), and its SIGUSR1 dump
(/tmp/keepalived_check.data) gives the values keepalived resolved for every checker: retry,
delay_before_retry, warmup, delay_loop and connect_timeout, and whether the checker is enabled
(a virtual server with ha_suspend whose address is absent starts suspended). vipkeeper must
resolve the same values from the same text.
"""

from __future__ import annotations

import asyncio
import re
import sys
from pathlib import Path
from typing import Optional

import pytest

from vipkeeper._compat import zip_strict
from vipkeeper.config import load_text
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.desired import vs_label
from vipkeeper.lvs.manager import LvsManager

RUNTIME = Path(__file__).resolve().parents[2]
VM_DIR = RUNTIME.parent / "tests" / "lab" / "vm"
if str(VM_DIR) not in sys.path:
    sys.path.insert(0, str(VM_DIR))

from vmrun import run_in_vm

pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.keepalived, pytest.mark.timeout(900)]

CONF = """global_defs {
    enable_script_security
    script_user root
}
virtual_server 10.213.30.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 10.213.30.10 80 {
        TCP_CHECK {
        }
        HTTP_GET {
            url {
                path /
            }
        }
        MISC_CHECK {
            misc_path /bin/true
        }
        DNS_CHECK {
            name example.org
        }
    }
}
virtual_server 10.213.30.1 443 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    delay_loop 7
    real_server 10.213.30.10 443 {
        SSL_GET {
            url {
                path /
            }
        }
        DNS_CHECK {
            name example.org
        }
        UDP_CHECK {
        }
        PING_CHECK {
        }
    }
}
virtual_server 10.213.30.2 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
    ha_suspend
    retry 2
    warmup 0
    connect_timeout 3
    real_server 10.213.30.10 80 {
        delay_before_retry 2
        TCP_CHECK {
        }
        DNS_CHECK {
            name example.org
        }
        MISC_CHECK {
            misc_path /bin/true
            retry 4
        }
    }
}
"""

GUEST = """
set -u
cd "$VK_OUT"
modprobe ip_vs
keepalived -n -l -D -C -f /payload/defaults.conf -p /run/vk-ka.pid -c /run/vk-kc.pid \\
    >keepalived.log 2>&1 &
ka=$!
for _ in $(seq 300); do [ -s /run/vk-kc.pid ] && break; sleep 0.1; done
sleep 2
kill -USR1 $ka
for _ in $(seq 300); do [ -s /tmp/keepalived_check.data ] && break; sleep 0.1; done
sleep 1
cp /tmp/keepalived_check.data check.data
kill $ka; wait $ka
"""

Row = tuple[str, str, int, float, float, float, Optional[float], bool]

_BLOCK = re.compile(r"^ (\S.*) -> (\S.*)$")
_FIELD = re.compile(r"^\s+([A-Za-z ]+?) = (.*)$")


def parse_dump(text: str) -> list[Row]:
    """(VS, kind, retry, delay_before_retry, warmup, delay_loop, timeout, enabled) per checker."""
    section = text.split("------< Health checkers >------", 1)[1]
    blocks: list[tuple[str, dict[str, str]]] = []
    for line in section.splitlines():
        head = _BLOCK.match(line)
        if head:
            blocks.append((head.group(1), {}))
            continue
        field = _FIELD.match(line)
        if field and blocks:
            blocks[-1][1].setdefault(field.group(1), field.group(2))
    rows: list[Row] = []
    for vs, f in blocks:

        def secs(name: str, f: dict[str, str] = f) -> float:
            return int(f[name].removesuffix(" us")) / 1e6

        kind = f["Keepalive method"].split(",")[0]
        retry = int(f["Retries"])
        dbr = secs(
            "Delay before retry" if "Delay before retry" in f else "Default delay before retry"
        )
        timeout = float(f["Timeout"]) if "Timeout" in f else None
        rows.append(
            (
                vs,
                kind,
                retry,
                dbr,
                secs("Warmup"),
                secs("Delay loop"),
                timeout,
                f["Enabled"] == "yes",
            )
        )
    return rows


def vipkeeper_rows() -> list[Row]:
    """The same rows from vipkeeper's model, suspension as at start with no local address."""
    res = load_text(CONF, check_scripts=False)
    assert res.config is not None and res.ok, [d.format() for d in res.diagnostics]
    config = res.config

    async def suspended_at_start() -> list[bool]:
        mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=1e6, watch_addresses=False)
        await mgr.start()
        try:
            return [vss.suspended for vss in mgr.virtual_servers]
        finally:
            await mgr.stop()

    suspended = asyncio.run(suspended_at_start())
    rows: list[Row] = []
    for vs, off in zip_strict(config.virtual_servers, suspended):
        for rs in vs.real_servers:
            for c in rs.checkers:
                timeout = None if c.kind == "MISC_CHECK" else c.connect_timeout
                rows.append(
                    (vs_label(vs), c.kind, c.retry, c.delay_before_retry, c.warmup,
                     c.delay_loop, timeout, not off)
                )  # fmt: skip
    return rows


@pytest.fixture(scope="module")
def dump(tmp_path_factory: pytest.TempPathFactory) -> str:
    staging = tmp_path_factory.mktemp("payload")
    (staging / "defaults.conf").write_text(CONF)
    out = tmp_path_factory.mktemp("out")
    res = run_in_vm(GUEST, {"defaults.conf": staging / "defaults.conf"}, timeout=180, out_dir=out)
    log = (out / "keepalived.log").read_text() if (out / "keepalived.log").exists() else ""
    assert res.exit_code == 0 and (out / "check.data").exists(), res.output + log
    return (out / "check.data").read_text()


def test_dump_parser_reads_every_checker(dump: str) -> None:
    rows = parse_dump(dump)
    assert [r[1] for r in rows] == [
        "TCP_CHECK", "HTTP_GET", "MISC_CHECK", "DNS_CHECK",
        "SSL_GET", "DNS_CHECK", "UDP_CHECK", "PING_CHECK",
        "TCP_CHECK", "DNS_CHECK", "MISC_CHECK",
    ]  # fmt: skip


def test_resolved_timings_and_suspension_match_keepalived(dump: str) -> None:
    assert vipkeeper_rows() == parse_dump(dump)
