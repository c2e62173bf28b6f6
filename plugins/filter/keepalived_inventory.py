# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: keepalived_inventory
short_description: A pinned vipkeeper inventory from the keepalived configs of several hosts
version_added: 0.2.0
description:
  - Takes, per host, what P(vipkeeper.vrrp.keepalived_import#module) returned, and returns the
    inventory fragment that reproduces those configs when rendered
    (C(docs/migration.md) in the collection).
  - Instances of one VRRP domain on several hosts (same family and VRID, the same network and
    multicast group, or unicast peers that name each other) become one cluster. An IPv4 and an
    IPv6 domain whose instances form a two-member sync group on every host become one
    dual-stack cluster.
  - Every value is pinned - VRID, priority and state per host, preempt, advert_int, version,
    the VRRPv2 password, unicast sources, multicast groups, VIPs with their options, track
    scripts and interfaces, notify, virtual servers - and C(instance_options) keeps the
    keywords the model has no key for.
  - Whatever cannot be expressed is listed by name in C(unsupported); nothing is dropped in
    silence.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: Per inventory host, the registered result of keepalived_import.
    type: dict
    required: true
seealso:
  - module: vipkeeper.vrrp.keepalived_import
  - plugin: vipkeeper.vrrp.vrrp_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: The inventory fragment of every host's keepalived config
  ansible.builtin.set_fact:
    fragment: >-
      {{ dict(ansible_play_hosts | zip(ansible_play_hosts | map('extract', hostvars, 'keepalived')))
         | vipkeeper.vrrp.keepalived_inventory }}
  run_once: true
  no_log: true
"""

RETURN = r"""
_value:
  description:
    - C(vipkeeper_clusters), the clusters with every value pinned; a VRRPv2 password is a
      reference to C(vipkeeper_auth_pass[<cluster>]).
    - C(lock), the lock entries (C(vipkeeper-lock.yml)).
    - C(secrets), the VRRPv2 password per cluster under C(vipkeeper_auth_pass), for a file to vault.
    - C(host_vars), per host C(vrrp_global_defs), the global_defs that matter.
    - C(unsupported), what could not be expressed, by host and name.
    - C(renamed), the instance, sync group and script names the model derives.
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.utils.unsafe_proxy import wrap_var

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.facts import host_facts
from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.importer import (
    import_fleet,
)


def keepalived_inventory(results):
    """The inventory fragment of the keepalived_import results of several hosts."""
    if not isinstance(results, Mapping):
        raise AnsibleFilterError("keepalived_inventory expects {host: keepalived_import result}")
    configs, facts = {}, {}
    for host, result in results.items():
        if not isinstance(result, Mapping) or not isinstance(result.get("config"), Mapping):
            raise AnsibleFilterError("host %s: no keepalived_import result with a config" % host)
        configs[host] = result["config"]
        ifaces = dict(result.get("interfaces") or {})
        hostvars = {"ansible_facts": {"interfaces": list(ifaces), **ifaces}}
        facts[host] = host_facts(host, hostvars, set(ifaces))
    # unsafe: a password is written as a reference to vipkeeper_auth_pass, never templated here
    return wrap_var(import_fleet(configs, facts))


class FilterModule:
    """vipkeeper.vrrp import filters."""

    def filters(self):
        return {"keepalived_inventory": keepalived_inventory}
