"""The nftables dataplane's renderings load into this machine's nftables and read back.

`persistence_granularity` puts a mask inside `jhash` (NAT's map key, DR's hash); a rule that
libnftables refuses would leave the service unprogrammed, so each shape is loaded here, in a
namespace, and read back (docs/lab.md recorded a refusal of the mask on an older run).
"""

from __future__ import annotations

import pytest
from lvs.nsthread import NsThread
from netlab import NetLab

from vipkeeper.config.model import LbKind
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, Table, state
from vipkeeper.lvs.nftables import NftDataplane
from vipkeeper.lvs.reconcile import plan

V4 = ServiceKey(family=4, protocol="TCP", address="10.213.2.100", port=80)
V6 = ServiceKey(family=6, protocol="TCP", address="fd00:213:2::100", port=80)
ANY_PORT = ServiceKey(family=4, protocol="UDP", address="10.213.2.101", port=0)
FWMARK = ServiceKey(family=4, protocol="", fwmark=7)


def _dests(key: ServiceKey, kind: LbKind) -> list[Dest]:
    port = 0 if key.fwmark or kind == LbKind.DR else 8080
    if key.family == 6:
        return [Dest(DestKey(f"fd00:213:1::{n}", port), n - 10, kind) for n in (11, 12)]
    return [Dest(DestKey(f"10.213.1.{n}", port), n - 10, kind) for n in (11, 12)]


CASES = {
    "nat-v4-mask": (V4, "wlc", "255.255.255.0", LbKind.NAT),
    "nat-v6-mask": (V6, "wrr", "ffff:ffff:ffff:ffff::", LbKind.NAT),
    "nat-any-port": (ANY_PORT, "sh", "255.255.0.0", LbKind.NAT),
    "nat-fwmark": (FWMARK, "rr", "255.255.255.0", LbKind.NAT),
    "dr-v4-mask": (V4, "wlc", "255.255.255.0", LbKind.DR),
    "dr-v4-rr": (V4, "rr", "", LbKind.DR),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_rendering_loads_and_reads_back(lab: NetLab, case: str) -> None:
    key, scheduler, mask, kind = CASES[case]
    node = lab.add_node("dir", addrs=["10.213.1.1/24", "fd00:213:1::1/64"])
    want: Table = {
        key: state(Service(key, scheduler, (), 300 if mask else 0, mask), _dests(key, kind))
    }
    thread = NsThread(node.ns)
    try:

        async def load() -> Table:
            dp = NftDataplane()
            try:
                await dp.apply(plan(want, {}, managed=set(want)))
                return await dp.read()
            finally:
                dp.close()

        assert thread.run(load()) == want
        rules = node.run(["nft", "list", "ruleset"]).stdout
        assert ("jhash" in rules) == bool(mask or kind == LbKind.DR or scheduler == "sh"), rules
        if mask:
            assert f"& {mask} " in rules, rules
        if kind == LbKind.DR:
            assert "table netdev vipkeeper" in rules and "update @vs_" in rules, rules
    finally:
        thread.close()
