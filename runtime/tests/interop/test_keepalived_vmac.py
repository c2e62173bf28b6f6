"""use_vmac with Debian's keepalived as the peer: the VIP's MAC a client sees never changes.

vipkeeper (priority 150) and keepalived 2.2.7 (priority 100) both run `use_vmac` for VRID 61
in namespaces joined by a bridge; a third namespace is the client. Asserted on the kernel's own
view (ip -d link, sysctl, the client's neighbour table):

1. vipkeeper is MASTER: its vrrp.61 is a private macvlan on eth0 with MAC 00:00:5e:00:01:3d
   holding the VIP, with keepalived's sysctls; keepalived, BACKUP, has made its own vrrp.61 at
   start (without the VIP), with the same sysctls;
2. the client reaches the VIP and its neighbour entry is 00:00:5e:00:01:3d;
3. vipkeeper stops: its vmac is gone and eth0's sysctls are back; keepalived takes the VIP;
   the client, its neighbour table flushed, reaches the VIP at the same MAC.

A crashed run's vmac (SIGKILL) is removed by the next start, and an interface of the vmac's
name that is not ours is never touched.

The host kernel needs macvlan (CONFIG_MACVLAN): the test fails, never skips, without it.
"""

from __future__ import annotations

import json
import signal

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from interop.kad import keepalived_in
from netlab import NetLab, Node, wait_for

pytestmark = [pytest.mark.netns, pytest.mark.keepalived, pytest.mark.timeout(120)]

VRID = 61
VMAC = "vrrp.61"
MAC = "00:00:5e:00:01:3d"
VIP = "10.213.61.100"
ADDRS = {"vk": "10.213.61.1/24", "ka": "10.213.61.2/24", "cl": "10.213.61.50/24"}
VMAC_SYSCTLS = {
    "arp_ignore": "1",
    "accept_local": "1",
    "rp_filter": "0",
    "promote_secondaries": "1",
}
BASE_SYSCTLS = {"arp_ignore": "1", "arp_filter": "1"}


def reference(node: Node) -> bool:
    """True when the node's keepalived is the project's reference, Debian 12's 2.2.7. The lab
    hosts of `make test-runtime-hosts` run their own release's keepalived (2.1.5 on bullseye,
    2.3.3 on trixie), whose vmac sysctls differ in two places: 2.1.5 leaves an IPv4 vmac's
    addr_gen_mode, 2.3.3 sets arp_ignore on an IPv6 vmac. There vipkeeper is held to 2.2.7's
    values, and keepalived's are not compared."""
    shown = node.run(["keepalived", "-v"], check=False)
    return "Keepalived v2.2." in shown.stdout + shown.stderr


def conf(priority: int, extra: str = "use_vmac") -> str:
    inst = instance_conf(
        vrid=VRID,
        priority=priority,
        version=3,
        advert=0.2,
        vips=(f"{VIP}/24",),
        auth=None,
        extra=extra,
    )
    return config(inst)


def link(node: Node, ifname: str) -> dict[str, object] | None:
    """`ip -j -d link show` of one interface, None when there is none."""
    proc = node.run(["ip", "-j", "-d", "link", "show", "dev", ifname], check=False)
    if proc.returncode != 0:
        return None
    found: list[dict[str, object]] = json.loads(proc.stdout)
    return found[0] if found else None


def sysctls(node: Node, ifname: str, names: dict[str, str]) -> dict[str, str]:
    """The current values of net.ipv4.conf.IF.NAME for each name (read in the namespace)."""
    out = {}
    for name in names:
        proc = node.run(["cat", f"/proc/sys/net/ipv4/conf/{ifname}/{name}"])
        out[name] = proc.stdout.strip()
    return out


def neighbour(node: Node, addr: str) -> str | None:
    """The client's neighbour-table MAC for `addr` (None when it has none)."""
    entries = json.loads(node.run(["ip", "-j", "neigh", "show", addr]).stdout)
    macs = [e.get("lladdr") for e in entries if e.get("lladdr")]
    return macs[0] if macs else None


def ping(node: Node, addr: str) -> bool:
    return node.run(["ping", "-c", "1", "-W", "2", addr], check=False).returncode == 0


