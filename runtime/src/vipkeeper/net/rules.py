"""Policy routing rules (`static_rules`, `virtual_rules`) through netlink; idempotent.

A rule is added and deleted with every attribute keepalived sends (vrrp_iprule.c,
netlink_rule), so a delete removes exactly the rule that was added: the kernel deletes the
first rule that matches every attribute given.
"""

from __future__ import annotations

import errno
import socket
from ipaddress import IPv4Interface, IPv6Interface
from typing import Any, Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.net.addrs import NetError
from vipkeeper.net.netlink import AsyncIPRoute, NetlinkError

IPInterface = Union[IPv4Interface, IPv6Interface]
ACTIONS = {"table": 1, "goto": 2, "nop": 3, "blackhole": 6, "unreachable": 7, "prohibit": 8}
FIB_RULE_INVERT = 0x2
_EXISTS = {errno.EEXIST}
_GONE = {errno.ENOENT, errno.ESRCH}


@dataclass(frozen=True, **SLOTS)
class RuleSpec:
    """One rule as the kernel holds it (the config's IpRule, names resolved)."""

    family: int  # 4 or 6
    action: str  # a key of ACTIONS
    priority: int
    source: IPInterface | None = None
    destination: IPInterface | None = None
    invert: bool = False
    table: int = 0
    goto: int = 0
    tos: int = 0
    fwmark: int | None = None
    fwmask: int | None = None
    iif: str | None = None
    oif: str | None = None
    realms: int = 0
    suppress_prefixlength: int | None = None
    suppress_ifgroup: int | None = None
    tunnel_id: int = 0
    uid_range: tuple[int, int] | None = None
    l3mdev: bool = False
    protocol: int | None = None
    ipproto: int | None = None
    sport: tuple[int, int] | None = None
    dport: tuple[int, int] | None = None

    def key(self) -> str:
        """The rule in `ip rule` words: its identity, and what the log says."""
        words = [f"inet{'6' if self.family == 6 else ''}", f"priority {self.priority}"]
        if self.invert:
            words.append("not")
        words.append(f"from {self.source or 'all'}")
        if self.destination is not None:
            words.append(f"to {self.destination}")
        optional: list[tuple[str, object]] = [
            ("tos", self.tos or None),
            ("fwmark", self.fwmark),
            ("fwmask", self.fwmask),
            ("iif", self.iif),
            ("oif", self.oif),
            ("realms", self.realms or None),
            ("suppress_prefixlength", self.suppress_prefixlength),
            ("suppress_ifgroup", self.suppress_ifgroup),
            ("tun_id", self.tunnel_id or None),
            ("uidrange", _range(self.uid_range)),
            ("protocol", self.protocol),
            ("ipproto", self.ipproto),
            ("sport", _range(self.sport)),
            ("dport", _range(self.dport)),
        ]
        words += [f"{name} {value}" for name, value in optional if value is not None]
        if self.l3mdev:
            words.append("l3mdev")
        elif self.action == "table":
            words.append(f"lookup {self.table}")
        elif self.action == "goto":
            words.append(f"goto {self.goto}")
        else:
            words.append(self.action)
        return " ".join(words)

    def args(self) -> dict[str, Any]:
        """pyroute2's keyword arguments for this rule (add and delete alike)."""
        out: dict[str, Any] = {
            "family": socket.AF_INET6 if self.family == 6 else socket.AF_INET,
            "priority": self.priority,
            "action": ACTIONS[self.action],
            "tos": self.tos,
        }
        if self.action == "table" and not self.l3mdev:
            out["table"] = self.table
        if self.invert:
            out["flags"] = FIB_RULE_INVERT
        for name, addr in (("src", self.source), ("dst", self.destination)):
            if addr is not None:
                out[name] = str(addr.ip)
                out[f"{name}_len"] = addr.network.prefixlen
        optional: dict[str, Any] = {
            "fwmark": self.fwmark,
            "fwmask": self.fwmask,
            "iifname": self.iif,
            "oifname": self.oif,
            "flow": self.realms or None,
            "suppress_prefixlen": self.suppress_prefixlength,
            "suppress_ifgroup": self.suppress_ifgroup,
            "tun_id": self.tunnel_id or None,
            "uid_range": _range(self.uid_range, ":"),
            "l3mdev": 1 if self.l3mdev else None,
            "protocol": self.protocol,
            "ip_proto": self.ipproto,
            "sport_range": _range(self.sport, ":"),
            "dport_range": _range(self.dport, ":"),
            "goto": self.goto if self.action == "goto" else None,
        }
        out.update({k: v for k, v in optional.items() if v is not None})
        return out


def _range(pair: tuple[int, int] | None, sep: str = "-") -> str | None:
    return None if pair is None else f"{pair[0]}{sep}{pair[1]}"


async def add_rule(ipr: AsyncIPRoute, spec: RuleSpec) -> bool:
    """Add a rule; False when the same rule was already there."""
    try:
        await ipr.rule("add", **spec.args())
    except NetlinkError as exc:
        if exc.code in _EXISTS:
            return False
        raise NetError(f"adding rule {spec.key()}: {exc}") from exc
    return True


async def remove_rule(ipr: AsyncIPRoute, spec: RuleSpec) -> bool:
    """Delete a rule; False when it was already gone."""
    try:
        await ipr.rule("del", **spec.args())
    except NetlinkError as exc:
        if exc.code in _GONE:
            return False
        raise NetError(f"removing rule {spec.key()}: {exc}") from exc
    return True
