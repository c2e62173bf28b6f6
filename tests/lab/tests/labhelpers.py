"""Helpers for the nspawn lab tests: the CLI, and an audit of what a lab could leave behind."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

LAB_DIR = Path(__file__).resolve().parents[1]
if str(LAB_DIR) not in sys.path:
    sys.path.insert(0, str(LAB_DIR))

from vklab import network, procs
from vklab.state import StateDir

LAB_PY = LAB_DIR / "lab.py"


def lab_cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    """Run tests/lab/lab.py ARGS with this interpreter."""
    return subprocess.run(
        [sys.executable, str(LAB_PY), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=timeout,
    )


@dataclass(frozen=True)
class Leftovers:
    """Everything of one lab that could outlive `down`."""

    bridge: bool
    marked: list[procs.Proc]
    nspawn: list[int]
    mounts: list[str]
    state_dir: bool
    propagate: list[str]

    def empty(self) -> bool:
        """Nothing left."""
        return not (
            self.bridge
            or self.marked
            or self.nspawn
            or self.mounts
            or self.state_dir
            or self.propagate
        )


def leftovers(name: str, base: Path | None = None) -> Leftovers:
    """Audit the machine for anything of lab NAME (zombies count as gone)."""
    nspawn = []
    for pid in procs.all_pids():
        argv = procs.cmdline(pid)
        proc = procs.proc_of(pid)
        if (
            argv
            and argv[0].endswith("systemd-nspawn")
            and any(a.startswith(f"--machine={name}-") for a in argv)
            and proc is not None
            and procs.alive(proc)
        ):
            nspawn.append(pid)
    sd = StateDir(name)
    watched = [str(sd.path)] + ([str(base)] if base else [])
    mounts = [
        line
        for line in Path("/proc/self/mountinfo").read_text().splitlines()
        if any(w in line for w in watched)
    ]
    propagate_root = Path("/run/systemd/nspawn/propagate")
    propagate = (
        [p.name for p in propagate_root.iterdir() if p.name.startswith(f"{name}-")]
        if propagate_root.is_dir()
        else []
    )
    return Leftovers(
        bridge=network.link_exists(network.bridge_name(name)),
        marked=procs.marked(name),
        nspawn=nspawn,
        mounts=mounts,
        state_dir=sd.path.exists(),
        propagate=propagate,
    )
