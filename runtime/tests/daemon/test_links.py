"""The link table's reports by name, for every order of deletes, renames and new indexes; the
address table read again; and the link monitor starting over on a real namespace."""

from __future__ import annotations

import json
import sys
import textwrap
from ipaddress import ip_address
from typing import Optional

import pytest
from netlab import NetLab, Node

from vipkeeper.net.addrwatch import AddressTable
from vipkeeper.net.links import Link, LinkTable

MAC = b"\x02\x00\x00\x00\x00\x01"
Report = tuple[Optional[str], Optional[str]]  # ("eth0@2 up", None): what a name was, what it is


def _link(name: str, index: int, up: bool = True) -> Link:
    return Link(index, name, up, MAC)


def _text(link: Link | None) -> str | None:
    if link is None:
        return None
    return f"{link.name}@{link.index} {'up' if link.up else 'down'}"


def _table(*links: Link) -> tuple[LinkTable, list[Report]]:
    reports: list[Report] = []
    table = LinkTable(lambda old, new: reports.append((_text(old), _text(new))))
    for link in links:
        table.load(link)
    return table, reports


def test_deleted_then_new_name_then_renamed_into_place() -> None:
    """The issue's reproduction as the monitor sees it: every report is about one name."""
    table, reports = _table(_link("eth0", 2))
    table.deleted(2)
    table.seen(_link("tmp0", 7, up=False))
    table.seen(_link("eth0", 7, up=False))  # renamed: same index, new name
    table.seen(_link("eth0", 7))
    assert reports == [
        ("eth0@2 up", None),
        (None, "tmp0@7 down"),
        ("tmp0@7 down", None),
        (None, "eth0@7 down"),
        ("eth0@7 down", "eth0@7 up"),
    ]
    assert table.links == {"eth0": _link("eth0", 7)}


def test_live_rename_away_while_a_new_interface_takes_the_name() -> None:
    table, reports = _table(_link("eth0", 2))
    table.seen(_link("old0", 2))
    table.seen(_link("eth0", 9))
    assert reports == [("eth0@2 up", None), (None, "old0@2 up"), (None, "eth0@9 up")]
    table.deleted(2)
    assert reports[-1] == ("old0@2 up", None)
    assert table.links == {"eth0": _link("eth0", 9)}


def test_a_name_on_a_new_index_is_the_old_interface_gone_then_a_new_one() -> None:
    """The deletion was missed: the new index under the name must not pass for the old one."""
    table, reports = _table(_link("eth0", 2))
    table.seen(_link("eth0", 5))
    assert reports == [("eth0@2 up", None), (None, "eth0@5 up")]
    table.deleted(2)  # the late deletion of the old index changes nothing
    assert len(reports) == 2
    assert table.links == {"eth0": _link("eth0", 5)}


def test_a_table_read_again_reports_every_difference() -> None:
    table, reports = _table(_link("eth0", 2), _link("eth1", 3), _link("lo", 1), _link("x", 4))
    table.replace([_link("lo", 1), _link("eth1", 2), _link("eth0", 3, up=False), _link("new0", 8)])
    assert sorted(reports, key=str) == sorted(
        [
            ("eth0@2 up", None),
            ("eth1@3 up", None),
            ("x@4 up", None),
            (None, "eth1@2 up"),
            (None, "eth0@3 down"),
            (None, "new0@8 up"),
        ],
        key=str,
    )
    assert table.links == {
        "lo": _link("lo", 1),
        "eth1": _link("eth1", 2),
        "eth0": _link("eth0", 3, up=False),
        "new0": _link("new0", 8),
    }
    reports.clear()
    table.replace(list(table.links.values()))
    assert reports == []


def test_address_table_read_again() -> None:
    a, b, c = ip_address("10.213.1.1"), ip_address("10.213.1.2"), ip_address("fe80::1")
    table = AddressTable()
    table.added(a, 2)
    table.added(b, 2)
    table.added(b, 3)
    appeared, gone = table.replace([(b, 3), (c, 4)])
    assert (appeared, gone) == ([c], [a])
    assert a not in table and b in table and c in table
    assert table.removed(b, 3) and b not in table


MONITOR = textwrap.dedent(
    """
    import asyncio, json, subprocess, sys, time
    from vipkeeper.net.links import LinkMonitor

    async def main():
        reports = []
        monitor = LinkMonitor(lambda old, new: reports.append(
            [old and [old.name, old.index, old.up], new and [new.name, new.index, new.up]]))
        await monitor.start()
        await asyncio.sleep(0.1)
        # While the loop is held, eth0 is replaced twice over: the events wait in the socket.
        for step in sys.argv[1:]:
            subprocess.run(["sh", "-c", step], check=True)
        monitor.request_resync()  # before the loop reads them
        await asyncio.sleep(0.5)
        print(json.dumps({"reports": reports, "resyncs": monitor.resyncs,
                          "eth0": monitor.get("eth0").index}))
        await monitor.stop()

    asyncio.run(main())
    """
)


def _ifindex(node: Node) -> int:
    return int(node.run(["cat", "/sys/class/net/eth0/ifindex"]).stdout)


@pytest.mark.netns
def test_a_requested_resync_reports_the_table_once_not_the_stale_events(lab: NetLab) -> None:
    """The link monitor asked to read the table again (a send found a stale socket) starts
    over on a new socket: the events queued on the old one are older than the table it reads
    and are dropped, so the new eth0 is reported once, up, with no replayed flaps."""
    node = lab.add_node("a", addrs=["10.213.1.1/24"])
    steps = [
        "ip link add tmp0 type veth peer name tmp1 && ip link set tmp1 up",
        "ip link del eth0",
        "ip link set tmp0 name eth0 && ip link set eth0 up",
        "for i in 1 2 3 4 5; do ip link set eth0 down; ip link set eth0 up; done",
        "while [ $(cat /sys/class/net/eth0/operstate) != up ]; do sleep 0.01; done",
    ]
    old_index = _ifindex(node)
    out = node.run([sys.executable, "-c", MONITOR, *steps], timeout=30).stdout
    result = json.loads(out)
    new_index = _ifindex(node)
    eth0 = [r for r in result["reports"] if "eth0" in json.dumps(r)]
    assert eth0 == [[["eth0", old_index, True], None], [None, ["eth0", new_index, True]]], result
    assert result["resyncs"] == 1
    assert result["eth0"] == new_index
