"""sd_notify (READY, RELOADING, STOPPING, WATCHDOG) and the Prometheus endpoint."""

from __future__ import annotations

import re
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from netlab import NetLab, wait_for

pytestmark = pytest.mark.netns
NFT_DROP_VRRP_OUT = """
table inet vkmetrics {
  chain vrrp_out { type filter hook output priority 0; meta l4proto 112 drop; }
}
"""


def test_sd_notify_protocol(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    path = str(Path(lab.workdir) / "notify.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    listener.bind(path)
    listener.settimeout(0.1)
    messages: list[list[str]] = []

    def drain() -> None:
        while True:
            try:
                messages.append(listener.recv(4096).decode().split("\n"))
            except socket.timeout:  # TimeoutError from Python 3.10 on, not in 3.9
                return

    try:
        env = {"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"}
        va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=0.1)),
                             env=env)  # fmt: skip
        time.sleep(1.0)
        drain()
        assert messages[0][0] == "READY=1"
        pings = [m for m in messages if m == ["WATCHDOG=1"]]
        assert 3 <= len(pings) <= 8, "a watchdog ping every half WATCHDOG_USEC (0.2 s)"
        messages.clear()
        va.signal(signal.SIGHUP)
        assert wait_for(lambda: drain() or any(m[0] == "READY=1" for m in messages), 5)
        reloading = next(m for m in messages if m[0] == "RELOADING=1")
        assert reloading[1].startswith("MONOTONIC_USEC=")
        usec = int(reloading[1].split("=")[1])
        assert abs(usec / 1e6 - time.clock_gettime(time.CLOCK_MONOTONIC)) < 5
        messages.clear()
        assert va.stop() == 0
        drain()
        assert ["STOPPING=1"] in messages
    finally:
        listener.close()


def test_prometheus_metrics(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(
        lab, a, config(instance_conf(priority=150, version=3, advert=0.1)),
        "--metrics", "127.0.0.1:9650",
    )  # fmt: skip
    assert va.wait_state("MASTER", 2) is not None
    fetch = "import urllib.request;print(urllib.request.urlopen('http://127.0.0.1:9650/metrics').read().decode())"
    text = a.run([sys.executable, "-c", fetch]).stdout
    assert 'vipkeeper_vrrp_state{instance="VI_1",state="MASTER"} 1.0' in text
    assert 'vipkeeper_vrrp_state{instance="VI_1",state="BACKUP"} 0.0' in text
    assert 'vipkeeper_vrrp_priority{instance="VI_1",kind="effective"} 150.0' in text
    assert "vipkeeper_vrrp_adverts_sent_total" in text
    # Daemon-wide counters: a master whose adverts cannot leave shows it here too.
    assert "vipkeeper_vrrp_send_errors_total 0.0" in text
    assert "vipkeeper_reload_failures_total 0.0" in text
    a.run(["nft", "-f", "-"], input=NFT_DROP_VRRP_OUT)
    try:
        assert wait_for(lambda: va.status()["counters"]["send_errors"] >= 3, 2) is not None
        errors = va.status()["counters"]["send_errors"]
        text = a.run([sys.executable, "-c", fetch]).stdout
        found = re.search(r"^vipkeeper_vrrp_send_errors_total (\S+)$", text, re.MULTILINE)
        assert found is not None, text
        assert float(found.group(1)) >= errors
    finally:
        a.run(["nft", "delete", "table", "inet", "vkmetrics"])
