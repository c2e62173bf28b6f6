# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_handover
short_description: What restarting one host's VRRP daemon affects - peers, VIPs, the handover
version_added: 0.1.0
description:
  - For one host of a rolling restart, from the plan and the host's own
    P(vipkeeper.vrrp.vip_info#module) result read just before its turn.
  - RV(_value.handover) lists each instance the host is MASTER of, with the VIP to watch, the
    host's own address (the master the others must stop following) and the candidates (the other
    members). Only the first instance of a sync group is demoted (the group demotes the rest).
  - RV(_value.expect_master) lists the instances that must be MASTER again after the restart
    (MASTER now and C(preempt) on); every other instance must come back BACKUP or MASTER, except
    one in FAULT now, which may come back in FAULT.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The plan (the output of P(vipkeeper.vrrp.vrrp_plan#filter)) or its C(clusters).
    type: dict
    required: true
  host:
    description: The host to restart.
    type: str
    required: true
  info:
    description: The host's vip_info result (C(masters), C(instances)); empty when not read.
    type: dict
    default: {}
"""

EXAMPLES = r"""
- name: What a restart of this host affects
  ansible.builtin.set_fact:
    step: "{{ plan | vipkeeper.vrrp.vrrp_handover(inventory_hostname, info) }}"
"""

RETURN = r"""
_value:
  description: The host's restart.
  type: dict
  contains:
    clusters: {description: The clusters the host is a member of., type: list, elements: str}
    members: {description: The other members of those clusters., type: list, elements: str}
    vips: {description: "Their VIPs (addresses, no prefix).", type: list, elements: str}
    instances: {description: "The host's instances in those clusters.", type: list, elements: str}
    handover:
      description: C(cluster), C(instance), C(vip), C(old_address), C(candidates), C(demote).
      type: list
      elements: dict
    expect_master:
      description: Instances to be MASTER again after the restart.
      type: list
      elements: str
    was_fault: {description: Instances in FAULT before the restart., type: list, elements: str}
    alone: {description: "Clusters of one host (nothing can take over).", type: list, elements: str}
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _address(vip):
    return str(vip).split("/", 1)[0]


def vrrp_handover(plan, host, info=None):
    """The peers, VIPs and handover of one host's restart."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("vrrp_handover expects the plan (or its clusters) as input")
    clusters = plan.get("clusters", plan)
    info = info or {}
    masters = set(info.get("masters") or [])
    states = {i.get("name"): i.get("state") for i in info.get("instances") or []}
    out = {
        "clusters": [],
        "members": [],
        "vips": [],
        "instances": [],
        "handover": [],
        "expect_master": [],
        "was_fault": [],
        "alone": [],
    }
    for name, cluster in clusters.items():
        hosts = list(cluster.get("hosts") or [])
        if host not in hosts:
            continue
        out["clusters"].append(name)
        others = [h for h in hosts if h != host]
        if not others:
            out["alone"].append(name)
        out["members"] += [h for h in others if h not in out["members"]]
        demoted = False
        for inst in cluster.get("instances") or []:
            vips = [_address(v) for v in inst.get("vips") or []]
            out["vips"] += [v for v in vips if v not in out["vips"]]
            members = inst.get("members") or []
            own = next((m for m in members if m.get("host") == host), None)
            if own is None:
                continue
            iname = inst.get("name")
            out["instances"].append(iname)
            if states.get(iname) == "FAULT":
                out["was_fault"].append(iname)
            if iname not in masters:
                continue
            if inst.get("preempt", True):
                out["expect_master"].append(iname)
            candidates = [m.get("host") for m in members if m.get("host") != host]
            if not candidates or not vips:
                continue
            out["handover"].append(
                {
                    "cluster": name,
                    "instance": iname,
                    "vip": vips[0],
                    "old_address": own.get("address") or "",
                    "candidates": candidates,
                    "demote": not (demoted and cluster.get("sync_group")),
                }
            )
            demoted = True
    return out


class FilterModule:
    """vipkeeper.vrrp rolling restart of one host."""

    def filters(self):
        return {"vrrp_handover": vrrp_handover}
