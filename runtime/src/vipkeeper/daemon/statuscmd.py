"""`vipkeeper status [--json] [--socket PATH]`: ask the running daemon for its instances."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from vipkeeper._compat import zip_strict
from vipkeeper.daemon.control import request

DEFAULT_SOCKET = "/run/vipkeeper/control.sock"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Register the status options."""
    parser.add_argument("--json", action="store_true", help="print the daemon's JSON answer")
    parser.add_argument("--socket", default=DEFAULT_SOCKET, help="control socket path")


def _age(epoch: float | None) -> str:
    if not epoch:
        return "-"
    secs = max(0, int(time.time() - epoch))
    if secs < 120:
        return f"{secs}s ago"
    if secs < 7200:
        return f"{secs // 60}m ago"
    return f"{secs // 3600}h ago"


def format_table(status: dict[str, Any]) -> str:
    """A human table: one row per instance."""
    head = (
        "INSTANCE",
        "STATE",
        "PRIO",
        "MASTER",
        "VRID",
        "IFACE",
        "SENT",
        "RECV",
        "DROPS",
        "SINCE",
    )
    rows: list[tuple[str, ...]] = [head]
    reasons: list[str] = []
    for inst in status.get("instances", []):
        c = inst["counters"]
        last = inst.get("last_transition") or {}
        prio = f"{inst['effective_priority']}/{inst['base_priority']}"
        rows.append(
            (
                inst["name"],
                inst["state"],
                prio,
                inst.get("master_address") or "-",
                str(inst["vrid"]),
                inst["interface"],
                str(c["adverts_sent"]),
                str(c["adverts_received"]),
                str(sum(c.get("drops", {}).values())),
                _age(last.get("at")),
            )
        )
        if last:
            reasons.append(
                f"{inst['name']}: {last.get('from')} -> {last.get('to')} ({last.get('reason')})"
            )
    widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
    out = ["  ".join(cell.ljust(w) for cell, w in zip_strict(row, widths)).rstrip() for row in rows]
    if reasons:
        out += ["", "last transitions:", *(f"  {r}" for r in reasons)]
    conflicts = [
        f"  {inst['name']}: {c['address']} also held by {c['mac']} on {c['interface']}"
        f" ({c['answers']} answers, last {c['last_seen_ago']:.1f}s ago)"
        for inst in status.get("instances", [])
        for c in inst.get("conflicts", [])
    ]
    if conflicts:
        out += ["", "VIP conflicts (split brain?):", *conflicts]
    if status.get("not_started"):
        out += ["", "not started:"]
        out += [f"  {name}: {why}" for name, why in status["not_started"].items()]
    return "\n".join(out)


def _fail(args: argparse.Namespace, error: str, code: int) -> int:
    """Report a failure on stderr, and with --json as a JSON object on stdout too."""
    print(f"vipkeeper status: {error}", file=sys.stderr)
    if args.json:
        print(json.dumps({"ok": False, "error": error, "socket": args.socket}, sort_keys=True))
    return code


def main(args: argparse.Namespace) -> int:
    """Print the daemon's status; exit 3 when no daemon answers, 1 when it refuses."""
    try:
        status = request(args.socket, {"command": "status"})
    except (OSError, ValueError, TypeError) as exc:
        return _fail(args, f"cannot reach the daemon at {args.socket}: {exc}", 3)
    if not status.get("ok", False):
        return _fail(args, str(status.get("error", "the daemon refused")), 1)
    if args.json:
        print(json.dumps(status, indent=2, sort_keys=True))
    else:
        print(format_table(status))
    return 0
