# keepalived's script rules (keepalived 2.2.7, each checked against its `keepalived -t`):
#
# Who a script runs as (core/notify.c notify_script_init, get_default_script_user;
# check/check_misc.c misc_end_handler; vrrp/vrrp_parser.c vrrp_vscript_end_handler):
# - its own user (`notify_master "CMD" USER [GROUP]`, `user` in vrrp_script / MISC_CHECK);
# - else `script_user`; an unknown one is an error ("Error setting global script uid/gid")
#   and every script relying on it is dropped;
# - else the user `keepalived_script` when it exists, else the daemon's own user (root). With
#   enable_script_security that fallback is an error ("Unable to set default user
#   keepalived_script for script"), reported once, at the first script (or notify FIFO) that
#   needs the default; those scripts are dropped;
# - an unknown own user: vrrp_script and MISC_CHECK are errors, the rest is a log line only.
#
# Whether a script may run (core/notify.c check_script_secure, check_security):
# - a bare command name is searched in PATH for a regular file the user may execute;
# - the path is resolved (symlinks, ./..) as the user; what runs is that resolved path (the
#   configured file name is kept when it names the same file in the resolved directory).
#   vipkeeper executes that vetted file but passes the configured argv[0], so a multi-call
#   program (pidof -> killall5) still sees the name it was given;
# - a file the user cannot execute is dropped; a missing one too;
# - only when the script runs with root privileges (uid 0, gid 0, or a set-uid/set-gid root
#   file) is its path walked: every component, from / down to the file (and the symlink
#   target when that differs), must be owned by root, and a regular file or a directory
#   without the sticky bit must not be writable by a group other than gid 0 nor by others.
#   A path component of the wrong type (a symlinked directory, a directory as the script) is
#   always refused. An unsafe path is refused only with enable_script_security.
#
# What `keepalived -t` makes of it (vrrp/vrrp.c check_vrrp_script_security,
# check/check_data.c check_check_script_security, check/check_misc.c
# check_misc_script_security; exit codes from lib/scheduler.h and core/main.c):
# - the VRRP side (vrrp_script, instance and sync-group notifies, notify_fifo_script,
#   vrrp_notify_fifo_script) is checked only when there is a vrrp_instance; the checker side
#   (MISC_CHECK, quorum_up/down, notify_up/down, notify_fifo_script,
#   lvs_notify_fifo_script) only when there is a virtual_server;
# - a vrrp_script that is missing or refused is an error (exit 5); one that is merely not
#   executable is dropped silently. Every other kind is dropped with a log line: exit 0;
# - without enable_script_security, any script that exists (whatever its user, executable or
#   not) is a "SECURITY VIOLATION" (exit 6), once per side.
"""Script users and keepalived's script security: the one rule, for `check` and the daemon.

This module reads the file system and the user database; `assess` and `unsafe_component`
are what the daemon uses at run time too (checks/script.py, checks/process.py).
"""

from __future__ import annotations

import grp
import os
import pwd
import stat
from dataclasses import dataclass
from typing import Protocol

from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.model import Config, FifoOwner, Location, MiscCheck, ScriptCommand

DEFAULT_SCRIPT_USER = "keepalived_script"

# The kinds of script, for what `keepalived -t` makes of their problems.
TRACK = "vrrp_script"  # missing / refused / unknown user: errors
MISC = "MISC_CHECK"  # unknown user or no default user: errors; the rest is logged
NOTIFY = "notify"  # everything only logged

# The sides keepalived checks separately (and only when they have something to run).
VRRP_SIDE = "vrrp"
CHECK_SIDE = "check"


@dataclass(frozen=True)
class ScriptUser:
    """A user (and group) a script runs as."""

    name: str
    uid: int
    gid: int


class Lookup(Protocol):
    """Finds a user (and group) by name: `lookup_user`, or a stand-in in tests."""

    def __call__(self, name: str, group: str | None = None, /) -> ScriptUser | None:
        """The user, or None when the user or the group does not exist."""


def lookup_user(name: str, group: str | None = None) -> ScriptUser | None:
    """The user `name` (with `group` instead of its own group when given), or None."""
    try:
        entry = pwd.getpwnam(name)
        gid = grp.getgrnam(group).gr_gid if group else entry.pw_gid
    except KeyError:
        return None
    return ScriptUser(entry.pw_name, entry.pw_uid, gid)


