"""sd_notify (READY, RELOADING, STOPPING, WATCHDOG) and the Prometheus endpoint."""

from __future__ import annotations

import signal
import socket
import sys
import time
from pathlib import Path

import pytest
from daemon.vkd import VIP, config, instance_conf, start_vipkeeper
from netlab import NetLab, Node, wait_for
from prometheus_client.parser import text_string_to_metric_families

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


Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def _scrape(node: Node, port: int) -> Samples:
    """Every sample of the endpoint, by name and label set (the text format's order aside)."""
    fetch = (
        "import urllib.request;"
        f"print(urllib.request.urlopen('http://127.0.0.1:{port}/metrics').read().decode())"
    )
    text = node.run([sys.executable, "-c", fetch]).stdout
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def _value(samples: Samples, name: str, /, **labels: str) -> float:
    """The value of the sample with exactly this name and these labels."""
    key = (name, frozenset(labels.items()))
    assert key in samples, (key, sorted(k for k in samples if k[0] == name))
    return samples[key]


def _matching(samples: Samples, name: str, /, **labels: str) -> list[tuple[dict[str, str], float]]:
    """The samples of `name` whose labels include `labels`."""
    want = set(labels.items())
    return [(dict(k[1]), v) for k, v in samples.items() if k[0] == name and want <= k[1]]


