"""Throwaway network labs for tests: namespaces on a private bridge, always cleaned up.

Every lab lives entirely inside namespaces that it creates: a hub namespace holds the bridge,
and each node namespace is joined to it by a veth pair. Nothing is created in the machine's
own namespace, so addresses can never clash with the host or with a parallel run, and only
namespace names need to be unique (`vk-<pid>-<seq>-<node>`).

    with NetLab() as lab:
        a = lab.add_node("a", addrs=["10.213.1.1/24"])
        b = lab.add_node("b", addrs=["10.213.1.2/24"])
        a.run(["ping", "-c1", "10.213.1.2"])

A later run removes what an aborted run left behind (`cleanup_stale()`), touching only
namespaces with the project's prefix whose owning pid is dead. Tests use `ip` and `nft` to
build and observe the lab; the runtime itself never shells out.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import json
import os
import re
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from procs import (
    pid_exists,
    wait_for,  # noqa: F401  (re-exported: tests import it from here)
)

PREFIX = "vk"
_NAME_RE = re.compile(rf"^{PREFIX}-(\d+)-\d+-")
_WORKDIR_RE = re.compile(rf"^{PREFIX}-(\d+)-\d+-[a-z0-9_]{{8}}$")  # NetLab.workdir
_seq = itertools.count(1)


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], check=check, capture_output=True, text=True)


def list_netns() -> list[str]:
    """Names of all named network namespaces."""
    out = _ip("-j", "netns", "list", check=False).stdout.strip()
    if not out:
        return []
    return [entry["name"] for entry in json.loads(out)]


def cleanup_stale() -> list[str]:
    """Delete lab namespaces and workdirs left by runs whose process is gone; their names."""
    removed = []
    for name in list_netns():
        m = _NAME_RE.match(name)
        if m and not pid_exists(int(m.group(1))):
            _ip("netns", "delete", name, check=False)
            removed.append(name)
    for path in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*-*-*"):
        m = _WORKDIR_RE.match(path.name)
        if m and path.is_dir() and not pid_exists(int(m.group(1))):
            shutil.rmtree(path, ignore_errors=True)
            removed.append(str(path))
    return removed


@dataclass
class Node:
    """One host of the lab: a network namespace with one interface on the bridge."""

    lab: NetLab
    name: str
    ns: str
    ifname: str
    hub_port: str
    procs: list[subprocess.Popen[bytes]] = field(default_factory=list)

    def cmd(self, argv: Sequence[str]) -> list[str]:
        """The argv that runs `argv` inside this node's namespace."""
        return ["ip", "netns", "exec", self.ns, *argv]

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 60, **kw: Any
    ) -> subprocess.CompletedProcess[str]:
        """Run a command in the namespace and wait for it."""
        return subprocess.run(
            self.cmd(argv), check=check, capture_output=True, text=True, timeout=timeout, **kw
        )

    def popen(self, argv: Sequence[str], **kw: Any) -> subprocess.Popen[bytes]:
        """Start a command in the namespace; the lab ends it (by pid) on close."""
        kw.setdefault("start_new_session", True)
        proc = subprocess.Popen(self.cmd(argv), **kw)
        self.procs.append(proc)
        return proc

    def addresses(self, ifname: str | None = None) -> set[str]:
        """Addresses (without prefix length) currently on the interface."""
        out = _ip("-n", self.ns, "-j", "addr", "show", "dev", ifname or self.ifname).stdout
        return {a["local"] for link in json.loads(out) for a in link.get("addr_info", [])}

    def has_address(self, addr: str) -> bool:
        """Whether the node's interface carries `addr` right now."""
        return addr.split("/", maxsplit=1)[0] in self.addresses()

    def address_reader(self, ifname: str | None = None) -> AddressReader:
        """An in-process reader of the interface's addresses, for samplers (close it)."""
        return AddressReader(self.ns, ifname or self.ifname)

    def add_address(self, cidr: str, ifname: str | None = None) -> None:
        """Add an address to an interface of the node."""
        _ip("-n", self.ns, "addr", "add", cidr, "dev", ifname or self.ifname)

    def add_dummy(self, ifname: str, *, up: bool = True) -> None:
        """Create a stand-alone interface inside the node (for configs naming other interfaces).

        A dummy link where the kernel has the module, else one end of a veth pair whose other
        end (`<ifname>p`, truncated to 15 characters) stays in the node too.
        """
        if _ip("-n", self.ns, "link", "add", ifname, "type", "dummy", check=False).returncode:
            peer = f"{ifname[:14]}p"
            _ip("-n", self.ns, "link", "add", ifname, "type", "veth", "peer", "name", peer)
            _ip("-n", self.ns, "link", "set", peer, "up")
        if up:
            _ip("-n", self.ns, "link", "set", ifname, "up")

    def cut(self) -> None:
        """Silently cut the node off the bridge: its carrier stays up, packets stop."""
        _ip("-n", self.lab.hub, "link", "set", self.hub_port, "nomaster")

    def uncut(self) -> None:
        """Plug the node back into the bridge."""
        _ip("-n", self.lab.hub, "link", "set", self.hub_port, "master", self.lab.bridge)

    def link_down(self, ifname: str | None = None) -> None:
        """Take the node's own interface down (the node sees it)."""
        _ip("-n", self.ns, "link", "set", ifname or self.ifname, "down")

    def link_up(self, ifname: str | None = None) -> None:
        """Bring the node's own interface back up."""
        _ip("-n", self.ns, "link", "set", ifname or self.ifname, "up")

    def start_keepalived(self, config: str, *extra: str) -> subprocess.Popen[bytes]:
        """Run Debian's keepalived in this node with its own config and pid files."""
        workdir = Path(tempfile.mkdtemp(prefix=f"{self.ns}-ka-", dir=self.lab.workdir))
        conf = workdir / "keepalived.conf"
        conf.write_text(config)
        argv = [
            "keepalived", "-n", "-D", "-f", str(conf),
            "-p", str(workdir / "k.pid"), "-r", str(workdir / "v.pid"),
            "-c", str(workdir / "c.pid"), *extra,
        ]  # fmt: skip
        return self.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def stop_procs(self, timeout: float = 5.0) -> None:
        """End the processes this node started, by pid: SIGTERM, then SIGKILL."""
        for proc in self.procs:
            stop_process(proc, timeout)
        self.procs.clear()


