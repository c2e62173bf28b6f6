"""keepalived's VRRP firewall: the nftables tables that drop traffic to and from the VIPs.

keepalived (vrrp_nftables.c) builds them when an instance that does not own its addresses
and is not in accept mode (`vrrp_strict`, `no_accept`) adds its VIPs, that is on becoming
MASTER: RFC 5798's Accept_Mode False, where a master answers ARP/ND for the VIPs but takes
no other traffic to them. Leaving MASTER takes the addresses out of the sets again; the
tables stay, empty, until the daemon stops and deletes them. The shape, per family, made as
keepalived 2.2.7 makes it (an `nft list table` of both is the same text):

    table ip NAME                      (on the first IPv4 address)
      set vips { type ipv4_addr }
      chain out { type filter hook output priority PRIO; ip saddr @vips drop }
      chain in  { type filter hook input priority PRIO;  ip daddr @vips drop }
    table ip6 NAME                     (on the first IPv6 address)
      set vips, set neighbor-discovery (constant: nd-neighbor-solicit, nd-neighbor-advert)
      chain out/in: accept neighbour discovery, `goto` the link-local chain for fe80::/10,
                    drop @vips
      chain in_link_local, chain out_link_local
      set vips_link_local { ipv6_addr . iface_index }        (a link-local VIP)
      set vips_link_local_name { ipv6_addr . ifname }        (with dont_track_primary)

PRIO is `nftables_priority` (-1 by default), each rule has a counter with
`nftables_counters`. The tables are named `nftables NAME` (`keepalived` by default).

This module talks to the kernel through libnftables (the JSON API, as the LVS dataplane);
what the sets hold is the caller's: `apply` makes the kernel's sets hold exactly the given
addresses, creating the tables and sets the first time they are needed.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from ipaddress import IPv4Address, IPv6Address
from typing import Any

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.net.libnft import LibNft

__all__ = ["DEFAULT_TABLE", "FwAddr", "FwSettings", "VrrpFirewall", "build_commands"]

DEFAULT_TABLE = "keepalived"
LINK_LOCAL = "fe80::"  # /10
ND_TYPES = ("nd-neighbor-solicit", "nd-neighbor-advert")

Cmd = dict[str, Any]


@dataclass(frozen=True, **SLOTS)
class FwSettings:
    """The table keepalived's `nftables`, `nftables_priority` and `nftables_counters` ask."""

    table: str = DEFAULT_TABLE
    priority: int = -1
    counters: bool = False


@dataclass(frozen=True, **SLOTS)
class FwAddr:
    """A VIP to drop traffic for; a link-local IPv6 one with its interface.

    `by_name`: match the interface by name (keepalived's `vips_link_local_name`, for
    dont_track_primary without nftables_ifindex), else by index.
    """

    address: IPv4Address | IPv6Address
    ifname: str = ""
    by_name: bool = False

    @property
    def family(self) -> str:
        """The nftables family of the address's table."""
        return "ip" if self.address.version == 4 else "ip6"

    @property
    def set_name(self) -> str:
        """The set the address goes in."""
        if self.address.version == 4 or not self.address.is_link_local:
            return "vips"
        return "vips_link_local_name" if self.by_name else "vips_link_local"


def _payload(proto: str, field: str) -> dict[str, Any]:
    return {"payload": {"protocol": proto, "field": field}}


class _Builder:
    """The commands that create one part of the tables, in keepalived's order (so the
    chains, sets and rules list in the same order as keepalived's)."""

    def __init__(self, s: FwSettings) -> None:
        self.s = s

    def _chain(self, family: str, name: str, hook: str | None = None) -> Cmd:
        chain: dict[str, Any] = {"family": family, "table": self.s.table, "name": name}
        if hook is not None:
            chain.update(type="filter", hook=hook, prio=self.s.priority, policy="accept")
        return {"add": {"chain": chain}}

    def _set(self, family: str, name: str, type_: Any, **extra: Any) -> Cmd:
        body = {"family": family, "table": self.s.table, "name": name, "type": type_, **extra}
        return {"add": {"set": body}}

    def _rule(self, family: str, chain: str, match: dict[str, Any], verdict: Cmd) -> Cmd:
        expr: list[dict[str, Any]] = [{"match": {"op": "==", **match}}]
        if self.s.counters:
            expr.append({"counter": {"packets": 0, "bytes": 0}})
        expr.append(verdict)
        body = {"family": family, "table": self.s.table, "chain": chain, "expr": expr}
        return {"add": {"rule": body}}

    def part(self, part: str) -> list[Cmd]:
        if part == "ip":
            return self.ip()
        if part == "ip6":
            return self.ip6()
        return self.link_local(by_name=part == "vips_link_local_name")

    def ip(self) -> list[Cmd]:
        f = "ip"
        return [
            {"add": {"table": {"family": f, "name": self.s.table}}},
            self._chain(f, "out", "output"),
            self._chain(f, "in", "input"),
            self._set(f, "vips", "ipv4_addr"),
            self._rule(f, "in", {"left": _payload(f, "daddr"), "right": "@vips"}, {"drop": None}),
            self._rule(f, "out", {"left": _payload(f, "saddr"), "right": "@vips"}, {"drop": None}),
        ]

    def ip6(self) -> list[Cmd]:
        f = "ip6"
        nd = {"left": _payload("icmpv6", "type"), "right": "@neighbor-discovery"}
        ll = {"prefix": {"addr": LINK_LOCAL, "len": 10}}
        cmds = [
            {"add": {"table": {"family": f, "name": self.s.table}}},
            self._chain(f, "out", "output"),
            self._chain(f, "in", "input"),
            self._chain(f, "in_link_local"),
            self._chain(f, "out_link_local"),
            self._set(f, "vips", "ipv6_addr"),
            self._set(
                f, "neighbor-discovery", "icmpv6_type", flags=["constant"], elem=list(ND_TYPES)
            ),
        ]
        for chain, field in (("in", "daddr"), ("out", "saddr")):
            cmds.append(self._rule(f, chain, nd, {"accept": None}))
            cmds.append(
                self._rule(
                    f,
                    chain,
                    {"left": _payload(f, field), "right": ll},
                    {"goto": {"target": f"{chain}_link_local"}},
                )
            )
        for chain, field in (("in", "daddr"), ("out", "saddr")):
            vips = {"left": _payload(f, field), "right": "@vips"}
            cmds.append(self._rule(f, chain, vips, {"drop": None}))
        return cmds

    def link_local(self, *, by_name: bool) -> list[Cmd]:
        f = "ip6"
        name = "vips_link_local_name" if by_name else "vips_link_local"
        cmds = [self._set(f, name, ["ipv6_addr", "ifname" if by_name else "iface_index"])]
        for chain, field, key in (("in", "daddr", "iif"), ("out", "saddr", "oif")):
            meta = {"meta": {"key": f"{key}name" if by_name else key}}
            match = {"left": {"concat": [_payload(f, field), meta]}, "right": f"@{name}"}
            cmds.append(self._rule(f, f"{chain}_link_local", match, {"drop": None}))
        return cmds


