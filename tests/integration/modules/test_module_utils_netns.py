"""The module_utils backends against the kernel: the tests of tests/unit/plugins/modules that
need root, a network namespace or nftables (moved here from the unit tier, unchanged)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import netaddr
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.fault import nft_ruleset
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.probe import icmp_echo
from ansible_collections.vipkeeper.vrrp.tests.unit.plugins.modules.test_vrrp_scan import v2

COLLECTIONS_ROOT = Path(netaddr.__file__).parents[6]  # the dir holding ansible_collections/


@pytest.mark.netns
def test_monitor_times_an_address_added_in_a_namespace() -> None:
    ns = f"vkdrilltest{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        subprocess.run(["ip", "-n", ns, "link", "set", "lo", "up"], check=True)
        script = (
            "import sys, time, subprocess;"
            f"sys.path.insert(0, {str(COLLECTIONS_ROOT)!r});"
            "from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper"
            " import netaddr;"
            "m = netaddr.AddrMonitor(); t = time.time();"
            "subprocess.run(['ip', 'addr', 'add', '10.213.251.7/32', 'dev', 'lo'], check=True);"
            "m.wait(0.5); print(t, time.time(), m.added.get('10.213.251.7'))"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        before, after, seen = float(out[0]), float(out[1]), float(out[2])
        assert before - 0.001 <= seen <= after + 0.001
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)


@pytest.mark.netns
def test_ruleset_is_valid_nftables() -> None:
    nft = shutil.which("nft", path="/usr/sbin:/sbin")
    assert nft, "nftables is installed by make deps"
    done = subprocess.run(
        [nft, "-c", "-f", "-"],
        input=nft_ruleset("vipkeeper_drill_t"),
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.netns
def test_icmp_echo_over_loopback() -> None:
    assert icmp_echo("127.0.0.1", 1, 1.0)
    assert icmp_echo("::1", 2, 1.0)


@pytest.mark.netns
def test_real_capture_on_a_veth_in_a_namespace() -> None:
    ns = f"vkdrillscan{uuid.uuid4().hex[:8]}"
    subprocess.run(["ip", "netns", "add", ns], check=True)
    try:
        for cmd in (
            ["link", "add", "va", "type", "veth", "peer", "name", "vb"],
            ["link", "set", "va", "up"],
            ["link", "set", "vb", "up"],
            ["addr", "add", "10.213.252.1/24", "dev", "va"],
        ):
            subprocess.run(["ip", "-n", ns, *cmd], check=True)
        packet = v2(77, 120, ["10.213.252.100"])
        script = (
            "import json, socket, sys, threading, time;"
            f"sys.path.insert(0, {str(COLLECTIONS_ROOT)!r});"
            "from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import scan;"
            "s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 112);"
            "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF,"
            " socket.inet_aton('10.213.252.1'));"
            "s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 255);"
            f"pkt = {packet!r};"
            "t = threading.Timer(0.3,"
            " lambda: [s.sendto(pkt, ('224.0.0.18', 0)) for _ in range(3)]);"
            "t.start(); print(json.dumps(scan.listen('vb', 1.0)))"
        )
        out = subprocess.run(
            ["ip", "netns", "exec", ns, sys.executable, "-c", script],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        result = json.loads(out)
        [router] = result["routers"]
        assert (router["vrid"], router["priority"], router["source"], router["version"]) == (
            77,
            120,
            "10.213.252.1",
            2,
        )
        assert router["vips"] == ["10.213.252.100"] and router["adverts"] == 3
        assert router["interface"] == "vb" and not router["local"]
    finally:
        subprocess.run(["ip", "netns", "del", ns], check=False)