class AddressReader:
    """A node's addresses, read in-process over a netlink socket opened in its namespace.

    `Node.addresses` starts an `ip` process per call: milliseconds each, and far more under
    Python 3.9 or on a loaded host, too slow for a sampler that polls every 10 ms (bullseye's
    3.9 took 30 to 93 samples where a test asks for more than 100). This sends one RTM_GETADDR
    dump on a socket kept open and reads the answer with `struct`: two or three system calls
    and no library (pyroute2's synchronous API runs an event loop per call, too slow as well).
    Use it from one thread, and close it.
    """

    def __init__(self, ns: str, ifname: str) -> None:
        links = json.loads(_ip("-n", ns, "-j", "link", "show", "dev", ifname).stdout)
        self._index: int = links[0]["ifindex"]
        self._sock = _netlink_socket_in(ns)
        self._seq = 0

    def addresses(self) -> set[str]:
        """Addresses (without prefix length) on the interface now, as `Node.addresses`."""
        self._seq += 1
        # nlmsghdr (RTM_GETADDR, NLM_F_REQUEST | NLM_F_DUMP) + ifaddrmsg (AF_UNSPEC: all families)
        self._sock.send(struct.pack("=IHHII4BI", 24, _RTM_GETADDR, 0x301, self._seq, 0, *[0] * 5))
        found: set[str] = set()
        while True:
            data = self._sock.recv(65536)
            offset = 0
            while offset + 16 <= len(data):
                length, kind, _, seq, _ = struct.unpack_from("=IHHII", data, offset)
                payload = data[offset + 16 : offset + length]
                offset += (length + 3) & ~3
                if seq != self._seq:  # not this dump's (never expected on this socket)
                    continue
                if kind == _NLMSG_DONE:
                    return found
                if kind == _NLMSG_ERROR:
                    raise OSError(-struct.unpack_from("=i", payload)[0], "RTM_GETADDR")
                address = _ifaddr(payload, self._index) if kind == _RTM_NEWADDR else None
                if address is not None:
                    found.add(address)

    def has_address(self, addr: str) -> bool:
        """Whether the interface carries `addr` now."""
        return addr.split("/", maxsplit=1)[0] in self.addresses()

    def close(self) -> None:
        self._sock.close()


_NLMSG_ERROR, _NLMSG_DONE, _RTM_NEWADDR, _RTM_GETADDR = 2, 3, 20, 22
_IFA_ADDRESS, _IFA_LOCAL = 1, 2


