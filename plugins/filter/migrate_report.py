# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: migrate_report
short_description: The report of a migration - client probes per step, against one handover
version_added: 0.1.0
description:
  - Joins what a client saw while P(vipkeeper.vrrp.vip_probe#module) probed each cluster's VIP
    during C(vipkeeper.vrrp.migrate) (or C(migrate_rollback)) with the turns of the rolling step,
    into the drill report's format (C(docs/drills.md)).
  - Per cluster, the client's lost probes, loss windows, longest gap and total outage, each loss
    window under the step (host, action) during which it began, and the bound - one handover, the
    skew time of the member that takes over from the master, plus one probe interval and
    O(slack). The verdict is C(pass) when the client's total outage is within the bound and the
    client reached the VIP again before the probes ended.
  - P(vipkeeper.vrrp.migrate_report_markdown#filter) turns the result into Markdown.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The plan (the output of P(vipkeeper.vrrp.vrrp_plan#filter)) or its C(clusters).
    type: dict
    required: true
  probes:
    description:
      - One entry per probed cluster, with C(cluster), C(vip), C(mode), C(interval) and C(result),
        the P(vipkeeper.vrrp.vip_probe#module) result (from C(async_status)).
    type: list
    elements: dict
    required: true
  steps:
    description:
      - Each host's turn of the rolling step, with C(host), C(from) and C(to) (the daemons),
        C(switch) (a daemon switch, else a restart), C(handover) (the clusters it handed over),
        C(clusters), C(began) and C(ended) (Unix times).
    type: list
    elements: dict
    required: true
  started_at:
    description: When the migration started (a UTC time stamp, as the drill's).
    type: str
    required: true
  migrate_from:
    description: The daemon before.
    type: str
    required: true
  migrate_to:
    description: The daemon after.
    type: str
    required: true
  client:
    description: The host that probed.
    type: str
    default: ''
  slack:
    description: Seconds of slack on top of the handover (gratuitous ARP, the client's ARP cache).
    type: float
    default: 1.0
"""

EXAMPLES = r"""
- name: Build the migration report
  ansible.builtin.set_fact:
    report: >-
      {{ plan | vipkeeper.vrrp.migrate_report(probes, steps, started_at='20261203T150000Z',
         migrate_from='keepalived', migrate_to='vipkeeper', client='client1') }}
"""

RETURN = r"""
_value:
  description:
    - C(started_at), C(fault) (C(migrate)), C(migrate_from), C(migrate_to), C(client),
      C(slo_seconds) (the largest bound), C(steps) (every turn in order, with C(host), C(action),
      C(clusters), C(began_at), C(ended_at)) and C(clusters).
    - Each cluster has the drill record's client fields (C(client_outage_seconds), the longest
      gap; C(client_total_outage_seconds), C(lost_probes), C(probes_sent), C(client_windows),
      C(client_timeline), C(probe_mode), C(probe_interval), C(slo_seconds), C(verdict),
      C(problems)), C(old_master) and C(new_master) (who hands over, who takes over), C(steps)
      (per step C(host), C(action), C(lost_probes), C(longest_gap_seconds), C(windows)),
      C(outside_steps) (loss windows that began in no step) and C(bound) (C(seconds),
      C(takes_over), C(priority), C(advert_int), C(skew_seconds), C(probe_interval),
      C(slack_seconds)).
  type: dict
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.migreport import (
    DEFAULT_SLACK,
    build_report,
)


def migrate_report(
    plan, probes, steps, *, started_at, migrate_from, migrate_to, client="", slack=DEFAULT_SLACK
):
    """The migration report as a dictionary."""
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError("migrate_report expects the plan (or its clusters) as input")
    if not isinstance(probes, list) or not isinstance(steps, list):
        raise AnsibleFilterError("migrate_report expects lists of probes and steps")
    return build_report(
        plan,
        probes,
        steps,
        started_at=str(started_at),
        migrate_from=str(migrate_from),
        migrate_to=str(migrate_to),
        client=str(client or ""),
        slack=float(slack),
    )


class FilterModule:
    """vipkeeper.vrrp migration report."""

    def filters(self):
        return {"migrate_report": migrate_report}
