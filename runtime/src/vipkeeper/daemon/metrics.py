"""Optional Prometheus endpoint (prometheus-client) exposing the status figures."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

STATES = ("INIT", "BACKUP", "MASTER", "FAULT", "STOP")
# The daemon-wide counters of `vipkeeper status` (snapshot "counters"), as Prometheus counters.
DAEMON_COUNTERS = {
    "send_errors": ("vipkeeper_vrrp_send_errors", "VRRP adverts the kernel refused to send"),
    "unknown_vrid": ("vipkeeper_vrrp_unknown_vrid", "VRRP packets for a VRID not configured here"),
    "not_vrrp": ("vipkeeper_vrrp_not_vrrp", "Packets on the VRRP sockets that were not VRRP"),
    "reloads": ("vipkeeper_reloads", "Reloads (SIGHUP) attempted"),
    "reload_failures": ("vipkeeper_reload_failures", "Reloads that kept the running config"),
    "smtp_sent": ("vipkeeper_smtp_alerts_sent", "SMTP alerts the server accepted"),
    "smtp_failed": ("vipkeeper_smtp_alerts_failed", "SMTP alerts that failed (logged)"),
    "smtp_dropped": ("vipkeeper_smtp_alerts_dropped", "SMTP alerts dropped: the queue was full"),
    "vip_conflicts": ("vipkeeper_vip_conflicts", "VIP conflicts begun: another MAC claimed a VIP"),
    "vip_conflict_answers": (
        "vipkeeper_vip_conflict_answers",
        "Claims of our VIPs heard from another MAC",
    ),
    "takeovers_held": (
        "vipkeeper_takeovers_held",
        "Takeovers the takeover guard held back: another host answered for the VIPs",
    ),
}
DEFAULT_HOST = "127.0.0.1"  # `--metrics PORT` or `:PORT`: the loopback only


def parse_listen(text: str) -> tuple[str, int]:
    """`ADDR:PORT`, `[V6]:PORT`, `:PORT` or `PORT` to (addr, port).

    Without an address the endpoint stays on the loopback (127.0.0.1): the figures name every
    instance, VIP and script, so exposing them is the operator's explicit choice
    (`0.0.0.0:PORT`, `[::]:PORT` or one of the host's addresses).
    """
    host, sep, port = text.strip().rpartition(":")
    if not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{text!r}: expected ADDR:PORT, :PORT or PORT")
    if sep and host.startswith("[") != host.endswith("]"):
        raise ValueError(f"{text!r}: unbalanced brackets around the address")
    return host.strip("[]") or DEFAULT_HOST, int(port)


def listen_url(host: str, port: int) -> str:
    """The endpoint's URL (an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}/metrics"


def start_metrics(listen: str, snapshot: Callable[[], dict[str, Any]]) -> str:
    """Serve /metrics on `listen` (parse_listen); the URL. Figures come from `snapshot()`."""
    from prometheus_client import start_http_server
    from prometheus_client.core import REGISTRY, CounterMetricFamily, GaugeMetricFamily
    from prometheus_client.registry import Collector

    class _Collector(Collector):
        def collect(self) -> Iterator[Any]:
            snap = snapshot()
            state = GaugeMetricFamily(
                "vipkeeper_vrrp_state",
                "1 for the instance's current state",
                labels=["instance", "state"],
            )
            prio = GaugeMetricFamily(
                "vipkeeper_vrrp_priority", "Priority", labels=["instance", "kind"]
            )
            sent = CounterMetricFamily(
                "vipkeeper_vrrp_adverts_sent", "Adverts sent", labels=["instance"]
            )
            recv = CounterMetricFamily(
                "vipkeeper_vrrp_adverts_received", "Adverts received", labels=["instance"]
            )
            drops = CounterMetricFamily(
                "vipkeeper_vrrp_adverts_dropped", "Adverts dropped", labels=["instance", "reason"]
            )
            trans = CounterMetricFamily(
                "vipkeeper_vrrp_transitions", "State transitions", labels=["instance"]
            )
            conflict = GaugeMetricFamily(
                "vipkeeper_vip_conflict",
                "1 while another MAC claims the VIP (split brain seen from the data plane)",
                labels=["instance", "address", "mac", "interface"],
            )
            for inst in snap.get("instances", []):
                name = inst["name"]
                for st in STATES:
                    state.add_metric([name, st], 1.0 if inst["state"] == st else 0.0)
                prio.add_metric([name, "base"], inst["base_priority"])
                prio.add_metric([name, "effective"], inst["effective_priority"])
                c = inst["counters"]
                sent.add_metric([name], c["adverts_sent"])
                recv.add_metric([name], c["adverts_received"])
                trans.add_metric([name], c["transitions"])
                for reason, count in c.get("drops", {}).items():
                    drops.add_metric([name, reason], count)
                for cf in inst.get("conflicts", []):
                    conflict.add_metric([name, cf["address"], cf["mac"], cf["interface"]], 1.0)
            yield from (state, prio, sent, recv, drops, trans, conflict)
            counters = snap.get("counters", {})
            for key, (name, doc) in DAEMON_COUNTERS.items():
                if key in counters:
                    family = CounterMetricFamily(name, doc)
                    family.add_metric([], counters[key])
                    yield family

    host, port = parse_listen(listen)
    REGISTRY.register(_Collector())
    start_http_server(port, addr=host)
    return listen_url(host, port)
