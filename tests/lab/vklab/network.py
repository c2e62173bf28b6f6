"""The lab bridge in the machine's namespace, and the per-lab /24 carved from 10.213.0.0/16.

nspawn's --network-bridge needs the bridge in the root namespace. It is the only thing the lab
creates there: a `vkl<hash>` bridge with one address (the controller's), no NAT, no forwarding.
The machine's other interfaces and routes are never touched; a subnet is only taken when no
address or route on the machine overlaps it (192.0.2.0/24, the uplink, is outside the pool).
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import subprocess
from collections.abc import Iterable
from pathlib import Path

POOL = ipaddress.IPv4Network("10.213.0.0/16")
# Third octets the lab may take; the low ones are left to the namespace labs of runtime tests.
SUBNET_INDEXES = range(100, 250)
BRIDGE_PREFIX = "vkl"


class NetworkError(Exception):
    """A bridge or address operation failed."""


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    """Run `ip ARGS`, raising NetworkError with its stderr on failure."""
    res = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise NetworkError(f"ip {' '.join(args)}: {res.stderr.strip()}")
    return res


def bridge_name(lab: str) -> str:
    """Unique, stable bridge name for a lab (15 characters at most)."""
    return BRIDGE_PREFIX + hashlib.sha256(lab.encode()).hexdigest()[:10]


def subnet(index: int) -> ipaddress.IPv4Network:
    """10.213.INDEX.0/24."""
    return ipaddress.IPv4Network(f"10.213.{index}.0/24")


def _json(*args: str) -> list[dict[str, object]]:
    out = ip("-j", *args).stdout.strip()
    return json.loads(out) if out else []


def networks_in_use() -> list[ipaddress.IPv4Network]:
    """IPv4 networks of every address and route in the machine's namespace."""
    nets: list[ipaddress.IPv4Network] = []
    for link in _json("-4", "addr", "show"):
        for a in link.get("addr_info", []):  # type: ignore[attr-defined]
            nets.append(ipaddress.IPv4Network(f"{a['local']}/{a['prefixlen']}", strict=False))
    for route in _json("-4", "route", "show", "table", "all"):
        dst = str(route.get("dst", ""))
        if dst and dst != "default" and not dst.startswith(("broadcast", "local")):
            try:
                nets.append(ipaddress.IPv4Network(dst, strict=False))
            except ValueError:
                continue
    return nets


def pick_subnet(taken: Iterable[int]) -> int:
    """First index whose /24 overlaps nothing on the machine and no other lab's."""
    used = networks_in_use()
    taken = set(taken)
    for index in SUBNET_INDEXES:
        net = subnet(index)
        if index not in taken and not any(net.overlaps(u) for u in used):
            return index
    raise NetworkError(f"no free /24 left in {POOL} (indexes {SUBNET_INDEXES})")


def link_exists(name: str) -> bool:
    """True when a link of that name exists in the machine's namespace."""
    return Path(f"/sys/class/net/{name}").exists()


def lab_bridges() -> list[str]:
    """Every bridge carrying the lab prefix."""
    return [
        p.name
        for p in Path("/sys/class/net").iterdir()
        if p.name.startswith(BRIDGE_PREFIX) and (p / "bridge").is_dir()
    ]


def create_bridge(name: str, address: ipaddress.IPv4Interface) -> None:
    """Create the lab bridge with the controller's address; multicast reaches every port."""
    ip("link", "add", name, "type", "bridge", "mcast_snooping", "0", "stp_state", "0")
    ip("link", "set", name, "type", "bridge", "forward_delay", "0")
    ip("addr", "add", str(address), "dev", name)
    ip("link", "set", name, "up")


def delete_bridge(name: str) -> None:
    """Delete the bridge if it still exists (gone counts as success)."""
    if link_exists(name):
        ip("link", "del", name, check=False)
    if link_exists(name):
        raise NetworkError(f"bridge {name} could not be deleted")


def nsenter_ip(pid: int, *args: str) -> None:
    """Run `ip ARGS` inside the network namespace of PID."""
    res = subprocess.run(
        ["nsenter", "-t", str(pid), "-n", "ip", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if res.returncode != 0:
        raise NetworkError(f"in container pid {pid}: ip {' '.join(args)}: {res.stderr.strip()}")
