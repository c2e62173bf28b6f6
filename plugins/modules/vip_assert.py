#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vip_assert
short_description: Assert that every VIP has exactly one holder, optionally the expected one
version_added: 0.1.0
description:
  - Runs once over the M(vipkeeper.vrrp.vip_info) results of a cluster's hosts (use C(run_once)
    and build O(facts) from C(hostvars) or from a looped, registered vip_info).
  - The VIPs checked are O(vips) (by default every VIP a daemon lists) and every VIP of O(plan).
  - For each VIP it finds the hosts that hold it - the hosts that carry the address (the
    C(addresses) of vip_info, read from the kernel), whatever their daemons say, so a VIP two
    hosts carry is a split brain even when no daemon lists it.
  - Exactly one holder passes; two or more is C(split_brain), none is C(no_holder), another host
    than O(expected) is C(unexpected_holder), and a holder whose instance is not MASTER (or a
    MASTER without the VIP) is C(state_mismatch).
  - A host whose daemon did not answer is C(daemon_down) (unless O(require_running=false)).
  - Every problem names its kind, VIP and hosts. The module fails when there is one, unless
    O(fail_on_problem=false).
  - It only reads its arguments, so it runs anywhere, also in check mode.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  facts:
    description:
      - Host name to that host's vip_info result (at least C(vips), C(held), C(addresses) and
        C(running)).
    type: dict
    required: true
  vips:
    description: The VIPs to check (with or without prefix). By default every VIP of any instance.
    type: list
    elements: str
  plan:
    description:
      - The output of P(vipkeeper.vrrp.vrrp_plan#filter) (redacted or not). Every VIP of every
        cluster with a host in O(facts) is checked too, whether a daemon lists it or not.
    type: dict
  expected:
    description: VIP to the host that should hold it.
    type: dict
    default: {}
  require_running:
    description: A host whose daemon did not answer is a problem.
    type: bool
    default: true
  fail_on_problem:
    description: Fail the task when a problem is found.
    type: bool
    default: true
attributes:
  check_mode:
    details: Pure evaluation of its arguments.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
seealso:
  - module: vipkeeper.vrrp.vip_info
"""

EXAMPLES = r"""
- name: Read every load balancer
  vipkeeper.vrrp.vip_info:
  register: vip_info_result

- name: Exactly one holder, and lb1 holds the web VIP
  vipkeeper.vrrp.vip_assert:
    facts: >-
      {{ dict(ansible_play_hosts
         | zip(ansible_play_hosts | map('extract', hostvars, 'vip_info_result'))) }}
    vips: [10.0.0.100]
    expected: {10.0.0.100: lb1}
  run_once: true

- name: Every VIP of the plan has exactly one holder, whatever the daemons say
  vipkeeper.vrrp.vip_assert:
    facts: >-
      {{ dict(ansible_play_hosts
         | zip(ansible_play_hosts | map('extract', hostvars, 'vip_info_result'))) }}
    plan: "{{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars) }}"
  run_once: true
"""

RETURN = r"""
ok:
  description: Whether no problem was found.
  returned: always
  type: bool
  sample: true
placement:
  description: One row per VIP.
  returned: always
  type: list
  elements: dict
  contains:
    vip: {description: The VIP., type: str}
    holders: {description: Hosts that hold it., type: list, elements: str}
    holder: {description: "The only holder (else null).", type: str}
    masters: {description: Hosts whose instance of the VIP is MASTER., type: list, elements: str}
    faults: {description: Hosts whose instance of the VIP is in FAULT., type: list, elements: str}
    expected: {description: "The expected holder (if given).", type: str}
    status:
      description: C(ok), C(split_brain), C(no_holder), C(unexpected_holder) or C(state_mismatch).
      type: str
  sample:
    - {vip: 10.0.0.100, holders: [lb1], holder: lb1, masters: [lb1], faults: [], expected: lb1,
       status: ok}
problems:
  description: Every problem, with C(kind), C(vip), C(hosts) and C(message).
  returned: always
  type: list
  elements: dict
  sample:
    - {kind: split_brain, vip: 10.0.0.100, hosts: [lb1, lb2],
       message: "VIP 10.0.0.100: split brain, held by lb1, lb2"}
holders:
  description: VIP to its only holder (or null).
  returned: always
  type: dict
  sample: {10.0.0.100: lb1}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.placement import check


def main():
    module = AnsibleModule(
        argument_spec={
            "facts": {"type": "dict", "required": True},
            "vips": {"type": "list", "elements": "str"},
            "plan": {"type": "dict"},
            "expected": {"type": "dict", "default": {}},
            "require_running": {"type": "bool", "default": True},
            "fail_on_problem": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    params = module.params
    try:
        rows, problems = check(
            params["facts"],
            params["vips"],
            params["expected"],
            params["require_running"],
            params["plan"],
        )
    except (TypeError, ValueError) as exc:
        module.fail_json(msg="vip_assert: %s" % exc)
    result = {
        "ok": not problems,
        "placement": rows,
        "problems": problems,
        "holders": {row["vip"]: row["holder"] for row in rows},
    }
    if problems and params["fail_on_problem"]:
        module.fail_json(msg="; ".join(p["message"] for p in problems), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
