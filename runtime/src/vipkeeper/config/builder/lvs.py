"""The LVS blocks: virtual_server (with its real servers) and virtual_server_group.

A virtual server is finished when its block ends: each real server, then each checker,
takes a timing it leaves unset from its real server, then its virtual server, and only then
from the checker type's keepalived default (`checkers.finish_checker`). The virtual server's
draft is kept for validation, which reports a protocol, scheduler or forwarding method left
to its default, as keepalived -t does.
"""

from __future__ import annotations

import dataclasses
import difflib
import ipaddress
from typing import Any

from vipkeeper.config.builder.checkers import (
    CHECKER_TYPES,
    TIMING_HANDLERS,
    HasCheckers,
    TimingDraft,
    checker_handler,
    finish_checker,
)
from vipkeeper.config.builder.core import Builder, Draft, Field, loc, name_of
from vipkeeper.config.builder.entries import parse_vsg_entry
from vipkeeper.config.builder.handlers import (
    h_choice,
    h_flag,
    h_int,
    h_script,
    h_str,
)
from vipkeeper.config.builder.registry import LIST, Handler, opens
from vipkeeper.config.diagnostics import Code
from vipkeeper.config.model import (
    IPAddress,
    LbKind,
    Location,
    Protocol,
    RealServer,
    ScriptCommand,
    SorryServer,
    VirtualServer,
    VirtualServerGroup,
)
from vipkeeper.config.parser import Node
from vipkeeper.config.values import parse_int, parse_ip, parse_port

SCHEDULERS = frozenset(
    ("rr", "wrr", "lc", "wlc", "lblc", "lblcr", "sh", "dh", "mh", "sed", "nq", "fo", "ovf", "twos")
)
LB_KINDS = {"NAT": LbKind.NAT, "DR": LbKind.DR, "TUN": LbKind.TUN}


class RealServerDraft(TimingDraft, HasCheckers):
    """A `real_server` block; its timings are only inherited by its checkers."""

    address: Field[IPAddress] = Field()
    port: Field[int | None] = Field()
    location: Field[Location] = Field()
    weight: Field[int] = Field()
    lvs_method: Field[LbKind] = Field()
    inhibit_on_failure: Field[bool] = Field()
    notify_up: Field[ScriptCommand] = Field()
    notify_down: Field[ScriptCommand] = Field()
    uthreshold: Field[int] = Field()
    lthreshold: Field[int] = Field()
    smtp_alert: Field[bool] = Field()
    virtualhost: Field[str] = Field()


class VirtualServerDraft(TimingDraft):
    """A `virtual_server` block."""

    address: Field[IPAddress] = Field()
    port: Field[int] = Field()
    fwmark: Field[int] = Field()
    group: Field[str] = Field()
    location: Field[Location] = Field()
    ip_family: Field[int] = Field()
    inhibit_on_failure: Field[bool] = Field()
    lb_algo: Field[str] = Field()
    scheduler_flags: Field[tuple[str, ...]] = Field()
    ops: Field[bool] = Field()
    lb_kind: Field[LbKind] = Field()
    persistence_timeout: Field[int] = Field()
    persistence_granularity: Field[IPAddress] = Field()
    protocol: Field[Protocol] = Field()
    ha_suspend: Field[bool] = Field()
    smtp_alert: Field[bool] = Field()
    virtualhost: Field[str] = Field()
    omega: Field[bool] = Field()
    quorum_up: Field[ScriptCommand] = Field()
    quorum_down: Field[ScriptCommand] = Field()
    quorum: Field[int] = Field()
    hysteresis: Field[int] = Field()
    sorry_server: Field[SorryServer] = Field()
    sorry_server_inhibit: Field[bool] = Field()
    sorry: Field[tuple[IPAddress, int | None]] = Field(model=False)
    sorry_method: Field[LbKind] = Field(model=False)
    real_servers: Field[tuple[RealServer, ...]] = Field()

    def __init__(self) -> None:
        super().__init__()
        self.real_server_drafts: list[RealServerDraft] = []


VS = VirtualServerDraft
RS = RealServerDraft


