#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/render.py); this file holds its
# documentation and the argument spec the action plugin validates against
# (module_utils/_vipkeeper/render_args.py), so validate-modules checks that the two agree.

from __future__ import annotations

DOCUMENTATION = r"""
module: render
short_description: Plan every VRRP cluster and write this host's keepalived-syntax config
version_added: 0.1.0
description:
  - On the controller, plans all clusters at once from O(clusters) and the interface facts in
    C(hostvars) (see P(vipkeeper.vrrp.vrrp_plan#filter)), then renders this host's config with
    Jinja2 - every VRRP instance the host is a member of, its track scripts, sync groups and
    virtual servers.
  - Writes the file like M(ansible.builtin.template) does, through M(ansible.builtin.copy) -
    check mode, diff, backup, mode and owner - and validates it on the host before it replaces
    the old file, with C(vipkeeper check -f %s --json) or, with O(daemon=keepalived),
    C(keepalived -t -f %s).
  - In check mode the rendered text is checked on the host in a temporary file when the checker
    is installed, so a config that would fail validation fails in check mode too.
  - The diff shows every C(auth_pass) value as C(********); the file on the host gets the real
    value.
  - Inventory errors fail before anything is transferred, naming every cluster and host involved.
  - Arguments are checked for their types before anything else, as a module's are.
  - VRRPv2 authentication comes from O(secrets) (by default the inventory's C(vipkeeper_secrets))
    and the site-wide C(vipkeeper_auth_secret). A VRRPv2 instance that would be rendered without
    authentication although the inventory has a secret for its cluster (or a site-wide secret)
    fails the task, naming the cluster; one without any secret is rendered with a warning.
  - The same config is rendered for hosts running vipkeeper and hosts running keepalived, except
    the split-brain settings (O(split_brain) and each cluster's C(split_brain)), rendered as a
    top-level C(vipkeeper) block for the vipkeeper daemon only; a keepalived host that any of
    them reaches fails the task, naming the host (C(keepalived -t) rejects the block).
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  dest:
    description: Where the config goes on the host.
    type: path
    required: true
  daemon:
    description: Which daemon reads the file; selects the default O(validate) command.
  validate:
    description:
      - Command that validates the temporary file (C(%s)) before it replaces O(dest).
      - Defaults to C(vipkeeper check -f %s --json) or C(keepalived -t -f %s). An empty string
        disables validation.
    type: str
  clusters:
    description: The clusters to plan; defaults to the C(vipkeeper_clusters) variable.
    type: list
    elements: dict
  settings:
    description:
      - Planning settings, as for P(vipkeeper.vrrp.vrrp_plan#filter).
      - Their C(secret) defaults to the inventory's C(vipkeeper_auth_secret).
    type: dict
    default: {}
  lock:
    description: The C(lock) of an earlier plan, to keep its VRIDs and groups.
    type: dict
    default: {}
  secrets:
    description:
      - Vaulted auth secret per cluster name.
      - Defaults to the inventory's C(vipkeeper_secrets) (templated, so vaulted values work).
    type: dict
  plan:
    description:
      - A precomputed plan, the output of C(vrrp_plan(..., redact=false)). Large sites compute
        it once with C(run_once) instead of once per host. O(clusters), O(settings), O(lock)
        and O(secrets) are then ignored.
    type: dict
  template:
    description:
      - A Jinja2 template (searched like M(ansible.builtin.template) sources) that replaces the
        built-in one. It receives C(host), C(clusters) (the plan of this host's clusters) and
        C(global_defs), C(vipkeeper) (this host's split-brain keywords, empty for none), and
        the filters C(kvalue) and C(kblock).
    type: str
  split_brain:
    description:
      - Site-wide split-brain settings of the vipkeeper daemon - C(conflict_detection),
        C(conflict_interval), C(takeover_guard), C(conflict_notify) (docs/split-brain.md).
        Defaults to the inventory's C(vipkeeper_split_brain).
      - Merged with the C(split_brain) of this host's clusters (a cluster's key wins; two
        clusters of the host that disagree are an error naming both) into one C(vipkeeper)
        block. Empty - no block, the daemon's defaults.
    type: dict
  global_defs:
    description:
      - Keywords added to C(global_defs). C(router_id) defaults to the short host name;
        C(enable_script_security) and C(script_user root) are set when scripts are used.
    type: dict
    default: {}
  host:
    description: Render for this inventory host instead of C(inventory_hostname).
    type: str
  mode:
    description: Permissions of O(dest), as for M(ansible.builtin.copy).
    type: raw
  owner:
    description: Owner of O(dest).
    type: str
  group:
    description: Group of O(dest).
    type: str
  backup:
    description: Keep a timestamped copy of the old file.
    type: bool
    default: false
  seuser:
    description: SELinux user of O(dest).
    type: str
  serole:
    description: SELinux role of O(dest).
    type: str
  setype:
    description: SELinux type of O(dest).
    type: str
  selevel:
    description: SELinux level of O(dest).
    type: str
  current:
    description:
      - What the host holds at O(dest) now, as M(vipkeeper.vrrp.runtime_facts) reports a path
        (C(exists), C(type), C(mode), C(owner), C(group), C(checksum)), read in the same play.
      - When it is a regular file with the rendered text's SHA1 and the asked O(mode) (octal),
        O(owner) and O(group), nothing goes to the host (no stat, no file call) and the task
        reports no change, as M(ansible.builtin.copy) would. Anything else - or no O(current) -
        goes through M(ansible.builtin.copy).
    type: dict
    version_added: 0.2.0
attributes:
  diff_mode:
    support: full
  safe_file_operations:
    description: Writes through M(ansible.builtin.copy), with its atomic file operations.
    support: full
  vault:
    description: Secrets and the clusters may come from vaulted variables.
    support: full
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - vipkeeper.vrrp.common
  - vipkeeper.vrrp.common.action
  - vipkeeper.vrrp.common.config_daemon
seealso:
  - plugin: vipkeeper.vrrp.vrrp_plan
    plugin_type: filter
  - module: vipkeeper.vrrp.config_check
  - module: ansible.builtin.template
"""

