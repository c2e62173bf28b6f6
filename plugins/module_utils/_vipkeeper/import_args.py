# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The argument spec of vipkeeper.vrrp.keepalived_import, shared by its action plugin and its
module file (so that validate-modules compares it with the DOCUMENTATION options)."""

from __future__ import annotations

ARGUMENT_SPEC = {
    "src": {"type": "path", "default": "/etc/keepalived/keepalived.conf"},
    "config_id": {"type": "str"},
    "python": {"type": "str"},
}
