"""nftables dataplane: a NAT load balancer for kernels without IPVS.

Kernel layout (one `inet vipkeeper` table, changed only in atomic transactions):

- `prerouting` / `output` nat chains jump to `services`, which holds one rule per service:
  its match (`ip daddr . th dport` + l4proto, or `meta mark`), a jump to the service's own
  chain `vs_<id>`, and a comment `vk1 ...` that records the service settings;
- map `vs_<id>_rs` (`addr . port : mark`) records every destination and its weight, including
  weight-0 (inhibited) ones, so the kernel holds the whole state and `read()` needs no cache;
- chain `vs_<id>` holds one DNAT rule computed from that map: `numgen inc` over weight-sized
  ranges for rr/wrr (so the share of new connections follows the weights), `jhash` of the
  source (masked by persistence_granularity) for persistence and sh/mh, `numgen random` for
  the other schedulers, and `drop` when no destination has a weight.

Only new connections are scheduled: conntrack keeps established flows on their destination,
so changing a service's map never breaks open connections.

DR: a `netdev vipkeeper` table hooks ingress on the interface that leads to the real servers
and forwards the service's packets unchanged (`fwd ... to ADDR device IF`, the real server's
MAC, found by neighbour lookup). Each DR service has its own chain there (jumped to from
`in_<dev>`, the jump rule's comment naming it) and a flow set per real server
(`vs_<id>_f<hash>`): a known flow goes to the server it started on, a new one is hashed onto
the live servers and recorded (`dr_rules`), so pool changes move no open flow, as in IPVS's
connection table. The flow sets of servers that stay are kept when the chain is rewritten.
The inet chain of a DR service only accepts (packets reaching it were not forwarded).

When the last service goes (stop, or a reload that removes it), both tables are deleted, so a
stopped daemon leaves no hook; at start, tables a killed run left are discarded.

libnftables is used through
`libnft` because pyroute2's nftables module cannot express numgen, jhash, maps or NAT. It has
no asynchronous API and one transaction can take seconds (a re-weight of 500 services), so
each call runs in the loop's default executor, off the event loop; the DR route lookup is
netlink on the loop (`net/netlink.py`).
"""

from __future__ import annotations

import asyncio
import hashlib
import math
from functools import reduce
from typing import Any

from vipkeeper._aiocompat import wait_for
from vipkeeper._compat import zip_strict
from vipkeeper.config.model import LbKind
from vipkeeper.lvs.dataplane import DataplaneError
from vipkeeper.lvs.model import (
    Dest,
    DestKey,
    Service,
    ServiceKey,
    ServiceState,
    Table,
)
from vipkeeper.lvs.reconcile import AddService, DelService, EditService, Op, apply_to
from vipkeeper.net.libnft import LibNft, NftError
from vipkeeper.net.netlink import route_ifname

TABLE = "vipkeeper"
FAMILY = "inet"
DR_FAMILY = "netdev"
SERVICES = "services"
COMMENT_TAG = "vk1"
METHOD_SHIFT = 24
METHODS = (LbKind.NAT, LbKind.DR, LbKind.TUN)
_T = {"family": FAMILY, "table": TABLE}
RR_SCHEDULERS = frozenset({"rr", "wrr"})
HASH_SCHEDULERS = frozenset({"sh", "mh"})
ROUTE_TIMEOUT = 10.0  # seconds for the DR route lookup
# ipvsadm's default idle timeouts (tcp, udp; sctp as tcp), for the DR flow sets
FLOW_TIMEOUTS = {"TCP": 900, "UDP": 300}
FLOW_SET_SIZE = 1 << 18  # flows per real server; beyond, new flows are forwarded statelessly


def chain_name(key: ServiceKey) -> str:
    """The per-service chain name (stable for a key)."""
    return "vs_" + hashlib.sha1(repr(key).encode(), usedforsecurity=False).hexdigest()[:12]


def encode_comment(service: Service) -> str:
    """The `services` rule comment that records a service's settings."""
    k = service.key
    fields = [
        COMMENT_TAG,
        str(k.family),
        k.protocol or "-",
        k.address or "-",
        str(k.port),
        str(k.fwmark),
        service.scheduler,
        ",".join(service.flags) or "-",
        str(service.persistence_timeout),
        service.persistence_netmask or "-",
        "1" if service.ops else "0",
    ]
    text = " ".join(fields)
    if len(text) > 127:
        raise DataplaneError(f"{k}: service settings too long for the nftables comment")
    return text


