"""net/ against a real kernel: VRRP sockets, GARP/NA frames, idempotent addresses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from netlab import NetLab

pytestmark = pytest.mark.netns

RECEIVER = """
import json, select, socket, sys
from vipkeeper.net.vrrpsock import VrrpSocket
fam = int(sys.argv[1])
idx = socket.if_nametoindex("eth0")
s = VrrpSocket("eth0", idx, fam)
from ipaddress import ip_address
s.join(ip_address(sys.argv[2]))
print("ready", flush=True)
out = []
while len(out) < 2:
    if not select.select([s.fileno()], [], [], 5)[0]:
        break
    d = s.receive()
    if d:
        out.append({"data": d.data.hex(), "src": str(d.src), "dst": str(d.dst), "ttl": d.ttl})
print(json.dumps(out), flush=True)
"""

SENDER = """
import socket, sys
from ipaddress import ip_address
from vipkeeper.net.vrrpsock import VrrpSocket
fam = int(sys.argv[1])
s = VrrpSocket("eth0", socket.if_nametoindex("eth0"), fam)
src = ip_address(sys.argv[3]) if len(sys.argv) > 3 else None
s.send(b"\\x21\\x07\\x64\\x01hello-vrrp", ip_address(sys.argv[2]), src)
s.send(b"\\x21\\x08", ip_address(sys.argv[2]), src)
"""


def _py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


@pytest.mark.parametrize(
    ("fam", "group", "a_addr", "b_addr"),
    [
        (4, "224.0.0.18", "10.213.1.1/24", "10.213.1.2/24"),
        (6, "ff02::12", "fd00:213::1/64", "fd00:213::2/64"),
    ],
)
def test_multicast_and_unicast_roundtrip(
    lab: NetLab, fam: int, group: str, a_addr: str, b_addr: str
) -> None:
    a = lab.add_node("a", addrs=[a_addr, "10.213.1.5/24" if fam == 4 else "fd00:213::5/64"])
    b = lab.add_node("b", addrs=[b_addr])
    b_ip, a_ip = b_addr.split("/", maxsplit=1)[0], a_addr.split("/", maxsplit=1)[0]
    for dst, src in ((group, None), (b_ip, a_ip)):
        rx = b.popen([*_py(RECEIVER), str(fam), group], stdout=subprocess.PIPE)
        assert rx.stdout is not None
        assert rx.stdout.readline().strip() == b"ready"
        argv = [*_py(SENDER), str(fam), dst] + ([src] if src else [])
        a.run(argv)
        got = json.loads(rx.stdout.readline())
        rx.wait(5)
        assert len(got) == 2
        assert bytes.fromhex(got[0]["data"]) == b"\x21\x07\x64\x01hello-vrrp"
        assert bytes.fromhex(got[1]["data"]) == b"\x21\x08"
        assert got[0]["ttl"] == 255
        assert got[0]["dst"] == dst
        if src:
            assert got[0]["src"] == src
        elif fam == 4:
            assert got[0]["src"] == "10.213.1.1"  # the interface's primary address
        else:
            assert got[0]["src"].startswith("fe80::")


GARP = """
import socket, sys
from ipaddress import ip_address
from vipkeeper.net.garp import GarpSender
idx = socket.if_nametoindex("eth0")
g = GarpSender("eth0", idx)
mac = bytes.fromhex(sys.argv[1])
g.send_garp(mac, ip_address("10.213.1.100"))
g.send_na(mac, ip_address("fd00:213::100"))
"""

SNIFF = """
import select, socket, json
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind(("eth0", 0))
print("ready", flush=True)
out = []
while len(out) < 2 and select.select([s], [], [], 5)[0]:
    f = s.recv(2000)
    if f[12:14] == b"\\x08\\x06" or (f[12:14] == b"\\x86\\xdd" and f[20] == 58 and f[54] == 136):
        out.append(f.hex())
print(json.dumps(out), flush=True)
"""


def test_garp_and_unsolicited_na_on_the_wire(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"], mac="02:00:00:00:00:0a")
    b = lab.add_node("b", addrs=["10.213.1.2/24"])
    rx = b.popen(_py(SNIFF), stdout=subprocess.PIPE)
    assert rx.stdout is not None
    assert rx.stdout.readline().strip() == b"ready"
    a.run([*_py(GARP), "02000000000a"])
    frames = [bytes.fromhex(f) for f in json.loads(rx.stdout.readline())]
    arp = next(f for f in frames if f[12:14] == b"\x08\x06")
    assert arp[0:6] == b"\xff" * 6
    assert arp[6:12] == bytes.fromhex("02000000000a")
    assert arp[20:22] == b"\x00\x01"  # request
    assert arp[28:32] == bytes([10, 213, 1, 100]) == arp[38:42]  # sender == target == VIP
    na = next(f for f in frames if f[12:14] == b"\x86\xdd")
    assert na[21] == 255  # hop limit
    assert na[38:54] == bytes.fromhex("ff020000000000000000000000000001")
    assert na[58] & 0x20  # Override
    assert not na[58] & 0x40  # not Solicited
    assert na[62:78] == bytes.fromhex("fd000213000000000000000000000100")


ADDRS = """
import asyncio
from ipaddress import ip_interface
from vipkeeper.net.addrs import Addresses, AddrSpec, RouteSpec
async def main():
    a = Addresses()
    await a.open()
    spec = AddrSpec("eth0", ip_interface("10.213.1.100/24"), label="eth0:vip")
    r = [await a.add_address(spec), await a.add_address(spec)]
    v6 = AddrSpec("eth0", ip_interface("fd00:213::100/64"))
    r += [await a.add_address(v6)]
    gw = ip_interface("10.213.1.2/32").ip
    route = RouteSpec(ip_interface("10.213.50.0/24"), ifname="eth0", via=gw)
    r += [await a.add_route(route), await a.add_route(route)]
    print(r, [str(x) for x in await a.addresses("eth0")], flush=True)
    input()
    r = [await a.remove_address(spec), await a.remove_address(spec), await a.remove_address(v6)]
    r += [await a.remove_route(route), await a.remove_route(route)]
    print(r, flush=True)
asyncio.run(main())
"""


def test_addresses_and_routes_are_idempotent(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    p = a.popen(_py(ADDRS), stdin=subprocess.PIPE, stdout=subprocess.PIPE)
    assert p.stdout is not None and p.stdin is not None
    first = p.stdout.readline().decode()
    assert first.startswith("[True, False, True, True, False]")
    assert a.has_address("10.213.1.100") and a.has_address("fd00:213::100")
    labels = a.run(["ip", "-4", "addr", "show", "dev", "eth0"]).stdout
    assert "eth0:vip" in labels
    assert "10.213.50.0/24 via 10.213.1.2" in a.run(["ip", "route"]).stdout
    p.stdin.write(b"\n")
    p.stdin.flush()
    assert p.stdout.readline().decode().strip() == "[True, False, True, True, False]"
    assert not a.has_address("10.213.1.100") and not a.has_address("fd00:213::100")
    assert "10.213.50.0/24" not in a.run(["ip", "route"]).stdout
