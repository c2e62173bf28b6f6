# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_plan
short_description: The VRRP plan of every cluster (VRIDs, groups, priorities, peers)
version_added: 0.1.0
description:
  - Plans all clusters of O(_input) at once with the host facts in O(hostvars) and returns the
    whole plan, so it can be reviewed (for example in CI) before anything changes.
  - VRIDs are unique among clusters whose hosts share a broadcast domain, per address family;
    they and the multicast groups stay the same when clusters are added or removed as long as
    the previous plan's C(lock) is passed back in O(lock).
  - Any inventory error (duplicate pinned VRIDs in one domain, more than 255 clusters in one
    domain, unknown hosts, VIPs outside the interface's network, missing facts) fails the
    template with every problem, naming the clusters and hosts involved.
  - See C(docs/inventory.md) in the collection for the inventory model.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The clusters (usually C(vipkeeper_clusters)).
    type: list
    elements: dict
    required: true
  hostvars:
    description: C(hostvars), for the interface facts of every host the clusters name.
    type: dict
    required: true
  settings:
    description:
      - Site-wide planning options.
      - C(mcast_unique) (bool, default false) gives every multicast cluster its own group from
        C(mcast_pool4) (default C(239.255.213.0/24)) or C(mcast_pool6) (default
        C(ff02::5650:0/120)); otherwise clusters use C(224.0.0.18) / C(ff02::12).
      - C(priority_base) (150) and C(priority_step) (10) give the priorities by host order.
      - C(single_host) (C(warn), C(error) or C(allow)) for clusters with one host.
      - C(advert_int) (1), C(version4) (2, the VRRP version of IPv4 instances), C(secret) (a
        site-wide fallback auth secret).
      - C(avoid_vrids) (default none) lists VRIDs foreign routers use, each
        C({vrid, family, interface}) (as P(vipkeeper.vrrp.vrrp_scan#module) returns them, with an
        optional C(host) that heard it) or C({vrid, network}) (C(family) optional). They are never
        assigned in the matching broadcast domains; a pinned C(vrid) on one is an error.
    type: dict
    default: {}
  lock:
    description: The C(lock) of an earlier plan; its VRIDs and groups are kept.
    type: dict
    default: {}
  secrets:
    description: Vaulted secret per cluster name; the v2 PASS is derived from it by HMAC.
    type: dict
    default: {}
  redact:
    description: Replace the derived passwords by C(********) in the output.
    type: bool
    default: true
seealso:
  - module: vipkeeper.vrrp.render
"""

EXAMPLES = r"""
- name: Show the plan
  ansible.builtin.debug:
    msg: "{{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars) }}"

- name: VRID of the cluster web
  vars:
    plan: "{{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars) }}"
  ansible.builtin.debug:
    msg: "{{ plan.clusters.web.instances[0].vrid }}"

- name: Plan with unique multicast groups and the previous lock
  ansible.builtin.set_fact:
    plan: >-
      {{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars,
         settings={'mcast_unique': true}, lock=vipkeeper_lock | default({})) }}
"""

RETURN = r"""
_value:
  description:
    - C(clusters) maps each cluster name to its C(hosts), C(sync_group), C(instances) (one per
      address family, each with name, family, vrid, version, advert_int, preempt, unicast,
      mcast_group, auth_pass, vips, domains and members with host, interface, priority, state,
      address and peers), C(scripts), C(virtual_servers) and C(split_brain) (the cluster's
      checked split-brain settings for the vipkeeper daemon; empty when unset).
    - C(lock) holds the VRID and group of every cluster and family, to pass back as O(lock).
    - C(warnings) lists the warnings (for example one-host clusters).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.display import Display

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    collect_facts,
    settings_from,
)
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.planning import (
    PlanError,
    plan,
)


def vrrp_plan(clusters, hostvars, *, settings=None, lock=None, secrets=None, redact=True):
    """Plan every cluster; return the plan as a dictionary."""
    if not isinstance(clusters, list):
        raise AnsibleFilterError("vrrp_plan expects a list of clusters")
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("vrrp_plan expects hostvars as its first argument")
    try:
        result = plan(
            clusters,
            collect_facts(clusters, hostvars),
            settings_from(settings),
            lock or {},
            dict(secrets or {}),
        )
    except PlanError as exc:
        raise AnsibleFilterError("vipkeeper plan failed:\n- " + "\n- ".join(exc.errors)) from None
    display = Display()
    for text in result.warnings:
        display.warning("vipkeeper plan: " + text)
    return result.to_dict(redact=redact)


class FilterModule:
    """vipkeeper.vrrp planning filters."""

    def filters(self):
        return {"vrrp_plan": vrrp_plan}