def assert_vmac(node: Node, log: str = "") -> None:
    info = link(node, VMAC)
    assert info is not None, f"no {VMAC} in {node.name}\n{log}"
    assert info["address"] == MAC
    assert info["link"] == "eth0"
    linkinfo = info["linkinfo"]
    assert isinstance(linkinfo, dict)
    assert linkinfo["info_kind"] == "macvlan"
    assert linkinfo["info_data"]["mode"] == "private"
    assert "UP" in info["flags"]  # type: ignore[operator]


def test_vip_mac_stays_the_same_across_failover_to_keepalived(lab: NetLab) -> None:
    vk_node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    ka_node = lab.add_node("ka", addrs=[ADDRS["ka"]])
    client = lab.add_node("cl", addrs=[ADDRS["cl"]])
    base_before = sysctls(vk_node, "eth0", BASE_SYSCTLS)
    ka = keepalived_in(lab, ka_node)
    ka.start(conf(100, f"use_vmac\n  {ka.notify_line}"))
    vk = start_vipkeeper(lab, vk_node, conf(150))
    logs = lambda: vk.log()[-3000:] + "\n--- keepalived:\n" + ka.log()[-3000:]  # noqa: E731
    assert vk.wait_state("MASTER", 10) is not None, logs()
    assert wait_for(lambda: ka.state() == "BACKUP", 10) is not None, logs()

    # 1. vipkeeper's vmac, with the VIP on it; keepalived's, made at start, while BACKUP
    assert_vmac(vk_node, logs())
    assert wait_for(lambda: VIP in vk_node.addresses(VMAC), 5) is not None, logs()
    assert VIP not in vk_node.addresses("eth0")
    assert_vmac(ka_node)
    assert VIP not in ka_node.addresses(VMAC)
    assert sysctls(vk_node, VMAC, VMAC_SYSCTLS) == VMAC_SYSCTLS
    assert sysctls(vk_node, "eth0", BASE_SYSCTLS) == BASE_SYSCTLS
    assert sysctls(ka_node, VMAC, VMAC_SYSCTLS) == VMAC_SYSCTLS
    assert sysctls(ka_node, "eth0", BASE_SYSCTLS) == BASE_SYSCTLS
    # IPv6 on the vmac of an IPv4 instance: disabled, no EUI-64 address, on both
    ipv6 = [f"/proc/sys/net/ipv6/conf/{VMAC}/{k}" for k in ("disable_ipv6", "addr_gen_mode")]
    assert [vk_node.run(["cat", p]).stdout.strip() for p in ipv6] == ["1", "1"]
    if reference(ka_node):
        assert [ka_node.run(["cat", p]).stdout.strip() for p in ipv6] == ["1", "1"]

    # 2. the client sees the VIP at the virtual MAC. It first talks to both routers' own
    # addresses: the routers then know its MAC on eth0, where the VIP's replies leave (eth0's
    # route is the older one). Else a router asks for the client from eth0 with the VIP as
    # sender (arp_announce 0), and the client takes eth0's MAC for the VIP: keepalived and
    # vipkeeper alike, as the kernel does it.
    for router in ("vk", "ka"):
        assert ping(client, ADDRS[router].split("/")[0])
    assert ping(client, VIP), logs()
    assert neighbour(client, VIP) == MAC

    # 3. failover: vipkeeper stops, keepalived takes the VIP on its vmac
    assert vk.stop() == 0
    assert link(vk_node, VMAC) is None, vk.log()[-3000:]
    assert sysctls(vk_node, "eth0", BASE_SYSCTLS) == base_before
    assert wait_for(lambda: ka.state() == "MASTER", 10) is not None, logs()
    assert wait_for(lambda: VIP in ka_node.addresses(VMAC), 5) is not None, logs()
    assert ping(client, VIP), logs()
    assert neighbour(client, VIP) == MAC
    client.run(["ip", "neigh", "flush", "to", VIP])
    assert neighbour(client, VIP) is None
    assert ping(client, VIP), logs()
    assert neighbour(client, VIP) == MAC
    assert ka.stop() == 0
    assert link(ka_node, VMAC) is None  # keepalived removes its vmac at stop too


