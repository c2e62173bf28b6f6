# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Documentation shared by the vipkeeper.vrrp modules.

A module's own entries are merged over these: it keeps the support and adds C(details) where it
differs (render's diff mode, vrrp_scan's platform, a longer O(daemon) description). The argument
specs of the options live in module_utils/_vipkeeper/common_args.py.
"""

from __future__ import annotations


class ModuleDocFragment:
    # The attributes every module of the collection has: check mode, no diff, POSIX hosts.
    # Use together with ansible.builtin.action_common_attributes (their descriptions).
    DOCUMENTATION = r"""
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

    # A module run by an action plugin of its own (render, keepalived_import). Use together with
    # ansible.builtin.action_common_attributes, like DOCUMENTATION.
    ACTION = r"""
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
"""

    # The running VRRP daemon a module asks or acts on (vip_info, vrrp_fault).
    DAEMON = r"""
options:
  daemon:
    description:
      - The VRRP daemon. C(auto) takes vipkeeper when its control socket exists, else keepalived.
    type: str
    choices: [auto, vipkeeper, keepalived]
    default: auto
  socket:
    description: vipkeeper's control socket.
    type: path
    default: /run/vipkeeper/control.sock
"""

    # The daemon that reads a config file (render, config_check).
    CONFIG_DAEMON = r"""
options:
  daemon:
    description: The daemon that reads the config - C(vipkeeper) or Debian's C(keepalived).
    type: str
    choices: [vipkeeper, keepalived]
    default: vipkeeper
"""