def decode_comment(text: str) -> Service | None:
    """The Service a `services` rule comment records (None if it is not ours)."""
    parts = text.split(" ")
    if len(parts) != 11 or parts[0] != COMMENT_TAG:
        return None
    _, fam, proto, addr, port, mark, sched, flags, ptimeout, pmask, ops = parts
    key = ServiceKey(
        family=int(fam),
        protocol="" if proto == "-" else proto,
        address="" if addr == "-" else addr,
        port=int(port),
        fwmark=int(mark),
    )
    return Service(
        key=key,
        scheduler=sched,
        flags=() if flags == "-" else tuple(flags.split(",")),
        persistence_timeout=int(ptimeout),
        persistence_netmask="" if pmask == "-" else pmask,
        ops=ops == "1",
    )


def _ipfam(family: int) -> str:
    return "ip" if family == 4 else "ip6"


def _match(left: dict[str, Any], right: Any) -> dict[str, Any]:
    return {"match": {"op": "==", "left": left, "right": right}}


def service_match(key: ServiceKey) -> list[dict[str, Any]]:
    """The expressions that select a service's packets."""
    if key.fwmark:
        return [
            _match({"meta": {"key": "nfproto"}}, "ipv4" if key.family == 4 else "ipv6"),
            _match({"meta": {"key": "mark"}}, key.fwmark),
        ]
    exprs = [
        _match({"payload": {"protocol": _ipfam(key.family), "field": "daddr"}}, key.address),
        _match({"meta": {"key": "l4proto"}}, key.protocol.lower()),
    ]
    if key.port:
        exprs.append(_match({"payload": {"protocol": "th", "field": "dport"}}, key.port))
    return exprs


def _selector(service: Service, total: int) -> dict[str, Any]:
    fam = _ipfam(service.key.family)
    if service.persistence_timeout or service.scheduler in HASH_SCHEDULERS | {"dh"}:
        field = "daddr" if service.scheduler == "dh" else "saddr"
        expr: Any = {"payload": {"protocol": fam, "field": field}}
        if service.persistence_netmask:
            expr = {"&": [expr, service.persistence_netmask]}
        return {"jhash": {"mod": total, "seed": 0, "expr": expr}}
    mode = "inc" if service.scheduler in RR_SCHEDULERS else "random"
    return {"numgen": {"mode": mode, "mod": total}}


def dnat_rule(state: ServiceState) -> list[dict[str, Any]]:
    """The expressions of a service chain's only rule."""
    service = state.service
    live = live_dests(state)
    if not live:
        return [{"drop": None}]
    if forwarding(state) == LbKind.DR:
        return [{"accept": None}]  # forwarded earlier, at ingress (dr_rule)
    with_port = any(d.key.port for d in live)
    total, elems = _slots(service, live, with_port=with_port)
    exprs: list[dict[str, Any]] = []
    if with_port:  # nft maps ports only after a transport protocol match
        proto: Any = service.key.protocol.lower() or {"set": ["tcp", "udp", "sctp"]}
        exprs.append(_match({"meta": {"key": "l4proto"}}, proto))
    nat: dict[str, Any] = {
        "family": _ipfam(service.key.family),
        "addr": {"map": {"key": _selector(service, total), "data": {"set": elems}}},
    }
    if with_port:
        # The map's data is "address . port": nftables before 1.0 (Debian 11's 0.9.8) cannot
        # infer that from the elements and needs the "dnat ip addr . port" form said outright.
        nat["type_flags"] = "concat"
    exprs.append({"dnat": nat})
    return exprs


def live_dests(state: ServiceState) -> list[Dest]:
    """Destinations that get new connections (weight > 0; fo: the heaviest only)."""
    live = [d for d in state if d.weight > 0]
    if state.service.scheduler == "fo" and live:
        top = max(d.weight for d in live)
        live = [next(d for d in live if d.weight == top)]
    return live


