"""Markers of the drill lab tests."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "netns: needs root (systemd-nspawn lab hosts)")
    config.addinivalue_line("markers", "keepalived: runs Debian's keepalived as the reference")
