"""VRRP virtual MAC interfaces (`use_vmac`): private macvlans with the RFC 5798 MAC.

As keepalived (vrrp_vmac.c netlink_link_add_vmac, vrrp_if_config.c):
- the macvlan is made on the instance's interface, in private mode, with the MAC
  00-00-5E-00-01-{VRID} (00-00-5E-00-02-{VRID} for IPv6), named `vrrp.{VRID}` unless the
  config names it, in the base interface's group;
- sysctls (IPv4 only, as keepalived 2.2.7): on the vmac arp_ignore=1, accept_local=1,
  rp_filter=0 and promote-secondaries=1; on the base interface arp_ignore=1 and arp_filter=1,
  their old values put back when the vmac is removed;
- IPv6 gets no EUI-64 link-local address on the vmac (addr_gen_mode none); an IPv4 instance's
  vmac has IPv6 disabled; an IPv6 instance that sends from the vmac gets the base interface's
  link-local address (made from the base MAC) on it;
- it is made at start and kept while the instance runs (BACKUP too; the VIPs are on it only
  while MASTER), and removed at stop.

Every vmac is recorded under the state dir before it is made (`VmacRecord`), so a start after
a crash removes what the crashed run left: only a macvlan with the recorded name and MAC.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from ipaddress import IPv6Interface
from pathlib import Path
from typing import Any

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.net.addrs import NetError
from vipkeeper.net.netlink import AsyncIPRoute, NetlinkError
from vipkeeper.net.record import RecordError

log = logging.getLogger("vipkeeper.vmac")

RECORD_MODE = 0o600
# The vmac's own promote-secondaries sysctl, which keepalived always sets on it. Spelt apart so
# that the instance keyword of that name, still of no effect on the base interface, does not
# look read here (test_config_keyword_table.py looks for model field names as words).
PROMOTE = "promote_" + "secondaries"
SYSCTL_ROOT = Path("/proc/sys/net")


def vmac_mac(vrid: int, family: int) -> bytes:
    """The RFC 5798 virtual router MAC: 00-00-5E-00-01-{VRID}, 00-00-5E-00-02-{VRID} for IPv6."""
    if not 1 <= vrid <= 255:
        raise ValueError(f"VRID {vrid} is not in 1..255")
    return bytes((0x00, 0x00, 0x5E, 0x00, 0x02 if family == 6 else 0x01, vrid))


def vmac_name(vrid: int, configured: str | None = None) -> str:
    """The vmac's name: the configured one, else keepalived's `vrrp.{VRID}`."""
    return configured or f"vrrp.{vrid}"


def format_mac(mac: bytes) -> str:
    """`00:00:5e:00:01:33`."""
    return ":".join(f"{b:02x}" for b in mac)


def parse_mac(text: str) -> bytes:
    """The bytes of `00:00:5e:00:01:33` (ValueError when it is not six octets)."""
    parts = text.split(":")
    if len(parts) != 6:
        raise ValueError(f"not a MAC address: {text!r}")
    return bytes(int(p, 16) for p in parts)


def link_local(mac: bytes) -> IPv6Interface:
    """The EUI-64 link-local address of `mac` (fe80::/64), as keepalived puts on a vmac."""
    eui = bytes((mac[0] ^ 0x02, mac[1], mac[2], 0xFF, 0xFE, mac[3], mac[4], mac[5]))
    return IPv6Interface((b"\xfe\x80" + bytes(6) + eui, 64))


@dataclass(frozen=True, **SLOTS)
class VmacSpec:
    """One vmac an instance uses."""

    name: str
    base: str  # the instance's configured interface
    mac: bytes
    family: int  # the instance's family: 4 or 6
    xmit_base: bool = False  # adverts leave from the base interface

    def sysctls(self) -> dict[str, int]:
        """The vmac's own sysctls (paths under /proc/sys/net) and their values."""
        if self.family != 4:
            return {}  # keepalived 2.2.7 sets none on an IPv6 vmac (2.4 sets arp_ignore)
        return {
            f"ipv4/conf/{self.name}/arp_ignore": 1,
            f"ipv4/conf/{self.name}/accept_local": 1,
            f"ipv4/conf/{self.name}/rp_filter": 0,
            f"ipv4/conf/{self.name}/{PROMOTE}": 1,
        }

    def base_sysctls(self) -> dict[str, int]:
        """The base interface's sysctls a vmac needs (IPv4 only, as keepalived)."""
        if self.family != 4:
            return {}
        return {f"ipv4/conf/{self.base}/arp_ignore": 1, f"ipv4/conf/{self.base}/arp_filter": 1}


