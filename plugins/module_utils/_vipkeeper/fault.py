# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vrrp_fault backend: inject one fault on a VRRP host, or restore it, and time the moment."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import time

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import daemons

FAULTS = ("stop", "kill", "isolate", "service", "demote", "link")
NFT_TABLE = "vipkeeper_drill"
# Faults that act on the daemon's unit or socket: the others do not need to know the daemon.
DAEMON_FAULTS = ("stop", "kill", "demote")
# Each injected fault leaves a record here (tmpfs: gone after a reboot) naming the daemon and
# unit it acted on, so that the restore starts the same one - once stopped, vipkeeper has no
# control socket left to detect it by.
RECORD_DIR = "/run/vipkeeper-drill"
RECORDED = "recorded when the fault was injected"
CONFIGS = {
    "vipkeeper": "/etc/vipkeeper/keepalived.conf",
    "keepalived": "/etc/keepalived/keepalived.conf",
}


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
        self.record_path = os.path.join(RECORD_DIR, "%s.json" % self.p["fault"])
        self.keepalived_pidfile = daemons.KEEPALIVED_PIDFILE
        self.configs = CONFIGS
        self.record = self._read_record() if self.p["state"] == "restored" else None
        self.daemon, self.daemon_from = self._resolve_daemon()
        recorded = self.daemon_from == RECORDED and (self.record or {}).get("unit")
        self.unit = self.p["service_name"] or recorded or self.daemon
        if self.daemon is None and self.p["fault"] in DAEMON_FAULTS and not self.unit:
            module.fail_json(
                msg="daemon=auto cannot tell which VRRP daemon this host runs (%s); set daemon "
                "(vipkeeper or keepalived) or service_name" % self.daemon_from
            )

    # -- which daemon -------------------------------------------------------------------------
    def _resolve_daemon(self):
        """(daemon or None, how it was decided): given, recorded, running, enabled, configured."""
        if self.p["daemon"] != "auto":
            return self.p["daemon"], "given"
        if self.record and self.record.get("daemon") in ("vipkeeper", "keepalived"):
            return self.record["daemon"], RECORDED
        if os.path.exists(self.p["socket"]):
            return "vipkeeper", "its control socket exists"
        if daemons.keepalived_pid(self.keepalived_pidfile) is not None:
            return "keepalived", "it is running"
        enabled = [name for name in ("vipkeeper", "keepalived") if self._enabled(name)]
        if len(enabled) == 1:
            return enabled[0], "its unit is the one enabled"
        configured = [name for name, path in self.configs.items() if _non_empty(path)]
        if len(configured) == 1:
            return configured[0], "its config is the one present"
        return None, "neither runs; enabled units: %s; configs: %s" % (
            ", ".join(enabled) or "none",
            ", ".join(configured) or "none",
        )

    def _enabled(self, unit):
        rc, out, _err = self.module.run_command(["systemctl", "is-enabled", unit])
        return rc == 0 and out.strip() in ("enabled", "enabled-runtime")

    def _read_record(self):
        try:
            with open(self.record_path) as handle:
                record = json.load(handle)
        except (OSError, ValueError):
            return None
        return record if isinstance(record, dict) else None

    def _write_record(self, at):
        record = {"fault": self.p["fault"], "daemon": self.daemon, "unit": self.unit, "at": at}
        os.makedirs(os.path.dirname(self.record_path), mode=0o700, exist_ok=True)
        tmp = self.record_path + ".tmp"
        with open(tmp, "w") as handle:
            json.dump(record, handle)
        os.replace(tmp, self.record_path)

    def _drop_record(self):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.record_path)

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
            svc = self.p["tracked_service"]  # required_if in the module
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
            iface = self.p["interface"]  # required_if in the module
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
            "daemon": self.daemon or "unknown",
            "daemon_from": self.daemon_from,
            "action": description,
            "commands": [" ".join(c) for c in commands],
            "changed": needed,
            "at": None,
            "at_monotonic": None,
        }
        if self.module.check_mode:
            return result
        restore = p["state"] == "restored"
        if not needed:
            if restore:
                self._drop_record()
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
        if restore:
            self._drop_record()
        else:
            try:
                self._write_record(result["at"])
            except OSError as exc:
                result["warnings"] = [
                    "could not record the fault in %s (%s): a restore with daemon=auto "
                    "decides by the enabled unit and config" % (self.record_path, exc)
                ]
        return result

    def _main_pid(self):
        rc, out, _err = self.module.run_command(
            ["systemctl", "show", "--property=MainPID", "--value", self.unit]
        )
        try:
            return int(out.strip()) if rc == 0 else None
        except ValueError:
            return None


def _non_empty(path):
    try:
        return os.path.getsize(path) > 0
    except OSError:
        return False
