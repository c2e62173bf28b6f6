"""net/ against a real kernel: VRRP sockets, GARP/NA frames, idempotent addresses."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time

import pytest
from netlab import NetLab

pytestmark = pytest.mark.netns

RECEIVER = """
import json, select, socket, sys, time
from vipkeeper.net.vrrpsock import VrrpSocket
fam = int(sys.argv[1])
idx = socket.if_nametoindex("eth0")
s = VrrpSocket("eth0", idx, fam)
from ipaddress import ip_address
s.join(ip_address(sys.argv[2]))
print("ready", flush=True)
out = []
while len(out) < 4:
    if not select.select([s.fileno()], [], [], 5)[0]:
        break
    d = s.receive(stamped=not out)  # the first with the kernel's receive time
    if d:
        out.append({"data": d.data.hex(), "src": str(d.src), "dst": str(d.dst), "ttl": d.ttl,
                    "stamp": d.stamp, "read": time.time()})
print(json.dumps(out), flush=True)
"""

SENDER = """
import socket, sys
from ipaddress import ip_address
from vipkeeper.net.vrrpsock import VrrpSocket
fam = int(sys.argv[1])
s = VrrpSocket("eth0", socket.if_nametoindex("eth0"), fam)
src = ip_address(sys.argv[3]) if sys.argv[3] else None
dst = ip_address(sys.argv[2])
s.send(b"\\x21\\x07\\x64\\x01hello-vrrp", dst, src)
s.send(b"\\x21\\x08", dst, src)
# the send's cached address data must follow the objects: an equal new one, another source
s.send(b"\\x21\\x09", ip_address(sys.argv[2]), ip_address(sys.argv[4]))
s.send(b"\\x21\\x0a", dst, src)
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
        other = "10.213.1.5" if fam == 4 else "fd00:213::5"
        argv = [*_py(SENDER), str(fam), dst, src or "", other]
        before = time.time()
        a.run(argv)
        got = json.loads(rx.stdout.readline())
        rx.wait(5)
        assert len(got) == 4
        assert before <= got[0]["stamp"] <= got[0]["read"], "the kernel's receive time"
        assert got[1]["stamp"] == 0.0, "not asked for"
        assert bytes.fromhex(got[0]["data"]) == b"\x21\x07\x64\x01hello-vrrp"
        assert bytes.fromhex(got[1]["data"]) == b"\x21\x08"
        assert got[0]["ttl"] == 255
        assert got[0]["dst"] == dst
        assert [bytes.fromhex(g["data"]) for g in got[2:]] == [b"\x21\x09", b"\x21\x0a"]
        assert got[2]["src"] == other
        assert got[1]["src"] == got[3]["src"] == got[0]["src"]
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


REQUESTS = """
import asyncio, json, subprocess
from ipaddress import ip_address, ip_interface
from vipkeeper.net.addrs import Addresses, AddrSpec, NetError

def shown():
    out = subprocess.run(["ip", "-j", "addr", "show", "dev", "eth0"], capture_output=True)
    return [a for a in json.loads(out.stdout)[0]["addr_info"] if a["local"] != "10.213.1.1"
            and not a["local"].startswith("fe80")]

async def main():
    a = Addresses()
    await a.open()
    await a.ifindex("eth0")
    specs = [
        AddrSpec("eth0", ip_interface("10.213.7.100/24"), label="eth0:vip", scope="link",
                 broadcast=ip_address("10.213.7.255"), noprefixroute=True),
        AddrSpec("eth0", ip_interface("10.213.1.101/32"), peer=ip_interface("10.213.9.1/32")),
        AddrSpec("eth0", ip_interface("fd00:213::100/64")),
    ]
    futs = [a.send_now(s, add=True) for s in specs]
    during = shown()  # before any acknowledgement was read
    codes = [await f for f in futs]
    again = [a.outcome(s, await a.send_now(s, add=True), add=True) for s in specs]
    gone = [a.send_now(s, add=False) for s in specs]
    after = shown()
    removed = [a.outcome(s, await f, add=False) for s, f in zip(specs, gone)]
    twice = [a.outcome(s, await a.send_now(s, add=False), add=False) for s in specs]
    unknown = AddrSpec("nosuch0", ip_interface("10.213.1.102/24"))
    lookup = a.send_now(unknown, add=True)
    try:
        await a.add_address(unknown)
        error = ""
    except NetError as exc:
        error = str(exc)
    bad = a.requests.send(unknown, 99999, add=True)
    try:
        a.outcome(unknown, await bad, add=True)
    except NetError as exc:
        error += " | " + str(exc)
    print(json.dumps({"during": during, "codes": codes, "again": again, "after": after,
                      "removed": removed, "twice": twice, "lookup": lookup is None,
                      "error": error}), flush=True)
    a.close()
asyncio.run(main())
"""


