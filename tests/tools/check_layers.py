#!/usr/bin/env python3
"""The layering contracts of docs/architecture.md, checked on the import statements (make lint).

Every `import` and `from ... import` in a contract's files counts, at any depth (a lazy import
inside a function too). A module is forbidden with all its submodules. Exit 1 with one line a
violation; `--root DIR` checks another checkout (the tests inject violations into a copy).

The contracts, decided by reading the code:
- vipkeeper.vrrp is the sans-IO protocol core: bytes and `now` in, actions out. No sockets, no
  event loop, no processes, no clock (the caller passes `now`), no OS calls, no layer above it.
- vipkeeper.config is sans-IO apart from reading files: the preprocessor opens the config and
  its includes (os, glob), and the script-security rules stat scripts and look up users (os,
  pwd, grp). It never runs a loop, a process or netlink, nor imports a layer above it. One
  exception: config/checkcmd.py, the `vipkeeper check` command line, asks the kernel whether an
  interface exists (socket.if_nametoindex).
- vipkeeper.net touches the kernel for the daemon, and never imports the daemon (nor lvs or
  checks, which sit beside the daemon).
- The modules `vipkeeper check` imports besides config (the package, cli.py, _compat.py) do no
  I/O and import no layer above config: `check` must not load asyncio, pyroute2 or the daemon
  (the asyncio shims are in _aiocompat.py; cli.py imports each subcommand by name, when it runs).
- plugins/modules and plugins/module_utils run on the managed host, where the runtime may not
  be installed yet: they never import the `vipkeeper` runtime package.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
IO_MODULES = ("asyncio", "selectors", "socket", "subprocess", "threading", "pyroute2")
ABOVE_THE_CORE = (
    "vipkeeper.aio",
    "vipkeeper.checks",
    "vipkeeper.daemon",
    "vipkeeper.lvs",
    "vipkeeper.net",
)


@dataclass(frozen=True)
class Contract:
    name: str
    paths: tuple[str, ...]  # directories (recursive) or files, relative to the checkout
    forbidden: tuple[str, ...]
    allowed: dict[str, tuple[str, ...]] = field(default_factory=dict)  # file -> exceptions


CONTRACTS = (
    Contract(
        "vrrp is sans-IO",
        ("runtime/src/vipkeeper/vrrp",),
        (*IO_MODULES, "os", "time", *ABOVE_THE_CORE, "vipkeeper.config"),
    ),
    Contract(
        "config reads files but does no other I/O",
        ("runtime/src/vipkeeper/config",),
        (*IO_MODULES, *ABOVE_THE_CORE, "vipkeeper.vrrp"),
        {"runtime/src/vipkeeper/config/checkcmd.py": ("socket",)},
    ),
    Contract(
        "the check path outside config does no I/O",
        (
            "runtime/src/vipkeeper/__init__.py",
            "runtime/src/vipkeeper/cli.py",
            "runtime/src/vipkeeper/_compat.py",
        ),
        (*IO_MODULES, *ABOVE_THE_CORE, "vipkeeper._aiocompat"),
    ),
    Contract(
        "net does not import the daemon",
        ("runtime/src/vipkeeper/net",),
        ("vipkeeper.daemon", "vipkeeper.lvs", "vipkeeper.checks"),
    ),
    Contract(
        "modules that run on hosts do not import the runtime",
        ("plugins/modules", "plugins/module_utils"),
        ("vipkeeper",),
    ),
)


def _files(root: Path, paths: tuple[str, ...]) -> Iterator[Path]:
    for rel in paths:
        path = root / rel
        if path.is_file():
            yield path
        else:
            yield from sorted(path.rglob("*.py"))


def _module_of(root: Path, path: Path) -> str:
    """The dotted name of a runtime module (for relative imports); '' outside runtime/src."""
    src = root / "runtime" / "src"
    try:
        rel = path.relative_to(src)
    except ValueError:
        return ""
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path, module: str) -> Iterator[tuple[int, str]]:
    """(line, absolute module name) of every import in the file."""
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                if not package:  # relative, outside runtime/src: stays in the collection
                    continue
                parts = package.split(".")
                parts = parts[: len(parts) - node.level + 1]
                base = ".".join([*parts, base] if base else parts)
            yield node.lineno, base
            for alias in node.names:  # `from vipkeeper import net` imports vipkeeper.net
                yield node.lineno, f"{base}.{alias.name}"


def _matches(name: str, forbidden: str) -> bool:
    return name == forbidden or name.startswith(forbidden + ".")


def check(root: Path = ROOT) -> list[str]:
    """One line a violation, `file:line: contract: imports name`."""
    found: dict[tuple[str, int], str] = {}  # one line an import statement
    for contract in CONTRACTS:
        for path in _files(root, contract.paths):
            rel = path.relative_to(root).as_posix()
            allowed = contract.allowed.get(rel, ())
            for line, name in imports(path, _module_of(root, path)):
                if any(_matches(name, bad) and bad not in allowed for bad in contract.forbidden):
                    found.setdefault((rel, line), f"{rel}:{line}: {contract.name}: imports {name}")
    return [found[key] for key in sorted(found)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to check")
    args = parser.parse_args(argv)
    found = check(args.root)
    for line in found:
        print(line, file=sys.stderr)
    if found:
        print(
            f"{len(found)} layering violation(s): see tests/tools/check_layers.py", file=sys.stderr
        )
        return 1
    print(f"layering: {len(CONTRACTS)} contracts kept")
    return 0


if __name__ == "__main__":
    sys.exit(main())
