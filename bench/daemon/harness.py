"""Side-by-side daemon benchmark plumbing: run vipkeeper or keepalived in lab nodes, observe them.

Both daemons get the same keepalived.conf (plus a notify line for keepalived, whose state is read
from the transitions a notify script appends to a file). Observation is implementation-neutral:
VIP arrival through `ip -o monitor address` in the node, adverts through tcpdump on an observer
node, CPU from /proc/PID/stat (utime + stime) and memory from /proc/PID/status (VmRSS).
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "runtime" / "tests"))

from netlab import Node, stop_process, wait_for

from vipkeeper.daemon.control import request

CLK_TCK = os.sysconf("SC_CLK_TCK")


def vip_of(index: int) -> str:
    """The VIP of instance `index` (0-based): one /32 per instance, 10.213.2.1 upwards."""
    return f"10.213.{2 + index // 250}.{1 + index % 250}"


def group_conf(
    count: int, *, version: int, advert: float, priority: int, notify: str | None = None
) -> str:
    """A keepalived.conf with `count` instances on eth0 (VRIDs 1..count), one VIP each."""
    parts = ["global_defs {\n  router_id bench\n}\n"]
    advert_text = f"{advert:g}"
    for i in range(count):
        notify_line = f"\n  notify {notify}" if notify else ""
        parts.append(
            f"""vrrp_instance VI_{i + 1} {{
  state BACKUP
  interface eth0
  virtual_router_id {i + 1}
  priority {priority}
  version {version}
  advert_int {advert_text}{notify_line}
  virtual_ipaddress {{
    {vip_of(i)}/32
  }}
}}
"""
        )
    return "\n".join(parts)


class Daemon(Protocol):
    """What the runner needs from either implementation."""

    kind: str
    node: Node

    def start(self, conf_text: str) -> None: ...
    def terminate(self) -> None: ...
    def wait_exit(self) -> int: ...
    def stop(self) -> None: ...
    def pids(self) -> dict[str, int]: ...
    def transitions(self) -> int: ...
    def conf(self, count: int, *, version: int, advert: float, priority: int) -> str: ...


@dataclass
class Started:
    """A daemon process started in a node: signalled, waited for and stopped alike."""

    node: Node
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None

    def terminate(self) -> None:
        """SIGTERM without waiting."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)

    def wait_exit(self) -> int:
        """Wait for the exit; the exit code."""
        assert self.proc is not None
        return self.proc.wait(15)

    def stop(self) -> None:
        """Stop (SIGTERM, then SIGKILL) if running."""
        if self.proc is not None:
            stop_process(self.proc, 10)


@dataclass
class Vipkeeper(Started):
    """`vipkeeper run` in a node (one process)."""

    kind: str = "vipkeeper"

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)

    @property
    def sock(self) -> str:
        """The control socket path."""
        return str(self.workdir / "control.sock")

    def conf(self, count: int, *, version: int, advert: float, priority: int) -> str:
        """The config this daemon runs."""
        return group_conf(count, version=version, advert=advert, priority=priority)

    def start(self, conf_text: str) -> None:
        """Start and wait until the control socket answers."""
        conf = self.workdir / "keepalived.conf"
        conf.write_text(conf_text)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.sock)
        argv = [
            sys.executable, "-m", "vipkeeper.cli", "run", "-f", str(conf),
            "--control-socket", self.sock, "--state-dir", str(self.workdir / "state"),
            "--dump-dir", str(self.workdir),
        ]  # fmt: skip
        with (self.workdir / "vipkeeper.log").open("ab") as log:
            self.proc = self.node.popen(argv, stdout=log, stderr=subprocess.STDOUT)
        proc = self.proc
        ok = wait_for(lambda: self._answers() or proc.poll() is not None, 30, 0.05)
        if ok is None or proc.poll() is not None:
            raise RuntimeError(f"vipkeeper did not start in {self.node.name}: {self.log()}")

    def _answers(self) -> bool:
        try:
            return bool(request(self.sock, {"command": "status"}, timeout=1).get("ok"))
        except (OSError, ValueError):
            return False

    def pids(self) -> dict[str, int]:
        """The processes whose CPU and memory count."""
        assert self.proc is not None
        return {"vipkeeper": self.proc.pid}

    def transitions(self) -> int:
        """State transitions so far, over all instances."""
        status = request(self.sock, {"command": "status"}, timeout=5)
        return sum(int(i["counters"]["transitions"]) for i in status["instances"])

    def log(self) -> str:
        """The daemon's log."""
        path = self.workdir / "vipkeeper.log"
        return path.read_text(errors="replace")[-3000:] if path.exists() else ""


@dataclass
class Keepalived(Started):
    """Debian's keepalived in a node (-P: VRRP only; no console logging)."""

    kind: str = "keepalived"
    runs: int = 0
    state_file: Path = field(init=False)
    notify: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file = self.workdir / "transitions"
        self.notify = self.workdir / "notify.sh"
        self.notify.write_text(f'#!/bin/sh\necho "$2 $3" >> {self.state_file}\n')
        self.notify.chmod(0o755)

    def conf(self, count: int, *, version: int, advert: float, priority: int) -> str:
        """The config this daemon runs (with the notify line that counts transitions)."""
        return group_conf(
            count, version=version, advert=advert, priority=priority, notify=str(self.notify)
        )

    def _run_dir(self) -> Path:
        return self.workdir / f"run{self.runs}"

    def start(self, conf_text: str) -> None:
        """Start and wait until the VRRP child has written its pid file."""
        self.runs += 1
        run = self._run_dir()
        run.mkdir()
        conf = run / "keepalived.conf"
        conf.write_text(conf_text)
        argv = [
            "keepalived", "-n", "-P", "-f", str(conf),
            "-p", str(run / "k.pid"), "-r", str(run / "v.pid"), "-c", str(run / "c.pid"),
        ]  # fmt: skip
        self.proc = self.node.popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        proc = self.proc
        ok = wait_for(lambda: (run / "v.pid").exists() or proc.poll() is not None, 15, 0.02)
        if ok is None or proc.poll() is not None:
            raise RuntimeError(f"keepalived did not start in {self.node.name}")

    def pids(self) -> dict[str, int]:
        """The parent and its VRRP child."""
        assert self.proc is not None
        child = int((self._run_dir() / "v.pid").read_text().split()[0])
        return {"keepalived": self.proc.pid, "keepalived-vrrp": child}

    def transitions(self) -> int:
        """State transitions so far (the notify script's lines)."""
        if not self.state_file.exists():
            return 0
        return len(self.state_file.read_text().splitlines())


