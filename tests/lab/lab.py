#!/usr/bin/env python3
"""vipkeeper lab: Debian hosts as systemd-nspawn containers, reachable by SSH (see docs/lab.md).

lab.py up NAME [--lbs N] [--client|--no-client] [--releases R1,R2,...]
                                                    bring lab NAME up (reuses a running one)
lab.py down NAME | --stale                          tear it down / sweep aborted labs
lab.py status [NAME]                                hosts, pids, SSH reachability
lab.py inventory NAME                               path of the generated Ansible inventory
lab.py ssh NAME HOST [CMD...]                       ssh into a host with the lab key
lab.py rootfs [--releases R1,...|all]               build (if needed) and print the base trees
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vklab import core, procs
from vklab.network import NetworkError
from vklab.rootfs import (
    DEFAULT_RELEASE,
    LAB_PACKAGES,
    RELEASES,
    RootfsError,
    check_release,
    ensure_rootfs,
)
from vklab.state import StateDir, all_labs


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def _cmd_up(args: argparse.Namespace) -> int:
    owner = None
    if args.owner_pid is not None:
        owner = procs.proc_of(args.owner_pid)
        if owner is None:
            raise core.LabError(f"--owner-pid {args.owner_pid}: no such process")
    sd = core.up(
        args.name,
        lbs=args.lbs,
        client=args.client,
        owner=owner,
        timeout=args.timeout,
        releases=args.releases,
    )
    print(sd.inventory)
    return 0


def _cmd_down(args: argparse.Namespace) -> int:
    if args.stale:
        removed = core.down_stale()
        detail = f": {', '.join(removed)}" if removed else ""
        print(f"removed {len(removed)} stale item(s){detail}")
        return 0
    if args.name is None:
        raise core.LabError("down needs a lab NAME or --stale")
    if not core.down(args.name):
        print(f"lab {args.name}: nothing to remove")
    return 0


def _cmd_status(args: argparse.Namespace) -> int:
    names = [args.name] if args.name else [sd.name for sd in all_labs() if sd.exists()]
    if not names:
        print("[]" if args.json else "no labs")
        return 0
    worst = 0
    docs: list[dict[str, object]] = []
    for name in names:
        result = core.status(name)
        if result is None:
            print(f"lab {name}: not up", file=sys.stderr if args.json else sys.stdout)
            worst = max(worst, 3)
            continue
        st, rows = result
        healthy = st.phase == "up" and all(r.running and r.ssh for r in rows)
        if args.json:
            sd = StateDir(name)
            doc = {
                **st.to_json(),
                "healthy": healthy,
                "state_dir": str(sd.path),
                "inventory": str(sd.inventory),
                "ssh_config": str(sd.ssh_config),
                "private_key": str(sd.key),
                "controller_address": st.controller_address,
                "interface": "host0",
            }
            docs.append(doc)
            worst = max(worst, 0 if healthy else 1)
            continue
        print(
            f"lab {st.name}: {st.phase}{'' if healthy else ' (DEGRADED)'}  bridge {st.bridge}  "
            f"network {st.network}  inventory {StateDir(name).inventory}"
        )
        for r in rows:
            pid = r.host.nspawn.pid if r.host.nspawn else "-"
            print(
                f"  {r.host.name:<24} {r.host.group:<7} {r.host.address:<15} nspawn pid {pid!s:<8}"
                f" {'running' if r.running else 'STOPPED'}  ssh {'ok' if r.ssh else 'DOWN'}"
            )
        worst = max(worst, 0 if healthy else 1)
    if args.json:
        one = docs[0] if docs else None
        print(json.dumps(one if args.name else docs, indent=2))
    return worst


def _cmd_inventory(args: argparse.Namespace) -> int:
    sd = StateDir(args.name)
    if not sd.inventory.is_file():
        raise core.LabError(f"lab {args.name} is not up (no {sd.inventory})")
    print(sd.inventory)
    return 0


def _cmd_ssh(args: argparse.Namespace) -> int:
    sd = StateDir(args.name)
    if not sd.ssh_config.is_file():
        raise core.LabError(f"lab {args.name} is not up (no {sd.ssh_config})")
    host = _host_name(args.name, args.host)
    return subprocess.call(["ssh", "-F", str(sd.ssh_config), host, *args.command])


def _host_name(name: str, host: str) -> str:
    return host if host.startswith(f"{name}-") else f"{name}-{host}"


def _cmd_exec(args: argparse.Namespace) -> int:
    st = StateDir(args.name).try_load()
    if st is None:
        raise core.LabError(f"lab {args.name} is not up")
    want = _host_name(args.name, args.host)
    host = next((h for h in st.hosts if h.name == want), None)
    if host is None or host.init is None or not procs.is_ours(host.init, args.name):
        raise core.LabError(f"lab {args.name}: no running host {want}")
    command = args.command or ["/bin/bash", "-l"]
    return subprocess.call(["nsenter", "-t", str(host.init.pid), "-a", *command])


def _cmd_rootfs(args: argparse.Namespace) -> int:
    for release in args.releases:
        print(ensure_rootfs(LAB_PACKAGES, suite=release))
    return 0


def _releases(text: str) -> list[str]:
    """--releases: comma-separated Debian codenames, or `all`."""
    names = list(RELEASES) if text.strip() == "all" else [r.strip() for r in text.split(",")]
    try:
        return [check_release(r).name for r in names]
    except RootfsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parser() -> argparse.ArgumentParser:
    """Command-line interface."""
    p = argparse.ArgumentParser(prog="lab.py", description=__doc__.splitlines()[0])
    sub = p.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a lab up (reuses a running one of the same shape)")
    up.add_argument("name")
    up.add_argument("--lbs", type=int, default=2, help="number of load-balancer hosts")
    up.add_argument("--client", action=argparse.BooleanOptionalAction, default=True)
    up.add_argument("--owner-pid", type=int, help="the lab is stale once this process is gone")
    up.add_argument("--timeout", type=float, default=float(os.environ.get("LAB_TIMEOUT", "180")))
    up.add_argument(
        "--releases",
        type=_releases,
        default=[DEFAULT_RELEASE],
        help=f"Debian release of each lb in turn, the client runs the first "
        f"({', '.join(RELEASES)}; default {DEFAULT_RELEASE})",
    )
    up.set_defaults(func=_cmd_up)
    down = sub.add_parser("down", help="tear a lab down, or sweep stale ones")
    down.add_argument("name", nargs="?")
    down.add_argument("--stale", action="store_true", help="remove leftovers of aborted runs")
    down.set_defaults(func=_cmd_down)
    st = sub.add_parser("status", help="show a lab (or all labs)")
    st.add_argument("name", nargs="?")
    st.add_argument("--json", action="store_true", help="machine-readable (for playbooks)")
    st.set_defaults(func=_cmd_status)
    inv = sub.add_parser("inventory", help="print the path of a lab's inventory")
    inv.add_argument("name")
    inv.set_defaults(func=_cmd_inventory)
    ssh = sub.add_parser("ssh", help="ssh into a lab host (HOST: lb1, client or a full name)")
    ssh.add_argument("name")
    ssh.add_argument("host")
    ssh.add_argument("command", nargs=argparse.REMAINDER)
    ssh.set_defaults(func=_cmd_ssh)
    ex = sub.add_parser("exec", help="run a command (default: a shell) in a host via nsenter")
    ex.add_argument("name")
    ex.add_argument("host")
    ex.add_argument("command", nargs=argparse.REMAINDER)
    ex.set_defaults(func=_cmd_exec)
    rf = sub.add_parser("rootfs", help="build the cached base trees if needed; print their paths")
    rf.add_argument(
        "--releases",
        type=_releases,
        default=[DEFAULT_RELEASE],
        help=f"comma-separated Debian releases, or all ({', '.join(RELEASES)})",
    )
    rf.set_defaults(func=_cmd_rootfs)
    return p


def main(argv: list[str] | None = None) -> int:
    """Entry point: no traceback reaches the user."""
    args = parser().parse_args(argv)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print("lab: interrupted", file=sys.stderr)
        return 130
    except (core.LabError, RootfsError, NetworkError) as exc:
        print(f"lab: error: {exc}", file=sys.stderr)
        return 1
    except (OSError, subprocess.SubprocessError) as exc:
        print(f"lab: error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
