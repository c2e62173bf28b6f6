"""A director end to end: client -> director (vipkeeper) -> three real servers.

Real TCP connections from a client namespace through a director namespace running the
LvsManager with TCP_CHECKs, to real-server namespaces that greet with their name. The
dataplane is nftables here; test_ipvs_vm.py runs this same file inside the lab VM with
VIPKEEPER_LVS_BACKEND=ipvs, where the kernel has IPVS.
"""

from __future__ import annotations

import collections
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from ipaddress import ip_address
from pathlib import Path

import pytest
from lvs.nsthread import NsThread
from netlab import NetLab, Node, stop_process, wait_for

from vipkeeper.config.model import (
    Config,
    LbKind,
    RealServer,
    SorryServer,
    TcpCheck,
    VirtualServer,
)
from vipkeeper.lvs.dataplane import open_backend
from vipkeeper.lvs.manager import LvsManager

VIP = "10.213.2.100"
PORT = 80
RS_PORT = 8080
BACKEND = os.environ.get("VIPKEEPER_LVS_BACKEND", "nftables")
SERVER = str(Path(__file__).with_name("rserver.py"))
CHECK = TcpCheck(connect_timeout=1.0, delay_loop=0.5, retry=1, delay_before_retry=0.3)


def _rs(n: int, weight: int) -> RealServer:
    return RealServer(
        address=ip_address(f"10.213.1.{n}"), port=RS_PORT, weight=weight, checkers=(CHECK,)
    )


def _config(weights: dict[int, int], **kw: object) -> Config:
    vs = VirtualServer(
        address=ip_address(VIP),
        port=PORT,
        lb_algo="wrr",
        real_servers=tuple(_rs(n, w) for n, w in weights.items()),
        **kw,  # type: ignore[arg-type]
    )
    return Config(virtual_servers=(vs,))


class Lab:
    """The five namespaces and the director's manager thread."""

    def __init__(self, lab: NetLab) -> None:
        self.lab = lab
        self.client = lab.add_node("client", addrs=["10.213.2.10/24"])
        self.director = lab.add_node("dir", addrs=["10.213.1.1/24", "10.213.2.1/24", f"{VIP}/24"])
        for key in ("net.ipv4.ip_forward=1", "net.ipv4.conf.all.send_redirects=0",
                    "net.ipv4.conf.eth0.send_redirects=0"):  # fmt: skip
            self.director.run(["sysctl", "-qw", key])
        self.client.run(["ip", "route", "add", "default", "via", "10.213.2.1"])
        self.servers: dict[int, Node] = {}
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        for n in (11, 12, 13, 99):
            node = lab.add_node(f"rs{n}", addrs=[f"10.213.1.{n}/24"])
            node.run(["ip", "route", "add", "default", "via", "10.213.1.1"])
            self.servers[n] = node
            self.start_server(n)
        self.dthread = NsThread(self.director.ns)
        self.cthread = NsThread(self.client.ns)
        self.manager: LvsManager | None = None

    def start_server(self, n: int) -> None:
        self.procs[n] = self.servers[n].popen([sys.executable, SERVER, f"rs{n}", str(RS_PORT)])
        assert wait_for(lambda: self._listening(n), 10) is not None

    def _listening(self, n: int, port: int = RS_PORT) -> bool:
        out = self.servers[n].run(["ss", "-Hltn", f"sport = :{port}"]).stdout
        return bool(out.strip())

    def stop_server(self, n: int) -> None:
        stop_process(self.procs.pop(n))

    def connect(self, port: int = PORT) -> tuple[socket.socket, str]:
        """A client connection to the VIP and the name of the server that answered."""
        sock = self.cthread.call(lambda: socket.create_connection((VIP, port), timeout=5))
        sock.settimeout(5)
        name = b""
        while not name.endswith(b"\n"):
            chunk = sock.recv(64)
            if not chunk:
                break
            name += chunk
        return sock, name.decode().strip()

    def spread(self, count: int, port: int = PORT) -> collections.Counter[str]:
        counts: collections.Counter[str] = collections.Counter()
        for _ in range(count):
            sock, name = self.connect(port)
            sock.close()
            counts[name] += 1
        return counts

    def alive(self, n: int) -> bool:
        assert self.manager is not None
        snap = self.dthread.call(self.manager.snapshot)
        self.dthread.run(self.manager.wait_synced())  # the kernel now holds what snap says
        rs = next(
            r for r in snap["virtual_servers"][0]["real_servers"] if r["address"] == f"10.213.1.{n}"
        )
        return bool(rs["alive"])

    def close(self) -> None:
        if self.manager is not None:
            self.dthread.run(self.manager.stop())
        self.dthread.close()
        self.cthread.close()


