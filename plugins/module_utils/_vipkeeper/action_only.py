# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The module side of the modules that run as action plugins (render, keepalived_import).

Their module file holds the documentation and the argument spec that the action plugin validates
against, so validate-modules checks that the two agree. Run as a module, with the action plugin
bypassed, it checks its arguments and then refuses.
"""

from __future__ import annotations


def refuse(module, fqcn, where=""):
    """Fail `module` (an AnsibleModule that has checked its arguments): `fqcn` needs its action."""
    module.fail_json(msg=f"{fqcn} runs as an action plugin{' ' + where if where else ''}")