def test_crashed_runs_vmac_is_removed_at_the_next_start(lab: NetLab) -> None:
    node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    vk = start_vipkeeper(lab, node, conf(150))
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses(VMAC), 5) is not None, vk.log()
    vk.kill()  # a crash: nothing cleaned
    assert_vmac(node)
    assert sysctls(node, "eth0", BASE_SYSCTLS) == BASE_SYSCTLS
    # The next start, with no use_vmac any more, removes the vmac and puts eth0 back.
    vk.write_config(conf(150, ""))
    vk.start()
    assert link(node, VMAC) is None, vk.log()
    assert sysctls(node, "eth0", BASE_SYSCTLS) == {"arp_ignore": "0", "arp_filter": "0"}
    assert "removed stale vmac vrrp.61" in vk.log()
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses("eth0"), 5) is not None, vk.log()
    assert vk.stop() == 0


def test_an_interface_of_the_vmacs_name_that_is_not_ours_is_left_alone(lab: NetLab) -> None:
    node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    # a macvlan of that name with another MAC: not a vmac vipkeeper may take over or remove
    node.run(["ip", "link", "add", VMAC, "link", "eth0", "address", "02:00:00:00:00:3d",
              "type", "macvlan", "mode", "private"])  # fmt: skip
    vk = start_vipkeeper(lab, node, conf(150))
    status = vk.status()
    assert status["instances"] == [] or all(i["name"] != "VI_1" for i in status["instances"])
    assert "VI_1" in json.dumps(status.get("not_started", {})), status
    assert "cannot set up vmac" in vk.log()
    assert vk.stop() == 0
    info = link(node, VMAC)
    assert info is not None and info["address"] == "02:00:00:00:00:3d"


def test_reload_brings_the_vmac_in_and_out(lab: NetLab) -> None:
    node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    vk = start_vipkeeper(lab, node, conf(150, ""))
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses("eth0"), 5) is not None, vk.log()
    assert link(node, VMAC) is None

    def reload(text: str) -> None:
        done = vk.log().count("reload done")
        vk.write_config(text)
        vk.signal(signal.SIGHUP)
        assert wait_for(lambda: vk.log().count("reload done") > done, 10) is not None, vk.log()

    reload(conf(150))  # use_vmac: a new identity, so the instance starts again on the vmac
    assert_vmac(node, vk.log())
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses(VMAC), 5) is not None, vk.log()
    assert VIP not in node.addresses("eth0")
    before = link(node, VMAC)
    reload(conf(150, "use_vmac\n  garp_master_repeat 2"))  # same vmac: kept, not made again
    after = link(node, VMAC)
    assert before is not None and after is not None
    assert after["ifindex"] == before["ifindex"]
    assert VIP in node.addresses(VMAC)
    reload(conf(150, ""))
    assert wait_for(lambda: link(node, VMAC) is None, 5) is not None, vk.log()
    assert sysctls(node, "eth0", BASE_SYSCTLS) == {"arp_ignore": "0", "arp_filter": "0"}
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses("eth0"), 5) is not None, vk.log()
    assert vk.stop() == 0


V6 = {"vk": "fd13:61::1/64", "ka": "fd13:61::2/64", "cl": "fd13:61::50/64"}
VIP6 = "fd13:61::100"
MAC6 = "00:00:5e:00:02:3d"