def daemon_user() -> ScriptUser:
    """The user this process runs as (keepalived's fallback script user)."""
    uid, gid = os.geteuid(), os.getegid()
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = str(uid)
    return ScriptUser(name, uid, gid)


@dataclass(frozen=True)
class DefaultUser:
    """The user scripts without their own `user` run as, or why there is none."""

    user: ScriptUser | None
    error: str | None = None


def default_user(
    script_user: str | None,
    script_group: str | None,
    security: bool,
    lookup: Lookup = lookup_user,
) -> DefaultUser:
    """keepalived's default script user: script_user, else keepalived_script, else ours."""
    if script_user is not None:
        user = lookup(script_user, script_group)
        if user is None:
            what = f"'{script_user}'" + (f" (group '{script_group}')" if script_group else "")
            return DefaultUser(None, f"script_user {what} does not exist")
        return DefaultUser(user)
    user = lookup(DEFAULT_SCRIPT_USER, None)
    if user is not None:
        return DefaultUser(user)
    if security:
        return DefaultUser(
            None,
            f"no script_user is set and the user {DEFAULT_SCRIPT_USER} does not exist "
            "(enable_script_security never falls back to root)",
        )
    return DefaultUser(daemon_user())


def user_for(
    cmd: ScriptCommand, default: DefaultUser, lookup: Lookup = lookup_user
) -> tuple[ScriptUser | None, str | None]:
    """The user a command runs as, or None and why it cannot run."""
    if cmd.user is not None:
        user = lookup(cmd.user, cmd.group)
        if user is None:
            what = f"'{cmd.user}'" + (f" (group '{cmd.group}')" if cmd.group else "")
            return None, f"user {what} does not exist"
        return user, None
    return default.user, default.error


def search_path() -> str:
    """Where a bare command name is looked for: $PATH, else the system's default path."""
    return os.environ.get("PATH") or os.confstr("CS_PATH") or "/bin:/usr/bin"