def _lb_algo(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    text = b.arg(node, "a scheduler")
    if text is None:
        return
    b.only(node, 1)
    if text not in SCHEDULERS:
        hint = difflib.get_close_matches(text, sorted(SCHEDULERS), n=1)
        extra = f" - did you mean '{hint[0]}'?" if hint else ""
        b.bad(node, f"{node.name}: unknown scheduler '{text}'{extra}")
        return
    d.lb_algo = text


def _sched_flag(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    """keepalived's lbflags_handler: arguments ignored; sh-*, mh-* and hashed need the
    scheduler (set before them) to be sh or mh, and are an error otherwise."""
    b.only(node, 0)
    if not node.name.startswith("flag-") and d.lb_algo not in ("sh", "mh"):
        b.bad(node, f"{node.name} only applies to sh scheduler - ignoring")
        return
    if node.name[:3] in ("sh-", "mh-") and node.name[:2] != d.lb_algo:
        msg = f"{node.name} has no effect with the {d.lb_algo} scheduler - ignoring"
        b.report(node, Code.BAD_VALUE, msg, warning=True)
        return
    d.scheduler_flags = (*(d.scheduler_flags or ()), node.name)


def _persistence_timeout(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    if not node.args:
        d.persistence_timeout = 360
        return
    h_int(VS.persistence_timeout, 1, 2678400)(b, node, d)


def _sorry_server(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    text = b.arg(node, "an address")
    if text is None:
        return
    addr = b.convert(node, lambda: parse_ip(text))
    port = None
    if len(node.args) > 1:
        port = b.convert(node, lambda: parse_port(node.args[1].text))
    b.only(node, 2)
    if addr is not None:
        d.sorry = (addr, port)
        d.remember(VS.sorry, node)


def _granularity(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    """A netmask (`255.255.255.0`) or a prefix length (`24`, up to 128 for IPv6)."""
    text = b.arg(node, "a netmask or prefix length")
    if text is None:
        return
    b.only(node, 1)
    if text.isdigit():
        bits = b.convert(node, lambda: parse_int(text, 1, 128))
        if bits is not None:
            net = ipaddress.ip_network(f"{'0.0.0.0' if bits <= 32 else '::'}/{bits}")
            d.persistence_granularity = net.netmask
        return
    value = b.convert(node, lambda: parse_ip(text))
    if value is not None:
        d.persistence_granularity = value


def _real_server(b: Builder, node: Node, d: VirtualServerDraft) -> None:
    addr_text = b.arg(node, "an address")
    rs = b.walk(node, "real_server", RealServerDraft())
    if addr_text is None:
        return
    addr = b.convert(node, lambda: parse_ip(addr_text))
    port = None
    if len(node.args) > 1:
        port = b.convert(node, lambda: parse_port(node.args[1].text))
    b.only(node, 2)
    if addr is None:
        return
    rs.address = addr
    rs.port = port
    rs.location = loc(node)
    d.real_server_drafts.append(rs)


VS_HANDLERS: dict[str, Handler[VirtualServerDraft]] = {
    **TIMING_HANDLERS,
    "alpha": h_flag(TimingDraft.alpha, args="ignored"),  # keepalived's vs_alpha_handler
    "ip_family": h_choice(VS.ip_family, {"INET": 4, "INET6": 6}),
    "inhibit_on_failure": h_flag(VS.inhibit_on_failure, args="ignored"),
    "lb_algo": _lb_algo,
    "lvs_sched": _lb_algo,
    "hashed": _sched_flag,
    "flag-1": _sched_flag,
    "flag-2": _sched_flag,
    "flag-3": _sched_flag,
    "sh-port": _sched_flag,
    "sh-fallback": _sched_flag,
    "mh-port": _sched_flag,
    "mh-fallback": _sched_flag,
    "ops": h_flag(VS.ops, args="ignored"),
    "lb_kind": h_choice(VS.lb_kind, LB_KINDS, exact=True),
    "lvs_method": h_choice(VS.lb_kind, LB_KINDS, exact=True),
    "persistence_timeout": _persistence_timeout,
    "persistence_granularity": _granularity,
    "protocol": h_choice(
        VS.protocol, {"TCP": Protocol.TCP, "UDP": Protocol.UDP, "SCTP": Protocol.SCTP}
    ),
    "ha_suspend": h_flag(VS.ha_suspend, args="ignored"),
    "smtp_alert": h_flag(VS.smtp_alert),
    "virtualhost": h_str(VS.virtualhost),
    "omega": h_flag(VS.omega, args="ignored"),
    "quorum_up": h_script(VS.quorum_up),
    "quorum_down": h_script(VS.quorum_down),
    "quorum": h_int(VS.quorum, 1, 2**31 - 1),
    "hysteresis": h_int(VS.hysteresis, 0, 2**31 - 1),
    "sorry_server": _sorry_server,
    "sorry_server_inhibit": h_flag(VS.sorry_server_inhibit, args="ignored"),
    "sorry_server_lvs_method": h_choice(VS.sorry_method, LB_KINDS, exact=True),
    "real_server": opens("real_server", _real_server),
}

RS_HANDLERS: dict[str, Handler[RealServerDraft]] = {
    **TIMING_HANDLERS,
    "weight": h_int(RS.weight, 0, 65535),
    "lvs_method": h_choice(RS.lvs_method, LB_KINDS, exact=True),
    "inhibit_on_failure": h_flag(RS.inhibit_on_failure),
    "notify_up": h_script(RS.notify_up),
    "notify_down": h_script(RS.notify_down),
    "uthreshold": h_int(RS.uthreshold, 0, 2**31 - 1),
    "lthreshold": h_int(RS.lthreshold, 0, 2**31 - 1),
    "smtp_alert": h_flag(RS.smtp_alert),
    "virtualhost": h_str(RS.virtualhost),
    **{kind: checker_handler(kind) for kind in CHECKER_TYPES},
}

_RS_ONLY_INHERITED = frozenset(f.name for f in TimingDraft.INHERITED if f is not TimingDraft.alpha)


def finish_real_server(rs: RealServerDraft, vs: VirtualServerDraft) -> RealServer:
    """Build a real server with its checkers."""
    host = rs.virtualhost if rs.virtualhost is not None else vs.virtualhost
    checkers = tuple(finish_checker(c, rs, vs, host, vs.virtualhost) for c in rs.checkers)
    data = {k: v for k, v in rs.values.items() if k not in _RS_ONLY_INHERITED}
    data.setdefault("inhibit_on_failure", vs.inhibit_on_failure or False)
    return RealServer(checkers=checkers, **data)


def _virtual_server(b: Builder, node: Node, _: Draft) -> None:
    words = [t.text for t in node.args]
    head: dict[Field[Any], Any] = {}
    if not words:
        b.report(
            node,
            Code.MISSING_PARAMETER,
            "virtual_server needs 'IP PORT', 'fwmark N' or 'group NAME'",
        )
    elif words[0] == "fwmark" and len(words) == 2:
        head[VS.fwmark] = b.convert(node, lambda: parse_int(words[1], 1, 2**32 - 1))
    elif words[0] == "group" and len(words) == 2:
        head[VS.group] = words[1]
    elif len(words) == 2:
        head[VS.address] = b.convert(node, lambda: parse_ip(words[0]))
        head[VS.port] = b.convert(node, lambda: parse_port(words[1]))
    else:
        b.bad(
            node,
            "virtual_server: expected 'IP PORT', 'fwmark N' or 'group NAME', "
            f"got '{' '.join(words)}'",
        )
    raw = b.walk(node, "virtual_server", VirtualServerDraft())
    if not head or any(v is None for v in head.values()):
        return
    d = raw.copy()
    for field, value in head.items():
        d.set(field, value)
    d.location = loc(node)
    d.real_servers = tuple(finish_real_server(rs, raw) for rs in raw.real_server_drafts)
    if d.sorry is not None:
        address, port = d.sorry
        d.sorry_server = SorryServer(address=address, port=port, lvs_method=d.sorry_method)
    b.virtual_servers.append(keepalived_ports(VirtualServer(**d.values)))
    b.vs_nodes.append((node, raw))


def keepalived_ports(vs: VirtualServer) -> VirtualServer:
    """keepalived's corrections of the ports of real and sorry servers that do not use NAT
    (check_data.c; validate.py reports them): a fwmark service clears them, a service by
    address resets a different port to its own. A `group` service keeps them as written."""
    if vs.group is not None:
        return vs
    want = None if vs.fwmark is not None else vs.port

    def fixed(server: Any) -> Any:
        method = server.lvs_method or vs.lb_kind
        if method == LbKind.NAT or not server.port or server.port == want:
            return server
        return dataclasses.replace(server, port=want)

    sorry = vs.sorry_server
    return dataclasses.replace(
        vs,
        real_servers=tuple(fixed(rs) for rs in vs.real_servers),
        sorry_server=None if sorry is None else fixed(sorry),
    )


def _virtual_server_group(b: Builder, node: Node, _: Draft) -> None:
    name = name_of(b, node)
    members = tuple(m for m in (parse_vsg_entry(b, e) for e in b.entries(node)) if m is not None)
    if name is not None and not members:  # keepalived's check_parser.c, then removed
        b.report(node, Code.DEFAULTED, f"virtual server group {name} has no entries - removing")
        return
    if name is not None:
        b.vs_groups.append(VirtualServerGroup(name=name, members=members, location=loc(node)))


LVS_ROOT_HANDLERS: dict[str, Handler[Draft]] = {
    "virtual_server_group": opens(LIST, _virtual_server_group),
    "virtual_server": opens("virtual_server", _virtual_server),
}
