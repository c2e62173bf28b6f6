#!/usr/bin/python
# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: runtime_facts
short_description: What the vipkeeper roles need from a host, read in one call
version_added: 0.2.0
description:
  - Reads, in one module call, what the C(runtime) and C(vrrp) roles decide on - the runtime
    installed in the venv (from its C(dist-info), no interpreter start), the version the running
    vipkeeper reports on its control socket, the state of the named systemd units (one
    C(systemctl show) for all, so a unit that is not installed reads C(exists=false)), the named
    Debian packages (C(dpkg-query) about these alone, never the whole package database), the
    state and SHA1 of the named paths, and the wheels of a wheelhouse with their SHA1.
  - Replaces C(service_facts), C(package_facts) and a command per item in the roles' no-change
    runs (issue 25). Only reads, so it also runs in check mode.
author:
  - vipkeeper maintainers (@vipkeeper)
options:
  venv:
    description: The runtime's venv; RV(venv) says whether it exists and the version installed.
    type: path
    default: /opt/vipkeeper
  distribution:
    description: The Python distribution whose installed version RV(venv) reports.
    type: str
    default: vipkeeper
  extra_distributions:
    description:
      - More Python distributions whose installed version in the venv RV(distributions) reports
        (for example C(prometheus-client), the runtime's C(metrics) extra).
      - Read from their C(dist-info) only, with no interpreter start.
    type: list
    elements: str
    default: []
  control_socket:
    description: vipkeeper's control socket, asked for the running daemon's version.
    type: path
    default: /run/vipkeeper/control.sock
  services:
    description: The systemd units to report (a name without a dot is a C(.service)).
    type: list
    elements: str
    default: [vipkeeper, keepalived]
  packages:
    description: Debian packages to report (status and version); none - no C(dpkg-query) call.
    type: list
    elements: str
    default: []
  paths:
    description: Paths to report (type, mode, owner, group; SHA1 of a file, target of a link).
    type: list
    elements: path
    default: []
  wheelhouse:
    description: A directory whose regular files RV(wheels) lists with their SHA1 and mode.
    type: path
attributes:
  check_mode:
    details: The module only reads; it also runs in check mode.
  platform:
    platforms: linux
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - vipkeeper.vrrp.common
seealso:
  - module: vipkeeper.vrrp.vip_info
"""

EXAMPLES = r"""
- name: Read the runtime's state in one call
  vipkeeper.vrrp.runtime_facts:
    packages: [python3-venv]
    paths: [/etc/systemd/system/vipkeeper.service]
    wheelhouse: /var/cache/vipkeeper/wheelhouse
  register: state

- name: Install when another version is installed
  ansible.builtin.debug:
    msg: "installed {{ state.venv.version }}, running {{ state.running.version | default('-') }}"
"""

RETURN = r"""
venv:
  description: C(exists) (its C(bin/python) exists) and C(version) (installed, or null).
  returned: always
  type: dict
  sample: {exists: true, version: 0.2.0}
distributions:
  description:
    - Per distribution of O(extra_distributions) - its installed version in the venv, or null
      (not installed, no venv, or several C(dist-info) directories).
  returned: always
  type: dict
  sample: {prometheus-client: 0.21.1}
running:
  description: C(version) and C(pid) the running vipkeeper reports, or null when none answers.
  returned: always
  type: dict
  sample: {version: 0.2.0, pid: 767}
services:
  description:
    - Per unit of O(services) - C(exists) (systemd knows the unit), C(load) (LoadState),
      C(active) (ActiveState) and C(enabled) (UnitFileState). Null without systemctl.
  returned: always
  type: dict
  sample: {vipkeeper: {exists: true, load: loaded, active: active, enabled: enabled},
           keepalived: {exists: false, load: not-found, active: inactive, enabled: ""}}
packages:
  description:
    - Per package of O(packages) - C(status) (C(installed), C(unknown), ...) and C(version).
  returned: always
  type: dict
  sample: {python3-venv: {status: installed, version: 3.11.2-1+b1}}
paths:
  description:
    - Per path of O(paths) - C(exists), C(type), C(mode), C(owner), C(group), and C(checksum)
      or C(target).
  returned: always
  type: dict
  sample: {/usr/local/bin/vipkeeper: {exists: true, type: link, mode: "0777", owner: root,
                                      group: root, target: /opt/vipkeeper/bin/vipkeeper}}
wheels:
  description:
    - The regular files of O(wheelhouse) (C(name), C(checksum), C(mode)); null when it does not
      exist.
  returned: always
  type: list
  elements: dict
  sample: [{name: vipkeeper-0.2.0-py3-none-any.whl, checksum: 3b1e..., mode: "0644"}]
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import hoststate


def main():
    module = AnsibleModule(
        argument_spec={
            "venv": {"type": "path", "default": "/opt/vipkeeper"},
            "distribution": {"type": "str", "default": "vipkeeper"},
            "extra_distributions": {"type": "list", "elements": "str", "default": []},
            "control_socket": {"type": "path", "default": "/run/vipkeeper/control.sock"},
            "services": {"type": "list", "elements": "str", "default": ["vipkeeper", "keepalived"]},
            "packages": {"type": "list", "elements": "str", "default": []},
            "paths": {"type": "list", "elements": "path", "default": []},
            "wheelhouse": {"type": "path"},
        },
        supports_check_mode=True,
    )
    p = module.params

    def run(argv):
        return module.run_command(argv, check_rc=False, handle_exceptions=False)

    module.exit_json(
        changed=False,
        venv=hoststate.venv_state(run, p["venv"], p["distribution"]),
        distributions={
            name: hoststate.dist_version(p["venv"], name) for name in p["extra_distributions"]
        },
        running=hoststate.running_state(p["control_socket"]),
        services=hoststate.service_states(run, p["services"]),
        packages=hoststate.package_states(run, p["packages"]),
        paths={path: hoststate.path_state(path) for path in p["paths"]},
        wheels=hoststate.wheels(p["wheelhouse"]) if p["wheelhouse"] else None,
    )


if __name__ == "__main__":
    main()