def _executable(st: os.stat_result, uid: int, gid: int) -> bool:
    """Whether uid/gid may execute a file with this mode (keepalived's is_executable)."""
    mode = st.st_mode
    if uid == 0:
        return bool(mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
    if uid == st.st_uid:
        return bool(mode & stat.S_IXUSR)
    if gid == st.st_gid:
        return bool(mode & stat.S_IXGRP)
    return bool(mode & stat.S_IXOTH)


def _find_in_path(word: str, user: ScriptUser, path: str) -> tuple[str | None, bool]:
    """The first regular file called `word` in `path` that the user may run; (None, denied)."""
    denied = False
    for directory in path.split(":"):
        candidate = os.path.join(directory, word) if directory else word
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and _executable(st, user.uid, user.gid):
            return candidate, False
        denied = True
    return None, denied


def _reachable(path: str, user: ScriptUser) -> bool:
    """Whether the user may look up `path` (search permission on every directory above it)."""
    if user.uid == 0:
        return True
    directory = os.path.dirname(os.path.abspath(path))
    while True:
        try:
            st = os.stat(directory)
        except OSError:
            return False
        if not _executable(st, user.uid, user.gid):
            return False
        if directory == "/":
            return True
        directory = os.path.dirname(directory)


def _prefixes(path: str) -> list[str]:
    """'/', '/a', '/a/b' ... down to `path` itself (an absolute, clean path)."""
    parts = [p for p in path.split("/") if p]
    return ["/"] + ["/" + "/".join(parts[: i + 1]) for i in range(len(parts))]


def unsafe_component(path: str) -> tuple[str, bool] | None:
    """Why `path` is unsafe to run with root privileges, and whether that is a wrong type.

    keepalived's check_security: every component is looked at without following symlinks;
    all but the last must be directories, the last a regular file or a symlink; each must be
    owned by root, and a regular file or a directory without the sticky bit must not be
    writable by a group other than gid 0 or by others. None when the path is safe.
    """
    prefixes = _prefixes(path)
    for index, part in enumerate(prefixes):
        last = index == len(prefixes) - 1
        try:
            st = os.lstat(part)
        except OSError as exc:
            return f"'{part}' cannot be examined ({exc.strerror})", False
        mode = st.st_mode
        if (not last and not stat.S_ISDIR(mode)) or (
            last and not (stat.S_ISREG(mode) or stat.S_ISLNK(mode))
        ):
            kind = "a directory" if not last else "a regular file"
            return f"'{part}' is not {kind}", True
        if st.st_uid != 0:
            return f"'{part}' is owned by uid {st.st_uid}, not root", False
        if stat.S_ISREG(mode) or (stat.S_ISDIR(mode) and not mode & stat.S_ISVTX):
            if mode & stat.S_IWOTH:
                return f"'{part}' is writable by everyone", False
            if mode & stat.S_IWGRP and st.st_gid != 0:
                return f"'{part}' is writable by group {st.st_gid}", False
    return None


@dataclass(frozen=True)
class Verdict:
    """What keepalived's check_script_secure finds for one command and user."""

    path: str | None  # the file that runs (resolved); None when it was not found
    problem: str | None = None  # why it cannot be found or reached
    executable: bool = False
    protected: bool = False  # runs with root privileges: its path was walked
    unsafe: str | None = None  # the unsafe component and why
    wrong_type: bool = False  # a component of the wrong type (always refused)
    walked: tuple[str, ...] = ()  # the paths walked (the daemon walks them again per run)

    @property
    def is_script(self) -> bool:
        """It exists (keepalived's SC_ISSCRIPT: counts toward the SECURITY VIOLATION)."""
        return self.path is not None and self.problem is None

    def refusal(self, security: bool) -> str | None:
        """Why the script must not run (None: it may)."""
        if not self.is_script:
            return self.problem or "not found"
        if self.wrong_type or (self.unsafe is not None and security):
            return f"refused by script security: {self.unsafe}"
        if not self.executable:
            return f"'{self.path}' is not executable by the user it runs as"
        return None


def assess(argv0: str, user: ScriptUser, path: str | None = None) -> Verdict:
    """keepalived's check_script_secure for `argv0` run as `user`."""
    if "/" not in argv0:
        found, denied = _find_in_path(argv0, user, search_path() if path is None else path)
        if found is None:
            why = "is not executable" if denied else "was not found"
            return Verdict(None, f"'{argv0}' {why} in PATH")
        argv0 = found
    if not _reachable(argv0, user):
        return Verdict(None, f"'{argv0}' cannot be reached by uid {user.uid}")
    resolved = os.path.realpath(argv0)
    try:
        real_st = os.stat(resolved)
    except FileNotFoundError:
        return Verdict(None, f"'{argv0}' not found")
    except OSError as exc:
        return Verdict(None, f"'{argv0}' cannot be accessed ({exc.strerror})")
    run, real = resolved, None
    if os.path.basename(argv0) != os.path.basename(resolved):
        # The name a program is called by may matter: keep it if it names the same file.
        named = os.path.join(os.path.dirname(resolved), os.path.basename(argv0))
        try:
            named_st = os.stat(named)
        except OSError:
            named_st = None
        if named_st is not None and (named_st.st_dev, named_st.st_ino) == (
            real_st.st_dev,
            real_st.st_ino,
        ):
            run, real = named, resolved
    executable = _executable(real_st, user.uid, user.gid)
    mode = real_st.st_mode
    protected = executable and (
        user.uid == 0
        or user.gid == 0
        or (real_st.st_uid == 0 and bool(mode & stat.S_IXUSR) and bool(mode & stat.S_ISUID))
        or (real_st.st_gid == 0 and bool(mode & stat.S_IXGRP) and bool(mode & stat.S_ISGID))
    )
    if not protected:
        return Verdict(run, executable=executable)
    walked = (run,) if real is None else (run, real)
    for item in walked:
        found_unsafe = unsafe_component(item)
        if found_unsafe is not None:
            why, wrong = found_unsafe
            return Verdict(run, None, True, True, why, wrong, walked)
    return Verdict(run, None, True, True, walked=walked)


# ------------------------------------------------------------------------- vipkeeper check


@dataclass(frozen=True)
class ScriptUse:
    """A script command and where it was configured."""

    command: ScriptCommand
    file: str
    line: int
    column: int
    what: str  # e.g. "vrrp_instance VI_1 notify_master", "vrrp_script chk"
    kind: str = NOTIFY  # TRACK, MISC or NOTIFY
    sides: frozenset[str] = frozenset({VRRP_SIDE})


def _use(
    cmd: ScriptCommand, what: str, kind: str, sides: frozenset[str], block: Location | None
) -> ScriptUse:
    where = cmd.location or block
    return ScriptUse(
        cmd,
        where.file if where else "<config>",
        where.line if where else 0,
        where.column if where else 0,
        what,
        kind,
        sides,
    )


NOTIFY_KINDS = ("master", "backup", "fault", "stop", "deleted", "generic", "master_rx_lower_pri")


def notify_keyword(kind: str) -> str:
    """The config keyword of a notify kind ("generic" is plain `notify`)."""
    return "notify" if kind == "generic" else f"notify_{kind}"


def script_uses(config: Config) -> list[ScriptUse]:
    """Every script command in the config, with where it is configured."""
    vrrp, check, both = (
        frozenset({VRRP_SIDE}),
        frozenset({CHECK_SIDE}),
        frozenset({VRRP_SIDE, CHECK_SIDE}),
    )
    g = config.global_defs
    uses: list[ScriptUse] = []
    for cmd, what, sides in (
        (g.notify_fifo_script, "notify_fifo_script", both),
        (g.vrrp_notify_fifo_script, "vrrp_notify_fifo_script", vrrp),
        (g.lvs_notify_fifo_script, "lvs_notify_fifo_script", check),
    ):
        if cmd is not None:
            uses.append(_use(cmd, f"global_defs {what}", NOTIFY, sides, g.location))
    vk = config.vipkeeper
    if vk.conflict_notify is not None:
        uses.append(
            _use(vk.conflict_notify, "vipkeeper conflict_notify", NOTIFY, vrrp, vk.location)
        )
    for script in config.vrrp_scripts:
        uses.append(_use(script.script, f"vrrp_script {script.name}", TRACK, vrrp, script.location))
    owners = [("vrrp_instance", i.name, i.notify, i.location) for i in config.vrrp_instances]
    owners += [("vrrp_sync_group", s.name, s.notify, s.location) for s in config.vrrp_sync_groups]
    for block, name, notify, location in owners:
        for kind in NOTIFY_KINDS:
            cmd = getattr(notify, kind)
            if cmd is not None:
                what = f"{block} {name} {notify_keyword(kind)}"
                uses.append(_use(cmd, what, NOTIFY, vrrp, location))
    for vs in config.virtual_servers:
        for cmd, what in ((vs.quorum_up, "quorum_up"), (vs.quorum_down, "quorum_down")):
            if cmd is not None:
                uses.append(_use(cmd, f"{vs.name} {what}", NOTIFY, check, vs.location))
        for rs in vs.real_servers:
            label = f"real_server {rs.address}"
            for cmd, what in ((rs.notify_up, "notify_up"), (rs.notify_down, "notify_down")):
                if cmd is not None:
                    uses.append(_use(cmd, f"{label} {what}", NOTIFY, check, rs.location))
            for chk in rs.checkers:
                if isinstance(chk, MiscCheck) and chk.misc_path is not None:
                    what = f"{label} MISC_CHECK"
                    uses.append(_use(chk.misc_path, what, MISC, check, chk.location))
    return uses


class _Report:
    """Diagnostics of the script check, with keepalived's verdict for each."""

    def __init__(self, diagnostics: list[Diagnostic]) -> None:
        self.diagnostics = diagnostics

    def add(self, use: ScriptUse, error: bool, code: Code, message: str) -> None:
        severity = Severity.ERROR if error else Severity.WARNING
        self.diagnostics.append(
            Diagnostic(use.file, use.line, use.column, severity, f"{use.what}: {message}", code)
        )


def _fifos(config: Config) -> list[tuple[str, str, FifoOwner | None]]:
    """The declared notify FIFOs: (keyword, path, owner)."""
    g = config.global_defs
    declared = (
        ("notify_fifo", g.notify_fifo, g.notify_fifo_owner),
        ("vrrp_notify_fifo", g.vrrp_notify_fifo, g.vrrp_notify_fifo_owner),
        ("lvs_notify_fifo", g.lvs_notify_fifo, g.lvs_notify_fifo_owner),
    )
    return [(what, path, owner) for what, path, owner in declared if path]


def _fifo_needs_default(config: Config) -> bool:
    # keepalived resolves the default user for each notify FIFO declared without a user.
    return any(owner is None for _, _, owner in _fifos(config))


def _check_fifo_owners(config: Config, diagnostics: list[Diagnostic], lookup: Lookup) -> None:
    # keepalived logs an unknown FIFO user and ignores the FIFO; `-t` does not fail.
    for what, path, owner in _fifos(config):
        if owner is None or lookup(owner.user, owner.group) is not None:
            continue
        user = f"'{owner.user}'" + (f" (group '{owner.group}')" if owner.group else "")
        diagnostics.append(
            _diagnostic(
                owner.location or config.global_defs.location,
                Severity.WARNING,
                f"global_defs {what} {path}: user {user} does not exist; the FIFO is not used",
            )
        )


def _diagnostic(where: Location | None, severity: Severity, message: str) -> Diagnostic:
    """A script-user diagnostic at a config location (the config itself when unknown)."""
    return Diagnostic(
        where.file if where else "<config>",
        where.line if where else 0,
        where.column if where else 0,
        severity,
        message,
        Code.SCRIPT_USER,
    )


def check_scripts(
    config: Config, diagnostics: list[Diagnostic], lookup: Lookup = lookup_user
) -> None:
    """Append keepalived -t's script diagnostics (and warnings for what it only logs)."""
    g = config.global_defs
    security = g.enable_script_security
    default = default_user(g.script_user, g.script_group, security, lookup)
    # keepalived drops a command whose quote is not closed ("missing terminating"): it neither
    # runs nor counts for script security
    broken = {(d.file, d.line) for d in diagnostics if d.code is Code.UNTERMINATED_QUOTE}
    uses = [u for u in script_uses(config) if (u.file, u.line) not in broken]
    report = _Report(diagnostics)
    _check_fifo_owners(config, diagnostics, lookup)
    if default.error is not None and (g.script_user is not None or _fifo_needs_default(config)):
        diagnostics.append(_diagnostic(g.location, Severity.ERROR, f"global_defs: {default.error}"))
    elif default.error is not None:
        first = next((u for u in uses if u.command.user is None), None)
        if first is not None:
            report.add(first, True, Code.SCRIPT_USER, default.error)
    active = set()
    if config.vrrp_instances:
        active.add(VRRP_SIDE)
    if config.virtual_servers:
        active.add(CHECK_SIDE)
    runs: dict[str, ScriptUse] = {}  # side -> first script that exists
    insecure: set[str] = set()
    for use in uses:
        if not use.command.argv:
            continue
        user, why = user_for(use.command, default, lookup)
        if user is None and use.command.user is None:
            # the cause is reported once above (keepalived: "Unable to set default user")
            why = "unable to set the default user for it; it is not run"
        if user is None:
            # keepalived drops the script; for vrrp_script and MISC_CHECK that is an error
            report.add(use, use.kind in (TRACK, MISC), Code.SCRIPT_USER, str(why))
            continue
        sides = use.sides & active
        if not sides:
            continue  # keepalived checks nothing of a side that has nothing to run
        verdict = assess(use.command.argv[0], user)
        if verdict.is_script:
            for side in sides:
                runs.setdefault(side, use)
                if verdict.unsafe is not None:
                    insecure.add(side)
        _report_verdict(report, use, verdict, security, user)
    if not security:
        for side, use in sorted(runs.items()):
            what = "scripts" if side == VRRP_SIDE else "check scripts"
            more = " There are insecure scripts." if side in insecure else ""
            diagnostics.append(
                Diagnostic(
                    use.file,
                    use.line,
                    use.column,
                    Severity.ERROR,
                    f"SECURITY VIOLATION - {what} are being executed but "
                    f"enable_script_security is not set.{more}",
                    Code.SCRIPT_SECURITY,
                )
            )


def _report_verdict(
    report: _Report, use: ScriptUse, verdict: Verdict, security: bool, user: ScriptUser
) -> None:
    track = use.kind == TRACK
    if not verdict.is_script:
        report.add(use, track, Code.SCRIPT_MISSING, f"script {verdict.problem}")
    elif verdict.wrong_type or (verdict.unsafe is not None and security):
        report.add(
            use,
            track,
            Code.SCRIPT_INSECURE,
            f"script '{verdict.path}' is insecure: {verdict.unsafe}",
        )
    elif not verdict.executable:
        report.add(
            use,
            False,
            Code.SCRIPT_MISSING,
            f"script '{verdict.path}' is not executable by {user.name} "
            f"(uid {user.uid}, gid {user.gid})",
        )
    elif verdict.unsafe is not None:
        report.add(
            use,
            False,
            Code.SCRIPT_INSECURE,
            f"script '{verdict.path}' is unsafe to run as root: {verdict.unsafe}",
        )
