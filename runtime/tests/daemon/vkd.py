"""Helpers for daemon tests: run `vipkeeper run` in a lab node, render configs, capture packets."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from netlab import NetLab, Node, wait_for

from vipkeeper.daemon.control import request

VIP = "10.213.1.100"


def instance_conf(
    *,
    name: str = "VI_1",
    vrid: int = 51,
    priority: int = 100,
    version: int = 2,
    advert: float = 1,
    vips: tuple[str, ...] = (f"{VIP}/24",),
    state: str = "BACKUP",
    auth: str | None = "secret1",
    interface: str = "eth0",
    extra: str = "",
    auth_type: str = "PASS",
) -> str:
    """One vrrp_instance block."""
    auth_block = ""
    if auth is not None and version == 2:
        auth_block = f"authentication {{\n    auth_type {auth_type}\n    auth_pass {auth}\n  }}"
    vip_lines = "\n    ".join(vips)
    return f"""
vrrp_instance {name} {{
  state {state}
  interface {interface}
  virtual_router_id {vrid}
  priority {priority}
  version {version}
  advert_int {advert}
  {auth_block}
  virtual_ipaddress {{
    {vip_lines}
  }}
  {extra}
}}
"""


def config(*instances: str, globals_: str = "", head: str = "") -> str:
    """A whole keepalived.conf."""
    return f"global_defs {{\n  {globals_}\n}}\n{head}\n" + "\n".join(instances)


@dataclass
class Vipkeeper:
    """One `vipkeeper run` process inside a lab node."""

    node: Node
    workdir: Path
    conf: Path
    proc: subprocess.Popen[bytes] | None = None
    extra: tuple[str, ...] = ()
    env: dict[str, str] | None = None
    log_path: Path = field(init=False)
    starts: int = 0

    def __post_init__(self) -> None:
        self.log_path = self.workdir / "vipkeeper.log"

    @property
    def sock(self) -> str:
        """The control socket path."""
        return str(self.workdir / "control.sock")

    def write_config(self, text: str) -> None:
        """Replace the config file."""
        self.conf.write_text(text)

    def start(self) -> Vipkeeper:
        """Start the daemon and wait until its control socket answers."""
        self.starts += 1
        log = self.log_path.open("ab")
        argv = [
            sys.executable, "-m", "vipkeeper.cli", "run", "-f", str(self.conf),
            "--control-socket", self.sock, "--state-dir", str(self.workdir / "state"),
            "--dump-dir", str(self.workdir), "--notify-timeout", "5", *self.extra,
        ]  # fmt: skip
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        env = None if self.env is None else {**os.environ, **self.env}
        self.proc = self.node.popen(argv, stdout=log, stderr=log, env=env)
        log.close()
        ready = wait_for(lambda: self._answers() or self.proc.poll() is not None, 15)
        assert ready is not None and self.proc.poll() is None, self.log()
        return self

    def _answers(self) -> bool:
        try:
            answer = request(self.sock, {"command": "status"}, timeout=1)
        except (OSError, ValueError):
            return False
        # The socket answers while the daemon still starts (no instance yet): wait until not.
        return bool(answer.get("ok")) and answer.get("starting") is False

    def status(self) -> dict[str, Any]:
        """The daemon's status answer."""
        return request(self.sock, {"command": "status"})

    def instance(self, name: str = "VI_1") -> dict[str, Any]:
        """One instance's status."""
        return next(i for i in self.status()["instances"] if i["name"] == name)

    def state(self, name: str = "VI_1") -> str:
        """One instance's state."""
        return str(self.instance(name)["state"])

    def wait_state(self, state: str, timeout: float, name: str = "VI_1") -> float | None:
        """Wait for an instance to reach `state`; seconds taken or None."""
        return wait_for(lambda: self.state(name) == state, timeout, 0.02)

    def signal(self, sig: int) -> None:
        """Send a signal to the daemon."""
        assert self.proc is not None
        self.proc.send_signal(sig)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM and wait; the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        """SIGKILL (a crash)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(5)

    def alive(self) -> bool:
        """Whether the process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """Everything the daemon logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def start_vipkeeper(
    lab: NetLab, node: Node, conf: str, *extra: str, env: dict[str, str] | None = None
) -> Vipkeeper:
    """Write `conf` and start vipkeeper in `node`."""
    workdir = Path(lab.workdir) / f"vk-{node.name}"
    workdir.mkdir(exist_ok=True)
    vk = Vipkeeper(node, workdir, workdir / "keepalived.conf", extra=extra, env=env)
    vk.write_config(conf)
    return vk.start()


# ------------------------------------------------------------------ a state dir that fills


class StateFs:
    """A 64 KiB tmpfs mounted on a fresh directory, for --state-dir; it can be filled up."""

    def __init__(self) -> None:
        self.path = Path(tempfile.mkdtemp(prefix="vk-statefs-"))
        mount = ["mount", "-t", "tmpfs", "-o", "size=64k,mode=0755", "vk-statefs", str(self.path)]
        if subprocess.run(mount, check=False).returncode:
            self.path.rmdir()
            raise OSError(f"cannot mount a tmpfs on {self.path} (needs root)")
        self.filler = self.path / "filler"

    def fill(self) -> None:
        """Write zeros until the filesystem has no block left."""
        try:
            with self.filler.open("ab", buffering=0) as f:
                while True:
                    f.write(b"\0" * 4096)
        except OSError as exc:
            if exc.errno != errno.ENOSPC:
                raise

    def free(self) -> None:
        """Give the space back."""
        self.filler.unlink(missing_ok=True)

    def recorded(self) -> set[str]:
        """The addresses the VIP record (vips.json) lists, without their prefix length."""
        data = json.loads((self.path / "vips.json").read_text())
        return {a["address"].split("/")[0] for a in data["addresses"]}

    def unmount(self) -> None:
        """Unmount (lazily if something still holds it) and remove the directory."""
        if subprocess.run(["umount", str(self.path)], check=False).returncode:
            subprocess.run(["umount", "-l", str(self.path)], check=False)
        if not os.path.ismount(self.path):
            shutil.rmtree(self.path, ignore_errors=True)


# ------------------------------------------------------------------ packet capture

_TIME = re.compile(r"^(\d+\.\d+) (\S+) > (\S+), .*?: (.*)$")
_VRRP = re.compile(
    r"^(\S+) > (\S+): VRRPv(\d), Advertisement, vrid (\d+), prio (\d+)", re.IGNORECASE
)
_ARP = re.compile(r"Request who-has (\S+) (?:\(\S+\) )?tell ([^\s,]+)")
_NA = re.compile(r"^(\S+) > (\S+): ICMP6, neighbor advertisement, tgt is ([^\s,]+)")


@dataclass(frozen=True)
class Packet:
    """One captured packet of interest."""

    at: float
    kind: str  # vrrp | garp | na
    src: str
    dst: str
    mac: str
    vrid: int = 0
    prio: int = -1
    version: int = 0
    target: str = ""


class Capture:
    """tcpdump inside a node, parsed on the fly (VRRP adverts, GARPs, NAs)."""

    def __init__(self, node: Node, ifname: str = "eth0") -> None:
        self.packets: list[Packet] = []
        self.proc = node.popen(
            [
                "tcpdump",
                "-i",
                ifname,
                "-e",
                "-n",
                "-l",
                "-tt",
                "vrrp or ip6 proto 112 or arp or icmp6",
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        for _ in range(5):  # wait until tcpdump listens
            if b"listening on" in self.proc.stderr.readline():
                break
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            m = _TIME.match(line)
            if not m:
                continue
            at, mac, rest = float(m.group(1)), m.group(2), m.group(4)
            if v := _VRRP.match(rest):
                self.packets.append(
                    Packet(
                        at,
                        "vrrp",
                        v.group(1),
                        v.group(2),
                        mac,
                        int(v.group(4)),
                        int(v.group(5)),
                        int(v.group(3)),
                    )
                )
            elif a := _ARP.search(rest):
                if a.group(1) == a.group(2):
                    self.packets.append(Packet(at, "garp", a.group(2), "", mac, target=a.group(1)))
            elif n := _NA.match(rest):
                self.packets.append(
                    Packet(at, "na", n.group(1), n.group(2), mac, target=n.group(3))
                )

    def since(self, t: float, kind: str | None = None) -> list[Packet]:
        """Packets captured at or after wall-clock time `t`."""
        return [p for p in list(self.packets) if p.at >= t and (kind is None or p.kind == kind)]

    def stop(self) -> None:
        """End tcpdump."""
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(3)


def holders(nodes: list[Node], vip: str = VIP) -> list[str]:
    """Names of the nodes that carry the VIP right now."""
    return [n.name for n in nodes if n.has_address(vip)]


def stays(predicate: Any, duration: float, interval: float = 0.05) -> bool:
    """Whether `predicate()` holds throughout `duration` seconds."""
    end = time.monotonic() + duration
    while time.monotonic() < end:
        if not predicate():
            return False
        time.sleep(interval)
    return True


def counters(vk: Vipkeeper, name: str = "VI_1") -> dict[str, Any]:
    """One instance's counters."""
    return dict(vk.instance(name)["counters"])


