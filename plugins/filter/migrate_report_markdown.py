# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: migrate_report_markdown
short_description: A migration report in Markdown
version_added: 0.1.0
description:
  - Lays out the output of P(vipkeeper.vrrp.migrate_report#filter) as the drill's Markdown
    report does - one row per cluster (verdict, lost probes, total outage, longest gap, bound),
    then per cluster one row per step (host, action, lost probes, longest gap).
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  _input:
    description: The report.
    type: dict
    required: true
"""

EXAMPLES = r"""
- name: Write the Markdown report
  ansible.builtin.copy:
    content: "{{ report | vipkeeper.vrrp.migrate_report_markdown }}"
    dest: /tmp/migrate.md
    mode: "0644"
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: The Markdown text.
  type: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

from ansible_collections.vipkeeper.vrrp.plugins.plugin_utils._vipkeeper.migreport import markdown


def migrate_report_markdown(report):
    """The migration report in Markdown."""
    if not isinstance(report, Mapping):
        raise AnsibleFilterError("migrate_report_markdown expects the report of migrate_report")
    return markdown(report)


class FilterModule:
    """vipkeeper.vrrp migration report in Markdown."""

    def filters(self):
        return {"migrate_report_markdown": migrate_report_markdown}