def make_daemon(kind: str, node: Node, workdir: Path) -> Daemon:
    """A fresh driver of `kind` for `node`."""
    if kind == "vipkeeper":
        return Vipkeeper(node, workdir / f"vk-{node.name}")
    return Keepalived(node, workdir / f"ka-{node.name}")


# ------------------------------------------------------------------ observers


class AddrMonitor:
    """`ip -o monitor address` in a node: when each address appeared or went (wall clock)."""

    _LINE = re.compile(r"^(Deleted )?\d+:\s+\S+\s+inet6?\s+([0-9a-f.:]+)/")

    def __init__(self, node: Node) -> None:
        self.events: list[tuple[float, bool, str]] = []  # (time, added, address)
        self._cond = threading.Condition()
        self.proc = node.popen(
            ["ip", "-o", "monitor", "address"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
        )
        threading.Thread(target=self._read, daemon=True).start()
        time.sleep(0.1)  # let `ip` subscribe before anything happens

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            at = time.time()
            m = self._LINE.match(raw.decode(errors="replace"))
            if m:
                with self._cond:
                    self.events.append((at, m.group(1) is None, m.group(2)))
                    self._cond.notify_all()

    def first(self, addr: str, *, added: bool, after: float, timeout: float) -> float | None:
        """Time of the first add (or delete) of `addr` after `after`, waiting up to `timeout`."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for at, was_added, a in self.events:
                    if at >= after and a == addr and was_added == added:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._cond.wait(left)

    def stop(self) -> None:
        """End `ip monitor`."""
        stop_process(self.proc, 3)


@dataclass(frozen=True)
class Advert:
    """One VRRP advert seen on the wire."""

    at: float
    src: str
    vrid: int
    prio: int


class AdvertCapture:
    """tcpdump of VRRP adverts on an observer node, optionally only from some source."""

    _LINE = re.compile(
        r"^(\d+\.\d+) IP (\S+) > \S+: VRRPv\d, Advertisement, vrid (\d+), prio (\d+)"
    )

    def __init__(self, node: Node, bpf: str = "vrrp") -> None:
        self.adverts: list[Advert] = []
        self._lock = threading.Lock()
        self.proc = node.popen(
            ["tcpdump", "-i", "eth0", "-n", "-l", "-tt", "-Q", "in", bpf],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert self.proc.stderr is not None
        for _ in range(5):
            if b"listening on" in self.proc.stderr.readline():
                break
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            m = self._LINE.match(raw.decode(errors="replace"))
            if m:
                ad = Advert(float(m.group(1)), m.group(2), int(m.group(3)), int(m.group(4)))
                with self._lock:
                    self.adverts.append(ad)

    def __enter__(self) -> AdvertCapture:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def between(self, start: float, end: float) -> list[Advert]:
        """Adverts seen in [start, end]."""
        with self._lock:
            return [a for a in self.adverts if start <= a.at <= end]

    def clear(self) -> None:
        """Forget what was seen (long runs)."""
        with self._lock:
            self.adverts.clear()

    def stop(self) -> None:
        """End tcpdump."""
        stop_process(self.proc, 3)


def last_advert(seen: list[Advert], src: str, vrid: int, until: float) -> float | None:
    """When `src` last advertised `vrid` at or before `until` (a link cut)."""
    times = [a.at for a in seen if a.src == src and a.vrid == vrid and a.at <= until]
    return times[-1] if times else None


def priority_zero(seen: list[Advert], src: str, vrid: int, after: float) -> float | None:
    """When `src` advertised priority 0 for `vrid` (its shutdown) at or after `after` (a SIGTERM).

    Only at or after the signal: the capture holds the earlier handovers' priority-0 adverts too,
    and one restart-and-settle cycle can take less than a second.
    """
    return next(
        (a.at for a in seen if a.src == src and a.vrid == vrid and a.prio == 0 and a.at >= after),
        None,
    )


def first_advert(seen: list[Advert], src: str, vrid: int, after: float) -> float | None:
    """When `src` first advertised `vrid` strictly after `after`."""
    return next((a.at for a in seen if a.src == src and a.vrid == vrid and a.at > after), None)


def cpu_ticks(pid: int) -> int:
    """utime + stime of a process, in clock ticks."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def rss_kib(pid: int) -> int:
    """VmRSS of a process, in KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def load_average() -> str:
    """The 1/5/15-minute load averages."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run_record(script: str, argv: list[str]) -> dict[str, str]:
    """The head of a benchmark's JSON result: its command, start, load and host."""
    import platform

    return {
        "command": f"{script} " + " ".join(argv),
        "started": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "load_before": load_average(),
        "host": f"{platform.node()} ({os.cpu_count()} CPUs, kernel {platform.release()})",
    }
