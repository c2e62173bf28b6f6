"""keepalived-style dumps of the running state: SIGUSR1 data, SIGUSR2 stats, and JSON."""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import secrets
import socket
import stat
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from vipkeeper import __version__

if TYPE_CHECKING:
    from vipkeeper.config import model as m
    from vipkeeper.daemon.conflict import ConflictWatch
    from vipkeeper.daemon.kernel import Kernel
    from vipkeeper.daemon.notify import NotifyQueue
    from vipkeeper.daemon.registry import Registry
    from vipkeeper.daemon.trackers import Trackers
    from vipkeeper.vrrp.instance import Stats

log = logging.getLogger("vipkeeper")

DATA_FILE = "keepalived.data"
STATS_FILE = "keepalived.stats"
JSON_FILE = "keepalived.json"
DEFAULT_DIR = "/run/vipkeeper"  # the unit's RuntimeDirectory (its /tmp is private)
DUMP_MODE = 0o600  # root only, as keepalived since CVE-2018-19046 (its umask 0177)
DIR_MODE = 0o750  # a dump directory created here (the unit's RuntimeDirectoryMode)


def _stamp(epoch: float | None) -> str:
    if not epoch:
        return "never"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(epoch))


def format_data(snapshot: dict[str, Any]) -> str:
    """The SIGUSR1 data dump: configuration and state of every instance."""
    lines = [
        "------< Global definitions >------",
        f" Config file = {snapshot.get('config')}",
        f" Router ID = {snapshot.get('router_id')}",
        f" Daemon pid = {snapshot.get('pid')}",
        f" Started = {_stamp(snapshot.get('started_at'))}",
        f" Reloads = {snapshot.get('reloads', 0)}",
        "------< VRRP Topology >------",
    ]
    for inst in snapshot.get("instances", []):
        last = inst.get("last_transition") or {}
        lines += [
            f" VRRP Instance = {inst['name']}",
            f"   State = {inst['state']}",
            f"   Interface = {inst['interface']}",
            f"   Virtual Router ID = {inst['vrid']}",
            f"   VRRP version = {inst['version']}",
            f"   Base priority = {inst['base_priority']}",
            f"   Effective priority = {inst['effective_priority']}",
            f"   Advert interval = {inst['advert_int']} sec",
            f"   Master router = {inst.get('master_address') or 'unknown'}",
            f"   Last transition = {_stamp(last.get('at'))} ({last.get('reason', '-')})",
            f"   Using src_ip = {inst.get('source')}",
            f"   Virtual IP ({len(inst.get('vips', []))}):",
            *(f"     {vip}" for vip in inst.get("vips", [])),
        ]
        for fault in inst.get("faults", []):
            lines.append(f"   Fault held by = {fault}")
    for script in snapshot.get("scripts", []):
        lines += [
            f" VRRP Script = {script['name']}",
            f"   Command = {script['command']}",
            f"   Status = {'GOOD' if script['ok'] else 'BAD'}",
        ]
    return "\n".join(lines) + "\n"


def format_stats(snapshot: dict[str, Any]) -> str:
    """The SIGUSR2 stats dump: per-instance counters."""
    lines: list[str] = []
    for inst in snapshot.get("instances", []):
        c = inst["counters"]
        drops = c.get("drops", {})
        lines += [
            f"VRRP Instance: {inst['name']}",
            "  Advertisements:",
            f"    Received: {c['adverts_received']}",
            f"    Sent: {c['adverts_sent']}",
            f"  Became master: {c['became_master']}",
            f"  Released master: {c['released_master']}",
            "  Packet Errors:",
            *(f"    {reason}: {count}" for reason, count in sorted(drops.items())),
            "  Priority Zero:",
            f"    Received: {c['priority_zero_received']}",
            f"    Sent: {c['priority_zero_sent']}",
        ]
    daemon = snapshot.get("counters", {})
    lines += ["Daemon:", *(f"  {k}: {v}" for k, v in sorted(daemon.items()))]
    return "\n".join(lines) + "\n"


