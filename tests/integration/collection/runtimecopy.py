"""A copy of this checkout's runtime that ships another version: the upgrade and rolling lab
tests install it as the "new" release (one copy of the helper for both)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def shipped_version(source: Path) -> str:
    found = re.search(r'(?m)^version = "([^"]+)"', (source / "pyproject.toml").read_text())
    assert found is not None
    return found[1]


def copy_runtime(dest: Path, version: str) -> Path:
    """A copy of this checkout's runtime that ships `version` instead."""
    src = ROOT / "runtime"
    dest.mkdir(parents=True)
    shutil.copy2(src / "README.md", dest / "README.md")
    shutil.copytree(
        src / "src", dest / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info")
    )
    old = shipped_version(src)
    pyproject = (src / "pyproject.toml").read_text()
    (dest / "pyproject.toml").write_text(
        pyproject.replace(f'version = "{old}"', f'version = "{version}"', 1)
    )
    init = dest / "src" / "vipkeeper" / "__init__.py"
    text = init.read_text()
    assert f'__version__ = "{old}"' in text
    init.write_text(text.replace(f'__version__ = "{old}"', f'__version__ = "{version}"', 1))
    return dest