def _ifaddr(msg: bytes, index: int) -> str | None:
    """The address of one RTM_NEWADDR payload on interface `index` (IFA_LOCAL, else IFA_ADDRESS,
    as `ip -j` calls "local"), or None for another interface."""
    family, _, _, _, ifindex = struct.unpack_from("=4BI", msg)
    if ifindex != index:
        return None
    attrs: dict[int, bytes] = {}
    offset = 8
    while offset + 4 <= len(msg):
        length, kind = struct.unpack_from("=HH", msg, offset)
        attrs[kind] = msg[offset + 4 : offset + length]
        offset += (length + 3) & ~3
    raw = attrs.get(_IFA_LOCAL) or attrs.get(_IFA_ADDRESS)
    return None if raw is None else socket.inet_ntop(family, raw)


def _netlink_socket_in(ns: str) -> socket.socket:
    """A NETLINK_ROUTE socket of the named namespace `ns` (a socket stays in the namespace it
    was made in): made by a throwaway thread that enters `ns` with setns(2), which moves only
    the calling thread. ctypes, as os.setns is new in Python 3.12."""
    libc = ctypes.CDLL(None, use_errno=True)
    made: list[socket.socket | BaseException] = []

    def enter_and_make() -> None:
        try:
            with open(f"/run/netns/{ns}", "rb") as handle:
                if libc.setns(handle.fileno(), 0x40000000) != 0:  # CLONE_NEWNET
                    raise OSError(ctypes.get_errno(), f"setns into {ns}")
            made.append(socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE))
        except BaseException as exc:  # handed to the caller
            made.append(exc)

    thread = threading.Thread(target=enter_and_make, name=f"netns-{ns}")
    thread.start()
    thread.join()
    [result] = made
    if isinstance(result, BaseException):
        raise result
    return result


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """SIGTERM a process we started (and its session), then SIGKILL after `timeout`."""
    if proc.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout)


class NetLab:
    """A bridge in a hub namespace, and nodes attached to it."""

    def __init__(self) -> None:
        self.id = f"{PREFIX}-{os.getpid()}-{next(_seq)}"
        self.hub = f"{self.id}-hub"
        self.bridge = "br0"
        self.nodes: dict[str, Node] = {}
        self.workdir = tempfile.mkdtemp(prefix=f"{self.id}-")
        self._up = False

    def __enter__(self) -> NetLab:
        cleanup_stale()
        _ip("netns", "add", self.hub)
        self._up = True
        _ip("-n", self.hub, "link", "add", self.bridge, "type", "bridge")
        # No STP, no forwarding delay, no multicast snooping: a plain hub for VRRP.
        _ip("-n", self.hub, "link", "set", self.bridge, "type", "bridge",
            "stp_state", "0", "forward_delay", "0", "mcast_snooping", "0")  # fmt: skip
        _ip("-n", self.hub, "link", "set", self.bridge, "up")
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def add_node(
        self, name: str, *, addrs: Sequence[str] = (), ifname: str = "eth0", mac: str | None = None
    ) -> Node:
        """Create a node namespace joined to the bridge, with `addrs` on `ifname`."""
        ns = f"{self.id}-{name}"
        port = f"p{len(self.nodes)}"
        _ip("netns", "add", ns)
        node = Node(self, name, ns, ifname, port)
        self.nodes[name] = node
        _ip("-n", self.hub, "link", "add", port, "type", "veth", "peer", "name", ifname,
            "netns", ns)  # fmt: skip
        _ip("-n", self.hub, "link", "set", port, "master", self.bridge, "up")
        _ip("-n", ns, "link", "set", "lo", "up")
        if mac:
            _ip("-n", ns, "link", "set", ifname, "address", mac)
        # Test addresses must work at once: no IPv6 duplicate address detection delay.
        for key in ("accept_dad", "dad_transmits"):
            subprocess.run(
                ["ip", "netns", "exec", ns, "sysctl", "-qw", f"net.ipv6.conf.{ifname}.{key}=0"],
                check=False,
                capture_output=True,
            )
        _ip("-n", ns, "link", "set", ifname, "up")
        for cidr in addrs:
            node.add_address(cidr)
        return node

    def close(self) -> None:
        """Stop every process the lab started and delete every namespace it made."""
        for node in self.nodes.values():
            node.stop_procs()
        for node in self.nodes.values():
            _ip("netns", "delete", node.ns, check=False)
        if self._up:
            _ip("netns", "delete", self.hub, check=False)
            self._up = False
        self.nodes.clear()
        subprocess.run(["rm", "-rf", self.workdir], check=False)


@contextlib.contextmanager
def netlab() -> Iterator[NetLab]:
    """A NetLab as a plain context manager (for scripts and benchmarks)."""
    with NetLab() as lab:
        yield lab
