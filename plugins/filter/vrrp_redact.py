# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: vrrp_redact
short_description: A plan without its passwords
version_added: 0.1.0
description:
  - Takes the output of P(vipkeeper.vrrp.vrrp_plan#filter) with C(redact=false) and returns it
    as P(vipkeeper.vrrp.vrrp_plan#filter) returns it by default - every derived password
    (C(auth_pass)) replaced by C(********), everything else the same.
  - Planning is the costly part (it reads every host's facts); the vrrp role plans once with
    the passwords (a C(no_log) task) and derives the copy it shows, logs and passes around from
    that with this filter.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: A plan, as C(vrrp_plan(hostvars, redact=false)) returns it.
    type: dict
    required: true
seealso:
  - plugin: vipkeeper.vrrp.vrrp_plan
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Plan once, with the passwords
  ansible.builtin.set_fact:
    plan: "{{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars, redact=false) }}"
  no_log: true

- name: Show it without them
  ansible.builtin.debug:
    msg: "{{ plan | vipkeeper.vrrp.vrrp_redact }}"
"""

RETURN = r"""
_value:
  description: The plan with every C(auth_pass) that is set replaced by C(********).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.model import redacted


def vrrp_redact(plan):
    """The plan with its passwords replaced."""
    if not isinstance(plan, Mapping) or not isinstance(plan.get("clusters"), Mapping):
        raise AnsibleFilterError("vrrp_redact expects a plan (the output of vrrp_plan)")
    try:
        return redacted(plan)
    except (KeyError, TypeError, AttributeError) as exc:
        raise AnsibleFilterError(f"vrrp_redact: not a plan ({exc!r})") from None


class FilterModule:
    """vipkeeper.vrrp plan redaction."""

    def filters(self):
        return {"vrrp_redact": vrrp_redact}
