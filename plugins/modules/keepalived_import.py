#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

# This module is implemented as an action plugin (plugins/action/keepalived_import.py); this
# file holds its documentation and the argument spec the action plugin validates against
# (module_utils/_vipkeeper/import_args.py), so validate-modules checks that the two agree.

from __future__ import annotations

DOCUMENTATION = r"""
module: keepalived_import
short_description: Read a host's live keepalived config with the runtime's own config parser
version_added: 0.2.0
description:
  - Loads the keepalived config of the host as keepalived would read it there - includes
    followed, C(@id) lines for the host's config id, C($VARIABLES) and C(~SEQ) loops - with
    vipkeeper's own config package, and returns the built model as data. Nothing on the host
    changes.
  - The parse runs on the host - it has the files, their include globs and its host name - but
    the runtime need not be installed there. The action zips the runtime's pure-Python config
    package (from the collection's C(runtime/src), or the C(vipkeeper) package installed on the
    controller) and runs it with the host's Python (3.9 or later) in Ansible's temporary
    directory, which is removed afterwards.
  - The result is the input of the P(vipkeeper.vrrp.keepalived_inventory#filter) filter, which
    turns the configs of all hosts into a pinned C(vipkeeper_clusters) fragment; the playbook
    C(vipkeeper.vrrp.import) does both and writes the files.
  - The returned model holds the VRRPv2 passwords; register it with C(no_log) (as the playbook
    does).
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  src:
    description: The main keepalived config file on the host.
    type: path
    default: /etc/keepalived/keepalived.conf
  config_id:
    description:
      - The config id for C(@id) lines (keepalived's C(-i)). Defaults to the host's name up
        to its first dot, as keepalived's default.
    type: str
  python:
    description:
      - The Python interpreter on the host that runs the parser. Defaults to the host's
        discovered interpreter (C(ansible_python_interpreter)).
    type: str
attributes:
  check_mode:
    details: Nothing changes on the host or the controller; check mode reads as well.
  vault:
    description: Reads no vaulted data.
    support: none
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
  - vipkeeper.vrrp.common
  - vipkeeper.vrrp.common.action
seealso:
  - plugin: vipkeeper.vrrp.keepalived_inventory
    plugin_type: filter
  - module: vipkeeper.vrrp.config_check
"""

EXAMPLES = r"""
- name: Read the live keepalived config
  vipkeeper.vrrp.keepalived_import:
  register: keepalived
  no_log: true

- name: A config in another place, with its own config id
  vipkeeper.vrrp.keepalived_import:
    src: /etc/keepalived/site.conf
    config_id: lb1
  register: keepalived
  no_log: true
"""

RETURN = r"""
config:
  description:
    - The built model of the config (the runtime's C(vipkeeper.config.model), every value
      resolved to keepalived's default when left out). In each object, C(@set) names the
      fields that differ from their defaults. Holds the VRRPv2 passwords.
  returned: when the config could be read
  type: dict
files:
  description: Every file read, the main file first.
  returned: always
  type: list
  elements: str
  sample: [/etc/keepalived/keepalived.conf, /etc/keepalived/conf.d/web.conf]
diagnostics:
  description: What the checker reports about the config (file, line, severity, message).
  returned: always
  type: list
  elements: dict
ok:
  description: The config has no error (what C(vipkeeper check) would pass).
  returned: always
  type: bool
interfaces:
  description: The host's interface facts (C(ansible_facts[<interface>])) of every interface.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.action_only import refuse
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.import_args import (
    ARGUMENT_SPEC,
)


def main():
    module = AnsibleModule(argument_spec=ARGUMENT_SPEC, supports_check_mode=True)
    refuse(module, "vipkeeper.vrrp.keepalived_import")


if __name__ == "__main__":
    main()
