"""Shared pytest fixtures and the test tiers of the runtime tests.

Markers (registered in pyproject.toml, so --strict-markers catches a typo):
- ``netns``: network namespaces; applied by hand, and to every test using the ``lab`` fixture;
- ``keepalived``: Debian's keepalived as the reference peer;
- ``vm``: boots the qemu lab VM;
- ``root``: needs uid 0 (files given to other users, tmpfs mounts, scripts run as nobody);
  applied by hand, to every test using a root-only fixture below, and to every ``netns``,
  ``keepalived`` or ``vm`` test;
- ``slow``: many seconds on its own (property and size tests); applied by hand.

``make test-unit`` runs ``-m "not root and not slow"`` as any user; ``make test-runtime`` runs
them all. A ``root`` test run without root fails at setup, with the reason: it is never a silent
skip.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from netlab import NetLab

# Fixtures that give their tests a marker: the lab needs namespaces, the others root.
FIXTURE_MARKERS = {
    "lab": "netns",
    "safe_dir": "root",  # config/test_config_scripts.py: a tree only root can write
    "statefs": "root",  # daemon/test_record.py: a tmpfs mount
}
IMPLY_ROOT = ("netns", "keepalived", "vm")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        names = set(getattr(item, "fixturenames", ()))
        for fixture, marker in FIXTURE_MARKERS.items():
            if fixture in names:
                item.add_marker(marker)
        if any(item.get_closest_marker(m) for m in IMPLY_ROOT):
            item.add_marker("root")


def pytest_runtest_setup(item: pytest.Item) -> None:
    if item.get_closest_marker("root") and os.geteuid() != 0:
        # a failure, never a silent skip: deselect with -m "not root" instead
        pytest.fail(f"{item.nodeid} needs root (marker root): run it as root or deselect it")


@pytest.fixture
def lab() -> Iterator[NetLab]:
    """A throwaway namespace lab on a private bridge, always removed."""
    if os.geteuid() != 0:
        pytest.fail("network-namespace tests need root")  # a failure, never a silent skip
    with NetLab() as netlab:
        yield netlab
