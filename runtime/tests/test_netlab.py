"""The namespace lab itself: nodes talk over the bridge, and nothing is left behind."""

from __future__ import annotations

import os

import pytest
from netlab import NetLab, list_netns


@pytest.mark.netns
def test_nodes_reach_each_other_and_are_removed() -> None:
    with NetLab() as lab:
        a = lab.add_node("a", addrs=["10.213.1.1/24", "fd00:213::1/64"])
        b = lab.add_node("b", addrs=["10.213.1.2/24"])
        assert b.run(["ping", "-c1", "-W2", "10.213.1.1"], check=False).returncode == 0
        assert a.has_address("10.213.1.1")
        assert not b.has_address("10.213.1.1")
        a.cut()
        assert b.run(["ping", "-c1", "-W1", "10.213.1.1"], check=False).returncode != 0
        a.uncut()
        assert b.run(["ping", "-c1", "-W2", "10.213.1.1"], check=False).returncode == 0
        names = {a.ns, b.ns, lab.hub}
        assert names <= set(list_netns())
    assert not names & set(list_netns())


@pytest.mark.netns
def test_add_dummy_gives_a_usable_interface() -> None:
    with NetLab() as lab:
        a = lab.add_node("a")
        a.add_dummy("eth7")
        out = a.run(["ip", "-j", "link", "show", "eth7"]).stdout
        assert '"ifname":"eth7"' in out.replace(" ", "")


def test_cleanup_removes_workdirs_of_dead_runs_only(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # A lab torn down by nobody (its process killed, or a fork that never ran the fixture's
    # teardown) leaves its workdir: the next lab removes it. A live run's workdir stays.
    import subprocess
    import tempfile
    from pathlib import Path

    from netlab import cleanup_stale

    gone = subprocess.Popen(["true"])
    gone.wait()
    tmp = Path(tempfile.gettempdir())
    dead = tmp / f"vk-{gone.pid}-1-deadbeef"
    live = tmp / f"vk-{os.getpid()}-99-livelive"
    other = tmp / f"vk-vm-{gone.pid}-abcdefgh"  # the VM runner's: not a lab workdir
    for path in (dead, live, other):
        path.mkdir()
    try:
        removed = cleanup_stale()
        assert str(dead) in removed and not dead.exists()
        assert live.exists() and other.exists()
    finally:
        for path in (dead, live, other):
            if path.exists():
                path.rmdir()