def test_prometheus_metrics(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    flag = Path(lab.workdir) / "ok"
    flag.write_text("1")
    script = f'vrrp_script chk {{\n  script "/usr/bin/test -f {flag}"\n  interval 1\n}}\n'
    track = "track_script {\n    chk\n  }"
    conf = config(instance_conf(priority=150, version=3, advert=0.1, extra=track), head=script)
    va = start_vipkeeper(lab, a, conf, "--metrics", "127.0.0.1:9650")
    assert va.wait_state("MASTER", 3) is not None
    assert wait_for(lambda: va.instance()["vips_held"] == {f"{VIP}/24": True}, 2) is not None
    got = _scrape(a, 9650)
    inst = {"vrrp_instance": "VI_1", "vrid": "51", "interface": "eth0", "family": "ipv4"}
    assert _value(got, "vipkeeper_vrrp_state", **inst, state="MASTER") == 1.0
    assert _value(got, "vipkeeper_vrrp_state", **inst, state="BACKUP") == 0.0
    assert _value(got, "vipkeeper_vrrp_priority", **inst, kind="effective") == 150.0
    assert _value(got, "vipkeeper_vrrp_priority", **inst, kind="base") == 150.0
    assert _value(got, "vipkeeper_vrrp_adverts_sent_total", **inst) >= 1
    assert _value(got, "vipkeeper_vrrp_adverts_received_total", **inst) == 0.0
    assert _value(got, "vipkeeper_vip_held", **inst, vip=f"{VIP}/24") == 1.0
    assert _value(got, "vipkeeper_vrrp_priority_zero_received_total", **inst) == 0.0
    assert _value(got, "vipkeeper_vrrp_priority_zero_sent_total", **inst) == 0.0
    became = _matching(got, "vipkeeper_vrrp_transitions_total", **inst, to_state="MASTER")
    assert [(labels["from_state"], value) for labels, value in became] == [("BACKUP", 1.0)]
    assert became[0][0]["reason"] != ""
    assert _value(got, "vipkeeper_vrrp_last_transition_timestamp_seconds", **inst) > 1e9
    assert _value(got, "vipkeeper_vrrp_script_ok", name="chk") == 1.0
    assert _value(got, "vipkeeper_vrrp_script_runs_total", name="chk") >= 1
    assert _value(got, "vipkeeper_vrrp_script_failures_total", name="chk") == 0.0
    assert _value(got, "vipkeeper_vrrp_script_timeouts_total", name="chk") == 0.0
    [(build, one)] = _matching(got, "vipkeeper_build_info")
    assert one == 1.0 and build["version"] == va.status()["version"]
    assert build["python"].startswith("3."), build
    assert _value(got, "vipkeeper_up") == 1.0
    assert _value(got, "vipkeeper_config_last_reload_successful") == 1.0
    assert _value(got, "vipkeeper_config_errors") == 0.0
    # Daemon-wide counters: a master whose adverts cannot leave shows it here too.
    assert _value(got, "vipkeeper_vrrp_send_errors_total") == 0.0
    assert _value(got, "vipkeeper_reload_failures_total") == 0.0

    # A failing check: FAULT, the VIP let go, the failures and the edge counted.
    flag.unlink()
    assert va.wait_state("FAULT", 4) is not None
    assert wait_for(lambda: va.instance()["vips_held"] == {f"{VIP}/24": False}, 2) is not None
    got = _scrape(a, 9650)
    assert _value(got, "vipkeeper_vrrp_state", **inst, state="FAULT") == 1.0
    assert _value(got, "vipkeeper_vrrp_state", **inst, state="MASTER") == 0.0
    assert _value(got, "vipkeeper_vip_held", **inst, vip=f"{VIP}/24") == 0.0
    assert _value(got, "vipkeeper_vrrp_script_ok", name="chk") == 0.0
    assert _value(got, "vipkeeper_vrrp_script_failures_total", name="chk") >= 1
    faulted = _matching(got, "vipkeeper_vrrp_transitions_total", **inst, to_state="FAULT")
    assert [(labels["from_state"], value) for labels, value in faulted] == [("MASTER", 1.0)]
    edges = _matching(got, "vipkeeper_vrrp_transitions_total", **inst)
    assert sum(value for _, value in edges) == va.instance()["counters"]["transitions"]

    # A broken config on reload: the reload failure and the error count.
    va.write_config(conf + "\nvrrp_instance {\n")
    va.signal(signal.SIGHUP)
    assert wait_for(lambda: va.status()["counters"]["reload_failures"] == 1, 5) is not None
    got = _scrape(a, 9650)
    assert _value(got, "vipkeeper_reloads_total") == 1.0
    assert _value(got, "vipkeeper_reload_failures_total") == 1.0
    assert _value(got, "vipkeeper_config_last_reload_successful") == 0.0
    assert _value(got, "vipkeeper_config_errors") >= 1

    flag.write_text("1")
    assert va.wait_state("MASTER", 4) is not None
    a.run(["nft", "-f", "-"], input=NFT_DROP_VRRP_OUT)
    try:
        assert wait_for(lambda: va.status()["counters"]["send_errors"] >= 3, 2) is not None
        errors = va.status()["counters"]["send_errors"]
        assert _value(_scrape(a, 9650), "vipkeeper_vrrp_send_errors_total") >= errors
    finally:
        a.run(["nft", "delete", "table", "inet", "vkmetrics"])


def test_prometheus_metrics_of_a_backup(lab: NetLab) -> None:
    """The backup names its master, counts what it receives; a wrong password is a drop."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    c = lab.add_node("c", addrs=["10.213.1.3/24"])
    # VRRPv2 (whole-second adverts) for its password; c's differs.
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150)))
    vb = start_vipkeeper(lab, b, config(instance_conf(priority=100)), "--metrics", "127.0.0.1:9652")
    assert va.wait_state("MASTER", 5) is not None
    assert vb.wait_state("BACKUP", 1) is not None
    start_vipkeeper(lab, c, config(instance_conf(priority=50, auth="other1")))
    drops = lambda: vb.instance()["counters"]["drops"].get("auth_password", 0)  # noqa: E731
    assert wait_for(lambda: drops() >= 2, 15) is not None, vb.instance()  # c: MASTER after ~4 s
    got = _scrape(b, 9652)
    inst = {"vrrp_instance": "VI_1", "vrid": "51", "interface": "eth0", "family": "ipv4"}
    assert _value(got, "vipkeeper_vrrp_state", **inst, state="BACKUP") == 1.0
    assert _value(got, "vipkeeper_vrrp_master_info", **inst, master="10.213.1.1") == 1.0
    assert _value(got, "vipkeeper_vrrp_adverts_received_total", **inst) >= 1
    assert _value(got, "vipkeeper_vrrp_adverts_sent_total", **inst) == 0.0
    dropped = _value(got, "vipkeeper_vrrp_adverts_dropped_total", **inst, reason="auth_password")
    assert dropped >= 2
    assert _value(got, "vipkeeper_vip_held", **inst, vip=f"{VIP}/24") == 0.0
    assert _matching(got, "vipkeeper_vrrp_transitions_total", **inst, to_state="MASTER") == []


LVS_CONF = """
virtual_server 10.213.1.100 80 {
  delay_loop 1
  lb_algo wrr
  lb_kind DR
  protocol TCP
  quorum 2
  real_server 10.213.1.50 80 {
    weight 1
  }
  real_server 10.213.1.51 80 {
    weight 3
    TCP_CHECK {
      connect_timeout 1
      retry 0
    }
  }
}
"""


def test_prometheus_lvs_metrics(lab: NetLab) -> None:
    """Per virtual server, real server and checker; .51 answers nobody, so its check fails."""
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, config(head=LVS_CONF), "--metrics", "127.0.0.1:9651")

    def checked() -> bool:
        lvs = va.status()["lvs"]
        servers = lvs["virtual_servers"][0]["real_servers"] if lvs else []
        return any(c["failures"] >= 1 for s in servers for c in s["checkers"])

    assert wait_for(checked, 15) is not None, va.log()
    got = _scrape(a, 9651)
    vs = "[10.213.1.100]:tcp:80"
    up, down = "[10.213.1.50]:tcp:80", "[10.213.1.51]:tcp:80"
    assert _value(got, "vipkeeper_lvs_virtual_server_quorum_up", virtual_server=vs) == 0.0
    assert _value(got, "vipkeeper_lvs_virtual_server_live_weight", virtual_server=vs) == 1.0
    assert _value(got, "vipkeeper_lvs_virtual_server_sorry_server_active", virtual_server=vs) == 0
    assert _value(got, "vipkeeper_lvs_real_server_up", virtual_server=vs, real_server=up) == 1.0
    assert _value(got, "vipkeeper_lvs_real_server_up", virtual_server=vs, real_server=down) == 0
    weight = {"virtual_server": vs, "real_server": down}
    assert _value(got, "vipkeeper_lvs_real_server_weight", **weight, kind="configured") == 3.0
    [(labels, failing)] = _matching(got, "vipkeeper_lvs_checker_up", **weight)
    assert failing == 0.0 and labels["checker"] == "TCP_CHECK", labels
    assert labels["target"] == "[10.213.1.51]:80", labels
    ck = {k: labels[k] for k in ("virtual_server", "real_server", "checker", "target")}
    assert _value(got, "vipkeeper_lvs_checker_failures_total", **ck) >= 1
    assert _value(got, "vipkeeper_lvs_checker_attempts_total", **ck) >= 1
    assert _matching(got, "vipkeeper_lvs_checker_up", virtual_server=vs, real_server=up) == []
