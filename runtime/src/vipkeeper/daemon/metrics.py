"""Optional Prometheus endpoint (prometheus-client) serving the status figures.

The metric set itself is metricset.py; this module parses `--metrics` and serves it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

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
    from prometheus_client.core import REGISTRY
    from prometheus_client.registry import Collector

    from vipkeeper.daemon.metricset import families

    class _Collector(Collector):
        def collect(self) -> Iterator[Any]:
            yield from families(snapshot())

    host, port = parse_listen(listen)
    REGISTRY.register(_Collector())
    start_http_server(port, addr=host)
    return listen_url(host, port)
