# keepalived.conf preprocessing, applied line by line before tokenizing:
# - `include GLOB` reads the matching files (sorted) relative to the including file's directory;
#   only regular, non-executable files are read (as keepalived: a FIFO, device, socket or
#   directory is refused, never opened); a file that includes itself (directly or not) is an
#   error;
# - `@ID line` keeps the line only when the config-id is ID; `@^ID line` keeps it unless it is;
# - `$NAME=value` defines a variable (no space before `=`); a value ending in `\` continues on
#   the next line and a multi-line value expands to several lines;
# - `${NAME}` is replaced anywhere, bare `$NAME` only when it ends at a blank, brace or end of
#   line (as keepalived: `$n/24` stays as is); a value that refers to itself is an error;
# - `~SEQ(var,start,step,end)` / `~SEQ(var,start,end)` / `~SEQ(var,end)` and
#   `~LST(var,a,b,...)` repeat the rest of the line with $var set to each value.
# Sizes are bounded so that hostile input costs bounded time and memory: bytes, lines, include
# depth, and the number of files read per load (each read counts, so a wide include graph that
# reads the same files again and again ends at the cap instead of growing exponentially).
"""Preprocessor: includes, conditional lines, variables and loops."""

from __future__ import annotations

import glob
import itertools
import os
import random
import re
import stat
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import field
from pathlib import Path

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.config.diagnostics import (
    MAX_DIAGNOSTICS,
    Code,
    Diagnostic,
    DiagnosticList,
    Severity,
)
from vipkeeper.config.lexer import strip_comment

MAX_FILE_BYTES = 16 * 1024 * 1024
MAX_TOTAL_BYTES = 32 * 1024 * 1024
MAX_LINES = 1_000_000
MAX_LOOP_LINES = 100_000  # lines all ~SEQ/~LST loops may generate together
MAX_LINE_CHARS = 64 * 1024
MAX_INCLUDE_DEPTH = 32
MAX_FILE_READS = 10_000  # files read per load, the main file included, each re-read counted
MAX_LOOP_VALUES = 100_000
MAX_EXPANSION_DEPTH = 32

_DEF_RE = re.compile(r"^\$([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.DOTALL)
# `${NAME}` anywhere; bare `$NAME` only as a whole word (keepalived leaves `$n/24` alone).
_VAR_RE = re.compile(
    r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:\s+(\d+)(?:\s+(\d+))?)?\}"
    r'|\$([A-Za-z_][A-Za-z0-9_]*)(?=[\s{}"]|$)'
)
# keepalived 2.2.7's predefined names (parser.c, add_std_definition): `${_INSTANCE}` the
# config-id, `${_PWD}` the working directory, `${_RANDOM}` / `${_RANDOM MIN MAX}` a random
# number (0..32767 by default), `${_HASH}` and `${_BANG}` a `#` and a `!` (which then start a
# comment, as in keepalived). A variable the config defines takes precedence.
BUILTINS = frozenset({"_INSTANCE", "_PWD", "_RANDOM", "_HASH", "_BANG"})
RANDOM_MAX = 32767
# A line with none of `$ @ ~ # !` that is not an include needs no preprocessing.
_PLAIN_RE = re.compile(r"^(?!\s*include\b)[^$@~#!]*$")
_LOOP_RE = re.compile(r"^~(SEQ|LST)\(([^)]*)\)\s*(.*)$", re.DOTALL)
# O_PATH opens a name without opening the file behind it (Linux); elsewhere 0 (see _open_regular).
_O_PATH: int = getattr(os, "O_PATH", 0)
_CHUNK = 64 * 1024


@dataclass(frozen=True, **SLOTS)
class SourceLine:
    """One logical line of config text, with where it came from."""

    text: str
    file: str
    line: int


class FileTooLarge(Exception):
    """Raised by a reader when a file exceeds the size cap."""


class NotRegularFile(Exception):
    """Raised by a reader for anything but a regular, non-executable file."""

    def __init__(self, path: Path, what: str) -> None:
        super().__init__(f"{path}: {what}")
        self.what = what


def _refusal(mode: int) -> str | None:
    """Why keepalived would not read a file of this mode (None: it would)."""
    if stat.S_ISREG(mode):
        if mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH):
            return "is executable (keepalived reads only non-executable files)"
        return None
    kinds = (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a FIFO"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
    )
    kind = next((name for test, name in kinds if test(mode)), "not a regular file")
    return f"is {kind}, not a regular file"


