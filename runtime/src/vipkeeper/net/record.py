"""The VIP record under the state dir: what we put in the kernel, so a restart can clean it."""

from __future__ import annotations

import contextlib
import errno
import json
import os
from ipaddress import ip_address, ip_interface
from pathlib import Path
from typing import Any

from vipkeeper.net.addrs import AddrSpec, RouteSpec

RECORD_MODE = 0o600


def _addr_to_json(spec: AddrSpec) -> dict[str, Any]:
    return {
        "ifname": spec.ifname,
        "address": str(spec.address),
        "peer": str(spec.peer) if spec.peer else None,
    }


def _route_to_json(spec: RouteSpec) -> dict[str, Any]:
    return {
        "destination": str(spec.destination),
        "ifname": spec.ifname,
        "via": str(spec.via) if spec.via else None,
        "table": spec.table,
        "metric": spec.metric,
        "type": spec.type,
    }


class RecordError(Exception):
    """The record could not be written (its directory full, read-only, missing...)."""


class VipRecord:
    """A JSON file listing the addresses and routes this daemon currently holds.

    The lists in memory are always what the file says: a change is written first and kept
    only once the file has it, so a failed write (RecordError) leaves both as they were.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.addrs: dict[str, AddrSpec] = {}
        self.routes: dict[str, RouteSpec] = {}

    def load(self) -> tuple[list[AddrSpec], list[RouteSpec]]:
        """What an earlier run left recorded (empty when there is no usable record)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return [], []
        addrs: list[AddrSpec] = []
        routes: list[RouteSpec] = []
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
            for item in data.get("addresses", []):
                peer = item.get("peer")
                addrs.append(
                    AddrSpec(
                        item["ifname"],
                        ip_interface(item["address"]),
                        peer=ip_interface(peer) if peer else None,
                    )
                )
            for item in data.get("routes", []):
                via = item.get("via")
                routes.append(
                    RouteSpec(
                        ip_interface(item["destination"]),
                        ifname=item.get("ifname"),
                        via=ip_address(via) if via else None,
                        table=item.get("table"),
                        metric=item.get("metric"),
                        type=item.get("type"),
                    )
                )
        return addrs, routes

    def add_address(self, spec: AddrSpec) -> None:
        """Record an address before it is added."""
        if spec.key() not in self.addrs:
            self.replace({**self.addrs, spec.key(): spec}, self.routes)

    def remove_address(self, spec: AddrSpec) -> None:
        """Forget an address after it is removed."""
        if spec.key() in self.addrs:
            self.replace({k: v for k, v in self.addrs.items() if k != spec.key()}, self.routes)

    def add_route(self, spec: RouteSpec) -> None:
        """Record a route before it is added."""
        if spec.key() not in self.routes:
            self.replace(self.addrs, {**self.routes, spec.key(): spec})

    def remove_route(self, spec: RouteSpec) -> None:
        """Forget a route after it is removed."""
        if spec.key() in self.routes:
            self.replace(self.addrs, {k: v for k, v in self.routes.items() if k != spec.key()})

    def replace(self, addrs: dict[str, AddrSpec], routes: dict[str, RouteSpec]) -> bool:
        """Make the record list exactly these (written first); False when nothing changed."""
        if addrs == self.addrs and routes == self.routes:
            return False
        self._write(addrs, routes)
        self.addrs, self.routes = dict(addrs), dict(routes)
        return True

    def save(self) -> None:
        """Write the record as it stands (raises RecordError)."""
        self._write(self.addrs, self.routes)

    def _write(self, addrs: dict[str, AddrSpec], routes: dict[str, RouteSpec]) -> None:
        """Write the record atomically (tmp file + rename); a failure leaves the old file."""
        data = {
            "pid": os.getpid(),
            "addresses": [_addr_to_json(s) for s in addrs.values()],
            "routes": [_route_to_json(s) for s in routes.values()],
        }
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            # Root only whatever the umask (or a leftover tmp file's mode): it lists the VIPs.
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, RECORD_MODE)
            with os.fdopen(fd, "w") as out:
                os.fchmod(fd, RECORD_MODE)
                out.write(json.dumps(data, indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()  # a partial file would hold space a full directory lacks
            raise RecordError(f"cannot write the VIP record {self.path}: {_why(exc)}") from exc


def _why(exc: OSError) -> str:
    """An OSError as `[ENOSPC] No space left on device`."""
    name = errno.errorcode.get(exc.errno or 0)
    text = exc.strerror or str(exc)
    return f"[{name}] {text}" if name else text
