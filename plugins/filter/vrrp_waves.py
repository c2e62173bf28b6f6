# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_waves
short_description: The order of a rolling restart - waves of hosts, per cluster the master last
version_added: 0.1.0
description:
  - Orders the hosts in O(pending) (those whose VRRP daemon must restart) into waves for a rolling
    restart. The hosts of one wave share no cluster, so a wave never touches two members of one
    cluster at once; the waves run one after the other.
  - In each cluster the backups go first and the master last, so the master hands its VIPs over
    once, to a member that already runs the new code.
  - The master of a cluster is the host named in O(masters) (the one seen MASTER when the restart
    begins), else the member the plan puts first (highest priority).
  - A host may be master of one cluster and a backup of another. When two such hosts wait for each
    other (each masters a cluster the other backs up), no order puts both masters last; the host
    that waits for the fewest clusters goes first (it hands over before its restart, like any
    master) and the rest follows the rule.
  - Hosts of O(pending) that are in no cluster go into the first wave.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The plan (the output of P(vipkeeper.vrrp.vrrp_plan#filter)) or its C(clusters).
    type: dict
    required: true
  pending:
    description: The hosts to restart, in the order to keep among equals.
    type: list
    elements: str
    required: true
  masters:
    description: Cluster name to the host that is its master now.
    type: dict
    default: {}
  parallel:
    description: Several hosts (of different clusters) per wave; false gives one host per wave.
    type: bool
    default: true
"""

EXAMPLES = r"""
- name: Order the restarts
  ansible.builtin.debug:
    msg: "{{ plan | vipkeeper.vrrp.vrrp_waves(['lb1', 'lb2', 'lb3'], masters={'web': 'lb1'}) }}"
    # [['lb2'], ['lb3'], ['lb1']]
"""

RETURN = r"""
_value:
  description: The waves, each a list of host names.
  type: list
  elements: list
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError


def _clusters(plan):
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("vrrp_waves expects the plan (or its clusters) as input")
    clusters = plan.get("clusters", plan)
    if not isinstance(clusters, Mapping):
        raise AnsibleFilterError("vrrp_waves expects the plan (or its clusters) as input")
    return clusters


def planned_master(cluster):
    """The member the plan prefers: highest priority of the first instance, else the first host."""
    instances = cluster.get("instances") or []
    members = (instances[0].get("members") or []) if instances else []
    if members:
        best = max(members, key=lambda m: m.get("priority") or 0)
        return best.get("host")
    hosts = cluster.get("hosts") or []
    return hosts[0] if hosts else None


def vrrp_waves(plan, pending, masters=None, parallel=True):
    """Waves of hosts to restart: no two members of a cluster in one wave, masters last."""
    clusters = _clusters(plan)
    if not isinstance(pending, list) or not all(isinstance(h, str) for h in pending):
        raise AnsibleFilterError("vrrp_waves: pending must be a list of host names")
    masters = dict(masters or {})
    hosts_of = {name: list(c.get("hosts") or []) for name, c in clusters.items()}
    master_of = {name: masters.get(name) or planned_master(c) for name, c in clusters.items()}
    member_of = {}
    for name, hosts in hosts_of.items():
        for host in hosts:
            member_of.setdefault(host, []).append(name)

    remaining = list(dict.fromkeys(pending))
    waves = []

    def waits_for(host, left):
        """Clusters this host masters that still have other members to restart."""
        return [
            c
            for c in member_of.get(host, [])
            if master_of[c] == host and any(o in left and o != host for o in hosts_of[c])
        ]

    while remaining:
        left = set(remaining)
        ready = [h for h in remaining if not waits_for(h, left)]
        if not ready:  # masters waiting for each other: the one waiting for the fewest goes
            waiting = {h: len(waits_for(h, left)) for h in remaining}
            ready = [min(remaining, key=waiting.__getitem__)]
        wave, used = [], set()
        for host in ready:
            mine = set(member_of.get(host, []))
            if mine & used:
                continue
            wave.append(host)
            used |= mine
            if not parallel:
                break
        waves.append(wave)
        remaining = [h for h in remaining if h not in wave]
    return waves


class FilterModule:
    """vipkeeper.vrrp rolling restart order."""

    def filters(self):
        return {"vrrp_waves": vrrp_waves}
