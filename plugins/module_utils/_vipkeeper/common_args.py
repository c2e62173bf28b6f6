# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs of the options documented by the vipkeeper.vrrp.common doc fragment."""

from __future__ import annotations

SOCKET = "/run/vipkeeper/control.sock"

# vipkeeper.vrrp.common.daemon
DAEMON_ARGS = {
    "daemon": {"type": "str", "choices": ["auto", "vipkeeper", "keepalived"], "default": "auto"},
    "socket": {"type": "path", "default": SOCKET},
}

# vipkeeper.vrrp.common.config_daemon
CONFIG_DAEMON_ARGS = {
    "daemon": {"type": "str", "choices": ["vipkeeper", "keepalived"], "default": "vipkeeper"},
}
