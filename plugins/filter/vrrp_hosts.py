# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_hosts
short_description: The inventory hosts that the clusters name
version_added: 0.1.0
description:
  - Returns the unique host names of every cluster in O(_input), in first-seen order. Host
    entries may be names or mappings with C(name).
  - With O(without_facts=true), only the hosts that are in the inventory but have no gathered
    interface facts (for example hosts outside C(--limit)).
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The clusters (usually C(vipkeeper_clusters)).
    type: list
    elements: dict
    required: true
  hostvars:
    description: C(hostvars); needed with O(without_facts).
    type: dict
  without_facts:
    description: Only hosts known to the inventory that have no interface facts.
    type: bool
    default: false
"""

EXAMPLES = r"""
- name: Is this host a member of a cluster?
  ansible.builtin.debug:
    msg: "{{ inventory_hostname in (vipkeeper_clusters | vipkeeper.vrrp.vrrp_hosts) }}"
"""

RETURN = r"""
_value:
  description: Host names.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.inputs import (
    wanted_interfaces,
)


def vrrp_hosts(clusters, hostvars=None, without_facts=False):
    """Host names the clusters name; optionally only those lacking facts."""
    if not isinstance(clusters, list):
        raise AnsibleFilterError("vrrp_hosts expects a list of clusters")
    names = list(wanted_interfaces(clusters))
    if not without_facts:
        return names
    if not isinstance(hostvars, Mapping):
        raise AnsibleFilterError("vrrp_hosts(without_facts=true) needs hostvars")
    missing = []
    for name in names:
        if name not in hostvars:
            continue
        facts = hostvars[name].get("ansible_facts") or {}
        if not facts.get("interfaces"):
            missing.append(name)
    return missing


class FilterModule:
    """vipkeeper.vrrp host filters."""

    def filters(self):
        return {"vrrp_hosts": vrrp_hosts}
