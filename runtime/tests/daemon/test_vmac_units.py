"""use_vmac without a kernel: the MAC, name, sysctls, the record, the config rules, the plan.

The kernel side (the macvlan, its sysctls, crash cleanup, keepalived as the peer) is proven in
namespaces by interop/test_keepalived_vmac.py.
"""

from __future__ import annotations

import json
from ipaddress import IPv4Interface, IPv6Interface
from pathlib import Path

import pytest

from vipkeeper.config import load_text
from vipkeeper.config.builder.vrrp import vmac_mac_arg, vmac_name_valid
from vipkeeper.daemon.build import InstancePlan, build_instance
from vipkeeper.net.addrs import IPInterface
from vipkeeper.net.record import RecordError
from vipkeeper.net.vmac import (
    VmacEntry,
    VmacRecord,
    VmacSpec,
    format_mac,
    link_local,
    parse_mac,
    vmac_mac,
    vmac_name,
)

INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 61
    priority 150
    virtual_ipaddress {
        %s
    }
%s
}
"""


def test_rfc5798_macs() -> None:
    assert format_mac(vmac_mac(61, 4)) == "00:00:5e:00:01:3d"
    assert format_mac(vmac_mac(1, 6)) == "00:00:5e:00:02:01"
    assert format_mac(vmac_mac(255, 4)) == "00:00:5e:00:01:ff"
    with pytest.raises(ValueError, match="VRID 0"):
        vmac_mac(0, 4)
    assert parse_mac("00:00:5E:00:01:3d") == vmac_mac(61, 4)


def test_default_and_configured_names() -> None:
    assert vmac_name(61) == "vrrp.61"
    assert vmac_name(61, "vk61") == "vk61"


def test_link_local_is_the_eui64_of_the_base_mac() -> None:
    assert link_local(bytes.fromhex("525400123456")) == IPv6Interface("fe80::5054:ff:fe12:3456/64")


def test_sysctls_as_keepalived_sets_them() -> None:
    v4 = VmacSpec("vrrp.61", "eth0", vmac_mac(61, 4), 4)
    assert v4.sysctls() == {
        "ipv4/conf/vrrp.61/arp_ignore": 1,
        "ipv4/conf/vrrp.61/accept_local": 1,
        "ipv4/conf/vrrp.61/rp_filter": 0,
        "ipv4/conf/vrrp.61/promote_secondaries": 1,
    }
    assert v4.base_sysctls() == {"ipv4/conf/eth0/arp_ignore": 1, "ipv4/conf/eth0/arp_filter": 1}
    v6 = VmacSpec("vrrp.61", "eth0", vmac_mac(61, 6), 6)
    assert v6.sysctls() == {}  # keepalived 2.2.7 sets none for IPv6
    assert v6.base_sysctls() == {}


def test_record_round_trip_and_a_bad_file(tmp_path: Path) -> None:
    rec = VmacRecord(tmp_path / "vmacs.json")
    assert rec.load() == []
    entry = VmacEntry("vrrp.61", vmac_mac(61, 4), (("ipv4/conf/eth0/arp_ignore", 0),))
    rec.put(entry)
    rec.put(VmacEntry("vk7", vmac_mac(7, 6)))
    assert VmacRecord(rec.path).load() == [entry, VmacEntry("vk7", vmac_mac(7, 6))]
    assert (rec.path.stat().st_mode & 0o777) == 0o600
    rec.drop("vk7")
    assert VmacRecord(rec.path).load() == [entry]
    rec.clear()
    assert VmacRecord(rec.path).load() == []
    rec.path.write_text(json.dumps({"vmacs": [{"name": "x", "mac": "nonsense"}]}))
    assert VmacRecord(rec.path).load() == []


def test_record_write_failure_changes_nothing(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    rec = VmacRecord(blocker / "vmacs.json")  # its directory is a file
    with pytest.raises(RecordError, match="cannot write the vmac record"):
        rec.put(VmacEntry("vrrp.61", vmac_mac(61, 4)))
    assert rec.entries == {}


@pytest.mark.parametrize(
    ("name", "valid"),
    [("vrrp.61", True), ("abcdefghijklmno", True), ("abcdefghijklmnop", False),
     (".", False), ("..", False), ("a/b", False), ("", False)],
)  # fmt: skip
def test_vmac_name_rules(name: str, valid: bool) -> None:
    assert vmac_name_valid(name) is valid


def test_vmac_mac_argument_rules() -> None:
    assert vmac_mac_arg("02:00:00:00:00:01") == (bytes.fromhex("020000000001"), "")
    assert vmac_mac_arg("02:00:00:00:00") == (bytes.fromhex("0200000000"), "")
    assert vmac_mac_arg("02:00:00:00:00:") == (bytes.fromhex("0200000000"), "")
    assert vmac_mac_arg("02:zz:00:00:00:01")[1] == "VMAC invalid MAC address 02:zz:00:00:00:01"
    assert "multicast" in vmac_mac_arg("03:00:00:00:00:01")[1]
    assert "RFC5798" in vmac_mac_arg("00:00:5e:00:01:0a")[1]
    assert "RFC5798" in vmac_mac_arg("00:00:5e:00:02:0a")[1]
    assert vmac_mac_arg("00:00:5e:00:03:0a")[0] is not None
    assert vmac_mac_arg("02:00:00:00:00:01:07")[0] is None


def _plan(extra: str, vip: str = "10.213.61.100/24") -> InstancePlan:
    res = load_text(INSTANCE % (vip, extra))
    assert res.config is not None
    inst = res.config.vrrp_instances[0]
    base: list[IPInterface] = [
        IPv6Interface("fe80::1/64") if ":" in vip else IPv4Interface("10.213.61.1/24")
    ]
    return build_instance(res.config, inst, lambda n: base if n == "eth0" else [], lambda n: True)


def test_plan_puts_vips_and_adverts_on_the_vmac() -> None:
    plan = _plan("    use_vmac")
    assert plan.vmac == VmacSpec("vrrp.61", "eth0", vmac_mac(61, 4), 4)
    assert plan.interface == "vrrp.61"
    assert [a.ifname for a in plan.addrs] == ["vrrp.61"]
    # adverts still come from the base interface's address, as keepalived's
    assert str(plan.settings.source) == "10.213.61.1"


def test_plan_with_xmit_base_sends_from_the_base_interface() -> None:
    plan = _plan("    use_vmac vk61\n    vmac_xmit_base")
    assert plan.vmac is not None
    assert plan.vmac.name == "vk61" and plan.vmac.xmit_base
    assert plan.interface == "eth0"
    assert [a.ifname for a in plan.addrs] == ["vk61"]


def test_plan_unicast_sets_xmit_base_and_a_vip_dev_is_kept() -> None:
    plan = _plan("    use_vmac\n    unicast_peer {\n        10.213.61.2\n    }")
    assert plan.vmac is not None
    assert plan.vmac.xmit_base and plan.interface == "eth0"
    plan = _plan("    use_vmac", vip="10.213.61.100/24 dev lo")
    assert [a.ifname for a in plan.addrs] == ["lo"]


def test_plan_ipv6_mac_and_a_configured_mac() -> None:
    plan = _plan("    use_vmac", vip="fd00:61::100/64")
    assert plan.vmac is not None
    assert plan.vmac.mac == vmac_mac(61, 6) and plan.vmac.family == 6
    plan = _plan("    use_vmac 02:00:00:00:00")
    assert plan.vmac is not None
    assert plan.vmac.mac == bytes.fromhex("02000000003d")


def test_no_vmac_without_use_vmac() -> None:
    plan = _plan("")
    assert plan.vmac is None and plan.interface == "eth0"
