"""The shared golden VRRP vectors (tests/vectors/vrrp-adverts.json): the scanner's decoder.

The runtime's decoder (vipkeeper.vrrp.packet) reads the same file in
runtime/tests/vrrp/test_vrrp_vectors.py; a vector's note says where the two differ and why.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.vrrp_wire import (
    NotVrrp,
    decode_vrrp,
)

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "vrrp-adverts.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def test_the_vectors_include_malformed_ones() -> None:
    assert {"error" in c["module"] for c in CASES} == {True, False}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_module_decoder_matches_the_vector(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["payload"])
    if "error" in case["module"]:
        with pytest.raises(NotVrrp):
            decode_vrrp(data, case["family"])
        return
    got = decode_vrrp(data, case["family"])
    assert got == case["module"]


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_both_decoders_agree_unless_a_note_says_why(case: dict[str, Any]) -> None:
    runtime, module = case["runtime"], case["module"]
    if "error" in runtime or "error" in module:
        agree = "error" in runtime and "error" in module
    else:
        agree = all(module[key] == runtime[key] for key in module)
    assert agree or case.get("note", "").startswith("DIFFERENCE"), case
