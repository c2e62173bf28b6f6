"""keepalived.conf: lexer, preprocessor, parser, typed model and validation.

Public API (stable; the daemon, VRRP core, LVS and the Ansible modules use it)::

    from vipkeeper.config import load, exit_code

    result = load("/etc/keepalived/keepalived.conf", config_id=None, check_interfaces=False)
    result.config        # vipkeeper.config.model.Config, or None when the file could not be read
    result.diagnostics   # list[Diagnostic]: file, line, column, severity, message, code
    result.ok            # no error-severity diagnostics
    result.exit_code     # what `keepalived -t` would exit with: 0, 2, 4, 5 or 6

`load` never raises on bad input: every problem becomes a Diagnostic. `config_id` selects
`@id` lines (default: the host name up to its first dot). `check_interfaces=True` checks that
interfaces exist with `socket.if_nametoindex` semantics; pass `interface_exists` to supply
your own predicate (for a network namespace or an off-host check). `check_scripts=False`
skips the script existence/security checks (which read the file system and user database).

The pipeline is lexer -> preprocessor (includes, @id lines, $VARs, ~SEQ/~LST) -> parser
(block tree) -> build (typed, frozen model with keepalived's defaults) -> validate.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable
from dataclasses import field
from pathlib import Path

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.diagnostics import (
    EXIT_CONFIG,
    EXIT_FATAL,
    EXIT_OK,
    EXIT_SCRIPT_SECURITY,
    Code,
    Diagnostic,
    DiagnosticList,
    Severity,
    exit_code,
)
from vipkeeper.config.model import Config

__all__ = [
    "EXIT_CONFIG",
    "EXIT_FATAL",
    "EXIT_OK",
    "EXIT_SCRIPT_SECURITY",
    "Code",
    "Config",
    "Diagnostic",
    "LoadResult",
    "Severity",
    "default_config_id",
    "exit_code",
    "load",
    "load_text",
]


@dataclass(frozen=True, **SLOTS)
class LoadResult:
    """The outcome of loading a config: the model (if any) and every diagnostic."""

    config: Config | None
    diagnostics: list[Diagnostic] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        """Error-severity diagnostics."""
        return [d for d in self.diagnostics if d.severity is Severity.ERROR]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Warning-severity diagnostics."""
        return [d for d in self.diagnostics if d.severity is Severity.WARNING]

    @property
    def ok(self) -> bool:
        """True when there is no error."""
        return not self.errors

    @property
    def exit_code(self) -> int:
        """The `keepalived -t` exit status for these diagnostics."""
        return exit_code(self.diagnostics)


def default_config_id() -> str:
    """keepalived's default config-id: the host name up to its first dot."""
    return os.uname().nodename.split(".")[0]


def _sys_interface_exists(name: str) -> bool:
    return bool(name) and "/" not in name and os.path.exists(f"/sys/class/net/{name}")


def load(
    path: str | Path,
    config_id: str | None = None,
    *,
    check_interfaces: bool = False,
    interface_exists: Callable[[str], bool] | None = None,
    check_scripts: bool = True,
) -> LoadResult:
    """Load and validate a keepalived.conf; never raises on bad input."""
    from vipkeeper.config.preprocess import read_bytes_capped

    if interface_exists is None and check_interfaces:
        interface_exists = _sys_interface_exists
    return _run(
        Path(path),
        config_id or default_config_id(),
        read_bytes_capped,
        interface_exists,
        check_scripts,
    )


def load_text(
    text: str,
    config_id: str = "vipkeeper",
    *,
    name: str = "keepalived.conf",
    check_scripts: bool = False,
    interface_exists: Callable[[str], bool] | None = None,
) -> LoadResult:
    """Load a config given as text (tests, generators); includes are relative to the cwd."""
    from vipkeeper.config.preprocess import MAX_FILE_BYTES, FileTooLarge, read_bytes_capped

    data = text.encode()

    def reader(p: Path) -> bytes:
        if p == Path(name):
            if len(data) > MAX_FILE_BYTES:
                raise FileTooLarge(p)
            return data
        return read_bytes_capped(p)

    return _run(Path(name), config_id, reader, interface_exists, check_scripts)


def _run(
    path: Path,
    config_id: str,
    reader: Callable[[Path], bytes],
    interface_exists: Callable[[str], bool] | None,
    check_scripts: bool,
) -> LoadResult:
    from vipkeeper.config.build import build
    from vipkeeper.config.parser import parse
    from vipkeeper.config.preprocess import Preprocessor
    from vipkeeper.config.scripts import check_scripts as run_script_checks
    from vipkeeper.config.validate import validate

    diagnostics = DiagnosticList()  # at most MAX_DIAGNOSTICS, then reading stops
    try:
        pre = Preprocessor(config_id, diagnostics, reader)
        tree = parse(pre.run(path), diagnostics)
        if not pre.files:
            return LoadResult(None, diagnostics)
        config, builder = build(tree, diagnostics)
        config = dataclasses.replace(config, files=tuple(pre.files))
        validate(config, builder, diagnostics, interface_exists)
        if check_scripts:
            run_script_checks(config, diagnostics)
        return LoadResult(config, _sorted(diagnostics))
    except (Exception, RecursionError, MemoryError) as exc:  # bad input must never raise
        return LoadResult(None, [*diagnostics, _internal(path, exc)])


def _internal(path: Path, exc: BaseException) -> Diagnostic:
    """The diagnostic for a loader bug (bad input must never raise)."""
    return Diagnostic(
        str(path),
        0,
        0,
        Severity.ERROR,
        f"internal error while reading the configuration: {type(exc).__name__}: {exc}",
        Code.INTERNAL,
    )


def _sorted(diagnostics: list[Diagnostic]) -> list[Diagnostic]:
    """Diagnostics in file order (stable for equal places); script checks last on a line."""
    order: dict[str, int] = {}
    for d in diagnostics:
        order.setdefault(d.file, len(order))
    # on one line, what the config says (a syntax error) before what scripts it runs
    late = {Code.SCRIPT_SECURITY, Code.SCRIPT_INSECURE, Code.SCRIPT_MISSING, Code.SCRIPT_USER}
    return sorted(diagnostics, key=lambda d: (order[d.file], d.line, d.code in late, d.column))
