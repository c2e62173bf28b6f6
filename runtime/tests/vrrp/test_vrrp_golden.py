"""Golden vectors captured from Debian's keepalived 2.2.7 (see capture_golden.py).

Our encoder must produce byte-identical payloads for the same settings, our receive checks must
accept keepalived's adverts, and the captured timing must match our timer formulas.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from vrrpkit import ip, of_type

from vipkeeper.vrrp.actions import SendAdvert, StateChanged
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.packet import decode_advert, encode_advert
from vipkeeper.vrrp.settings import Auth, AuthType, InstanceSettings
from vipkeeper.vrrp.state import State
from vipkeeper.vrrp.timing import master_down_interval
from vipkeeper.vrrp.validate import check_advert

DATA = Path(__file__).parent / "data"
CAPTURE = Path(__file__).parent / "capture_golden.py"


def load(path: Path) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    """(instance dict, its packets) for every captured instance."""
    doc = json.loads(path.read_text())
    out = []
    for run in doc["runs"]:
        for inst in run["instances"]:
            pkts = [p for p in run["packets"] if p["vrid"] == inst["vrid"]]
            out.append((inst, pkts))
    return out


def to_settings(inst: dict[str, Any], source: str) -> InstanceSettings:
    """The InstanceSettings equivalent to one captured keepalived instance."""
    auth = Auth()
    if inst.get("auth_type") == "PASS":
        auth = Auth(AuthType.PASS, inst["auth_pass"].encode())
    return InstanceSettings(
        name=inst["name"],
        vrid=inst["vrid"],
        version=inst["version"],
        family=inst["family"],
        priority=inst["priority"],
        advert_int=inst["advert_int"],
        vips=tuple(ip(v) for v in inst["vips"]),
        source=ip(source),
        auth=auth,
        unicast_peers=tuple(ip(p) for p in inst.get("unicast_peers", ())),
        v3_checksum_as_v2=bool(inst.get("v3_checksum_as_v2")),
    )


GOLDEN = load(DATA / "golden.json")


def cases() -> Iterator[Any]:
    for inst, pkts in GOLDEN:
        yield pytest.param(inst, pkts, id=inst["name"])


def test_capture_covers_the_required_kinds() -> None:
    kinds = set()
    for inst, pkts in GOLDEN:
        assert len(pkts) >= 2, inst["name"]
        kind = (inst["version"], inst["family"], "unicast_peers" in inst, "auth_type" in inst)
        kinds.add(kind)
    assert (2, 4, False, True) in kinds  # v2 with PASS auth
    assert (3, 4, False, False) in kinds  # v3 IPv4
    assert (3, 6, False, False) in kinds  # v3 IPv6
    assert (3, 4, True, False) in kinds  # unicast


@pytest.mark.parametrize(("inst", "pkts"), list(cases()))
def test_encoder_is_byte_identical(inst: dict[str, Any], pkts: list[dict[str, Any]]) -> None:
    settings = to_settings(inst, pkts[0]["src"])
    me = VrrpInstance(settings)
    for p in pkts:
        adv = decode_advert(bytes.fromhex(p["payload"]), p["family"])
        ours = encode_advert(
            me.build_advert(adv.priority),
            ip(p["src"]),
            ip(p["dst"]),
            v3_checksum_as_v2=settings.v3_checksum_as_v2,
        )
        assert ours.hex() == p["payload"]


@pytest.mark.parametrize(("inst", "pkts"), list(cases()))
def test_instance_sends_what_keepalived_sent(
    inst: dict[str, Any], pkts: list[dict[str, Any]]
) -> None:
    """Alone on the link, our instance's first advert and its resignation match keepalived's."""
    me = VrrpInstance(to_settings(inst, pkts[0]["src"]))
    me.start(0.0)
    became = me.handle_timer(me.down_interval)
    first = of_type(became, SendAdvert)
    assert [(a.packet.hex(), str(a.dst), a.ttl) for a in first] == [
        (pkts[0]["payload"], pkts[0]["dst"], pkts[0]["ttl"])
    ]
    resign = of_type(me.stop(10.0), SendAdvert)
    assert [(a.packet.hex(), a.priority) for a in resign] == [(pkts[-1]["payload"], 0)]


@pytest.mark.parametrize(("inst", "pkts"), list(cases()))
def test_receive_checks_accept_keepalived(inst: dict[str, Any], pkts: list[dict[str, Any]]) -> None:
    settings = to_settings(inst, "fe80::99" if inst["family"] == 6 else "10.213.0.2")
    for p in pkts:
        payload = bytes.fromhex(p["payload"]) + bytes.fromhex(p["ethernet_padding"])
        checked = check_advert(payload, ip(p["src"]), ip(p["dst"]), p["ttl"], settings=settings)
        assert checked.advert.addresses == settings.vips
        assert not checked.interval_mismatch


def test_captured_timing_matches_our_formulas() -> None:
    """Adverts every advert_int; instances became master down_interval after the common start."""
    starts = {}
    for inst, pkts in GOLDEN:
        running = [p for p in pkts if int(p["payload"][4:6], 16) != 0]
        gaps = [b["t"] - a["t"] for a, b in zip(running, running[1:])]
        assert gaps, inst["name"]
        assert all(abs(g - inst["advert_int"]) < 0.1 for g in gaps), (inst["name"], gaps)
        down = master_down_interval(inst["version"], inst["priority"], inst["advert_int"])
        starts[inst["name"]] = running[0]["t"] - down
    # every instance started at the same moment, so the inferred start times agree
    assert max(starts.values()) - min(starts.values()) < 0.1, starts


@pytest.mark.netns
@pytest.mark.keepalived
def test_live_recapture_matches(tmp_path: Path) -> None:
    """Re-capture from keepalived now; our encoder reproduces every payload."""
    if os.geteuid() != 0:
        pytest.fail("needs root for network namespaces")
    subprocess.run([sys.executable, str(CAPTURE), str(tmp_path)], check=True, timeout=120)
    live = load(tmp_path / "golden.json")
    assert [i["name"] for i, _ in live] == [i["name"] for i, _ in GOLDEN]
    for inst, pkts in live:
        assert pkts, inst["name"]
        test_encoder_is_byte_identical(inst, pkts)
        test_receive_checks_accept_keepalived(inst, pkts)


def test_keepalived_state_master_also_starts_in_backup() -> None:
    """The basis for our start rule: `state MASTER` (VK_V2AUTH) enters BACKUP first in 2.2.7."""
    (inst,) = [i for i, _ in GOLDEN if i.get("state") == "MASTER"]
    log = (DATA / "keepalived-run1.log").read_text()
    assert f"({inst['name']}) Entering BACKUP STATE (init)" in log
    me = VrrpInstance(to_settings(inst, "10.213.0.1"))
    as_master = VrrpInstance(dataclasses.replace(me.settings, initial_state=State.MASTER))
    assert [a.new for a in of_type(as_master.start(0.0), StateChanged)] == [State.BACKUP]
