"""The shared control-socket vectors (tests/vectors/control-answers.json): the runtime's client.

The collection's client (module_utils/_vipkeeper/daemons.control_request) reads the same file in
tests/unit/plugins/modules/test_control_vectors.py, against the same fake server.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from vipkeeper.daemon.control import request

CHECKOUT = Path(__file__).resolve().parents[2]
VECTORS = CHECKOUT / "tests" / "vectors" / "control-answers.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]
ERRORS: dict[str, type[Exception]] = {
    "not_json": ValueError,
    "not_object": TypeError,
    "unreachable": OSError,
}


def _helpers() -> ModuleType:
    path = CHECKOUT / "tests" / "unit" / "plugins" / "modules" / "drill_helpers.py"
    spec = importlib.util.spec_from_file_location("drill_helpers", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


RawAnswerServer = _helpers().RawAnswerServer


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_runtime_client_matches_the_vector(tmp_path: Path, case: dict[str, Any]) -> None:
    path = tmp_path / "control.sock"
    server = None
    if case["chunks"] is not None:
        server = RawAnswerServer(path, case["chunks"], case.get("read", "line"))
    payload = {"command": "status", "pad": "x" * case.get("request_bytes", 0)}
    try:
        if isinstance(case["expect"], str):
            with pytest.raises(ERRORS[case["expect"]]):
                request(str(path), payload, timeout=5)
        else:
            assert request(str(path), payload, timeout=5) == case["expect"]
    finally:
        if server is not None:
            server.close()
