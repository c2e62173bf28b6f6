"""Config diagnostics and the `keepalived -t` exit-code rule.

keepalived -t exits 0 when the config is fine, 2 when a keyword is missing its value (its
parser exits at once: KEEPALIVED_EXIT_CONFIG), 4 when the file cannot be read or the error
is fatal, 6 on the script-security violation (scripts that would run without
enable_script_security) and 5 for any other config error (a refused vrrp_script too, and a
missing interface: keepalived reports it as a general error before its CONFIG_BAD_IF, and
the highest class wins). Warnings never change the exit code. When several classes occur the
most severe wins in the order 2, 4, 6, 5.
"""

from __future__ import annotations

from vipkeeper._compat import SLOTS, StrEnum, dataclass

EXIT_OK = 0
EXIT_MISSING_PARAMETER = 2
EXIT_FATAL = 4
EXIT_CONFIG = 5
EXIT_SCRIPT_SECURITY = 6


class Severity(StrEnum):
    """How bad a diagnostic is."""

    ERROR = "error"
    WARNING = "warning"


class Code(StrEnum):
    """Stable machine-readable diagnostic codes (part of the --json format)."""

    FILE_NOT_FOUND = "file-not-found"
    FILE_UNREADABLE = "file-unreadable"
    FILE_TOO_LARGE = "file-too-large"
    BINARY = "binary-data"
    INCLUDE_MISSING = "include-missing"
    INCLUDE_CYCLE = "include-cycle"
    INCLUDE_DEPTH = "include-depth"
    INCLUDE_LIMIT = "include-limit"
    UNTERMINATED_QUOTE = "unterminated-quote"
    UNTERMINATED_BLOCK = "unterminated-block"
    UNEXPECTED_BRACE = "unexpected-brace"
    NESTING_TOO_DEEP = "nesting-too-deep"
    VARIABLE_RECURSION = "variable-recursion"
    VARIABLE_UNDEFINED = "variable-undefined"
    EXPANSION_TOO_LARGE = "expansion-too-large"
    BAD_LOOP = "bad-loop"
    UNKNOWN_KEYWORD = "unknown-keyword"
    UNSUPPORTED = "unsupported"
    BAD_VALUE = "bad-value"
    MISSING_VALUE = "missing-value"
    MISSING_PARAMETER = "missing-parameter"
    MISSING_BLOCK = "missing-block"
    DUPLICATE = "duplicate"
    RANGE = "out-of-range"
    VRID_CONFLICT = "vrid-conflict"
    NOPREEMPT = "nopreempt"
    UNDEFINED_REFERENCE = "undefined-reference"
    FAMILY_MISMATCH = "family-mismatch"
    STRICT = "vrrp-strict"
    SCRIPT_MISSING = "script-missing"
    SCRIPT_INSECURE = "script-insecure"
    SCRIPT_USER = "script-user"
    SCRIPT_SECURITY = "script-security"
    INTERFACE_MISSING = "interface-missing"
    DEPRECATED = "deprecated"
    TRUNCATED = "truncated"
    DEFAULTED = "defaulted"
    TOO_MANY_DIAGNOSTICS = "too-many-diagnostics"
    INTERNAL = "internal-error"


# At most this many diagnostics are kept per load (a config with 20,000 instances on one
# interface gives about 20,000 VRID conflicts; a real config has a handful).
MAX_DIAGNOSTICS = 50_000

# Errors that `keepalived -t` reports but keepalived itself corrects (a default, a truncation,
# an alias) and runs with: a daemon may log these and start anyway.
CORRECTED: frozenset[Code] = frozenset({Code.DEFAULTED, Code.TRUNCATED, Code.DEPRECATED})

# Error codes whose exit status is not the generic 5.
_EXIT_BY_CODE: dict[Code, int] = {
    Code.MISSING_PARAMETER: EXIT_MISSING_PARAMETER,
    Code.FILE_NOT_FOUND: EXIT_FATAL,
    Code.FILE_UNREADABLE: EXIT_FATAL,
    Code.FILE_TOO_LARGE: EXIT_FATAL,
    Code.INTERNAL: EXIT_FATAL,
    Code.SCRIPT_SECURITY: EXIT_SCRIPT_SECURITY,
}
_RANK = {
    EXIT_MISSING_PARAMETER: 4,
    EXIT_FATAL: 3,
    EXIT_SCRIPT_SECURITY: 2,
    EXIT_CONFIG: 1,
    EXIT_OK: 0,
}


@dataclass(frozen=True, **SLOTS)
class Diagnostic:
    """One message about the config, with the place it concerns."""

    file: str
    line: int  # 0 when the message concerns the file as a whole
    column: int
    severity: Severity
    message: str
    code: Code

    def format(self) -> str:
        """keepalived's `(FILE: Line N) message` form."""
        prefix = "WARNING - " if self.severity is Severity.WARNING else ""
        if self.line > 0:
            return f"({self.file}: Line {self.line}) {prefix}{self.message}"
        return f"({self.file}) {prefix}{self.message}"

    def exit_code(self) -> int:
        """The `keepalived -t` exit status this diagnostic alone would cause."""
        if self.severity is not Severity.ERROR:
            return EXIT_OK
        return _EXIT_BY_CODE.get(self.code, EXIT_CONFIG)

    def as_dict(self) -> dict[str, str | int]:
        """The --json form."""
        return {
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "severity": str(self.severity),
            "message": self.message,
            "code": str(self.code),
        }


class DiagnosticList(list[Diagnostic]):
    """The diagnostics of one load: at most `limit`, then one `too-many-diagnostics` error.

    The error takes the place of the first diagnostic dropped; the preprocessor stops reading
    once the list is full (`full`), so a hostile config costs bounded memory.
    """

    def __init__(self, limit: int = MAX_DIAGNOSTICS) -> None:
        super().__init__()
        self.limit = limit
        self.full = False

    def append(self, diag: Diagnostic, /) -> None:
        """Keep `diag` unless the list is full; the first one over the limit says so."""
        if self.full:
            return
        if len(self) >= self.limit:
            self.full = True
            diag = Diagnostic(
                diag.file,
                diag.line,
                diag.column,
                Severity.ERROR,
                f"more than {self.limit} diagnostics; stopping (fix these and check again)",
                Code.TOO_MANY_DIAGNOSTICS,
            )
        super().append(diag)


def exit_code(diagnostics: list[Diagnostic]) -> int:
    """The exit status of `keepalived -t` for these diagnostics (0, 2, 4, 5 or 6)."""
    worst = EXIT_OK
    for diag in diagnostics:
        code = diag.exit_code()
        if _RANK[code] > _RANK[worst]:
            worst = code
    return worst
