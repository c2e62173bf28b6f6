"""`vipkeeper genhash` prints the same digest as keepalived's genhash for the same URL."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from netlab import NetLab, wait_for

SERVERS = str(Path(__file__).parent.parent / "checks" / "checkers" / "servers.py")
BODY = "genhash body\n"


@pytest.mark.netns
@pytest.mark.keepalived
def test_genhash_matches_body_md5_and_keepalived(lab: NetLab) -> None:
    node = lab.add_node("web", addrs=["10.213.1.11/24"])
    node.popen([sys.executable, SERVERS, "http", "8080", BODY])
    argv = [sys.executable, "-m", "vipkeeper.cli", "genhash", "-s", "10.213.1.11", "-p", "8080"]

    def ours(url: str) -> subprocess.CompletedProcess[str]:
        return node.run([*argv, "-u", url], check=False)

    assert wait_for(lambda: ours("/").returncode == 0, 10) is not None
    out = ours("/")
    assert out.stdout == hashlib.md5(BODY.encode(), usedforsecurity=False).hexdigest() + "\n"
    assert shutil.which("genhash"), "keepalived's genhash is missing (run make deps)"
    theirs = node.run(["genhash", "-s", "10.213.1.11", "-p", "8080", "-u", "/"]).stdout
    assert theirs.strip() == out.stdout.strip()
    failed = node.run([*argv, "-p", "8081", "-u", "/"], check=False)
    assert failed.returncode == 1 and "connection failed" in failed.stderr
    assert "Traceback" not in failed.stderr
