# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""VRRP instance state from vipkeeper's control socket or keepalived's JSON or data dump."""

from __future__ import annotations

import json
import os
import re
import socket
import time

DEFAULT_SOCKET = "/run/vipkeeper/control.sock"
KEEPALIVED_PIDFILE = "/run/keepalived.pid"
KEEPALIVED_JSON = "/tmp/keepalived.json"
KEEPALIVED_DATA = "/tmp/keepalived.data"

# keepalived's numeric states (vrrp.h).
_KEEPALIVED_STATES = {0: "INIT", 1: "BACKUP", 2: "MASTER", 3: "FAULT", 97: "STOP", 98: "DELETED"}


class DaemonError(Exception):
    """The daemon cannot be asked (not running, refused, unreadable dump)."""


def control_request(path, payload, timeout=5.0):
    """Send one JSON request line to vipkeeper's control socket and return the JSON answer."""
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        try:
            sock.connect(path)
            sock.sendall(json.dumps(payload).encode() + b"\n")
            chunks = []
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if chunk.endswith(b"\n"):
                    break
        except OSError as exc:
            raise DaemonError("cannot reach vipkeeper at %s: %s" % (path, exc)) from None
    finally:
        sock.close()
    try:
        answer = json.loads(b"".join(chunks) or b"{}")
    except ValueError as exc:
        raise DaemonError("bad answer from %s: %s" % (path, exc)) from None
    if not isinstance(answer, dict):
        raise DaemonError("bad answer from %s: not an object" % path)
    return answer


def _split_vip(text):
    """'10.0.0.1/24 dev eth0 ...' -> ('10.0.0.1', 24 or None)."""
    word = str(text).split()[0] if str(text).split() else ""
    address, _sep, prefix = word.partition("/")
    return address, (int(prefix) if prefix.isdigit() else None)


def instance(name, state, **fields):
    """One instance in the shape vip_info returns."""
    vips = []
    for text in fields.get("vips") or []:
        address, prefix = _split_vip(text)
        if address:
            vips.append({"address": address, "prefix": prefix})
    last = fields.get("last_transition") or {}
    return {
        "name": name,
        "state": state,
        "vrid": fields.get("vrid"),
        "interface": fields.get("interface"),
        "base_priority": fields.get("base_priority"),
        "effective_priority": fields.get("effective_priority"),
        "master_address": fields.get("master_address") or None,
        "last_transition": {
            "at": last.get("at"),
            "from": last.get("from"),
            "to": last.get("to"),
            "reason": last.get("reason"),
        },
        "faults": list(fields.get("faults") or []),
        "vips": vips,
        "conflicts": [
            {key: item.get(key) for key in ("address", "mac", "interface", "first_seen_ago")}
            for item in fields.get("conflicts") or []
            if isinstance(item, dict)
        ],
    }


def from_vipkeeper_status(status):
    """Instances from `vipkeeper status --json` (the control socket's status answer)."""
    found = []
    for item in status.get("instances", []):
        found.append(
            instance(
                item.get("name"),
                item.get("state"),
                vrid=item.get("vrid"),
                interface=item.get("interface"),
                base_priority=item.get("base_priority"),
                effective_priority=item.get("effective_priority"),
                master_address=item.get("master_address"),
                last_transition=item.get("last_transition"),
                faults=item.get("faults"),
                vips=item.get("vips"),
                conflicts=item.get("conflicts"),
            )
        )
    return found


def from_keepalived_json(data):
    """Instances from keepalived's JSON dump (/tmp/keepalived.json, SIGRTMIN+2)."""
    found = []
    for entry in data if isinstance(data, list) else []:
        item = entry.get("data", {}) if isinstance(entry, dict) else {}
        state = item.get("state")
        state = _KEEPALIVED_STATES.get(state, str(state)) if isinstance(state, int) else state
        master = item.get("master_saddr") or item.get("master_ipaddr")
        if not master and state == "MASTER":
            master = item.get("saddr")
        found.append(
            instance(
                item.get("iname"),
                state,
                vrid=item.get("vrid"),
                interface=item.get("ifp_ifname"),
                base_priority=item.get("base_priority"),
                effective_priority=item.get("effective_priority"),
                master_address=master,
                last_transition={"at": item.get("last_transition"), "to": state},
                vips=item.get("vips"),
            )
        )
    return found