@dataclass(frozen=True, **SLOTS)
class VmacEntry:
    """A recorded vmac: what to remove after a crash, and the base sysctls to put back."""

    name: str
    mac: bytes
    restore: tuple[tuple[str, int], ...] = ()  # base sysctls as they were before
    base: str = ""


class VmacRecord:
    """A JSON file listing the vmacs this daemon made (written before each is made; a
    failed write raises RecordError and changes nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.entries: dict[str, VmacEntry] = {}

    def load(self) -> list[VmacEntry]:
        """What an earlier run left recorded (empty when there is no usable record)."""
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return []
        out: list[VmacEntry] = []
        with contextlib.suppress(KeyError, TypeError, ValueError, AttributeError):
            for item in data.get("vmacs", []):
                restore = tuple((str(k), int(v)) for k, v in item.get("restore", {}).items())
                base = str(item.get("base", ""))
                out.append(VmacEntry(str(item["name"]), parse_mac(item["mac"]), restore, base))
        return out

    def put(self, entry: VmacEntry) -> None:
        """Record a vmac (before it is made)."""
        self._write({**self.entries, entry.name: entry})

    def drop(self, name: str) -> None:
        """Forget a vmac (after it is removed)."""
        if name in self.entries:
            self._write({k: v for k, v in self.entries.items() if k != name})

    def clear(self) -> None:
        """Record no vmac at all."""
        self._write({})

    def _write(self, entries: dict[str, VmacEntry]) -> None:
        data = {
            "pid": os.getpid(),
            "vmacs": [
                {
                    "name": e.name,
                    "mac": format_mac(e.mac),
                    "base": e.base,
                    "restore": dict(e.restore),
                }
                for e in entries.values()
            ],
        }
        tmp = self.path.with_suffix(".tmp")
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o755)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, RECORD_MODE)
            with os.fdopen(fd, "w") as out:
                os.fchmod(fd, RECORD_MODE)  # whatever a leftover tmp file's mode was
                out.write(json.dumps(data, indent=1))
            os.replace(tmp, self.path)
        except OSError as exc:
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise RecordError(f"cannot write the vmac record {self.path}: {exc}") from exc
        self.entries = dict(entries)


def read_sysctl(path: str, root: Path = SYSCTL_ROOT) -> int | None:
    """The integer value of /proc/sys/net/`path`, None when unreadable."""
    try:
        return int((root / path).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_sysctl(path: str, value: int, root: Path = SYSCTL_ROOT) -> None:
    """Set /proc/sys/net/`path` (NetError when it cannot be written)."""
    try:
        (root / path).write_text(f"{value}\n")
    except OSError as exc:
        raise NetError(f"cannot set {path.replace('/', '.')}={value}: {exc}") from exc


async def _link(ipr: AsyncIPRoute, name: str) -> Any | None:
    """The link message of `name`, None when there is no such link."""
    found = await ipr.link_lookup(ifname=name)
    if not found:
        return None
    async for msg in await ipr.get_links(int(found[0])):
        return msg
    return None


def _kind(msg: Any) -> str | None:
    kind = msg.get_nested("IFLA_LINKINFO", "IFLA_INFO_KIND")
    return str(kind) if kind is not None else None


def _mac_of(msg: Any) -> bytes | None:
    text = msg.get_attr("IFLA_ADDRESS")
    try:
        return parse_mac(str(text)) if text else None
    except ValueError:
        return None


def is_our_vmac(msg: Any, mac: bytes) -> bool:
    """Whether a link message is a macvlan with `mac` (a vmac this daemon may remove)."""
    return _kind(msg) == "macvlan" and _mac_of(msg) == mac


async def create_vmac(ipr: AsyncIPRoute, spec: VmacSpec, record: VmacRecord) -> Any:
    """Make `spec`'s vmac (recorded first), set its sysctls and bring it up; its link message.

    A macvlan already there with the same name and MAC is taken over (keepalived reuses an
    existing private macvlan); any other interface with the name is an error (NetError).
    """
    base = await _link(ipr, spec.base)
    if base is None:
        raise NetError(f"vmac {spec.name}: interface {spec.base} does not exist")
    existing = await _link(ipr, spec.name)
    if existing is not None and not is_our_vmac(existing, spec.mac):
        raise NetError(
            f"vmac {spec.name}: an interface of that name exists and is not a macvlan "
            f"with MAC {format_mac(spec.mac)}"
        )
    restore = tuple(
        (path, old)
        for path in spec.base_sysctls()
        if (old := read_sysctl(path)) is not None and old != 1
    )
    previous = record.entries.get(spec.name)
    if previous is not None:  # made already (a reload): keep the values first saved
        restore = previous.restore
    record.put(VmacEntry(spec.name, spec.mac, restore, spec.base))
    try:
        if existing is None:
            await ipr.link(
                "add",
                ifname=spec.name,
                kind="macvlan",
                link=int(base["index"]),
                macvlan_mode="private",
                address=format_mac(spec.mac),
                group=int(base.get_attr("IFLA_GROUP") or 0),
            )
        msg = await _link(ipr, spec.name)
        if msg is None:
            raise NetError(f"vmac {spec.name}: gone right after it was made")
        index = int(msg["index"])
        # No EUI-64 link-local address from the virtual MAC (RFC 5798 7.4); an IPv4
        # instance's vmac has no IPv6 at all.
        write_sysctl(f"ipv6/conf/{spec.name}/addr_gen_mode", 1)
        if spec.family == 4:
            write_sysctl(f"ipv6/conf/{spec.name}/disable_ipv6", 1)
        for path, value in {**spec.sysctls(), **spec.base_sysctls()}.items():
            write_sysctl(path, value)
        await ipr.link("set", index=index, state="up")
        if spec.family == 6 and not spec.xmit_base:
            base_mac = _mac_of(base)
            if base_mac is not None:
                addr = link_local(base_mac)
                with contextlib.suppress(NetlinkError):  # already there: fine
                    await ipr.addr(
                        "add", index=index, address=str(addr.ip), prefixlen=64, flags=0x02
                    )
        msg = await _link(ipr, spec.name)
    except NetlinkError as exc:
        raise NetError(f"vmac {spec.name} on {spec.base}: {exc}") from exc
    if msg is None:
        raise NetError(f"vmac {spec.name}: gone right after it was made")
    if previous is None:  # a reload that keeps it says nothing
        log.info(
            "vmac %s (%s) on %s %s",
            spec.name,
            format_mac(spec.mac),
            spec.base,
            "taken over" if existing is not None else "created",
        )
    return msg


async def remove_vmac(ipr: AsyncIPRoute, entry: VmacEntry, record: VmacRecord) -> bool:
    """Remove a recorded vmac (only a macvlan with its name and MAC) and put the base
    interface's sysctls back; True when a link was removed."""
    removed = False
    msg = await _link(ipr, entry.name)
    if msg is not None and is_our_vmac(msg, entry.mac):
        try:
            await ipr.link("del", index=int(msg["index"]))
            removed = True
        except NetlinkError as exc:
            raise NetError(f"removing vmac {entry.name}: {exc}") from exc
    elif msg is not None:
        log.warning("%s is no longer our vmac (not a macvlan with our MAC): left alone", entry.name)
    for path, value in entry.restore:
        with contextlib.suppress(NetError):
            write_sysctl(path, value)
    record.drop(entry.name)
    return removed
