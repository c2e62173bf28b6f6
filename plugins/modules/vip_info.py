#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vip_info
short_description: Which VIPs this host holds, and its VRRP state, priority and master
version_added: 0.1.0
description:
  - Reads every address of the host from rtnetlink (C(RTM_GETADDR)), with the kernel's creation
    time of each address, and tells for each VIP whether this host holds it and since when.
  - Asks the VRRP daemon for each instance's state, base and effective priority, master address
    and last transition - vipkeeper through its control socket (the answer of
    C(vipkeeper status --json)), keepalived through its data dump (C(SIGUSR1),
    C(/tmp/keepalived.data)) or its JSON dump (C(keepalived --signum=JSON),
    C(/tmp/keepalived.json)).
  - A daemon that does not answer is reported in RV(error), not as a task failure, so that
    M(vipkeeper.vrrp.vip_assert) can name the host.
  - With O(wait_for) it polls (every O(wait_interval) seconds) until this host holds or released
    O(wait_vip), or - for C(held) - until the instance of the VIP is BACKUP under a master that is
    not in O(wait_master_not). Drills start it with C(async) on every candidate at once.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  keepalived_dump:
    description:
      - Which keepalived dump to read. C(data) has the master address of a BACKUP instance;
        C(json) needs keepalived built with JSON support (Debian's is) and has no master address.
    type: str
    choices: [data, json]
    default: data
  vips:
    description: More addresses to report (held or not), besides the VIPs of the daemon's instances.
    type: list
    elements: str
    default: []
  wait_for:
    description: Poll until this host C(held) or C(released) O(wait_vip); C(none) reads once.
    type: str
    choices: [none, held, released]
    default: none
  wait_vip:
    description: The VIP to wait for (with or without prefix).
    type: str
  wait_timeout:
    description: Give up waiting after this many seconds (the result then says C(timeout)).
    type: float
    default: 30
  wait_interval:
    description: Seconds between two polls.
    type: float
    default: 0.1
  wait_master_not:
    description:
      - With O(wait_for=held), stop waiting when the VIP's instance is BACKUP under a master whose
        address is not one of these (another host took over). Empty - wait for the VIP only.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    details: The module only reads; it also runs in check mode.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
  - vipkeeper.vrrp.common.daemon
seealso:
  - module: vipkeeper.vrrp.vip_assert
"""

EXAMPLES = r"""
- name: VIP placement and VRRP state of every load balancer
  vipkeeper.vrrp.vip_info:
  register: vip

- name: Wait until this backup holds the VIP (at most 15 s)
  vipkeeper.vrrp.vip_info:
    wait_for: held
    wait_vip: 10.0.0.100
    wait_timeout: 15
    wait_master_not: [10.0.0.11]
  async: 30
  poll: 0
  register: waiting
"""

RETURN = r"""
daemon:
  description: The daemon asked (C(vipkeeper), C(keepalived) or C(none)).
  returned: always
  type: str
  sample: vipkeeper
running:
  description: Whether the daemon answered.
  returned: always
  type: bool
  sample: true
pid:
  description: The daemon's pid, when it answered.
  returned: always
  type: int
  sample: 767
source:
  description: Where the instance data came from (C(status), C(data) or C(json)).
  returned: always
  type: str
  sample: status
error:
  description: Why the daemon could not be asked, else null.
  returned: always
  type: str
  sample: null
instances:
  description: One entry per VRRP instance.
  returned: always
  type: list
  elements: dict
  contains:
    name: {description: Instance name., type: str}
    state: {description: "C(MASTER), C(BACKUP), C(FAULT), C(INIT) or C(STOP).", type: str}
    vrid: {description: Virtual router id., type: int}
    interface: {description: VRRP interface., type: str}
    base_priority: {description: Configured priority., type: int}
    effective_priority: {description: Priority after tracking., type: int}
    master_address: {description: "The current master's address (when known).", type: str}
    last_transition:
      description: C(at) (Unix time), C(from), C(to), C(reason) (what the daemon knows).
      type: dict
    faults: {description: Trackers holding FAULT (vipkeeper)., type: list, elements: str}
    vips: {description: C(address) and C(prefix) of each VIP., type: list, elements: dict}
    conflicts:
      description:
        - The VIP conflicts going on (vipkeeper; keepalived has none) - another MAC claims a VIP
          of this instance (docs/split-brain.md). Each has C(address), C(mac), C(interface) and
          C(first_seen_ago) (seconds).
      type: list
      elements: dict
vips:
  description: One row per VIP (the instances' VIPs and O(vips)).
  returned: always
  type: list
  elements: dict
  contains:
    address: {description: The VIP., type: str}
    prefix: {description: "Its prefix length (when configured).", type: int}
    instance: {description: "The instance that owns it here (or null).", type: str}
    state: {description: That instance's state., type: str}
    held: {description: Whether an interface of this host has the address., type: bool}
    interface: {description: The interface that has it., type: str}
    held_since:
      description:
        - When the kernel added the address (Unix time, from the address's creation stamp in
          10 ms steps; the kernel's tick clock may be a fraction of a second off the wall clock).
      type: float
  sample:
    - {address: 10.0.0.100, prefix: 24, instance: web, state: MASTER, held: true,
       interface: eth0, held_since: 1795240191.71}
addresses:
  description:
    - Every address the host carries (from the kernel), whatever the daemon says - what
      M(vipkeeper.vrrp.vip_assert) checks each VIP against.
  returned: always
  type: list
  elements: dict
  contains:
    address: {description: The address., type: str}
    prefix: {description: Its prefix length., type: int}
    interface: {description: The interface that has it., type: str}
  sample:
    - {address: 10.0.0.11, prefix: 24, interface: eth0}
held:
  description: The VIPs this host holds.
  returned: always
  type: list
  elements: str
  sample: [10.0.0.100]
masters:
  description: Instances in MASTER state here.
  returned: always
  type: list
  elements: str
  sample: [web]
addresses_from:
  description: C(netlink), or C(ip) when netlink was refused.
  returned: always
  type: str
  sample: netlink
checked_at:
  description: Unix time of the reading.
  returned: always
  type: float
  sample: 1795240300.123
wait:
  description:
    - With O(wait_for) - C(for), C(vip), C(outcome) (C(held), C(released), C(other_master),
      C(timeout)), C(seconds) and C(held_at) - the Unix time the kernel's netlink event that
      added the VIP was received while waiting (null if it came before the wait began).
  returned: when O(wait_for) is not C(none)
  type: dict
  sample: {for: held, vip: 10.0.0.100, outcome: held, seconds: 3.21, held_at: 1795240403.52}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.common_args import (
    DAEMON_ARGS,
)
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.vipinfo import VipInfo


def main():
    module = AnsibleModule(
        argument_spec={
            **DAEMON_ARGS,
            "keepalived_dump": {"type": "str", "choices": ["data", "json"], "default": "data"},
            "vips": {"type": "list", "elements": "str", "default": []},
            "wait_for": {
                "type": "str",
                "choices": ["none", "held", "released"],
                "default": "none",
            },
            "wait_vip": {"type": "str"},
            "wait_timeout": {"type": "float", "default": 30},
            "wait_interval": {"type": "float", "default": 0.1},
            "wait_master_not": {"type": "list", "elements": "str", "default": []},
        },
        required_if=[("wait_for", "held", ["wait_vip"]), ("wait_for", "released", ["wait_vip"])],
        supports_check_mode=True,
    )
    module.exit_json(changed=False, **VipInfo(module).run())


if __name__ == "__main__":
    main()
