#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: config_check
short_description: Check a keepalived-syntax config on the host and return its diagnostics
version_added: 0.1.0
description:
  - Runs C(vipkeeper check -f PATH --json) on the managed host, or C(keepalived -t -f PATH) when
    the host runs Debian's keepalived (O(daemon=keepalived)).
  - Returns every diagnostic as structured data (file, line, column, severity, message, code).
  - The lines C(keepalived -t) prints (file name and line number in parentheses, then the
    message) are parsed into the same shape.
  - Fails when the check fails (exit codes as C(keepalived -t) - 4 fatal, file not found or bad
    interface; 5 config errors; 6 script security), unless O(fail_on_error=false).
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  path:
    description: The config file to check.
    type: path
    required: true
  daemon:
    description: Which checker to run.
  executable:
    description:
      - Path of the checker binary. By default C(vipkeeper) or C(keepalived) is searched on
        E(PATH), C(/opt/vipkeeper/bin) and C(/usr/sbin).
    type: path
  config_id:
    description: Config id (C(-i)) that selects C(@ID) conditional lines.
    type: str
  skip_interfaces:
    description: Do not check that interfaces exist (vipkeeper only).
    type: bool
    default: false
  fail_on_error:
    description: Fail the task when the check does not pass.
    type: bool
    default: true
attributes:
  check_mode:
    details: The check only reads the file, so it also runs in check mode.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
  - vipkeeper.vrrp.common.config_daemon
seealso:
  - module: vipkeeper.vrrp.render
"""

EXAMPLES = r"""
- name: Check the deployed config
  vipkeeper.vrrp.config_check:
    path: /etc/vipkeeper/keepalived.conf

- name: Check a keepalived host, report without failing
  vipkeeper.vrrp.config_check:
    path: /etc/keepalived/keepalived.conf
    daemon: keepalived
    fail_on_error: false
  register: check

- name: Show the errors
  ansible.builtin.debug:
    msg: "{{ check.diagnostics | selectattr('severity', 'equalto', 'error') | list }}"
"""

RETURN = r"""
ok:
  description: Whether the check passed (exit code 0).
  returned: always
  type: bool
  sample: true
rc:
  description: The checker's exit code (0 OK, 4 fatal, 5 config errors, 6 script security).
  returned: always
  type: int
  sample: 0
path:
  description: The file that was checked.
  returned: always
  type: str
  sample: /etc/vipkeeper/keepalived.conf
diagnostics:
  description: Every diagnostic, in the order the checker printed them.
  returned: always
  type: list
  elements: dict
  contains:
    file:
      description: File the diagnostic is about, when known.
      type: str
    line:
      description: Line number, when known.
      type: int
    column:
      description: Column number, when known (vipkeeper only).
      type: int
    severity:
      description: C(error) or C(warning).
      type: str
    message:
      description: What is wrong.
      type: str
    code:
      description: A stable diagnostic code (vipkeeper only).
      type: str
  sample:
    - file: /etc/vipkeeper/keepalived.conf
      line: 12
      column: 3
      severity: error
      message: unknown keyword 'virtual_router'
      code: unknown-keyword
error_count:
  description: Number of diagnostics with severity error.
  returned: always
  type: int
  sample: 0
warning_count:
  description: Number of diagnostics with severity warning.
  returned: always
  type: int
  sample: 1
command:
  description: The command that ran.
  returned: when the file exists
  type: list
  elements: str
  sample: [/usr/local/bin/vipkeeper, check, -f, /etc/vipkeeper/keepalived.conf, --json]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.check import ConfigCheck
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.common_args import (
    CONFIG_DAEMON_ARGS,
)


def main():
    module = AnsibleModule(
        argument_spec={
            "path": {"type": "path", "required": True},
            **CONFIG_DAEMON_ARGS,
            "executable": {"type": "path"},
            "config_id": {"type": "str"},
            "skip_interfaces": {"type": "bool", "default": False},
            "fail_on_error": {"type": "bool", "default": True},
        },
        supports_check_mode=True,
    )
    result = ConfigCheck(module).run()
    if not result["ok"] and module.params["fail_on_error"]:
        errors = [d["message"] for d in result["diagnostics"] if d["severity"] == "error"]
        module.fail_json(msg="config check failed: " + "; ".join(errors[:5]), **result)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