def write_dump(directory: str, name: str, text: str) -> str:
    """Write a dump file the way keepalived's fopen_safe() does; return its path.

    The text goes to a new file under an unpredictable name in `directory` (O_CREAT|O_EXCL|
    O_NOFOLLOW: never an existing file, never through a symlink), mode 0600 whatever the umask,
    which is then renamed onto `name`: a symlink or file planted at `name` is replaced, never
    followed or written into, and a reader holding an old copy open never sees the new text.
    The directory is opened once and every step works relative to it. A directory that another
    user owns, or that others may write without the sticky bit, is refused (an OSError naming
    it): there another user could replace the dump after it is written.
    """
    if not name or "/" in name or name in (".", ".."):
        raise ValueError(f"{name!r}: not a plain file name")
    path = os.path.join(directory, name)
    dir_fd = _open_directory(directory)
    try:
        _check_directory(directory, os.fstat(dir_fd))
        try:
            _write_into(dir_fd, name, text)
        except OSError as exc:
            raise OSError(exc.errno, f"{path}: {exc.strerror or exc}") from exc
    finally:
        os.close(dir_fd)
    return path


def _open_directory(directory: str) -> int:
    """An fd of the dump directory, created (mode 0750) if it does not exist."""
    flags = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
    try:
        try:
            return os.open(directory, flags)
        except FileNotFoundError:
            os.makedirs(directory, mode=DIR_MODE, exist_ok=True)
            return os.open(directory, flags)
    except OSError as exc:
        raise OSError(exc.errno, f"dump directory {directory}: {exc.strerror or exc}") from exc


