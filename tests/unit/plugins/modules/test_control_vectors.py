"""The shared control-socket vectors (tests/vectors/control-answers.json): the module's client.

The runtime's client (vipkeeper.daemon.control.request) reads the same file in
runtime/tests/test_control_vectors.py; a vector's note says where the two differ and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.daemons import (
    DaemonError,
    control_request,
)
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.drill_helpers import (
    RawAnswerServer,
)

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "control-answers.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_module_client_matches_the_vector(tmp_path: Path, case: dict[str, Any]) -> None:
    path = tmp_path / "control.sock"
    server = None
    if case["chunks"] is not None:
        server = RawAnswerServer(path, case["chunks"], case.get("read", "line"))
    payload = {"command": "status", "pad": "x" * case.get("request_bytes", 0)}
    expect = case.get("module_expect", case["expect"])
    try:
        if isinstance(expect, str):
            with pytest.raises(DaemonError):
                control_request(str(path), payload, timeout=5)
        else:
            assert control_request(str(path), payload, timeout=5) == expect
    finally:
        if server is not None:
            server.close()


def test_the_clients_part_only_where_a_note_says_why() -> None:
    for case in CASES:
        if "module_expect" in case:
            assert case.get("note", "").startswith("DIFFERENCE"), case["name"]
