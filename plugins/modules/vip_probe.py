#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vip_probe
short_description: Probe a VIP from a client at a fixed interval and measure the outage
version_added: 0.1.0
description:
  - Runs on a client host. Sends one probe to O(target) every O(interval) seconds for
    O(duration) seconds - an ICMP echo (raw socket), a TCP connect, an HTTP GET, or an ARP
    request (with C(arping), when installed).
  - Probes run in threads on a fixed schedule, so a probe that waits for its O(timeout) does not
    delay the next one; the resolution of the outage is O(interval).
  - Returns the outage window - from the first lost probe to the first answered one after it
    (RV(outage_seconds)) - every loss window, the lost probe count and a compact timeline.
  - Made to run in the background while a fault is injected - C(async) with C(poll=0), then
    C(async_status). With O(settle), it ends early once an outage is over and every probe of the
    last O(settle) seconds was answered.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  target:
    description: The VIP (a prefix is ignored).
    type: str
    required: true
  mode:
    description: How to probe.
    type: str
    choices: [icmp, tcp, http, arp]
    default: icmp
  port:
    description: Port for C(tcp) and C(http).
    type: int
    default: 80
  path:
    description: Path for C(http).
    type: str
    default: /
  interface:
    description: Interface for C(arp) (C(arping -I)).
    type: str
  interval:
    description: Seconds between two probes.
    type: float
    default: 0.1
  timeout:
    description: Seconds a probe waits for its answer.
    type: float
    default: 0.5
  duration:
    description: Seconds to probe (at most).
    type: float
    default: 30
  settle:
    description:
      - End early once an outage is over and this many seconds of probes were answered.
      - C(0) never ends early.
    type: float
    default: 0
  stop_file:
    description:
      - End as soon as this file exists on the client (a drill creates it once the takeover is
        confirmed, so probing does not run its whole O(duration) when nothing was lost).
    type: path
  keep_records:
    description: Return every probe in RV(records).
    type: bool
    default: false
attributes:
  check_mode:
    details: Probing only sends probes; it runs in check mode too.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
seealso:
  - module: vipkeeper.vrrp.vrrp_fault
"""

EXAMPLES = r"""
- name: Probe the VIP over HTTP in the background
  vipkeeper.vrrp.vip_probe:
    target: 10.0.0.100
    mode: http
    interval: 0.1
    duration: 30
    settle: 3
  async: 60
  poll: 0
  register: probe_job

- name: Inject a fault here (vipkeeper.vrrp.vrrp_fault)
  ansible.builtin.debug:
    msg: "..."

- name: Collect the probe result
  ansible.builtin.async_status:
    jid: "{{ probe_job.ansible_job_id }}"
  register: probe
  until: probe.finished
  retries: 60
  delay: 1
"""

RETURN = r"""
target: {description: The probed address., returned: always, type: str, sample: 10.0.0.100}
mode: {description: The probe kind., returned: always, type: str, sample: http}
interval: {description: Seconds between probes., returned: always, type: float, sample: 0.1}
sent: {description: Probes sent., returned: always, type: int, sample: 120}
lost: {description: Probes not answered in time., returned: always, type: int, sample: 31}
received: {description: Probes answered., returned: always, type: int, sample: 89}
outage:
  description: Whether any probe was lost.
  returned: always
  type: bool
  sample: true
recovered:
  description: Whether every loss window ended before the probing did.
  returned: always
  type: bool
  sample: true
first_lost_at:
  description: Unix time the first lost probe was sent.
  returned: always
  type: float
  sample: 1795240400.2
first_recovered_at:
  description: Unix time the first answered probe after it was sent.
  returned: always
  type: float
  sample: 1795240403.3
outage_seconds:
  description: The first outage window (first lost to first recovered), 0 without loss.
  returned: always
  type: float
  sample: 3.1
total_outage_seconds:
  description: The sum of every loss window.
  returned: always
  type: float
  sample: 3.1
windows:
  description: Every loss window - C(start), C(end) (Unix times), C(seconds), C(lost).
  returned: always
  type: list
  elements: dict
timeline:
  description: Runs of equal outcome - C(state) (C(ok) or C(lost)), C(from), C(to), C(count).
  returned: always
  type: list
  elements: dict
  sample:
    - {state: ok, from: 1795240397.0, to: 1795240400.1, count: 32}
    - {state: lost, from: 1795240400.2, to: 1795240403.2, count: 31}
    - {state: ok, from: 1795240403.3, to: 1795240406.3, count: 31}
duration:
  description: Seconds from the first to the last probe.
  returned: always
  type: float
  sample: 9.3
started_at:
  description: Unix time of the first probe.
  returned: always
  type: float
  sample: 1795240397.0
ended_at:
  description: Unix time the probing ended.
  returned: always
  type: float
  sample: 1795240406.9
stopped_by:
  description: Why probing ended - C(duration), C(settled) or C(stop_file).
  returned: always
  type: str
  sample: settled
errors:
  description: Distinct probe errors (at most 10).
  returned: always
  type: list
  elements: str
records:
  description: Every probe - C(seq), C(at), C(ok), C(rtt_ms), C(error).
  returned: with O(keep_records)
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.probe import MODES, Prober


def main():
    module = AnsibleModule(
        argument_spec={
            "target": {"type": "str", "required": True},
            "mode": {"type": "str", "choices": list(MODES), "default": "icmp"},
            "port": {"type": "int", "default": 80},
            "path": {"type": "str", "default": "/"},
            "interface": {"type": "str"},
            "interval": {"type": "float", "default": 0.1},
            "timeout": {"type": "float", "default": 0.5},
            "duration": {"type": "float", "default": 30},
            "settle": {"type": "float", "default": 0},
            "stop_file": {"type": "path"},
            "keep_records": {"type": "bool", "default": False},
        },
        supports_check_mode=True,
    )
    p = module.params
    if p["interval"] <= 0 or p["timeout"] <= 0 or p["duration"] <= 0:
        module.fail_json(msg="interval, timeout and duration must be positive")
    if p["duration"] / p["interval"] > 100000:
        module.fail_json(msg="at most 100000 probes (duration / interval)")
    try:
        result = Prober(module).run()
    except ValueError as exc:
        module.fail_json(msg="vip_probe: %s" % exc)
    module.exit_json(changed=False, **result)


if __name__ == "__main__":
    main()