def dumps_json(vk: Vipkeeper) -> dict[str, Any]:
    """The JSON dump file the daemon wrote."""
    return dict(json.loads((vk.workdir / "keepalived.json").read_text()))


def mac_of(node: Node, ifname: str = "eth0") -> str:
    """The MAC address of a node's interface."""
    out = node.run(["ip", "-j", "link", "show", "dev", ifname]).stdout
    return str(json.loads(out)[0]["address"])


_MON = re.compile(r"^\[(\S+)\] (Deleted )?\d+: \S+\s+inet6? (\S+?)/")


class AddrWatch:
    """`ip -ts monitor address` in a node: kernel timestamps of VIPs coming and going."""

    def __init__(self, node: Node) -> None:
        self.events: list[tuple[float, bool, str]] = []  # (unix time, added, address)
        self.proc = node.popen(
            ["ip", "-ts", "monitor", "address"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()
        time.sleep(0.1)  # let the monitor subscribe

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            m = _MON.match(raw.decode(errors="replace"))
            if m:
                at = datetime.fromisoformat(m.group(1)).timestamp()
                self.events.append((at, m.group(2) is None, m.group(3)))

    def added_after(self, t: float, addr: str = VIP, timeout: float = 3.0) -> float | None:
        """Unix time the kernel added `addr` first after `t` (waits for the monitor's line)."""
        return self._after(t, addr, True, timeout)

    def removed_after(self, t: float, addr: str = VIP, timeout: float = 3.0) -> float | None:
        """Unix time the kernel removed `addr` first after `t`."""
        return self._after(t, addr, False, timeout)

    def _after(self, t: float, addr: str, added: bool, timeout: float) -> float | None:
        end = time.monotonic() + timeout
        while True:
            found = [
                at for at, add, a in list(self.events) if add == added and a == addr and at >= t
            ]
            if found or time.monotonic() > end:
                return found[0] if found else None
            time.sleep(0.01)