@pytest.fixture
def lvslab(lab: NetLab) -> Iterator[Lab]:
    built = Lab(lab)
    try:
        yield built
    finally:
        built.close()


@pytest.mark.netns
@pytest.mark.slow
def test_director(lvslab: Lab) -> None:
    lab = lvslab

    async def start() -> LvsManager:
        mgr = LvsManager(
            _config({11: 3, 12: 2, 13: 1}), backend=await open_backend(BACKEND), bootstrap=0.1
        )
        await mgr.start()
        return mgr

    lab.manager = lab.dthread.run(start())
    mgr = lab.manager
    # Distribution follows wrr weights exactly over whole cycles.
    assert lab.spread(60) == {"rs11": 30, "rs12": 20, "rs13": 10}

    # Hold an open connection to rs11 across the failure, the reload and the quorum loss.
    held, name = lab.connect()
    while name != "rs11":
        held.close()
        held, name = lab.connect()

    # A failed server stops receiving new connections (within delay_loop x (retry + 1) + timeout).
    lab.stop_server(12)
    bound = (
        CHECK.delay_loop + CHECK.retry * CHECK.delay_before_retry + 2 * CHECK.connect_timeout + 1.0
    )
    took = wait_for(lambda: not lab.alive(12), bound)
    assert took is not None, "rs12 was not removed"
    counts = lab.spread(40)
    assert set(counts) == {"rs11", "rs13"} and counts == {"rs11": 30, "rs13": 10}

    # Reload with new weights and a sorry server with quorum 2: the held connection survives.
    sorry = SorryServer(address=ip_address("10.213.1.99"), port=RS_PORT)
    new = _config({11: 1, 12: 1, 13: 1}, quorum=2, sorry_server=sorry)
    lab.dthread.run(mgr.apply(new))
    held.sendall(b"still here\n")
    assert held.recv(64) == b"still here\n"
    counts = lab.spread(20)
    assert counts == {"rs11": 10, "rs13": 10}

    # Quorum lost (alive weight 1 < 2): the sorry server takes over new connections.
    lab.stop_server(13)
    assert wait_for(lambda: not lab.alive(13), bound) is not None
    time.sleep(0.2)
    assert lab.spread(10) == {"rs99": 10}
    if BACKEND == "nftables":
        # conntrack keeps the flow; IPVS (like keepalived's) drops flows of deleted dests
        held.sendall(b"and now\n")
        assert held.recv(64) == b"and now\n"

    # Quorum back: real servers again, the sorry server leaves.
    lab.start_server(13)
    assert wait_for(lambda: lab.alive(13), bound) is not None
    time.sleep(0.2)
    assert lab.spread(20) == {"rs11": 10, "rs13": 10}
    held.close()

    # Stop removes our services.
    lab.dthread.run(mgr.stop())
    lab.manager = None
    if BACKEND == "nftables":
        out = lab.director.run(["nft", "-j", "list", "table", "inet", "vipkeeper"], check=False)
        assert '"comment": "vk1' not in out.stdout
    else:
        out = lab.director.run(["ipvsadm", "-Ln"])
        assert VIP not in out.stdout


