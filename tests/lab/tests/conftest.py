"""Fixtures for the nspawn lab tests: markers and a unique, always torn-down lab name."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import pytest
from labhelpers import lab_cli

_seq = itertools.count(1)


def pytest_configure(config: pytest.Config) -> None:
    """Markers used here (the runtime's pyproject registers the same names)."""
    config.addinivalue_line("markers", "netns: needs root, creates bridges and containers")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")


@pytest.fixture
def lab_name() -> Iterator[str]:
    """A lab name unique to this run and test; the lab is always torn down afterwards."""
    if os.geteuid() != 0:
        pytest.fail("the lab tests need root (make test runs as root)")
    name = f"t{os.getpid()}-{next(_seq)}"
    yield name
    lab_cli("down", name)