_DATA_FIELD = re.compile(r"^\s*(?P<key>[A-Za-z][A-Za-z _()/-]*?)\s*=\s*(?P<value>.*)$")


def parse_keepalived_data(text):
    """Instances from keepalived's SIGUSR1 data dump (/tmp/keepalived.data)."""
    found = []
    current = None
    in_vips = False
    for raw in text.splitlines():
        line = raw.rstrip()
        if line.startswith(" VRRP Instance = "):
            current = {"name": line.split("=", 1)[1].strip(), "vips": []}
            found.append(current)
            in_vips = False
            continue
        if current is None:
            continue
        if line and not line.startswith(" "):
            current = None
            continue
        stripped = line.strip()
        if stripped.startswith("Virtual IP"):
            in_vips = True
            continue
        if in_vips:
            if line.startswith("     ") and stripped:
                current["vips"].append(stripped)
                continue
            in_vips = False
        match = _DATA_FIELD.match(line)
        if match and line.startswith("   ") and not line.startswith("    "):
            current[match.group("key").strip().lower()] = match.group("value").strip()
    result = []
    for item in found:
        last = item.get("last transition", "")
        at = None
        if last:
            try:
                at = float(last.split()[0])
            except ValueError:
                at = None
        master = item.get("master router", "") or None
        if item.get("state") == "MASTER":
            master = item.get("using src_ip") or master
        if master:
            master = master.split()[0]
        result.append(
            instance(
                item["name"],
                item.get("state"),
                vrid=_int(item.get("virtual router id")),
                interface=item.get("interface"),
                base_priority=_int(item.get("priority")),
                effective_priority=_int(item.get("effective priority")),
                master_address=master if master and master[0].isalnum() else None,
                last_transition={"at": at, "to": item.get("state")},
                vips=item["vips"],
            )
        )
    return result


def _int(text):
    try:
        return int(str(text).split()[0])
    except (TypeError, ValueError, IndexError):
        return None


def vipkeeper_instances(path=DEFAULT_SOCKET):
    """Ask the running vipkeeper daemon."""
    answer = control_request(path, {"command": "status"})
    if not answer.get("ok", False):
        raise DaemonError("vipkeeper refused status: %s" % answer.get("error", "unknown"))
    return from_vipkeeper_status(answer), answer.get("pid")


def keepalived_pid(pidfile=KEEPALIVED_PIDFILE):
    """The keepalived parent's pid, or None when it is not running."""
    try:
        with open(pidfile) as handle:
            pid = int(handle.read().strip())
        os.kill(pid, 0)
    except (OSError, ValueError):
        return None
    return pid


def _wait_for_new_file(path, before, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = os.stat(path)
            if stat.st_mtime_ns != before and stat.st_size > 0:
                time.sleep(0.05)  # the writer finishes the file
                with open(path) as handle:
                    return handle.read()
        except OSError:
            pass
        time.sleep(0.05)
    raise DaemonError("keepalived did not write %s within %.0fs" % (path, timeout))


def _mtime(path):
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return None


def keepalived_instances(json_signal=None, pidfile=KEEPALIVED_PIDFILE, timeout=5.0):
    """Signal keepalived for its JSON dump (when built with JSON), else its data dump."""
    pid = keepalived_pid(pidfile)
    if pid is None:
        raise DaemonError("keepalived is not running (no live pid in %s)" % pidfile)
    if json_signal:
        before = _mtime(KEEPALIVED_JSON)
        os.kill(pid, json_signal)
        text = _wait_for_new_file(KEEPALIVED_JSON, before, timeout)
        try:
            return from_keepalived_json(json.loads(text)), pid, "json"
        except ValueError as exc:
            raise DaemonError("unreadable %s: %s" % (KEEPALIVED_JSON, exc)) from None
    import signal

    before = _mtime(KEEPALIVED_DATA)
    os.kill(pid, signal.SIGUSR1)
    text = _wait_for_new_file(KEEPALIVED_DATA, before, timeout)
    return parse_keepalived_data(text), pid, "data"
