#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vrrp_scan
short_description: Listen on an interface and list the VRRP routers heard
version_added: 0.1.0
description:
  - Listens on O(interface) for O(seconds) seconds with a packet socket that receives every
    multicast group (so adverts to a non-default group are heard too) and decodes each VRRP
    advertisement (IP protocol 112, IPv4 and IPv6, VRRP v2 and v3).
  - Lists every router heard - VRID, family, source, priority, version, advert interval and VIPs;
    this host's own adverts are flagged C(local) (and left out with O(include_local=false)).
  - RV(vrids) is the list of C({vrid, family, interface}) in use on the segment, the shape to keep
    VRIDs of foreign routers away from the planner (see C(docs/drills.md)).
  - Needs root (CAP_NET_RAW). Only listens, so it also runs in check mode.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  interface:
    description: The interface to listen on.
    type: str
    required: true
  seconds:
    description: How long to listen (an advert every second is the VRRP default; 3 or more is safe).
    type: float
    default: 5
  include_local:
    description: Also list the adverts this host sends.
    type: bool
    default: true
attributes:
  check_mode:
    details: Only listens.
  platform:
    platforms: linux
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
seealso:
  - module: vipkeeper.vrrp.vip_info
"""

EXAMPLES = r"""
- name: What VRRP routers talk on eth0?
  vipkeeper.vrrp.vrrp_scan:
    interface: eth0
    seconds: 5
    include_local: false
  register: scan

- name: VRIDs used by foreign routers
  ansible.builtin.debug:
    msg: "{{ scan.vrids | map(attribute='vrid') | list }}"
"""

RETURN = r"""
routers:
  description: One entry per (family, VRID, source) heard.
  returned: always
  type: list
  elements: dict
  contains:
    vrid: {description: Virtual router id., type: int}
    family: {description: 4 or 6., type: int}
    source: {description: The sender's address., type: str}
    destination: {description: The group (or unicast peer) it was sent to., type: str}
    priority: {description: Priority in the last advert., type: int}
    priorities: {description: Every priority heard from it., type: list, elements: int}
    version: {description: VRRP version (2 or 3)., type: int}
    advert_int: {description: Advertisement interval in seconds., type: float}
    auth_type: {description: "v2 authentication type (0 none; 1 PASS; 2 AH).", type: int}
    vips: {description: Addresses in the last advert., type: list, elements: str}
    ttl: {description: TTL or hop limit (255 when it was not routed)., type: int}
    interface: {description: Where it was heard., type: str}
    adverts: {description: Adverts heard., type: int}
    first_seen: {description: Unix time of the first., type: float}
    last_seen: {description: Unix time of the last., type: float}
    local: {description: Sent by this host., type: bool}
  sample:
    - {vrid: 51, family: 4, source: 10.0.0.7, destination: 224.0.0.18, priority: 100,
       priorities: [100], version: 2, advert_int: 1.0, auth_type: 0, vips: [10.0.0.200],
       ttl: 255, interface: eth0, adverts: 5, first_seen: 1795240400.1,
       last_seen: 1795240404.1, local: false}
vrids:
  description: The VRIDs in use, as C({vrid, family, interface}) (family C(ipv4) or C(ipv6)).
  returned: always
  type: list
  elements: dict
  sample: [{vrid: 51, family: ipv4, interface: eth0}]
malformed:
  description: Protocol-112 packets that did not decode as an advertisement.
  returned: always
  type: int
  sample: 0
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.scan import listen


def main():
    module = AnsibleModule(
        argument_spec={
            "interface": {"type": "str", "required": True},
            "seconds": {"type": "float", "default": 5},
            "include_local": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    p = module.params
    if not 0 < p["seconds"] <= 3600:
        module.fail_json(msg="seconds must be in (0, 3600]")
    try:
        result = listen(p["interface"], p["seconds"], p["include_local"])
    except OSError as exc:
        module.fail_json(msg="cannot listen on %s: %s" % (p["interface"], exc))
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
