# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of vipkeeper.vrrp.render, shared by its action plugin and its module file.

The action plugin validates the task's arguments against it (types, choices, required); the
module file builds an AnsibleModule from it, so ansible-test's validate-modules compares it with
the DOCUMENTATION options.
"""

from __future__ import annotations

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.common_args import (
    CONFIG_DAEMON_ARGS,
)

# Arguments render passes on to ansible.builtin.copy unchanged.
COPY_ARGS = ("mode", "owner", "group", "backup", "seuser", "serole", "setype", "selevel")

ARGUMENT_SPEC = {
    "dest": {"type": "path", "required": True},
    **CONFIG_DAEMON_ARGS,
    "validate": {"type": "str"},
    "clusters": {"type": "list", "elements": "dict"},
    "settings": {"type": "dict", "default": {}},
    "lock": {"type": "dict", "default": {}},
    "secrets": {"type": "dict", "no_log": True},
    "plan": {"type": "dict"},
    "template": {"type": "str"},
    "global_defs": {"type": "dict", "default": {}},
    "split_brain": {"type": "dict"},
    "host": {"type": "str"},
    "mode": {"type": "raw"},
    "owner": {"type": "str"},
    "group": {"type": "str"},
    "backup": {"type": "bool", "default": False},
    "seuser": {"type": "str"},
    "serole": {"type": "str"},
    "setype": {"type": "str"},
    "selevel": {"type": "str"},
    "current": {"type": "dict"},
}