def forwarding(state: ServiceState) -> LbKind:
    """The one forwarding method of a service's destinations (NAT or DR on nftables)."""
    methods = {d.method for d in state}
    if not methods or methods == {LbKind.NAT}:
        return LbKind.NAT
    key = state.service.key
    if methods == {LbKind.DR} and not key.fwmark:
        return LbKind.DR
    raise DataplaneError(
        f"{key}: the nftables dataplane forwards a service with NAT or DR, not"
        f" {'/'.join(sorted(methods))}{' (fwmark DR needs IPVS)' if key.fwmark else ''};"
        " use IPVS for TUN and mixed methods"
    )


def _slots(service: Service, live: list[Dest], *, with_port: bool) -> tuple[int, list[list[Any]]]:
    """The hash or counter values each destination takes: `[values, target]` pairs.

    A destination of weight w takes w consecutive values, as one range. With a mask inside
    `jhash` (persistence_granularity) nftables (0.9.8, 1.0.6) refuses ranges ("Value ...
    exceeds valid range 0-0"): there each value is an element of its own.
    """
    weights = [1] * len(live) if service.scheduler == "rr" else [d.weight for d in live]
    divisor = reduce(math.gcd, weights)
    weights = [w // divisor for w in weights]
    singles = bool(service.persistence_netmask)
    elems: list[list[Any]] = []
    start = 0
    for dest, weight in zip_strict(live, weights):
        target: Any = dest.key.address
        if with_port:
            target = {"concat": [dest.key.address, dest.key.port or service.key.port]}
        if weight == 1:
            elems.append([start, target])
        elif singles:
            elems.extend([value, target] for value in range(start, start + weight))
        else:
            elems.append([{"range": [start, start + weight - 1]}, target])
        start += weight
    return start, elems


def dr_rule(state: ServiceState, device: str) -> list[dict[str, Any]]:
    """An ingress rule that forwards a DR service's packets unchanged to a real server's MAC.

    Stateless: the server is chosen by a hash of the source address (and port, unless the
    service is persistent), so every packet of a flow goes to the same server while the pool
    stays the same; the share of flows follows the weights statistically. `dr_rules` puts the
    flow table in front of it; alone it is the fallback when that table is full.
    """
    return [*service_match(state.service.key), _dr_fwd(state, device)]


def _dr_fwd(state: ServiceState, device: str) -> dict[str, Any]:
    service = state.service
    total, elems = _slots(service, live_dests(state), with_port=False)
    fwd = {
        "dev": device,
        "family": _ipfam(service.key.family),
        "addr": {"map": {"key": _dr_selector(service, total), "data": {"set": elems}}},
    }
    return {"fwd": fwd}


def _dr_selector(service: Service, total: int) -> dict[str, Any]:
    saddr: Any = {"payload": {"protocol": _ipfam(service.key.family), "field": "saddr"}}
    if service.persistence_timeout or service.scheduler in HASH_SCHEDULERS:
        expr = {"&": [saddr, service.persistence_netmask]} if service.persistence_netmask else saddr
    else:
        expr = {"concat": [saddr, {"payload": {"protocol": "th", "field": "sport"}}]}
    return {"jhash": {"mod": total, "seed": 0, "expr": expr}}


def flow_set_name(key: ServiceKey, dest: DestKey) -> str:
    """The dynamic set of the open flows a DR service has sent to `dest`."""
    digest = hashlib.sha1(f"{dest.address} {dest.port}".encode(), usedforsecurity=False)
    return f"{chain_name(key)}_f{digest.hexdigest()[:8]}"


def _flow_key(key: ServiceKey) -> dict[str, Any]:
    th = [{"payload": {"protocol": "th", "field": f}} for f in ("sport", "dport")]
    return {"concat": [{"payload": {"protocol": _ipfam(key.family), "field": "saddr"}}, *th]}


def flow_set(key: ServiceKey, dest: DestKey) -> dict[str, Any]:
    """A flow set: `saddr . sport . dport`, each flow forgotten after IPVS's idle timeout."""
    addr_type = "ipv4_addr" if key.family == 4 else "ipv6_addr"
    return {
        "family": DR_FAMILY,
        "table": TABLE,
        "name": flow_set_name(key, dest),
        "type": [addr_type, "inet_service", "inet_service"],
        "flags": ["timeout"],
        "timeout": FLOW_TIMEOUTS.get(key.protocol.upper(), FLOW_TIMEOUTS["TCP"]),
        "size": FLOW_SET_SIZE,
    }


def dr_rules(state: ServiceState, device: str) -> list[list[dict[str, Any]]]:
    """The rules of a DR service's ingress chain: established flows first, then new ones.

    Like IPVS's connection table, a flow stays on the server it was first sent to while that
    server is in the pool (at any weight, 0 included), whatever else changes: each
    destination has a flow set, and a packet whose flow is in one goes to that destination
    (refreshing the entry). A new flow is hashed onto the live servers (as `dr_rule`) and
    recorded in its server's set; if the set is full, the last rule forwards it statelessly.
    """
    service = state.service
    key = service.key
    fam = _ipfam(key.family)
    flow = _flow_key(key)
    rules: list[list[dict[str, Any]]] = []

    def record(dest: DestKey) -> list[dict[str, Any]]:
        ref = "@" + flow_set_name(key, dest)
        return [
            {"set": {"op": "update", "elem": flow, "set": ref}},
            {"fwd": {"dev": device, "family": fam, "addr": dest.address}},
        ]

    for dest in state:
        ref = "@" + flow_set_name(key, dest.key)
        rules.append([_match(flow, ref), *record(dest.key)])
    live = live_dests(state)
    if live:
        total, elems = _slots(service, live, with_port=False)
        values: dict[str, list[Any]] = {}
        for value, address in elems:
            values.setdefault(address, []).append(value)
        by_address = {d.key.address: d.key for d in live}
        for address, taken in values.items():
            right = taken[0] if len(taken) == 1 else {"set": taken}
            hashed = _match(_dr_selector(service, total), right)
            rules.append([hashed, *record(by_address[address])])
        rules.append([_dr_fwd(state, device)])
    return rules


def _mark(dest: Dest) -> int:
    return dest.weight | (METHODS.index(dest.method) << METHOD_SHIFT)


def _unmark(key: DestKey, mark: int) -> Dest:
    return Dest(key, mark & ((1 << METHOD_SHIFT) - 1), METHODS[(mark >> METHOD_SHIFT) & 3])


class NftDataplane:
    """nftables load balancing: NAT in `inet vipkeeper`, DR at ingress in `netdev vipkeeper`."""

    name = "nftables"

    def __init__(self, nft: LibNft | None = None) -> None:
        self._nft = nft or LibNft()

    def close(self) -> None:
        """Free the libnftables context."""
        self._nft.close()

    async def _nft_run(self, cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
        # A worker inherits the network namespace of the thread that starts it: the loop's.
        return await asyncio.to_thread(self._nft.run, cmds)

    async def _run(self, cmds: list[dict[str, Any]]) -> list[dict[str, Any]]:
        try:
            return await self._nft_run(cmds)
        except NftError as exc:
            raise DataplaneError(f"nftables: {exc}") from exc

    async def _listing(self, family: str = FAMILY) -> list[dict[str, Any]]:
        try:
            return await self._nft_run([{"list": {"table": {"family": family, "name": TABLE}}}])
        except NftError:
            return []  # no table yet: nothing programmed

    async def read(self) -> Table:
        """Decode the services and destinations from the kernel's table."""
        return _decode(await self._listing())

    def normalize(self, desired: Table) -> Table:
        """Thresholds are not represented by this backend."""
        out: Table = {}
        for key, st in desired.items():
            dests = {k: Dest(d.key, d.weight, d.method) for k, d in st.dests.items()}
            out[key] = ServiceState(st.service, dests)
        return out

    def _base(self, listing: list[dict[str, Any]]) -> list[dict[str, Any]]:
        cmds: list[dict[str, Any]] = [{"add": {"table": {"family": FAMILY, "name": TABLE}}}]
        cmds.append({"add": {"chain": {**_T, "name": SERVICES}}})
        for name in ("prerouting", "output"):
            chain = {**_T, "name": name, "type": "nat", "hook": name, "prio": -100}
            cmds.append({"add": {"chain": {**chain, "policy": "accept"}}})
        hooked = {r["rule"]["chain"] for r in listing if "rule" in r}
        for name in ("prerouting", "output"):
            if name not in hooked:
                jump = [{"jump": {"target": SERVICES}}]
                cmds.append({"add": {"rule": {**_T, "chain": name, "expr": jump}}})
        return cmds

    async def apply(self, ops: list[Op]) -> None:
        """Rewrite every service the ops touch, in one atomic transaction.

        When no service is left, the tables go (with their hooks): a stopped daemon leaves
        nothing of its own in the kernel.
        """
        if not ops:
            return
        listing = await self._listing()
        dr_listing = await self._listing(DR_FAMILY)
        before = _decode(listing)
        after = apply_to(before, ops)
        if not after:
            await self._delete_tables(bool(listing), bool(dr_listing))
            return
        jump_handles: dict[str, int] = {}
        for obj in listing:
            rule = obj.get("rule")
            if rule and rule["chain"] == SERVICES:
                for expr in rule["expr"]:
                    if "jump" in expr:
                        jump_handles[expr["jump"]["target"]] = rule["handle"]
        dr_handles: dict[str, tuple[str, int]] = {}
        dr_chains: set[str] = set()
        flow_sets: set[str] = set()
        for obj in dr_listing:
            rule = obj.get("rule")
            if rule and "comment" in rule:
                dr_handles[rule["comment"]] = (rule["chain"], rule["handle"])
            if "chain" in obj:
                dr_chains.add(obj["chain"]["name"])
            if "set" in obj:
                flow_sets.add(obj["set"]["name"])
        touched = {
            op.service.key
            if isinstance(op, (AddService, EditService))
            else op.key
            if isinstance(op, DelService)
            else op.service
            for op in ops
        }
        # The ingress table goes with the last DR service (its hook with it).
        drop_dr = bool(dr_listing) and not any(_is_dr(st) for st in after.values())
        cmds = self._base(listing)
        for key in sorted(touched):
            chain = chain_name(key)
            st = after.get(key)
            if not drop_dr:
                cmds.extend(_dr_delete_cmds(key, st, dr_handles, dr_chains, flow_sets))
            if key in before:
                if chain in jump_handles:
                    ref = {**_T, "chain": SERVICES, "handle": jump_handles[chain]}
                    cmds.append({"delete": {"rule": ref}})
                cmds.append({"delete": {"chain": {**_T, "name": chain}}})
                cmds.append({"delete": {"map": {**_T, "name": chain + "_rs"}}})
            if st is None:
                continue
            cmds.extend(self._service_cmds(st))
            if _is_dr(st):
                first = (live_dests(st) or list(st))[0]
                device = await route_device(first.key.address)
                cmds.extend(self._dr_cmds(st, device, flow_sets))
        if drop_dr:
            cmds.append({"delete": {"table": {"family": DR_FAMILY, "name": TABLE}}})
        await self._run(cmds)

    async def _delete_tables(self, inet: bool, netdev: bool) -> None:
        cmds = []
        if inet:
            cmds.append({"delete": {"table": {"family": FAMILY, "name": TABLE}}})
        if netdev:
            cmds.append({"delete": {"table": {"family": DR_FAMILY, "name": TABLE}}})
        if cmds:
            await self._run(cmds)

    def _service_cmds(self, st: ServiceState) -> list[dict[str, Any]]:
        key = st.service.key
        chain = chain_name(key)
        addr_type = "ipv4_addr" if key.family == 4 else "ipv6_addr"
        rs_map: dict[str, Any] = {
            **_T,
            "name": chain + "_rs",
            "type": [addr_type, "inet_service"],
            "map": "mark",
        }
        elems = [[{"concat": [d.key.address, d.key.port]}, _mark(d)] for d in st]
        if elems:
            rs_map["elem"] = elems
        jump = [*service_match(key), {"jump": {"target": chain}}]
        comment = encode_comment(st.service)
        return [
            {"add": {"map": rs_map}},
            {"add": {"chain": {**_T, "name": chain}}},
            {"add": {"rule": {**_T, "chain": chain, "expr": dnat_rule(st)}}},
            {"add": {"rule": {**_T, "chain": SERVICES, "expr": jump, "comment": comment}}},
        ]

    def _dr_cmds(self, st: ServiceState, device: str, existing: set[str]) -> list[dict[str, Any]]:
        table = {"family": DR_FAMILY, "table": TABLE}
        key = st.service.key
        chain = chain_name(key)
        hook = f"in_{device}"
        base = {**table, "name": hook, "type": "filter", "hook": "ingress", "dev": device}
        jump = [*service_match(key), {"jump": {"target": chain}}]
        cmds: list[dict[str, Any]] = [
            {"add": {"table": {"family": DR_FAMILY, "name": TABLE}}},
            {"add": {"chain": {**base, "prio": 0, "policy": "accept"}}},
        ]
        # An existing set is kept as it is (with its flows): the kernel refuses to "add" it
        # again, the flags differing (it made the set dynamic when a rule first updated it).
        for dest in st:
            if flow_set_name(key, dest.key) not in existing:
                cmds.append({"add": {"set": flow_set(key, dest.key)}})
        cmds.append({"add": {"chain": {**table, "name": chain}}})
        for expr in dr_rules(st, device):
            cmds.append({"add": {"rule": {**table, "chain": chain, "expr": expr}}})
        cmds.append({"add": {"rule": {**table, "chain": hook, "expr": jump, "comment": chain}}})
        return cmds

    async def flush(self) -> None:
        """Delete vipkeeper's tables."""
        await self._delete_tables(bool(await self._listing()), bool(await self._listing(DR_FAMILY)))

    async def discard_stale(self) -> None:
        """Delete the tables a run that was killed left (nothing else writes them)."""
        await self.flush()


def _is_dr(st: ServiceState) -> bool:
    """A DR service with a destination: it has an ingress chain."""
    return bool(st.dests) and forwarding(st) == LbKind.DR


def _dr_delete_cmds(
    key: ServiceKey,
    st: ServiceState | None,
    dr_handles: dict[str, tuple[str, int]],
    dr_chains: set[str],
    flow_sets: set[str],
) -> list[dict[str, Any]]:
    """Remove a service's ingress jump and chain, and the flow sets of its departed servers.

    The flow sets of the servers that stay are kept, so their open flows stay with them.
    """
    table = {"family": DR_FAMILY, "table": TABLE}
    chain = chain_name(key)
    cmds: list[dict[str, Any]] = []
    if chain in dr_handles:
        hook, handle = dr_handles[chain]
        cmds.append({"delete": {"rule": {**table, "chain": hook, "handle": handle}}})
    if chain in dr_chains:
        cmds.append({"delete": {"chain": {**table, "name": chain}}})
    keep = {flow_set_name(key, d.key) for d in st} if st is not None and _is_dr(st) else set()
    for name in sorted(flow_sets):
        if name.startswith(chain + "_f") and name not in keep:
            cmds.append({"delete": {"set": {**table, "name": name}}})
    return cmds


def _decode(listing: list[dict[str, Any]]) -> Table:
    maps: dict[str, list[Any]] = {}
    services: dict[str, Service] = {}
    for obj in listing:
        if "map" in obj:
            maps[obj["map"]["name"]] = obj["map"].get("elem", [])
        rule = obj.get("rule")
        if rule and rule["chain"] == SERVICES and "comment" in rule:
            service = decode_comment(rule["comment"])
            if service is not None:
                services[chain_name(service.key)] = service
    table: Table = {}
    for chain, service in services.items():
        dests: dict[DestKey, Dest] = {}
        for key_expr, mark in maps.get(chain + "_rs", []):
            addr, port = key_expr["concat"]
            dkey = DestKey(str(addr), int(port))
            dests[dkey] = _unmark(dkey, int(mark))
        table[service.key] = ServiceState(service, dests)
    return table


async def route_device(address: str) -> str:
    """The interface the kernel routes `address` through (DR sends frames out of it)."""
    try:
        return await wait_for(route_ifname(address), ROUTE_TIMEOUT)
    except Exception as exc:  # no route, no such link, or no answer in time
        why = "timeout" if isinstance(exc, TimeoutError) else exc
        raise DataplaneError(f"no route to real server {address}: {why}") from exc
