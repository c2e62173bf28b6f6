# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vrrp_fault backend: inject one fault on a VRRP host, or restore it, and time the moment."""

from __future__ import annotations

import contextlib
import os
import signal
import time

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import daemons

FAULTS = ("stop", "kill", "isolate", "service", "demote", "link")
NFT_TABLE = "vipkeeper_drill"


def nft_ruleset(table):
    """Drop VRRP (IP protocol 112, both families) in and out, in a table of its own."""
    return (
        "table inet %s {\n"
        "  chain input { type filter hook input priority -300; policy accept;"
        " meta l4proto 112 counter drop; }\n"
        "  chain output { type filter hook output priority -300; policy accept;"
        " meta l4proto 112 counter drop; }\n"
        "}\n" % table
    )


def descendants(root, proc="/proc"):
    """`root` and every process below it (from each process's parent pid)."""
    parent = {}
    for name in os.listdir(proc):
        if not name.isdigit():
            continue
        try:
            with open(os.path.join(proc, name, "stat")) as handle:
                stat = handle.read()
        except OSError:
            continue
        # Field 4 (ppid) follows the command name, which is in parentheses and may hold spaces.
        parent[int(name)] = int(stat.rsplit(")", 1)[1].split()[1])
    found = [root]
    for pid in found:
        found.extend(sorted(child for child, ppid in parent.items() if ppid == pid))
    return found