def _open_regular(path: Path) -> tuple[int, int]:
    """Open a regular, non-executable file for reading: (fd, size). Never opens anything else.

    The name is opened with O_PATH, which does not open the file behind it (a FIFO cannot
    block, a device's driver is not called); its fstat must say regular file; that same inode
    is then opened for reading through /proc/self/fd, so no rename in between can put a FIFO
    there. Without O_PATH or /proc the name is opened with O_NONBLOCK and checked after.
    The descriptor is made non-blocking before reading (a regular file in /proc may block).
    """
    flags = os.O_RDONLY | os.O_CLOEXEC | os.O_NOCTTY
    if _O_PATH:
        pfd = os.open(path, _O_PATH | os.O_CLOEXEC)
        try:
            st = os.fstat(pfd)
            why = _refusal(st.st_mode)
            if why is not None:
                raise NotRegularFile(path, why)
            try:
                fd = os.open(f"/proc/self/fd/{pfd}", flags)
            except FileNotFoundError:  # no /proc
                fd = os.open(path, flags | os.O_NONBLOCK)
        finally:
            os.close(pfd)
    else:
        fd = os.open(path, flags | os.O_NONBLOCK)
    try:
        st = os.fstat(fd)
        why = _refusal(st.st_mode)
        if why is not None:
            raise NotRegularFile(path, why)
        os.set_blocking(fd, False)
    except BaseException:
        os.close(fd)
        raise
    return fd, st.st_size


def read_bytes_capped(path: Path, limit: int = MAX_FILE_BYTES) -> bytes:
    """Read a regular file, refusing more than `limit` bytes without reading them all.

    Raises NotRegularFile for a directory, FIFO, socket, device or executable file,
    FileTooLarge past `limit`, OSError when it cannot be opened or read.
    """
    fd, size = _open_regular(path)
    try:
        if size > limit:
            raise FileTooLarge(path)
        chunks: list[bytes] = []
        total = 0
        while total <= limit:
            # The size is a hint (files in /proc say 0): ask for one byte past it to see EOF.
            chunk = os.read(fd, min(limit + 1 - total, max(size + 1 - total, _CHUNK)))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
    finally:
        os.close(fd)
    if total > limit:
        raise FileTooLarge(path)
    return b"".join(chunks)


class _Expansion(Exception):
    """Variable expansion failed (recursion or size)."""

    def __init__(self, code: Code, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True)
class _Include:
    """One file an include statement matched, still to be read."""

    name: str
    pattern: str
    at: SourceLine


@dataclass
class _Frame:
    path: Path
    name: str
    lines: list[str]
    real: str
    index: int = 0
    pending: deque[SourceLine] = field(default_factory=deque)  # raw lines still to process
    ready: deque[SourceLine] = field(default_factory=deque)  # processed lines to emit
    # Files an include matched, opened one at a time as the previous one ends (so a file
    # waiting its turn is not taken for one being read, and only one is in memory).
    includes: deque[_Include] = field(default_factory=deque)


