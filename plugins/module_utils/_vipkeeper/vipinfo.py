# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""vip_info backend: which VIPs this host holds and what its VRRP daemon says about them."""

from __future__ import annotations

import ipaddress
import os
import time

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper import daemons, netaddr


def normalize(address):
    """'10.0.0.1/24' -> '10.0.0.1' (canonical text)."""
    return str(ipaddress.ip_address(str(address).split("/", maxsplit=1)[0].strip()))


def detect_daemon(socket_path, pidfile=daemons.KEEPALIVED_PIDFILE):
    """vipkeeper when its control socket exists, keepalived when its pid is alive, else none."""
    if os.path.exists(socket_path):
        return "vipkeeper"
    if daemons.keepalived_pid(pidfile) is not None:
        return "keepalived"
    return "none"


def placement(instances, addresses, extra_vips=()):
    """One row per VIP: configured instance and state, and whether an interface holds it."""
    by_address = {}
    for item in addresses:
        by_address.setdefault(item["address"], item)
    rows = {}
    for inst in instances:
        for vip in inst["vips"]:
            address = normalize(vip["address"])
            rows.setdefault(
                address,
                {
                    "address": address,
                    "prefix": vip.get("prefix"),
                    "instance": inst["name"],
                    "state": inst["state"],
                },
            )
    for vip in extra_vips:
        address = normalize(vip)
        rows.setdefault(
            address, {"address": address, "prefix": None, "instance": None, "state": None}
        )
    result = []
    for address in sorted(rows, key=lambda a: (":" in a, a)):
        row = rows[address]
        held = by_address.get(address)
        row["held"] = held is not None
        row["interface"] = held["interface"] if held else None
        row["held_since"] = held.get("created") if held else None
        result.append(row)
    return result


def wait_outcome(vips, instances, vip, want, other_than):
    """Whether the wait on `vip` is over: 'held', 'released', 'other_master', or None."""
    row = next((r for r in vips if r["address"] == vip), None)
    held = bool(row and row["held"])
    if want == "held":
        if held:
            return "held"
        name = row["instance"] if row else None
        for inst in instances if other_than else ():
            if inst["name"] == name and inst["state"] == "BACKUP":
                master = inst.get("master_address")
                if master and normalize(master) not in other_than:
                    return "other_master"
        return None
    if want == "released":
        return None if held else "released"
    return "done"


class VipInfo:
    """Collect the facts once, or poll until the wanted placement (for drills)."""

    def __init__(self, module):
        self.module = module
        self.params = module.params

    def collect(self):
        params = self.params
        daemon = params["daemon"]
        if daemon == "auto":
            daemon = detect_daemon(params["socket"])
        result = {
            "daemon": daemon,
            "running": False,
            "pid": None,
            "source": None,
            "error": None,
            "instances": [],
        }
        try:
            if daemon == "vipkeeper":
                result["instances"], result["pid"] = daemons.vipkeeper_instances(params["socket"])
                result["source"] = "status"
                result["running"] = True
            elif daemon == "keepalived":
                signum = None
                if params["keepalived_dump"] == "json":
                    signum = _json_signal(self.module)
                instances, pid, source = daemons.keepalived_instances(signum)
                result.update(instances=instances, pid=pid, source=source, running=True)
            else:
                result["error"] = "no VRRP daemon runs (no vipkeeper socket, no keepalived pid)"
        except daemons.DaemonError as exc:
            result["error"] = str(exc)
        addresses, how = netaddr.host_addresses(self.module)
        result["addresses_from"] = how
        # Every address the host carries, whatever its daemon says: vip_assert finds a VIP held
        # twice (split brain) here even when no daemon lists it.
        result["addresses"] = [
            {"address": a["address"], "prefix": a.get("prefix"), "interface": a.get("interface")}
            for a in addresses
        ]
        result["vips"] = placement(result["instances"], addresses, params["vips"] or ())
        result["held"] = [row["address"] for row in result["vips"] if row["held"]]
        result["masters"] = [i["name"] for i in result["instances"] if i["state"] == "MASTER"]
        result["checked_at"] = round(time.time(), 3)
        return result

    def run(self):
        params = self.params
        want = params["wait_for"]
        if want == "none":
            return self.collect()
        if not params["wait_vip"]:
            self.module.fail_json(msg="wait_for needs wait_vip")
        vip = normalize(params["wait_vip"])
        other_than = {normalize(a) for a in params["wait_master_not"] or ()}
        try:
            monitor = netaddr.AddrMonitor()
        except OSError:
            monitor = None
        start = time.monotonic()
        deadline = start + params["wait_timeout"]
        try:
            while True:
                result = self.collect()
                outcome = wait_outcome(result["vips"], result["instances"], vip, want, other_than)
                if outcome == "held":
                    result = self._settle_master(result, vip)
                now = time.monotonic()
                if outcome or now >= deadline:
                    result["wait"] = {
                        "for": want,
                        "vip": vip,
                        "outcome": outcome or "timeout",
                        "seconds": round(now - start, 3),
                        # When the kernel announced the VIP (netlink event received), if it did.
                        "held_at": monitor.added.get(vip) if monitor else None,
                    }
                    return result
                if monitor:
                    monitor.wait(params["wait_interval"])
                else:
                    time.sleep(params["wait_interval"])
        finally:
            if monitor:
                monitor.close()

    def _settle_master(self, result, vip, tries=10):
        """The VIP can land before the daemon's dump says MASTER: read it again, briefly."""
        for _attempt in range(tries):
            row = next((r for r in result["vips"] if r["address"] == vip), None)
            if not row or row["state"] == "MASTER" or not result["running"]:
                return result
            time.sleep(0.1)
            result = self.collect()
        return result


def _json_signal(module):
    rc, out, _err = module.run_command(["keepalived", "--signum=JSON"])
    try:
        return int(out.strip()) if rc == 0 else None
    except ValueError:
        return None
