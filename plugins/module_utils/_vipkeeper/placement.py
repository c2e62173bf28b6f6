# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vip_assert backend: exactly one holder per VIP, over every host's vip_info result."""

from __future__ import annotations

import ipaddress


def _addr(text):
    return str(ipaddress.ip_address(str(text).split("/", maxsplit=1)[0].strip()))


def carried(info):
    """The addresses a host really carries (vip_info's C(addresses)), canonical text."""
    found = set()
    for item in info.get("addresses") or []:
        text = item.get("address") if isinstance(item, dict) else item
        try:
            found.add(_addr(text))
        except ValueError:
            continue
    return found


def plan_vips(plan, hosts):
    """Every VIP of the plan's clusters that have a host among `hosts`, in plan order."""
    if not plan:
        return []
    clusters = plan.get("clusters") if isinstance(plan, dict) else None
    if not isinstance(clusters, dict):
        raise TypeError("plan must be the output of vipkeeper.vrrp.vrrp_plan")
    found = []
    for name in sorted(clusters):
        cluster = clusters[name] or {}
        if hosts and not set(cluster.get("hosts") or []) & set(hosts):
            continue
        for inst in cluster.get("instances") or []:
            found.extend(_addr(v) for v in inst.get("vips") or [])
    return found


def problem(kind, message, vip=None, hosts=()):
    """One finding, named by kind."""
    return {"kind": kind, "vip": vip, "hosts": sorted(hosts), "message": message}


def check(facts, vips=None, expected=None, require_running=True, plan=None):
    """Return (placement rows, problems) for the VIPs over the hosts' facts.

    The VIPs are `vips` (else every VIP a daemon lists) and every VIP of `plan`. A host holds a
    VIP when it carries the address (its vip_info C(addresses), C(held)), whatever the daemons
    say, so two hosts with the same VIP are a split brain even when no daemon lists it.
    """
    expected = {_addr(k): v for k, v in (expected or {}).items()}
    problems = []
    wanted = [_addr(v) for v in vips] if vips else None
    seen = []
    from_plan = plan_vips(plan, sorted(facts))
    for host in sorted(facts):
        info = facts[host] or {}
        if require_running and not info.get("running", False):
            reason = info.get("error") or "no vip_info result"
            problems.append(
                problem(
                    "daemon_down",
                    "host %s: VRRP daemon not answering (%s)" % (host, reason),
                    hosts=[host],
                )
            )
        for row in info.get("vips", []):
            if row.get("instance") and row["address"] not in seen:
                seen.append(row["address"])
    rows = []
    checked = []
    for vip in (wanted if wanted is not None else seen) + from_plan:
        if vip not in checked:
            checked.append(vip)
    for vip in checked:
        holders = []
        masters = []
        faults = []
        for host in sorted(facts):
            info = facts[host] or {}
            row = next((r for r in info.get("vips", []) if r.get("address") == vip), None)
            held = vip in (info.get("held") or []) or (row and row.get("held"))
            if held or vip in carried(info):
                holders.append(host)
            if row and row.get("state") == "MASTER":
                masters.append(host)
            if row and row.get("state") == "FAULT":
                faults.append(host)
        want = expected.get(vip)
        status = "ok"
        if len(holders) > 1:
            status = "split_brain"
            problems.append(
                problem(
                    "split_brain",
                    "VIP %s: split brain, held by %s" % (vip, ", ".join(holders)),
                    vip,
                    holders,
                )
            )
        elif not holders:
            status = "no_holder"
            problems.append(
                problem(
                    "no_holder",
                    "VIP %s: no master, no host holds it (hosts checked: %s)"
                    % (vip, ", ".join(sorted(facts))),
                    vip,
                    sorted(facts),
                )
            )
        elif want and holders != [want]:
            status = "unexpected_holder"
            problems.append(
                problem(
                    "unexpected_holder",
                    "VIP %s: held by %s, expected %s" % (vip, holders[0], want),
                    vip,
                    [holders[0], want],
                )
            )
        if status == "ok" and sorted(masters) != sorted(holders):
            status = "state_mismatch"
            problems.append(
                problem(
                    "state_mismatch",
                    "VIP %s: held by %s but MASTER on %s"
                    % (vip, ", ".join(holders), ", ".join(masters) or "no host"),
                    vip,
                    set(holders) | set(masters),
                )
            )
        rows.append(
            {
                "vip": vip,
                "holders": holders,
                "holder": holders[0] if len(holders) == 1 else None,
                "masters": masters,
                "faults": faults,
                "expected": want,
                "status": status,
            }
        )
    return rows, problems
