"""Drive Debian's keepalived in a lab node, with its state reported through a notify script.

keepalived writes its SIGUSR1 dump to /tmp, which namespaces share, so the state is taken from
a generic `notify` script instead: every transition appends `STATE PRIORITY` to a file of the
node's own. Console logging (`-l`) goes to a per-node log file so a test can show it on failure.
"""

from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from netlab import NetLab, Node, wait_for

KEEPALIVED = "keepalived"


@dataclass
class Keepalived:
    """One keepalived process tree inside a lab node."""

    node: Node
    workdir: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    state_file: Path = field(init=False)
    notify_script: Path = field(init=False)

    def __post_init__(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.state_file = self.workdir / "state"
        self.notify_script = self.workdir / "notify.sh"
        self.notify_script.write_text(f'#!/bin/sh\necho "$3 $4" >> {self.state_file}\n')
        self.notify_script.chmod(0o755)

    @property
    def notify_line(self) -> str:
        """The config line that reports transitions to this driver."""
        return f"notify {self.notify_script}"

    def start(self, conf: str) -> Keepalived:
        """Write `conf` and start keepalived (VRRP only, foreground, console log to a file)."""
        self.starts += 1
        run = self.workdir / f"run{self.starts}"
        run.mkdir()
        conf_path = run / "keepalived.conf"
        conf_path.write_text(conf)
        argv = [
            KEEPALIVED, "-n", "-l", "-D", "-P", "-f", str(conf_path),
            "-p", str(run / "k.pid"), "-r", str(run / "v.pid"), "-c", str(run / "c.pid"),
        ]  # fmt: skip
        with (self.workdir / "keepalived.log").open("ab") as log:
            self.proc = self.node.popen(argv, stdout=log, stderr=subprocess.STDOUT)
        started = wait_for(lambda: (run / "v.pid").exists() or self.proc.poll() is not None, 10)
        assert started is not None and self.proc.poll() is None, self.log()
        return self

    def vrrp_pid(self) -> int:
        """The pid of keepalived's VRRP child process."""
        return int((self.workdir / f"run{self.starts}" / "v.pid").read_text().split()[0])

    def transitions(self) -> list[str]:
        """States reported by the notify script, oldest first."""
        if not self.state_file.exists():
            return []
        return [line.split()[0] for line in self.state_file.read_text().splitlines() if line]

    def state(self) -> str | None:
        """The last state keepalived reported."""
        seen = self.transitions()
        return seen[-1] if seen else None

    def wait_state(self, state: str, timeout: float) -> float | None:
        """Wait until keepalived reports `state`; seconds taken or None."""
        return wait_for(lambda: self.state() == state, timeout, 0.02)

    def stop(self, timeout: float = 10) -> int:
        """SIGTERM (keepalived sends its priority-0 advert) and wait; the exit code."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(timeout)

    def alive(self) -> bool:
        """Whether the main process still runs."""
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        """What keepalived wrote to its console log so far."""
        path = self.workdir / "keepalived.log"
        return path.read_text(errors="replace") if path.exists() else ""


def keepalived_in(lab: NetLab, node: Node) -> Keepalived:
    """A keepalived driver for `node` with its own work directory."""
    return Keepalived(node, Path(lab.workdir) / f"ka-{node.name}-{os.getpid()}")
