"""Shared set-up of the differential tests: a namespace where `keepalived -t` and vipkeeper run."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from netlab import NetLab, Node


@contextmanager
def check_node(name: str, eth0: str, eth1: str | None = None) -> Iterator[Node]:
    """A namespace with eth0 (a veth to a private bridge) addressed, and a bridge eth1 if given."""
    if os.geteuid() != 0:
        pytest.fail("the differential test needs root for network namespaces")
    with NetLab() as lab:
        node = lab.add_node(name, addrs=[eth0])
        if eth1 is not None:
            for cmd in (
                ["link", "add", "eth1", "type", "bridge"],
                ["link", "set", "eth1", "up"],
                ["addr", "add", eth1, "dev", "eth1"],
            ):
                subprocess.run(["ip", "-n", node.ns, *cmd], check=True, capture_output=True)
        yield node


def keepalived_t(node: Node, conf: Path, *args: str) -> tuple[int, str]:
    """`keepalived -t [args] -f conf` in the node: exit code and stderr."""
    proc = node.run(["keepalived", "-t", *args, "-f", str(conf)], check=False, timeout=60)
    return proc.returncode, proc.stderr


def vipkeeper_check(node: Node, conf: Path, *args: str, timeout: float = 60) -> tuple[int, str]:
    """`vipkeeper check [args] -f conf` in the node: exit code and stderr."""
    argv = [sys.executable, "-m", "vipkeeper.cli", "check", *args, "-f", str(conf)]
    proc = node.run(argv, check=False, timeout=timeout)
    return proc.returncode, proc.stderr


def check_text(node: Node, text: str) -> tuple[tuple[int, str], tuple[int, str]]:
    """keepalived -t and vipkeeper check on `text` (a temporary file in the lab's workdir)."""
    with tempfile.NamedTemporaryFile("w", suffix=".conf", dir=node.lab.workdir, delete=False) as fh:
        fh.write(text)
    path = Path(fh.name)
    try:
        return keepalived_t(node, path), vipkeeper_check(node, path)
    finally:
        path.unlink()
