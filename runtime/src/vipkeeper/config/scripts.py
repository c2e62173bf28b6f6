# keepalived's script rules, as `keepalived -t` applies them:
# - only vrrp_script commands are checked for existence, users and file security (errors);
#   vipkeeper checks notify, MISC_CHECK and other scripts the same way but as warnings;
# - a script's command (first word; searched in PATH when it has no '/') must exist and be
#   executable;
# - scripts run as: the script's own `user`, else global `script_user`, else the user
#   `keepalived_script` when it exists, else root. With enable_script_security, falling back
#   to root is an error ("unable to set default user keepalived_script");
# - scripts that would run as root while enable_script_security is off are a security
#   violation (exit 6);
# - with enable_script_security, the script and every directory above it must not be
#   writable by anyone but root and the user the script runs as (sticky directories such as
#   /tmp are fine); otherwise it is a security error (exit 6).
"""Script existence and script-security checks (reads the file system and user database)."""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Callable
from dataclasses import dataclass

from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.model import Config, GlobalDefs, MiscCheck, ScriptCommand

DEFAULT_SCRIPT_USER = "keepalived_script"
SEARCH_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


@dataclass(frozen=True, slots=True)
class ScriptUse:
    """A script command and where it was configured."""

    command: ScriptCommand
    file: str
    line: int
    column: int
    what: str  # e.g. "notify_master", "vrrp_script chk"
    strict: bool = False  # vrrp_script: problems are errors; other scripts: warnings


def _lookup_user(name: str) -> tuple[int, int] | None:
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        return None
    return entry.pw_uid, entry.pw_gid


def find_command(word: str, path: str = SEARCH_PATH) -> str | None:
    """The file a command word refers to, or None."""
    if "/" in word:
        return word if os.path.exists(word) else None
    for directory in path.split(":"):
        candidate = os.path.join(directory, word)
        if os.path.isfile(candidate):
            return candidate
    return None


def insecure_part(path: str, uid: int, gid: int) -> str | None:
    """The first path component writable by someone other than root or uid/gid, if any."""
    real = os.path.realpath(path)
    parts = [real]
    parent = os.path.dirname(real)
    while True:
        parts.append(parent)
        if parent == "/":
            break
        parent = os.path.dirname(parent)
    for part in parts:
        try:
            st = os.stat(part)
        except OSError:
            return part
        mode = st.st_mode
        sticky_dir = stat.S_ISDIR(mode) and bool(mode & stat.S_ISVTX)
        if mode & stat.S_IWOTH and not sticky_dir:
            return part
        if mode & stat.S_IWGRP and st.st_gid not in (0, gid) and not sticky_dir:
            return part
        if mode & stat.S_IWUSR and st.st_uid not in (0, uid):
            return part
    return None


def check_scripts(
    uses: list[ScriptUse],
    g: GlobalDefs,
    diagnostics: list[Diagnostic],
    lookup_user: Callable[[str], tuple[int, int] | None] = _lookup_user,
) -> None:
    """Append diagnostics for missing, unrunnable or insecure scripts."""

    def err(use: ScriptUse, code: Code, msg: str) -> None:
        # keepalived -t checks only vrrp_script files; other scripts are warned about here
        sev = Severity.ERROR if use.strict else Severity.WARNING
        diagnostics.append(Diagnostic(use.file, use.line, use.column, sev, msg, code))

    default_user: tuple[int, int] | None = None
    default_name = g.script_user
    if g.script_user is not None:
        default_user = lookup_user(g.script_user)
    else:
        default_user = lookup_user(DEFAULT_SCRIPT_USER)
        default_name = DEFAULT_SCRIPT_USER if default_user else None
    violation: ScriptUse | None = None
    for use in uses:
        cmd = use.command
        name = cmd.user or default_name
        ids = lookup_user(cmd.user) if cmd.user else default_user
        if cmd.user is not None and ids is None:
            err(use, Code.BAD_VALUE, f"{use.what}: user '{cmd.user}' does not exist")
            continue
        if cmd.user is None and g.script_user is not None and ids is None:
            err(use, Code.BAD_VALUE, f"{use.what}: script_user '{g.script_user}' does not exist")
            continue
        if ids is None:
            if g.enable_script_security:
                err(
                    use,
                    Code.BAD_VALUE,
                    f"{use.what}: unable to set default user {DEFAULT_SCRIPT_USER} for script"
                    " (set script_user)",
                )
                continue
            ids = (0, 0)
            name = "root"
        path = find_command(cmd.argv[0])
        if path is None:
            err(use, Code.SCRIPT_MISSING, f"{use.what}: script '{cmd.argv[0]}' not found")
            continue
        if not os.path.isfile(path) or not os.stat(path).st_mode & 0o111:
            err(use, Code.SCRIPT_MISSING, f"{use.what}: script '{path}' is not executable")
            continue
        if g.enable_script_security:
            bad = insecure_part(path, ids[0], ids[1])
            if bad is not None:
                err(
                    use,
                    Code.SCRIPT_SECURITY,
                    f"{use.what}: script '{path}' is insecure: '{bad}' is writable by a "
                    f"user other than root or {name}",
                )
        elif ids[0] == 0 and violation is None:
            violation = use
    if violation is not None:
        diagnostics.append(
            Diagnostic(
                violation.file,
                violation.line,
                violation.column,
                Severity.ERROR,
                "SECURITY VIOLATION - scripts are being executed as root but "
                "enable_script_security is not set",
                Code.SCRIPT_SECURITY,
            )
        )


def script_uses(config: Config) -> list[ScriptUse]:
    """Every script command in the config, with where it is configured."""
    found: list[tuple[ScriptCommand | None, str]] = []
    g = config.global_defs
    found += [
        (g.notify_fifo_script, "notify_fifo_script"),
        (g.vrrp_notify_fifo_script, "vrrp_notify_fifo_script"),
        (g.lvs_notify_fifo_script, "lvs_notify_fifo_script"),
    ]
    strict = {id(script.script) for script in config.vrrp_scripts}
    for script in config.vrrp_scripts:
        found.append((script.script, f"vrrp_script {script.name}"))
    for inst in config.vrrp_instances:
        found += [(c, f"vrrp_instance {inst.name} notify") for c in inst.notify.commands()]
    for group in config.vrrp_sync_groups:
        found += [(c, f"vrrp_sync_group {group.name} notify") for c in group.notify.commands()]
    for vs in config.virtual_servers:
        found += [
            (vs.quorum_up, f"{vs.name} quorum_up"),
            (vs.quorum_down, f"{vs.name} quorum_down"),
        ]
        for rs in vs.real_servers:
            found += [(rs.notify_up, f"real_server {rs.address} notify_up")]
            found += [(rs.notify_down, f"real_server {rs.address} notify_down")]
            for chk in rs.checkers:
                if isinstance(chk, MiscCheck):
                    found.append((chk.misc_path, f"real_server {rs.address} MISC_CHECK"))
    uses = []
    for cmd, what in found:
        if cmd is not None:
            where = cmd.location
            uses.append(
                ScriptUse(
                    cmd,
                    where.file if where else "<config>",
                    where.line if where else 0,
                    where.column if where else 0,
                    what,
                    strict=id(cmd) in strict,
                )
            )
    return uses
