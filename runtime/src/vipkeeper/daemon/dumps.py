"""keepalived-style dumps of the running state: SIGUSR1 data, SIGUSR2 stats, and JSON."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

DATA_FILE = "keepalived.data"
STATS_FILE = "keepalived.stats"
JSON_FILE = "keepalived.json"


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
    """Write a dump file atomically (mode 0644, like keepalived); return its path."""
    path = Path(directory) / name
    tmp = path.with_name(f".{name}.{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)
    return str(path)


def format_json(snapshot: dict[str, Any]) -> str:
    """The JSON dump."""
    return json.dumps(snapshot, indent=2, sort_keys=True) + "\n"