def _write_into(dir_fd: int, name: str, text: str) -> None:
    """Write a private new file in the directory, then rename it onto `name`."""
    tmp, fd = _create_private(dir_fd, name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.rename(tmp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp, dir_fd=dir_fd)
        raise


def _check_directory(directory: str, st: os.stat_result) -> None:
    """Refuse a dump directory another user could swap files in."""
    if st.st_uid not in (0, os.geteuid()):
        raise OSError(
            errno.EPERM, f"{directory} is owned by uid {st.st_uid}, not root: not writing dumps"
        )
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not st.st_mode & stat.S_ISVTX:
        raise OSError(
            errno.EPERM,
            f"{directory} (mode {stat.S_IMODE(st.st_mode):04o}) is writable by other users"
            " without the sticky bit: not writing dumps",
        )


def _create_private(dir_fd: int, name: str) -> tuple[str, int]:
    """A new file `.NAME.XXXXXXXX` (random) in the directory: (its name, a write fd)."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for _ in range(100):
        tmp = f".{name}.{secrets.token_hex(8)}"
        try:
            fd = os.open(tmp, flags, DUMP_MODE, dir_fd=dir_fd)
        except FileExistsError:
            continue
        try:
            os.fchmod(fd, DUMP_MODE)  # whatever the umask
        except BaseException:
            os.close(fd)
            os.unlink(tmp, dir_fd=dir_fd)
            raise
        return tmp, fd
    raise FileExistsError(errno.EEXIST, "no free temporary name")


def format_json(snapshot: dict[str, Any]) -> str:
    """The JSON dump."""
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"


def dump_file(directory: str, name: str, text: str) -> str | None:
    """Write one dump file (write_dump); None, with the cause logged, if it failed."""
    try:
        path = write_dump(directory, name, text)
    except OSError as exc:
        log.error("dump %s not written: %s", name, exc.strerror or exc)
        return None
    log.info("wrote %s", path)
    return path


def snapshot(
    *,
    config_file: str,
    config: m.Config,
    registry: Registry,
    not_started: dict[str, str],
    trackers: Trackers,
    counters: dict[str, int],
    kernel: Kernel,
    notify: NotifyQueue,
    lvs: Any,
    started_at: float,
    last_reload: dict[str, Any] | None,
    clock: Callable[[], float],
    starting: bool = False,
    conflicts: ConflictWatch | None = None,
) -> dict[str, Any]:
    """The status figures (control socket, dumps, metrics) of a running daemon.

    `lvs` is the LVS manager's own snapshot (None without LVS); `clock` the loop's time;
    `starting` is true until the instances of the first config run (the control socket
    answers from the start, so a status may come before there is any instance to show).
    """
    instances = []
    for managed in registry.instances.values():
        core, plan, s = managed.core, managed.plan, managed.plan.settings
        st: Stats = core.stats
        instances.append(
            {
                "name": managed.name,
                "state": core.state.value,
                "interface": plan.interface,
                "vrid": s.vrid,
                "version": s.version,
                "family": s.family,
                "base_priority": s.priority,
                "effective_priority": core.priority,
                "advert_int": s.advert_int,
                "master_advert_int": core.master_adv_int,
                "source": str(s.source),
                "master_address": str(core.current_master) if core.current_master else None,
                "vips": [str(a.address) for a in plan.addrs],
                "vips_held": {str(a.address): a.key() in kernel.held for a in plan.addrs},
                "unicast_peers": [str(p) for p in s.unicast_peers],
                "multicast_group": str(plan.mcast_group) if plan.mcast_group else None,
                "sync_group": plan.sync_group,
                "faults": list(core.faults),
                "hold_remaining": round(max(0.0, (core.held_until or 0.0) - clock()), 3),
                "last_transition": managed.last_transition,
                "conflicts": conflicts.instance_status(managed.name, clock())
                if conflicts is not None
                else [],
                "counters": {
                    "adverts_sent": st.sent,
                    "adverts_received": st.received,
                    "own_adverts": st.own_adverts,
                    "ignored_not_running": st.ignored_not_running,
                    "drops": {str(r): n for r, n in st.dropped.items()},
                    "interval_mismatch": st.interval_mismatch,
                    "priority_zero_received": st.priority_zero_received,
                    "priority_zero_sent": st.priority_zero_sent,
                    "lower_priority_received": st.lower_priority_received,
                    "became_master": st.became_master,
                    "released_master": st.released_master,
                    "transitions": managed.transitions,
                    "transitions_by": [
                        {"from": f, "to": to, "reason": why, "count": n}
                        for (f, to, why), n in list(managed.transitions_by.items())  # list: atomic
                    ],
                },
            }
        )
    scripts = [
        {
            "name": name,
            "command": " ".join(t.spec.argv),
            "ok": t.ok,
            "runs": t.runs,
            "failures": t.failures,
            "timeouts": t.timeouts,
            "last_rc": t.last_rc,
        }
        for name, t in trackers.scripts.items()
    ]
    return {
        "version": __version__,
        "pid": os.getpid(),
        "config": config_file,
        "router_id": config.global_defs.router_id or socket.gethostname().split(".")[0],
        "started_at": started_at,
        "starting": starting,
        "reloads": counters["reloads"],
        "last_reload": last_reload,
        "instances": instances,
        "not_started": dict(not_started),
        "sync_groups": {n: g.state.value for n, g in registry.groups.items()},
        "scripts": scripts,
        "track_files": {n: f.value for n, f in trackers.files.items()},
        "track_processes": _processes(trackers),
        "counters": {
            **counters,
            "kernel_errors": kernel.errors,
            "garps_sent": kernel.garps_sent,
            "notifies_run": notify.ran,
            "notifies_killed": notify.killed,
        },
        "lvs": lvs,
        "conflict_detection": conflicts.status() if conflicts is not None else None,
    }


def _processes(trackers: Trackers) -> dict[str, Any]:
    """Each vrrp_track_process: how many processes match, and whether its quorum is held."""
    procs = trackers.processes
    if procs is None:
        return {}
    return {n: {"processes": procs.count[n], "quorum": procs.up[n]} for n in procs.specs}
