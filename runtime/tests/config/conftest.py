"""Fixtures for the config tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper.config import LoadResult, load

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "configs"
GOLDEN = Path(__file__).resolve().parent / "golden"
LAB_INTERFACES = frozenset({"eth0", "eth1", "eth2"})


@pytest.fixture
def conf(tmp_path: Path) -> Callable[..., LoadResult]:
    """Write config text to a temporary file and load it (interfaces eth0/eth1 exist)."""

    def _load(text: str, config_id: str = "node1", **kw: object) -> LoadResult:
        path = tmp_path / "keepalived.conf"
        path.write_text(text)
        kw.setdefault("interface_exists", LAB_INTERFACES.__contains__)
        kw.setdefault("check_scripts", False)
        return load(path, config_id, **kw)  # type: ignore[arg-type]

    return _load
