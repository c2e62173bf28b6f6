"""ha_suspend for real: the director's checkers follow the virtual server's address (netlink).

A director namespace runs the LvsManager (nftables dataplane) for a virtual server with
ha_suspend; the real server's namespace counts the checker's TCP SYNs with an nftables
counter, so "no connections" is observed where it matters, on the server side.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path
from typing import Any

import pytest
from lvs.nsthread import NsThread
from netlab import NetLab, stop_process, wait_for

from vipkeeper.config.model import Config, RealServer, TcpCheck, VirtualServer
from vipkeeper.lvs.dataplane import open_backend
from vipkeeper.lvs.manager import LvsManager

VIP = "10.213.2.100"
RS = "10.213.1.11"
RS_PORT = 8080
SERVER = str(Path(__file__).with_name("rserver.py"))
CHECK = TcpCheck(delay_loop=0.5, connect_timeout=1.0, retry=1, delay_before_retry=0.3, alpha=True)
QUIET = 2.5  # five delay_loops: a running checker would connect at least four times
SLACK = 1.0
COUNT_SYNS = f"""table inet vkcount {{
    chain input {{
        type filter hook input priority 0; policy accept;
        ip saddr 10.213.1.1 tcp dport {RS_PORT} tcp flags syn counter
    }}
}}
"""


def _config() -> Config:
    rs = RealServer(address=ip_address(RS), port=RS_PORT, checkers=(CHECK,))
    vs = VirtualServer(
        address=ip_address(VIP), port=80, lb_algo="rr", ha_suspend=True, real_servers=(rs,)
    )
    return Config(virtual_servers=(vs,))


class Director:
    """The director's manager on its own namespace thread, and the real server it checks."""

    def __init__(self, lab: NetLab) -> None:
        self.node = lab.add_node("dir", addrs=["10.213.1.1/24"])
        self.rs = lab.add_node("rs", addrs=[f"{RS}/24"])
        self.rs.run(["nft", "-f", "-"], input=COUNT_SYNS)
        self.server: subprocess.Popen[bytes] | None = None
        self.thread = NsThread(self.node.ns)
        self.manager: LvsManager | None = None

    def start_server(self) -> None:
        self.server = self.rs.popen([sys.executable, SERVER, "rs", str(RS_PORT)])
        listening = wait_for(
            lambda: bool(self.rs.run(["ss", "-Hltn", f"sport = :{RS_PORT}"]).stdout.strip()), 10
        )
        assert listening is not None

    def stop_server(self) -> None:
        assert self.server is not None
        stop_process(self.server)
        self.server = None

    def syns(self) -> int:
        """SYNs from the director the real server has seen."""
        out = json.loads(
            self.rs.run(["nft", "-j", "list", "chain", "inet", "vkcount", "input"]).stdout
        )
        for item in out["nftables"]:
            for expr in item.get("rule", {}).get("expr", []):
                if "counter" in expr:
                    return int(expr["counter"]["packets"])
        raise AssertionError(f"no counter in {out}")

    def start(self) -> None:
        async def start() -> LvsManager:
            mgr = LvsManager(_config(), backend=await open_backend("nftables"), bootstrap=0.1)
            await mgr.start()
            return mgr

        self.manager = self.thread.run(start())

    def state(self) -> dict[str, Any]:
        assert self.manager is not None
        vs: dict[str, Any] = self.thread.call(self.manager.snapshot)["virtual_servers"][0]
        return vs

    def alive(self) -> bool:
        return bool(self.state()["real_servers"][0]["alive"])

    def suspended(self) -> bool:
        return bool(self.state()["suspended"])

    def attempts(self) -> int:
        return int(self.state()["real_servers"][0]["checkers"][0]["attempts"])

    def vip(self, present: bool) -> None:
        self.node.run(["ip", "addr", "add" if present else "del", f"{VIP}/32", "dev", "eth0"])

    def close(self) -> None:
        if self.manager is not None:
            self.thread.run(self.manager.stop())
        self.thread.close()


@pytest.fixture
def director(lab: NetLab) -> Iterator[Director]:
    built = Director(lab)
    try:
        yield built
    finally:
        built.close()


@pytest.mark.netns
@pytest.mark.slow
def test_checkers_follow_the_vs_address(director: Director) -> None:
    d = director
    d.start_server()
    d.start()

    # No address: the checker never connects; alpha keeps the real server out.
    assert d.suspended()
    time.sleep(QUIET)
    assert (d.syns(), d.attempts(), d.alive()) == (0, 0, False)

    # The address arrives: checks resume and the real server comes up.
    d.vip(True)
    up_bound = CHECK.delay_loop + CHECK.connect_timeout + SLACK
    assert wait_for(lambda: not d.suspended(), 2) is not None
    assert wait_for(d.alive, up_bound) is not None, "the real server did not come up"
    assert d.syns() > 0

    # The address goes: suspended again, no more connections, the verdict is kept.
    d.vip(False)
    assert wait_for(d.suspended, 2) is not None
    time.sleep(CHECK.delay_loop + CHECK.connect_timeout)  # an attempt under way may finish
    seen = d.syns()
    time.sleep(QUIET)
    assert d.syns() == seen
    assert d.alive()

    # A failure while suspended goes unseen; after resuming it is found within the bounds.
    d.stop_server()
    time.sleep(QUIET)
    assert d.alive() and d.syns() == seen
    d.vip(True)
    down_bound = (
        CHECK.delay_loop
        + CHECK.retry * (CHECK.delay_before_retry + CHECK.connect_timeout)
        + CHECK.connect_timeout
        + SLACK
    )
    assert wait_for(lambda: not d.alive(), down_bound) is not None, "the failure went unseen"
    assert d.syns() > seen
