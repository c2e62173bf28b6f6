"""pytest setup for the lab VM tests: make image.py and vmrun.py importable, register markers,
and print how long each VM run took at the end of the session."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

HERE = str(Path(__file__).resolve().parent)
if HERE not in sys.path:
    sys.path.insert(0, HERE)

_TIMINGS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    """Register the markers used here (the runtime's pyproject is not in force at the repo root)."""
    config.addinivalue_line("markers", "vm: boots a qemu VM with Debian's cloud kernel")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
    config.stash[_TIMINGS] = []


@pytest.fixture(scope="session")
def vm_timings(request: pytest.FixtureRequest) -> list[str]:
    """Lines appended here are printed in the session summary (VM wall times)."""
    return request.config.stash[_TIMINGS]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Print the VM run times collected during the session."""
    lines = terminalreporter.config.stash.get(_TIMINGS, [])
    if lines:
        terminalreporter.section("lab VM run times (qemu -accel tcg)")
        for line in lines:
            terminalreporter.write_line(line)
