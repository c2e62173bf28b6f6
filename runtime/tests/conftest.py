"""Shared pytest fixtures for the runtime tests."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from netlab import NetLab


@pytest.fixture
def lab() -> Iterator[NetLab]:
    """A throwaway namespace lab on a private bridge, always removed."""
    if os.geteuid() != 0:
        pytest.fail("network-namespace tests need root")  # a failure, never a silent skip
    with NetLab() as netlab:
        yield netlab
