"""The namespace lab itself: nodes talk over the bridge, and nothing is left behind."""

from __future__ import annotations

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
