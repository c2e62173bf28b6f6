"""pytest setup for the lab VM tests: make image.py and vmrun.py importable, register markers."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers used here (the runtime's pyproject is not in force at the repo root)."""
    config.addinivalue_line("markers", "vm: boots a qemu VM with Debian's cloud kernel")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
