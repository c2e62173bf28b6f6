# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vip_assert backend: exactly one holder per VIP, over every host's vip_info result."""

from __future__ import annotations

import ipaddress


def _addr(text):
    return str(ipaddress.ip_address(str(text).split("/", maxsplit=1)[0].strip()))


def problem(kind, message, vip=None, hosts=()):
    """One finding, named by kind."""
    return {"kind": kind, "vip": vip, "hosts": sorted(hosts), "message": message}


def check(facts, vips=None, expected=None, require_running=True):
    """Return (placement rows, problems) for the VIPs over the hosts' facts."""
    expected = {_addr(k): v for k, v in (expected or {}).items()}
    problems = []
    wanted = [_addr(v) for v in vips] if vips else None
    seen = []
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
    for vip in wanted if wanted is not None else seen:
        holders = []
        masters = []
        faults = []
        for host in sorted(facts):
            info = facts[host] or {}
            row = next((r for r in info.get("vips", []) if r.get("address") == vip), None)
            if vip in (info.get("held") or []) or (row and row.get("held")):
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
