# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: drill_timeline_svg
short_description: A failover drill's report as a timeline picture (SVG)
version_added: 0.1.0
description:
  - Draws the drill's JSON report (the C(vipkeeper.vrrp.drill) role's) as one timeline per
    cluster, in seconds from the fault - the client's probes answered and lost, which host
    holds the VIP, and marks for the fault, the new master's transition to MASTER, the VIP's
    move and the restore.
  - Plain SVG, written without a plotting library; any browser shows it.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The drill report - C(started_at), C(fault), C(slo_seconds) and C(clusters).
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the timeline next to the Markdown report
  ansible.builtin.copy:
    content: "{{ report | vipkeeper.vrrp.drill_timeline_svg }}"
    dest: /tmp/drill.svg
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The SVG document.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.drilltimeline import svg


def drill_timeline_svg(report):
    """The drill report as an SVG timeline."""
    if not isinstance(report, Mapping) or not isinstance(report.get("clusters", []), list):
        raise AnsibleFilterError(
            "drill_timeline_svg expects the drill's report: a dict with a list of clusters"
        )
    return svg(report)


class FilterModule:
    """vipkeeper.vrrp drill timeline."""

    def filters(self):
        return {"drill_timeline_svg": drill_timeline_svg}
