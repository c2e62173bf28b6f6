"""Markers of the module and render tests that need root (run by make test-collection-modules)."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "netns: needs root and network namespaces (creates its own, always removes them)"
    )
    config.addinivalue_line("markers", "keepalived: runs Debian's keepalived as the reference")
