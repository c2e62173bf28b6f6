#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vrrp_fault
short_description: Inject one failover fault on a VRRP host (or restore it) and time it
version_added: 0.1.0
description:
  - Injects one fault on the host, for failover drills, and returns the exact time it did
    (Unix time RV(at) and the host's monotonic clock RV(at_monotonic), both taken just before
    the fault's command ran).
  - C(stop) stops the daemon's unit (a clean stop - vipkeeper and keepalived send a priority-0
    advert and release the VIPs).
  - C(kill) sends SIGKILL to the unit's main process and every process below it (keepalived's
    children too), as a crash does - the VIPs stay behind on
    the host. systemd's C(Restart=on-failure) may start the daemon again.
  - C(isolate) drops VRRP traffic (IP protocol 112, IPv4 and IPv6) in and out with an nftables
    table of its own (O(table)); nothing else of the host's firewall is touched.
  - C(service) stops the tracked service (O(tracked_service), for example nginx).
  - C(demote) asks vipkeeper through its control socket for a planned switchover - the master sends
    a priority-0 advert and stays BACKUP for O(hold) seconds. keepalived has no such request.
  - C(link) sets O(interface) down, only with O(allow_link_down=true); O(restore_after) brings it
    back with a systemd timer, because the link may carry the SSH session.
  - O(state=restored) undoes the fault - start the unit or service, delete the table, set the link
    up. A demote needs no restore (its hold expires).
  - Idempotent - a fault already in place (or already restored) reports C(changed=false) and
    does nothing.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  fault:
    description: The fault.
    type: str
    required: true
    choices: [stop, kill, isolate, service, demote, link]
  state:
    description: C(present) injects the fault, C(restored) undoes it.
    type: str
    choices: [present, restored]
    default: present
  daemon:
    description:
      - The VRRP daemon.
      - C(auto) restores the daemon that the fault acted on - each injected fault leaves a record
        in C(/run/vipkeeper-drill/FAULT.json) naming the daemon and unit, which the restore reads
        and removes (a stopped vipkeeper has no control socket to detect it by).
      - Without a record, C(auto) takes vipkeeper when its control socket exists, else keepalived
        when it runs, else the one of the two whose unit is enabled (C(systemctl is-enabled)),
        else the one whose config exists (C(/etc/vipkeeper/keepalived.conf),
        C(/etc/keepalived/keepalived.conf)); when that cannot tell, the faults that act on the
        daemon (C(stop), C(kill), C(demote)) fail and ask for O(daemon) or O(service_name).
  service_name:
    description: The daemon's systemd unit (default C(vipkeeper) or C(keepalived)).
    type: str
  instance:
    description: The VRRP instance to demote; required with O(fault=demote).
    type: str
  hold:
    description: Seconds the demoted master stays BACKUP (0..3600).
    type: float
    default: 10
  tracked_service:
    description: The unit that O(fault=service) stops; required with it.
    type: str
  table:
    description: The nftables table (family inet) that O(fault=isolate) creates and deletes.
    type: str
    default: vipkeeper_drill
  interface:
    description: The link that O(fault=link) sets down; required with it.
    type: str
  allow_link_down:
    description: Required for O(fault=link), which may cut the host off.
    type: bool
    default: false
  restore_after:
    description: With O(fault=link), set the link up again after this many seconds (0 = never).
    type: int
    default: 0
attributes:
  check_mode:
    details: Reports the action and commands it would run, and changes nothing.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
  - vipkeeper.vrrp.common.daemon
seealso:
  - module: vipkeeper.vrrp.vip_probe
  - module: vipkeeper.vrrp.vip_info
"""

EXAMPLES = r"""
- name: Crash the master
  vipkeeper.vrrp.vrrp_fault:
    fault: kill
  register: fault

- name: Bring it back
  vipkeeper.vrrp.vrrp_fault:
    fault: kill
    state: restored

- name: Cut VRRP off (split brain expected)
  vipkeeper.vrrp.vrrp_fault:
    fault: isolate

- name: Planned switchover of instance web
  vipkeeper.vrrp.vrrp_fault:
    fault: demote
    instance: web
    hold: 30

- name: Take eth1 down for 20 s
  vipkeeper.vrrp.vrrp_fault:
    fault: link
    interface: eth1
    allow_link_down: true
    restore_after: 20
"""

RETURN = r"""
fault:
  description: The fault.
  returned: always
  type: str
  sample: kill
state:
  description: C(present) or C(restored).
  returned: always
  type: str
  sample: present
daemon:
  description:
    - The daemon the fault is about.
    - C(unknown) when O(daemon=auto) cannot tell and the fault does not need it.
  returned: always
  type: str
  sample: vipkeeper
daemon_from:
  description:
    - How the daemon was decided - C(given), recorded at fault time, running, enabled unit, config.
  returned: always
  type: str
  sample: recorded when the fault was injected
action:
  description: What was (or, in check mode, would be) done.
  returned: always
  type: str
  sample: SIGKILL every process of vipkeeper (a crash - VIPs stay)
commands:
  description: The commands run (or that would run).
  returned: always
  type: list
  elements: str
  sample: [systemctl stop vipkeeper]
at:
  description: Unix time just before the fault's command ran; null when nothing ran.
  returned: always
  type: float
  sample: 1795240400.123456
at_monotonic:
  description: The host's monotonic clock at the same moment.
  returned: always
  type: float
  sample: 2873.456789
done_at:
  description: Unix time when the command had returned.
  returned: when something ran
  type: float
  sample: 1795240400.140001
killed_pid:
  description: The unit's main pid before O(fault=kill).
  returned: with O(fault=kill) when something ran
  type: int
  sample: 767
killed_pids:
  description: Every pid that got SIGKILL (the main pid first).
  returned: with O(fault=kill) when something ran
  type: list
  elements: int
  sample: [767, 790]
answer:
  description: The control socket's answer to the demote request.
  returned: with O(fault=demote)
  type: dict
  sample: {ok: true, instance: web, hold: 10.0}
restore_after:
  description: Seconds until the timer sets the link up again.
  returned: with O(fault=link) and O(restore_after)
  type: int
  sample: 20
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.common_args import (
    DAEMON_ARGS,
)
from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.fault import FAULTS, Fault


def main():
    module = AnsibleModule(
        argument_spec={
            "fault": {"type": "str", "required": True, "choices": list(FAULTS)},
            "state": {"type": "str", "choices": ["present", "restored"], "default": "present"},
            **DAEMON_ARGS,
            "service_name": {"type": "str"},
            "instance": {"type": "str"},
            "hold": {"type": "float", "default": 10},
            "tracked_service": {"type": "str"},
            "table": {"type": "str", "default": "vipkeeper_drill"},
            "interface": {"type": "str"},
            "allow_link_down": {"type": "bool", "default": False},
            "restore_after": {"type": "int", "default": 0},
        },
        # Restoring needs the same argument as injecting (the unit, the link, the instance).
        required_if=[
            ("fault", "service", ["tracked_service"]),
            ("fault", "link", ["interface"]),
            ("fault", "demote", ["instance"]),
        ],
        supports_check_mode=True,
    )
    if not 0 <= module.params["hold"] <= 3600:
        module.fail_json(msg="hold must be 0..3600 seconds")
    module.exit_json(**Fault(module).run())


if __name__ == "__main__":
    main()