def _parts(addrs: Iterable[FwAddr]) -> list[str]:
    """The parts of the tables that `addrs` need, in creation order."""
    need: list[str] = []
    for a in addrs:
        for part in (a.family, a.set_name if a.set_name != "vips" else ""):
            if part and part not in need:
                need.append(part)
    return need


def _element(a: FwAddr) -> Any:
    if a.set_name == "vips":
        return str(a.address)
    if a.by_name:
        return {"concat": [str(a.address), a.ifname]}
    return {"concat": [str(a.address), socket.if_nametoindex(a.ifname)]}


def build_commands(s: FwSettings, made: set[str], addrs: Iterable[FwAddr]) -> list[Cmd]:
    """One transaction: create the parts not in `made` (updated) that `addrs` need, then make
    every set of the made parts hold exactly its addresses of `addrs`."""
    addrs = sorted(set(addrs), key=lambda a: (a.address.version, a.address, a.ifname))
    builder = _Builder(s)
    cmds: list[Cmd] = []
    for part in _parts(addrs):
        if part not in made:
            cmds += builder.part(part)
            made.add(part)
    sets = [("ip", "vips"), ("ip6", "vips")]
    sets += [("ip6", n) for n in ("vips_link_local", "vips_link_local_name")]
    for family, name in sets:
        if family not in made or (name != "vips" and name not in made):
            continue
        ref = {"family": family, "table": s.table, "name": name}
        cmds.append({"flush": {"set": ref}})
        elems = [_element(a) for a in addrs if a.family == family and a.set_name == name]
        if elems:
            cmds.append({"add": {"element": {**ref, "elem": elems}}})
    return cmds


class VrrpFirewall:
    """The daemon's `ip`/`ip6` tables named `settings.table`, in the caller's namespace."""

    def __init__(self, settings: FwSettings, nft: LibNft | None = None) -> None:
        self.settings = settings
        self._nft = nft
        self.made: set[str] = set()  # "ip", "ip6", "vips_link_local", "vips_link_local_name"
        self.applied: frozenset[FwAddr] = frozenset()

    def _lib(self) -> LibNft:
        if self._nft is None:
            self._nft = LibNft()
        return self._nft

    def _delete_tables(self, families: Iterable[str]) -> None:
        # adding an existing table changes nothing, so add-then-delete never fails
        cmds: list[Cmd] = []
        for family in families:
            table = {"family": family, "name": self.settings.table}
            cmds += [{"add": {"table": table}}, {"delete": {"table": table}}]
        if cmds:
            self._lib().run(cmds)

    def discard_stale(self) -> None:
        """Delete tables of this name a killed run (or keepalived) left, in both families."""
        self._delete_tables(("ip", "ip6"))
        self.made.clear()
        self.applied = frozenset()

    def apply(self, addrs: Iterable[FwAddr]) -> bool:
        """Make the sets hold exactly `addrs`; False when they already did."""
        wanted = frozenset(addrs)
        if wanted == self.applied:
            return False
        present = self._present()
        made = {p for p in self.made if p in present or p not in ("ip", "ip6")}
        if "ip6" not in made:
            made -= {"vips_link_local", "vips_link_local_name"}
        self._lib().run(build_commands(self.settings, made, wanted))
        self.made = made
        self.applied = wanted
        return True

    def _present(self) -> set[str]:
        """The families whose table of this name exists: one deleted behind the daemon's back
        (`nft flush ruleset`) is built again, never written to (a command on a missing table
        crashes Debian 11's libnftables 0.9.8)."""
        found = self._lib().run([{"list": {"tables": None}}])
        return {
            o["table"]["family"]
            for o in found
            if "table" in o and o["table"].get("name") == self.settings.table
        }

    def remove(self) -> None:
        """Delete the tables this daemon made (keepalived's nft_end on stop)."""
        self._delete_tables(f for f in ("ip", "ip6") if f in self.made)
        self.made.clear()
        self.applied = frozenset()

    def close(self) -> None:
        """Free the libnftables context."""
        if self._nft is not None:
            self._nft.close()
            self._nft = None