def _dr_servers(
    lab: Lab, numbers: tuple[int, ...], port: int
) -> dict[int, subprocess.Popen[bytes]]:
    """Real servers for DR: the VIP on lo, no ARP for it, replies straight to the client."""
    procs = {}
    for n in numbers:
        node = lab.servers[n]
        node.run(["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
        for conf in ("all", "eth0"):
            node.run(["sysctl", "-qw", f"net.ipv4.conf.{conf}.arp_ignore=1"])
            node.run(["sysctl", "-qw", f"net.ipv4.conf.{conf}.arp_announce=2"])
        node.run(
            ["ip", "route", "add", "10.213.2.0/24", "dev", "eth0"]
        )  # replies skip the director
        procs[n] = node.popen([sys.executable, SERVER, f"dr{n}", str(port)])
        # listening before the checkers start, so they never see it down
        assert wait_for(lambda n=n: lab._listening(n, port), 20) is not None
    return procs


def _dr_config(numbers: tuple[int, ...], port: int) -> Config:
    check = replace(CHECK, connect_port=port)
    servers = tuple(
        RealServer(address=ip_address(f"10.213.1.{n}"), port=port, checkers=(check,))
        for n in numbers
    )
    vs = VirtualServer(
        address=ip_address(VIP), port=port, lb_algo="wrr", lb_kind=LbKind.DR, real_servers=servers
    )
    return Config(virtual_servers=(vs,))


def _start(lab: Lab, config: Config) -> LvsManager:
    async def start() -> LvsManager:
        mgr = LvsManager(config, backend=await open_backend(BACKEND), bootstrap=0.1)
        await mgr.start()
        return mgr

    lab.manager = lab.dthread.run(start())
    return lab.manager


@pytest.mark.netns
@pytest.mark.slow
def test_director_dr(lvslab: Lab) -> None:
    """DR: the director forwards frames unchanged; real servers hold the VIP and reply directly."""
    lab = lvslab
    dr_port = 80
    procs = _dr_servers(lab, (11, 12), dr_port)
    _start(lab, _dr_config((11, 12), dr_port))
    assert wait_for(lambda: lab.alive(11) and lab.alive(12), 10) is not None
    counts = lab.spread(60, port=dr_port)
    assert set(counts) == {"dr11", "dr12"} and min(counts.values()) >= 10, counts
    stop_process(procs[12])
    bound = (
        CHECK.delay_loop + CHECK.retry * CHECK.delay_before_retry + 2 * CHECK.connect_timeout + 1.0
    )
    assert wait_for(lambda: not lab.alive(12), bound) is not None
    assert lab.spread(20, port=dr_port) == {"dr11": 20}


@pytest.mark.netns
@pytest.mark.slow
def test_director_dr_flows_stick_across_pool_changes(lvslab: Lab) -> None:
    """Open DR flows stay on their real server while servers are added and removed (as IPVS)."""
    lab = lvslab
    port = 80
    _dr_servers(lab, (11, 12, 13), port)
    mgr = _start(lab, _dr_config((11, 12), port))
    held: list[tuple[socket.socket, str]] = [lab.connect(port) for _ in range(24)]
    assert {name for _, name in held} == {"dr11", "dr12"}, held

    def still_there(conns: list[tuple[socket.socket, str]], step: str) -> None:
        for i, (sock, name) in enumerate(conns):
            line = f"{step} {i} {name}\n".encode()
            try:
                sock.sendall(line)
                echoed = sock.recv(64)
            except OSError as exc:
                raise AssertionError(f"{step}: held flow {i} to {name} broke: {exc}") from exc
            assert echoed == line, f"{step}: held flow {i} to {name} got {echoed!r}"

    still_there(held, "before")
    # A server joins: the hash now spreads new flows over three, the open ones stay put.
    lab.dthread.run(mgr.apply(_dr_config((11, 12, 13), port)))
    still_there(held, "added")
    assert "dr13" in lab.spread(30, port=port)
    # A server leaves: the flows of the others stay put (its own break, as under IPVS).
    lab.dthread.run(mgr.apply(_dr_config((11, 13), port)))
    kept = [(sock, name) for sock, name in held if name != "dr12"]
    assert kept, held
    still_there(kept, "removed")
    assert set(lab.spread(30, port=port)) == {"dr11", "dr13"}
    for sock, _ in held:
        sock.close()