class Preprocessor:
    """Turns a main config file into a stream of `SourceLine`s, collecting diagnostics."""

    def __init__(
        self,
        config_id: str,
        diagnostics: list[Diagnostic],
        reader: Callable[[Path], bytes] = read_bytes_capped,
    ) -> None:
        self.config_id = config_id
        self.diagnostics = diagnostics
        self.reader = reader
        self.variables: dict[str, str] = {}
        self.files: list[str] = []
        self._total_bytes = 0
        self._emitted = 0
        self._aborted = False
        self._loop_lines = 0
        self._reads = 0  # files read so far, re-reads counted (MAX_FILE_READS)
        self._said: set[tuple[Code, str, int, str]] = set()
        self._real: dict[str, str] = {}  # realpath of each name met, for the cycle check

    # -------------------------------------------------------------------- reporting

    def _diag(
        self, code: Code, file: str, line: int, message: str, *, warning: bool = False
    ) -> None:
        key = (code, file, line, message)
        if key in self._said:  # the same include reached again by another path
            return
        self._said.add(key)
        sev = Severity.WARNING if warning else Severity.ERROR
        self.diagnostics.append(Diagnostic(file, line, 1 if line else 0, sev, message, code))

    def _flooded(self) -> bool:
        """True, and reading stops, once the load has more diagnostics than it keeps."""
        diags = self.diagnostics
        if diags.full if isinstance(diags, DiagnosticList) else len(diags) > MAX_DIAGNOSTICS:
            self._aborted = True
        return self._aborted

    # -------------------------------------------------------------------- files

    def _load(self, path: Path, name: str, at: SourceLine | None) -> _Frame | None:
        file, line = (at.file, at.line) if at else (name, 0)
        self._reads += 1
        try:
            data = self.reader(path)
        except NotRegularFile as exc:
            what = "included file" if at else "configuration file"
            self._diag(Code.FILE_UNREADABLE, file, line, f"{what} '{name}' {exc.what}; not read")
            return None
        except FileTooLarge:
            self._diag(
                Code.FILE_TOO_LARGE,
                file,
                line,
                f"configuration file '{name}' is larger than {MAX_FILE_BYTES // 2**20} MiB",
            )
            return None
        except FileNotFoundError:
            if at is None:
                self._diag(Code.FILE_NOT_FOUND, name, 0, f"configuration file '{name}' not found")
            else:
                self._diag(Code.INCLUDE_MISSING, file, line, f"included file '{name}' not found")
            return None
        except OSError as exc:
            self._diag(
                Code.FILE_UNREADABLE, file, line, f"cannot read '{name}': {exc.strerror or exc}"
            )
            return None
        self._total_bytes += len(data)
        if self._total_bytes > MAX_TOTAL_BYTES:
            self._diag(
                Code.FILE_TOO_LARGE,
                file,
                line,
                f"configuration is larger than {MAX_TOTAL_BYTES // 2**20} MiB in total",
            )
            return None
        text = self._decode(data, name)
        if text is None:
            return None
        self.files.append(name)
        return _Frame(path, name, text.split("\n"), self._realpath(name))

    def _decode(self, data: bytes, name: str) -> str | None:
        nul = data.find(b"\0")
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad = exc.start if nul < 0 else min(exc.start, nul)
            line = data.count(b"\n", 0, bad) + 1
            self._diag(Code.BINARY, name, line, "binary data (not UTF-8 text); file ignored")
            return None
        if nul >= 0:
            line = data.count(b"\n", 0, nul) + 1
            self._diag(Code.BINARY, name, line, "binary data (NUL byte); file ignored")
            return None
        return text.replace("\r\n", "\n")

    # -------------------------------------------------------------------- main loop

    def run(self, main: Path) -> Iterator[SourceLine]:
        """Yield the logical lines of `main` and everything it includes."""
        first = self._load(main, str(main), None)
        if first is None:
            return
        stack: list[_Frame] = [first]
        while stack and not self._aborted:
            frame = stack[-1]
            if frame.includes:
                sub = self._open_match(frame.includes.popleft(), [f.real for f in stack])
                if sub is not None:
                    stack.append(sub)
            elif frame.ready:
                out = frame.ready.popleft()
                include = self._include_target(out)
                if include is None:
                    self._emitted += 1
                    if self._emitted > MAX_LINES:
                        self._too_many(out.file, out.line)
                        return
                    if self._flooded():
                        return
                    yield out
                else:
                    frame.includes.extend(self._include(include, out, frame, len(stack)))
            elif frame.pending:
                src = frame.pending.popleft()
                frame.ready.extend(self._process(src, frame.pending))
            elif frame.index < len(frame.lines):
                raw = frame.lines[frame.index]
                if _PLAIN_RE.match(raw) and len(raw) <= MAX_LINE_CHARS:
                    # fast path: nothing to preprocess on this line
                    frame.index += 1
                    if raw and not raw.isspace():
                        self._emitted += 1
                        if self._emitted > MAX_LINES:
                            self._too_many(frame.name, frame.index)
                            return
                        if not self._emitted & 0x3FF and self._flooded():  # every 1024 lines
                            return
                        yield SourceLine(raw, frame.name, frame.index)
                    continue
                if self._flooded():
                    return
                raw, lineno = self._next_physical(frame)
                frame.pending.append(SourceLine(raw, frame.name, lineno))
            else:
                stack.pop()

    def _too_many(self, file: str, line: int) -> None:
        self._diag(
            Code.EXPANSION_TOO_LARGE,
            file,
            line,
            f"configuration expands to more than {MAX_LINES} lines",
        )
        self._aborted = True

    def _next_physical(self, frame: _Frame) -> tuple[str, int]:
        """The next line of `frame`, with `\\`-continued variable definitions joined."""
        lineno = frame.index + 1
        raw = frame.lines[frame.index]
        frame.index += 1
        if raw.lstrip().startswith("$") and strip_comment(raw).rstrip().endswith("\\"):
            parts = [strip_comment(raw).rstrip()[:-1]]
            while frame.index < len(frame.lines):
                nxt = strip_comment(frame.lines[frame.index]).rstrip()
                frame.index += 1
                if nxt.endswith("\\"):
                    parts.append(nxt[:-1])
                else:
                    parts.append(nxt)
                    break
            raw = "\n".join(parts)
        if len(raw) > MAX_LINE_CHARS:
            self._diag(
                Code.FILE_TOO_LARGE,
                frame.name,
                lineno,
                f"line longer than {MAX_LINE_CHARS} characters; truncated",
            )
            raw = raw[:MAX_LINE_CHARS]
        return raw, lineno

    def _process(self, src: SourceLine, pending: deque[SourceLine]) -> list[SourceLine]:
        text = strip_comment(src.text).rstrip() if "\n" not in src.text else src.text.rstrip()
        if not text.strip():
            return []
        if text.lstrip().startswith("@"):
            kept = self._conditional(text.strip())
            if kept is None:
                return []
            text = kept
        stripped = text.lstrip()
        m = _DEF_RE.match(stripped)
        if m:
            self.variables[m.group(1)] = m.group(2).strip()
            return []
        lm = _LOOP_RE.match(stripped)
        if lm:
            self._loop(lm.group(1), lm.group(2), lm.group(3), src, pending)
            return []
        if "$" in text:
            try:
                text = self._expand(text)
            except _Expansion as exc:
                self._diag(exc.code, src.file, src.line, exc.message)
                return []
        out = []
        for piece in text.split("\n"):
            piece = strip_comment(piece).rstrip()
            if piece.strip():
                out.append(SourceLine(piece, src.file, src.line))
        return out

    def _conditional(self, text: str) -> str | None:
        head, _, rest = text.partition(" ")
        if head.startswith("@^"):
            return None if head[2:] == self.config_id else rest.strip()
        return rest.strip() if head[1:] == self.config_id else None

    # -------------------------------------------------------------------- variables

    def _expand(self, text: str) -> str:
        """Substitute variables, detecting self-reference and bounding the result size."""
        return self._expand_in(text, ())

    def _expand_in(self, text: str, chain: tuple[str, ...]) -> str:
        if len(chain) > MAX_EXPANSION_DEPTH:
            raise _Expansion(Code.VARIABLE_RECURSION, "variables nest too deeply")
        out: list[str] = []
        size = 0
        pos = 0
        for m in _VAR_RE.finditer(text):
            name = m.group(1) or m.group(4)
            if name in self.variables and m.group(2) is None:
                if name in chain:
                    loop = " -> ".join((*chain, name))
                    raise _Expansion(
                        Code.VARIABLE_RECURSION, f"variable ${name} expands into itself ({loop})"
                    )
                value = self._expand_in(self.variables[name], (*chain, name))
            elif name in BUILTINS and (m.group(2) is None or name == "_RANDOM"):
                value = self._builtin(name, m.group(2), m.group(3))
            else:
                continue
            out.append(text[pos : m.start()])
            out.append(value)
            size += m.start() - pos + len(value)
            if size > MAX_LINE_CHARS:
                raise _Expansion(
                    Code.EXPANSION_TOO_LARGE,
                    f"variable expansion longer than {MAX_LINE_CHARS} characters",
                )
            pos = m.end()
        out.append(text[pos:])
        return "".join(out)

    def _builtin(self, name: str, low: str | None, high: str | None) -> str:
        """The value of one of keepalived's predefined names."""
        if name == "_INSTANCE":
            return self.config_id
        if name == "_PWD":
            return os.getcwd()
        if name == "_HASH":
            return "#"
        if name == "_BANG":
            return "!"
        lo = int(low) if low is not None else 0
        hi = int(high) if high is not None else RANDOM_MAX
        return str(random.randint(lo, max(lo, hi)))  # keepalived's random()

    # -------------------------------------------------------------------- loops

    def _loop(
        self, kind: str, spec: str, rest: str, src: SourceLine, pending: deque[SourceLine]
    ) -> None:
        try:
            spec = self._expand(spec)
        except _Expansion as exc:
            self._diag(exc.code, src.file, src.line, exc.message)
            return
        args = [a.strip() for a in spec.split(",")]
        var = args[0] if args else ""
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", var):
            self._diag(Code.BAD_LOOP, src.file, src.line, f"~{kind}: bad variable name '{var}'")
            return
        values: list[str]
        if kind == "LST":
            values = args[1:]
        else:
            seq = self._seq_values(args[1:], src)
            if seq is None:
                return
            values = seq
        if len(values) > MAX_LOOP_VALUES:
            self._diag(
                Code.EXPANSION_TOO_LARGE,
                src.file,
                src.line,
                f"~{kind} has more than {MAX_LOOP_VALUES} values",
            )
            return
        self._loop_lines += len(values)
        if self._loop_lines > MAX_LOOP_LINES:
            self._diag(
                Code.EXPANSION_TOO_LARGE,
                src.file,
                src.line,
                f"~SEQ/~LST loops generate more than {MAX_LOOP_LINES} lines; stopped",
            )
            self._aborted = True
            return
        # Each repetition becomes a definition line then the body, processed in order.
        generated = []
        for value in values:
            generated.append(SourceLine(f"${var}={value}", src.file, src.line))
            generated.append(SourceLine(rest, src.file, src.line))
        pending.extendleft(reversed(generated))

    def _seq_values(self, nums: list[str], src: SourceLine) -> list[str] | None:
        try:
            ints = [int(n) for n in nums]
        except ValueError:
            self._diag(Code.BAD_LOOP, src.file, src.line, f"~SEQ: bad number in {nums}")
            return None
        if len(ints) == 1:
            start, step, end = 1, 1, ints[0]
        elif len(ints) == 2:
            start, step, end = ints[0], 1, ints[1]
        elif len(ints) == 3:
            start, step, end = ints
        else:
            self._diag(Code.BAD_LOOP, src.file, src.line, "~SEQ takes 1 to 3 numbers")
            return None
        if step == 0 or (end - start) * step < 0:
            self._diag(Code.BAD_LOOP, src.file, src.line, "~SEQ: step does not reach the end")
            return None
        count = (end - start) // step + 1
        if count > MAX_LOOP_VALUES:
            self._diag(
                Code.EXPANSION_TOO_LARGE,
                src.file,
                src.line,
                f"~SEQ has more than {MAX_LOOP_VALUES} values",
            )
            return None
        return [str(start + i * step) for i in range(count)]

    # -------------------------------------------------------------------- includes

    @staticmethod
    def _include_target(line: SourceLine) -> str | None:
        words = line.text.split(None, 1)
        if len(words) == 2 and words[0] == "include":
            return words[1].strip().strip('"')
        return None

    def _include(self, pattern: str, at: SourceLine, frame: _Frame, depth: int) -> list[_Include]:
        """The files an include statement reads, in order (none when it may not)."""
        if self._flooded():
            return []
        if depth >= MAX_INCLUDE_DEPTH:
            self._diag(
                Code.INCLUDE_DEPTH,
                at.file,
                at.line,
                f"includes nest deeper than {MAX_INCLUDE_DEPTH} files",
            )
            return []
        base = frame.path.parent
        full = pattern if os.path.isabs(pattern) else str(base / pattern)
        if not glob.has_magic(full):
            return [_Include(full, pattern, at)]
        # Never more names than may still be read: the glob of a huge tree stops early.
        budget = MAX_FILE_READS - self._reads
        matches = sorted(itertools.islice(glob.iglob(full), budget + 1))
        if not matches:
            self._diag(
                Code.INCLUDE_MISSING,
                at.file,
                at.line,
                f"no config files matched '{pattern}'",
                warning=True,
            )
        return [_Include(match, pattern, at) for match in matches]

    def _open_match(self, inc: _Include, active: list[str]) -> _Frame | None:
        """Read one file an include matched, unless it is being read or the cap is reached."""
        if self._flooded():
            return None
        if self._reads >= MAX_FILE_READS:
            self._read_limit(inc.pattern, inc.at)
            return None
        if self._realpath(inc.name) in active:
            self._diag(
                Code.INCLUDE_CYCLE,
                inc.at.file,
                inc.at.line,
                f"include cycle: '{inc.name}' is already being read",
            )
            return None
        return self._load(Path(inc.name), inc.name, inc.at)

    def _realpath(self, name: str) -> str:
        """os.path.realpath, once per name and load (a wide include graph meets few names)."""
        real = self._real.get(name)
        if real is None:
            real = self._real[name] = os.path.realpath(name)
        return real

    def _read_limit(self, pattern: str, at: SourceLine) -> None:
        self._diag(
            Code.INCLUDE_LIMIT,
            at.file,
            at.line,
            f"include '{pattern}' would read more than {MAX_FILE_READS} files in one load "
            "(each read counts, also of a file read before); stopping",
        )
        self._aborted = True
