"""The lazy pyroute2 package of vipkeeper.net.netlink: the versions it was verified on, and that
it still works (the classes import, pyroute2's heavy subsystems stay unloaded)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

from vipkeeper.net.netlink import VERIFIED_PYROUTE2

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"
# Subsystems that pyroute2's package __init__ loads and the daemon never uses (about 8 MB).
HEAVY = ("ndb", "ipdb", "nftables", "ipset", "conntrack", "devlink", "ethtool", "nslink", "plan9")


def _release(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", text)[:3])


def test_the_installed_pyroute2_is_one_the_lazy_package_was_verified_on() -> None:
    first, last = VERIFIED_PYROUTE2
    installed = _release(version("pyroute2"))
    assert first <= installed <= last, (
        f"pyroute2 {version('pyroute2')} is outside {first}..{last}: verify net/netlink.py's lazy"
        " package on it (this test), then widen VERIFIED_PYROUTE2 and runtime/pyproject.toml"
    )


def test_pyproject_requires_exactly_the_verified_range() -> None:
    first, last = VERIFIED_PYROUTE2
    above = (*last[:2], last[2] + 1)
    expected = f"pyroute2>={'.'.join(map(str, first))},<{'.'.join(map(str, above))}"
    requirements = re.findall(r'"(pyroute2[<>=~!][^"]*)"', PYPROJECT.read_text())
    assert requirements == [expected]


def test_the_lazy_package_imports_the_classes_without_the_heavy_subsystems() -> None:
    code = """
import json, sys
from vipkeeper.net import netlink
names = ["AsyncIPRoute", "AsyncIPVS", "IPVSDest", "IPVSService", "NetlinkError", "ifaddrmsg"]
found = {n: getattr(netlink, n).__module__ for n in names}
lazy = type(sys.modules["pyroute2"]).__name__
heavy = sorted(m for m in sys.modules if m.split(".")[1:2] and m.startswith("pyroute2.")
               and m.split(".")[1] in sys.argv[1:])
from pyroute2 import IPVS  # the package itself, loaded for real on first use
print(json.dumps({"found": found, "lazy": lazy, "heavy": heavy, "ipvs": IPVS.__name__,
                  "then": type(sys.modules["pyroute2"]).__name__}))
"""
    out = subprocess.run(
        [sys.executable, "-c", code, *HEAVY], capture_output=True, text=True, check=True
    )
    result = json.loads(out.stdout)
    assert all(module.startswith("pyroute2.") for module in result["found"].values()), result
    assert result["lazy"] == "_LazyPackage"
    assert result["heavy"] == []
    assert result["ipvs"] == "IPVS"
    assert result["then"] == "module"
