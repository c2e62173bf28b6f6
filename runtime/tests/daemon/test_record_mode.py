"""The VIP record (vips.json) is root-only (0600) whatever the umask (#17)."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from ipaddress import ip_interface
from pathlib import Path

import pytest

from vipkeeper.daemon.kernel import RECORD_NAME
from vipkeeper.net.addrs import AddrSpec
from vipkeeper.net.record import VipRecord


@pytest.fixture
def open_umask() -> Iterator[None]:
    """umask 0 for the test: a file created with the default mode would be 0666."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("open_umask")
def test_the_record_is_0600_under_umask_0(tmp_path: Path) -> None:
    path = tmp_path / RECORD_NAME
    record = VipRecord(path)
    record.add_address(AddrSpec("eth0", ip_interface("10.213.1.100/24")))
    assert _mode(path) == 0o600
    assert "10.213.1.100" in path.read_text()


@pytest.mark.usefixtures("open_umask")
def test_an_older_world_readable_record_and_tmp_file_become_0600(tmp_path: Path) -> None:
    path = tmp_path / RECORD_NAME
    path.write_text('{"addresses": [], "routes": []}')
    path.chmod(0o644)  # as an earlier version left it
    tmp = path.with_suffix(".tmp")
    tmp.write_text("partial")
    tmp.chmod(0o666)  # left by a write that was cut short
    record = VipRecord(path)
    record.load()
    record.save()
    assert _mode(path) == 0o600
    assert not tmp.exists()