EXAMPLES = r"""
- name: Render, validate and deploy the vipkeeper config
  vipkeeper.vrrp.render:
    dest: /etc/vipkeeper/keepalived.conf
    mode: "0640"
    backup: true
  notify: Reload vipkeeper

- name: Same config for a host that still runs keepalived
  vipkeeper.vrrp.render:
    dest: /etc/keepalived/keepalived.conf
    daemon: keepalived
    secrets: "{{ vipkeeper_secrets }}"
    settings:
      mcast_unique: true

- name: Report VIP conflicts every 2 s and guard takeovers for 30 ms (vipkeeper only)
  vipkeeper.vrrp.render:
    dest: /etc/vipkeeper/keepalived.conf
    split_brain:
      conflict_interval: 2
      takeover_guard: 0.03

- name: Large sites - plan once, render everywhere
  block:
    - name: Plan once
      ansible.builtin.set_fact:
        site_plan: "{{ vipkeeper_clusters | vipkeeper.vrrp.vrrp_plan(hostvars, redact=false) }}"
      run_once: true
      no_log: true
    - name: Render from the plan
      vipkeeper.vrrp.render:
        dest: /etc/vipkeeper/keepalived.conf
        plan: "{{ site_plan }}"
"""

RETURN = r"""
dest:
  description: Path of the config (also in check mode).
  returned: success
  type: str
  sample: /etc/vipkeeper/keepalived.conf
instances:
  description: The VRRP instances this host runs.
  returned: always
  type: list
  elements: dict
  sample: [{name: web, cluster: web, vrid: 51, state: MASTER}]
plan_warnings:
  description: Planning warnings (for example a one-host cluster).
  returned: success
  type: list
  elements: str
backup_file:
  description: Name of the backup file.
  returned: changed and O(backup=true)
  type: str
  sample: /etc/vipkeeper/keepalived.conf.2061.2026-01-01@10:00:00~
checksum:
  description:
    - SHA1 of the rendered config - the file's checksum once written. In check mode, the checksum
      the file would have.
  returned: success
  type: str
  sample: 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
diagnostics:
  description: When validation fails, the checker's diagnostics (file, line, severity, message).
  returned: on validation failure
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.action_only import refuse
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.render_args import (
    ARGUMENT_SPEC,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    refuse(module, "vipkeeper.vrrp.render", "on the controller")


if __name__ == "__main__":
    main()
