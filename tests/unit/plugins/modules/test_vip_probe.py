"""vip_probe backend: outage analysis, and real probes against loopback servers."""

from __future__ import annotations

import http.server
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.probe import (
    Prober,
    analyze,
    http_get,
    tcp_connect,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import FakeModule


def timeline(pattern: str, start: float = 100.0, step: float = 0.1) -> list[dict[str, Any]]:
    """'..xx.' -> records: '.' answered, 'x' lost, one every `step` seconds."""
    return [
        {"seq": i, "at": round(start + i * step, 3), "ok": c == "."} for i, c in enumerate(pattern)
    ]


def test_no_loss_is_no_outage() -> None:
    result = analyze(timeline("....."), 0.1)
    assert (result["sent"], result["lost"], result["outage"], result["outage_seconds"]) == (
        5,
        0,
        False,
        0.0,
    )
    assert result["timeline"] == [{"state": "ok", "from": 100.0, "to": 100.4, "count": 5}]


def test_outage_runs_from_first_lost_to_first_recovered() -> None:
    result = analyze(timeline("..xxx...x.."), 0.1)
    assert result["lost"] == 4 and result["recovered"]
    assert result["first_lost_at"] == 100.2 and result["first_recovered_at"] == 100.5
    assert result["outage_seconds"] == pytest.approx(0.3)
    assert [w["lost"] for w in result["windows"]] == [3, 1]
    assert result["total_outage_seconds"] == pytest.approx(0.4)
    assert [(t["state"], t["count"]) for t in result["timeline"]] == [
        ("ok", 2),
        ("lost", 3),
        ("ok", 3),
        ("lost", 1),
        ("ok", 2),
    ]


def test_an_outage_that_never_ends_has_no_duration() -> None:
    result = analyze(timeline("..xxx"), 0.1)
    assert not result["recovered"] and result["outage_seconds"] is None
    assert result["total_outage_seconds"] == pytest.approx(0.3)


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


def test_tcp_probe_accepts_and_refuses() -> None:
    sock = _listener()
    port = sock.getsockname()[1]
    assert tcp_connect("127.0.0.1", port, 1.0)
    sock.close()
    with pytest.raises(OSError):
        tcp_connect("127.0.0.1", port, 1.0)


def test_http_probe_needs_a_2xx_or_3xx() -> None:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/ok" else 503)
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        assert http_get("127.0.0.1", server.server_address[1], "/ok", 1.0)
        with pytest.raises(OSError, match="HTTP 503"):
            http_get("127.0.0.1", server.server_address[1], "/down", 1.0)
    finally:
        server.shutdown()
        server.server_close()


def test_prober_measures_a_real_outage_and_ends_after_settling() -> None:
    sock = _listener()
    port = sock.getsockname()[1]
    params = {
        "target": "127.0.0.1",
        "mode": "tcp",
        "port": port,
        "path": "/",
        "interface": None,
        "interval": 0.05,
        "timeout": 0.2,
        "duration": 10.0,
        "settle": 0.5,
        "keep_records": True,
        "stop_file": None,
    }
    box: dict[str, Any] = {}

    def run() -> None:
        box["result"] = Prober(FakeModule(**params)).run()

    thread = threading.Thread(target=run)
    thread.start()
    time.sleep(0.5)
    down_at = time.time()
    sock.close()  # the service is gone: connects are refused
    time.sleep(0.6)
    sock = _listener_on(port)
    up_at = time.time()
    thread.join(timeout=10)
    sock.close()
    result = box["result"]
    assert result["outage"] and result["recovered"]
    # The window starts at the first probe after the close and ends at the first after the reopen.
    assert down_at - 0.001 <= result["first_lost_at"] <= down_at + 0.06
    assert up_at - 0.001 <= result["first_recovered_at"] <= up_at + 0.06
    assert 0.5 <= result["outage_seconds"] <= 0.75
    assert result["lost"] == sum(1 for r in result["records"] if not r["ok"]) >= 8
    # Ended early: about 0.5 s after the recovery, far before the 10 s duration.
    assert result["ended_at"] - up_at < 1.5 and result["stopped_by"] == "settled"


def test_prober_ends_when_the_stop_file_appears(tmp_path: Path) -> None:
    sock = _listener()
    stop = tmp_path / "stop"
    params = {
        "target": "127.0.0.1",
        "mode": "tcp",
        "port": sock.getsockname()[1],
        "path": "/",
        "interface": None,
        "interval": 0.05,
        "timeout": 0.2,
        "duration": 10.0,
        "settle": 0,
        "keep_records": False,
        "stop_file": str(stop),
    }
    threading.Timer(0.4, stop.touch).start()
    try:
        result = Prober(FakeModule(**params)).run()
    finally:
        sock.close()
    assert result["stopped_by"] == "stop_file" and not result["outage"]
    assert 5 <= result["sent"] <= 12


def _listener_on(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    return sock


def test_arp_mode_without_arping_fails_clearly() -> None:
    module = FakeModule(
        target="10.0.0.1",
        mode="arp",
        interface=None,
        timeout=0.5,
        interval=0.1,
        duration=0.1,
        settle=0,
        keep_records=False,
        stop_file=None,
        port=80,
        path="/",
    )
    module.get_bin_path = lambda name, required=False: None  # type: ignore[method-assign]
    from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import Failed

    with pytest.raises(Failed, match="arping"):
        Prober(module).run()
