"""The layering contracts (tests/tools/check_layers.py, run by make lint) hold, and each one
fails on a violation injected into a copy of the checkout."""

from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path
from types import ModuleType

import pytest

CHECKOUT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "check_layers", CHECKOUT / "tests" / "tools" / "check_layers.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


layers = _load()


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The files the contracts read, copied once (each test restores what it changes)."""
    tmp_path = tmp_path_factory.mktemp("layers")
    for rel in ("runtime/src/vipkeeper", "plugins/modules", "plugins/module_utils"):
        shutil.copytree(
            CHECKOUT / rel, tmp_path / rel, ignore=shutil.ignore_patterns("__pycache__")
        )
    return tmp_path


def test_the_checkout_keeps_every_contract() -> None:
    assert layers.check(CHECKOUT) == []


def test_the_copy_keeps_every_contract(copy: Path) -> None:
    assert layers.check(copy) == []


@pytest.mark.parametrize(
    ("rel", "line", "contract"),
    [
        ("runtime/src/vipkeeper/vrrp/timing.py", "import socket", "vrrp is sans-IO"),
        ("runtime/src/vipkeeper/vrrp/timing.py", "import time", "vrrp is sans-IO"),
        ("runtime/src/vipkeeper/vrrp/state.py", "from ..net import addrs", "vrrp is sans-IO"),
        ("runtime/src/vipkeeper/vrrp/packet.py", "from vipkeeper import daemon", "vrrp is sans-IO"),
        (
            "runtime/src/vipkeeper/config/lexer.py",
            "def f():\n    import asyncio",  # a lazy import counts too
            "config reads files but does no other I/O",
        ),
        (
            "runtime/src/vipkeeper/config/parser.py",
            "import socket",  # allowed in checkcmd.py only
            "config reads files but does no other I/O",
        ),
        (
            "runtime/src/vipkeeper/config/model.py",
            "from pyroute2.netlink import nlmsg",
            "config reads files but does no other I/O",
        ),
        (
            "runtime/src/vipkeeper/config/build.py",
            "import vipkeeper.lvs.manager",
            "config reads files but does no other I/O",
        ),
        ("runtime/src/vipkeeper/_compat.py", "import asyncio", "the check path outside config"),
        (
            "runtime/src/vipkeeper/cli.py",
            "from vipkeeper._aiocompat import wait_for",
            "the check path outside config",
        ),
        ("runtime/src/vipkeeper/net/garp.py", "from ..daemon import daemon", "net does not import"),
        ("runtime/src/vipkeeper/net/links.py", "import vipkeeper.daemon", "net does not import"),
        ("plugins/modules/vip_info.py", "import vipkeeper.vrrp.packet", "modules that run on"),
        (
            "plugins/module_utils/_vipkeeper/vrrp_wire.py",
            "from vipkeeper.vrrp import packet",
            "modules that run on",
        ),
    ],
)
def test_each_contract_fails_on_a_violation(copy: Path, rel: str, line: str, contract: str) -> None:
    path = copy / rel
    assert path.is_file(), rel
    original = path.read_text()
    path.write_text(original + "\n\n" + line + "\n")
    try:
        found = layers.check(copy)
        assert len(found) == 1 and found[0].startswith(f"{rel}:"), found
        assert f": {contract}" in found[0], found
    finally:
        path.write_text(original)


def test_the_command_exits_1_on_a_violation(copy: Path) -> None:
    checkcmd = copy / "runtime/src/vipkeeper/config/checkcmd.py"
    assert "import socket" in checkcmd.read_text()  # the documented exception is in use
    assert layers.main(["--root", str(copy)]) == 0
    path = copy / "runtime/src/vipkeeper/vrrp/timing.py"
    original = path.read_text()
    path.write_text(original + "\nimport asyncio\n")
    try:
        assert layers.main(["--root", str(copy)]) == 1
    finally:
        path.write_text(original)
