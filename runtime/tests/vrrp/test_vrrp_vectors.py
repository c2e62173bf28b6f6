"""The shared golden VRRP vectors (tests/vectors/vrrp-adverts.json): the runtime's decoder.

The collection's dependency-free decoder (module_utils/_vipkeeper/vrrp_wire.py) reads the same
file in tests/unit/plugins/modules/test_vrrp_wire_vectors.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from vipkeeper.vrrp.errors import PacketError
from vipkeeper.vrrp.packet import decode_advert

VECTORS = Path(__file__).resolve().parents[3] / "tests" / "vectors" / "vrrp-adverts.json"
CASES: list[dict[str, Any]] = json.loads(VECTORS.read_text())["vectors"]


def test_the_vectors_cover_both_outcomes_and_both_families() -> None:
    assert {"error" in c["runtime"] for c in CASES} == {True, False}
    assert {c["family"] for c in CASES} == {4, 6}


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_runtime_decoder_matches_the_vector(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["payload"])
    want = case["runtime"]
    if "error" in want:
        with pytest.raises(PacketError) as caught:
            decode_advert(data, case["family"])
        assert caught.value.reason.value == want["error"]
        return
    advert = decode_advert(data, case["family"])
    got = {
        "version": advert.version,
        "type": advert.type,
        "vrid": advert.vrid,
        "priority": advert.priority,
        "advert_int": advert.interval_seconds,
        "auth_type": advert.auth_type if advert.version == 2 else None,
        "vips": [str(a) for a in advert.addresses],
    }
    assert got == want