class Fault:
    """Plan the commands of one fault (inject or restore); run them unless in check mode."""

    def __init__(self, module):
        self.module = module
        self.p = module.params
        self.daemon = self.p["daemon"]
        if self.daemon == "auto":
            self.daemon = "vipkeeper" if os.path.exists(self.p["socket"]) else "keepalived"
        self.unit = self.p["service_name"] or self.daemon

    # -- what is there now --------------------------------------------------------------------
    def _active(self, unit):
        rc, _out, _err = self.module.run_command(["systemctl", "is-active", "--quiet", unit])
        return rc == 0

    def _table_present(self):
        rc, _out, _err = self.module.run_command(["nft", "list", "table", "inet", self.p["table"]])
        return rc == 0

    def _link_up(self):
        try:
            with open("/sys/class/net/%s/operstate" % self.p["interface"]) as handle:
                state = handle.read().strip()
            with open("/sys/class/net/%s/flags" % self.p["interface"]) as handle:
                flags = int(handle.read().strip(), 16)
        except OSError as exc:
            self.module.fail_json(msg="interface %s: %s" % (self.p["interface"], exc))
        return bool(flags & 1) and state != "down"

    # -- plans: (needed, description, commands) -----------------------------------------------
    def plan(self):
        fault, restore = self.p["fault"], self.p["state"] == "restored"
        unit = self.unit
        if fault in ("stop", "kill"):
            active = self._active(unit)
            if restore:
                return (
                    not active,
                    "start %s" % unit,
                    [["systemctl", "reset-failed", unit], ["systemctl", "start", unit]],
                )
            if fault == "stop":
                return (active, "stop %s" % unit, [["systemctl", "stop", unit]])
            return (
                active,
                "SIGKILL every process of %s (a crash: VIPs stay)" % unit,
                [["kill", "-KILL", "<main pid of %s and its descendants>" % unit]],
            )
        if fault == "service":
            svc = self.p["tracked_service"]
            if not svc:
                self.module.fail_json(msg="fault=service needs tracked_service")
            active = self._active(svc)
            if restore:
                return (not active, "start %s" % svc, [["systemctl", "start", svc]])
            return (active, "stop the tracked service %s" % svc, [["systemctl", "stop", svc]])
        if fault == "isolate":
            table = self.p["table"]
            present = self._table_present()
            if restore:
                return (
                    present,
                    "delete nftables table inet %s" % table,
                    [["nft", "delete", "table", "inet", table]],
                )
            return (
                not present,
                "drop VRRP (protocol 112) in and out with table inet %s" % table,
                [["nft", "-f", "-"]],
            )
        if fault == "link":
            iface = self.p["interface"]
            if not iface:
                self.module.fail_json(msg="fault=link needs interface")
            if not restore and not self.p["allow_link_down"]:
                self.module.fail_json(
                    msg="fault=link takes %s down; set allow_link_down=true to allow it" % iface
                )
            up = self._link_up()
            if restore:
                return (not up, "set link %s up" % iface, [["ip", "link", "set", iface, "up"]])
            return (up, "set link %s down" % iface, [["ip", "link", "set", iface, "down"]])
        if fault == "demote":
            if self.daemon != "vipkeeper":
                self.module.fail_json(
                    msg="fault=demote needs vipkeeper's control socket; keepalived has no demote "
                    "(use fault=stop for a planned switchover on keepalived hosts)"
                )
            if not self.p["instance"]:
                self.module.fail_json(msg="fault=demote needs instance")
            if restore:
                return (
                    False,
                    "nothing to restore: the demote hold of %s expires by itself"
                    % self.p["instance"],
                    [],
                )
            return (
                True,
                "demote %s for %ss through %s"
                % (self.p["instance"], self.p["hold"], self.p["socket"]),
                [],
            )
        self.module.fail_json(msg="unknown fault %s" % fault)
        return None

    # -- action -------------------------------------------------------------------------------
    def run(self):
        needed, description, commands = self.plan()
        p = self.p
        result = {
            "fault": p["fault"],
            "state": p["state"],
            "daemon": self.daemon,
            "action": description,
            "commands": [" ".join(c) for c in commands],
            "changed": needed,
            "at": None,
            "at_monotonic": None,
        }
        if not needed or self.module.check_mode:
            return result
        if p["fault"] == "kill" and p["state"] == "present":
            main = self._main_pid()
            if not main:
                self.module.fail_json(msg="%s has no main pid to kill" % self.unit, **result)
            result["killed_pid"] = main
            result["killed_pids"] = descendants(main)
        if p["fault"] == "link" and p["state"] == "present" and p["restore_after"]:
            # The link may carry our own SSH session: a systemd timer brings it back.
            ip = self.module.get_bin_path("ip", required=True)
            argv = [
                "systemd-run",
                "--collect",
                "--on-active=%ds" % p["restore_after"],
                "--unit=vipkeeper-drill-link-%s" % p["interface"],
                ip,
                "link",
                "set",
                p["interface"],
                "up",
            ]
            self.module.run_command(argv)
            result["restore_after"] = p["restore_after"]
        mono, epoch = time.monotonic(), time.time()
        if p["fault"] == "demote" and p["state"] == "present":
            try:
                answer = daemons.control_request(
                    p["socket"], {"command": "demote", "instance": p["instance"], "hold": p["hold"]}
                )
            except daemons.DaemonError as exc:
                self.module.fail_json(msg=str(exc), **result)
            if not answer.get("ok"):
                self.module.fail_json(msg="demote refused: %s" % answer.get("error"), **result)
            result["answer"] = answer
        elif p["fault"] == "kill" and p["state"] == "present":
            for pid in result["killed_pids"]:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        else:
            for argv in commands:
                data = nft_ruleset(p["table"]) if argv == ["nft", "-f", "-"] else None
                rc, out, err = self.module.run_command(argv, data=data)
                if rc != 0 and argv[:2] != ["systemctl", "reset-failed"]:
                    self.module.fail_json(
                        msg="%s failed (rc %d): %s" % (" ".join(argv), rc, (err or out).strip()),
                        **result,
                    )
        result["at"] = round(epoch, 6)
        result["at_monotonic"] = round(mono, 6)
        result["done_at"] = round(time.time(), 6)
        return result

    def _main_pid(self):
        rc, out, _err = self.module.run_command(
            ["systemctl", "show", "--property=MainPID", "--value", self.unit]
        )
        try:
            return int(out.strip()) if rc == 0 else None
        except ValueError:
            return None