def test_address_requests_apply_within_the_send(lab: NetLab) -> None:
    """send_now puts the VIP on (or takes it off) the interface before the ACK is read.

    The attributes match what `ip` reports for keepalived's VIPs: label, scope, broadcast,
    peer, noprefixroute, and nodad on IPv6. Repeats are no-ops; errors name the address.
    """
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    out = a.run(_py(REQUESTS)).stdout
    res = json.loads(out)
    during = {x["local"]: x for x in res["during"]}
    # (a secondary address must have its primary's scope: the scoped VIP has its own subnet)
    assert set(during) == {"10.213.7.100", "10.213.1.101", "fd00:213::100"}
    v4 = during["10.213.7.100"]
    assert (v4["prefixlen"], v4["label"], v4["scope"], v4["broadcast"]) == (
        24,
        "eth0:vip",
        "link",
        "10.213.7.255",
    )
    assert v4.get("noprefixroute") is True
    assert during["10.213.1.101"]["address"] == "10.213.9.1"
    assert during["fd00:213::100"].get("nodad") is True
    assert res["codes"] == [0, 0, 0]
    assert res["again"] == [False, False, False]  # EEXIST: already there
    assert res["after"] == []  # removed within the sends too
    assert res["removed"] == [True, True, True]
    assert res["twice"] == [False, False, False]  # EADDRNOTAVAIL: already gone
    assert res["lookup"] is True  # no cached index: the caller awaits add_address instead
    assert "10.213.1.102/24: interface nosuch0 does not exist" in res["error"]
    assert "adding 10.213.1.102/24 to nosuch0: No such device (errno 19)" in res["error"]


SOCKOPTS = """
import socket, sys
from vipkeeper.net.vrrpsock import VrrpSocket
fam = int(sys.argv[1])
s = VrrpSocket("eth0", socket.if_nametoindex("eth0"), fam)
if fam == 4:
    print(s.sock.getsockopt(socket.IPPROTO_IP, socket.IP_TOS),
          s.sock.getsockopt(socket.IPPROTO_IP, 10))  # IP_MTU_DISCOVER
else:
    print(s.sock.getsockopt(socket.IPPROTO_IPV6, 67), 0)  # IPV6_TCLASS
"""


@pytest.mark.parametrize(("fam", "addr"), [(4, "10.213.1.1/24"), (6, "fd00:213::1/64")])
def test_adverts_leave_with_keepalived_tos_and_no_df(lab: NetLab, fam: int, addr: str) -> None:
    """keepalived sends VRRP with TOS / traffic class 0xc0 (network control, DSCP CS6) and,
    for IPv4, a zero fragment field (no DF): so does vipkeeper (IP_PMTUDISC_DONT is 0), and
    the adverts are byte-identical on the wire (tests/integration/collection/
    test_migrate_lab.py captures both)."""
    a = lab.add_node("a", addrs=[addr])
    tos, pmtudisc = a.run([*_py(SOCKOPTS), str(fam)]).stdout.split()
    assert (int(tos), int(pmtudisc)) == (0xC0, 0)