def test_ipv6_vip_mac_stays_the_same_across_failover_to_keepalived(lab: NetLab) -> None:
    vk_node = lab.add_node("vk", addrs=[V6["vk"]])
    ka_node = lab.add_node("ka", addrs=[V6["ka"]])
    client = lab.add_node("cl", addrs=[V6["cl"]])
    conf6 = lambda prio, extra: config(  # noqa: E731
        instance_conf(
            vrid=VRID, priority=prio, version=3, advert=0.2, vips=(f"{VIP6}/64",), auth=None,
            extra=extra,
        )
    )  # fmt: skip
    ka = keepalived_in(lab, ka_node)
    ka.start(conf6(100, f"use_vmac\n  {ka.notify_line}"))
    vk = start_vipkeeper(lab, vk_node, conf6(150, "use_vmac"))
    logs = lambda: vk.log()[-3000:] + "\n--- keepalived:\n" + ka.log()[-3000:]  # noqa: E731
    assert vk.wait_state("MASTER", 10) is not None, logs()
    assert wait_for(lambda: ka.state() == "BACKUP", 10) is not None, logs()
    for node in (vk_node, ka_node):
        info = link(node, VMAC)
        assert info is not None and info["address"] == MAC6, logs()
    # keepalived 2.2.7 sets no sysctl for an IPv6 vmac: both leave the defaults
    defaults = sysctls(vk_node, "default", VMAC_SYSCTLS)
    assert sysctls(vk_node, VMAC, VMAC_SYSCTLS) == defaults
    if reference(ka_node):
        assert sysctls(vk_node, VMAC, VMAC_SYSCTLS) == sysctls(ka_node, VMAC, VMAC_SYSCTLS)
    assert wait_for(lambda: VIP6 in vk_node.addresses(VMAC), 5) is not None, logs()
    # the vmac carries the base MAC's link-local address (adverts leave from it), no EUI-64 one
    for node in (vk_node, ka_node):
        base_ll = {a for a in node.addresses("eth0") if a.startswith("fe80:")}
        vmac_ll = {a for a in node.addresses(VMAC) if a.startswith("fe80:")}
        assert vmac_ll == base_ll, (node.name, vmac_ll, base_ll)
    for router in ("vk", "ka"):
        assert client.run(["ping", "-6", "-c", "1", "-W", "2", V6[router].split("/")[0]])
    assert client.run(["ping", "-6", "-c", "1", "-W", "2", VIP6], check=False).returncode == 0
    assert neighbour(client, VIP6) == MAC6, logs()
    assert vk.stop() == 0
    assert link(vk_node, VMAC) is None
    assert wait_for(lambda: ka.state() == "MASTER", 10) is not None, logs()
    client.run(["ip", "neigh", "flush", "to", VIP6])
    assert client.run(["ping", "-6", "-c", "1", "-W", "2", VIP6], check=False).returncode == 0
    assert neighbour(client, VIP6) == MAC6, logs()
    assert ka.stop() == 0


def test_two_vmacs_on_one_interface_share_its_sysctls(lab: NetLab) -> None:
    node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    node.run(["sh", "-c", "echo 2 >/proc/sys/net/ipv4/conf/eth0/arp_ignore"])
    second = instance_conf(
        name="VI_2", vrid=62, priority=150, version=3, advert=0.2,
        vips=("10.213.61.101/24",), auth=None, extra="use_vmac",
    )  # fmt: skip
    first = instance_conf(
        vrid=VRID, priority=150, version=3, advert=0.2, vips=(f"{VIP}/24",), auth=None,
        extra="use_vmac",
    )  # fmt: skip
    vk = start_vipkeeper(lab, node, config(first, second))
    assert link(node, VMAC) is not None and link(node, "vrrp.62") is not None, vk.log()
    assert sysctls(node, "eth0", BASE_SYSCTLS) == BASE_SYSCTLS
    done = vk.log().count("reload done")
    vk.write_config(config(second))
    vk.signal(signal.SIGHUP)
    assert wait_for(lambda: vk.log().count("reload done") > done, 10) is not None, vk.log()
    assert wait_for(lambda: link(node, VMAC) is None, 5) is not None, vk.log()
    # vrrp.62 still needs them: eth0 keeps arp_ignore=1 and arp_filter=1 until it goes
    assert sysctls(node, "eth0", BASE_SYSCTLS) == BASE_SYSCTLS
    assert vk.stop() == 0
    assert link(node, "vrrp.62") is None
    assert sysctls(node, "eth0", BASE_SYSCTLS) == {"arp_ignore": "2", "arp_filter": "0"}


def test_a_vmac_deleted_under_the_daemon_is_made_again(lab: NetLab) -> None:
    node = lab.add_node("vk", addrs=[ADDRS["vk"]])
    vk = start_vipkeeper(lab, node, conf(150))
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert wait_for(lambda: VIP in node.addresses(VMAC), 5) is not None, vk.log()
    before = link(node, VMAC)
    assert before is not None
    node.run(["ip", "link", "del", VMAC])
    assert wait_for(lambda: (link(node, VMAC) or before)["ifindex"] != before["ifindex"], 5), (
        vk.log()
    )
    assert_vmac(node, vk.log())
    assert sysctls(node, VMAC, VMAC_SYSCTLS) == VMAC_SYSCTLS
    assert wait_for(lambda: VIP in node.addresses(VMAC), 10) is not None, vk.log()
    assert vk.wait_state("MASTER", 10) is not None, vk.log()
    assert "was deleted; making it again" in vk.log()
    assert vk.stop() == 0
    assert link(node, VMAC) is None
