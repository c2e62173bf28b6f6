# Copyright: vipkeeper maintainers
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""What the runtime and vrrp roles need from a host, read in one module call (runtime_facts)."""

from __future__ import annotations

import glob
import grp
import hashlib
import os
import pwd
import stat

from ansible_collections.vipkeeper.vrrp.plugins.module_utils._vipkeeper.daemons import (
    DaemonError,
    control_request,
)

_SHOW = ("Id", "LoadState", "ActiveState", "UnitFileState")


def sha1_file(path):
    """The SHA1 of a file, as the copy, template and find modules report it."""
    digest = hashlib.sha1()  # the checksum Ansible's modules compare
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(65536), b""):
            digest.update(block)
    return digest.hexdigest()


def _name(lookup, ident):
    try:
        return lookup(ident)[0]
    except KeyError:
        return str(ident)


def path_state(path):
    """exists, type (file, directory, link, other), mode, owner, group; checksum or target."""
    try:
        st = os.lstat(path)
    except OSError:
        return {"exists": False}
    if stat.S_ISLNK(st.st_mode):
        kind = "link"
    elif stat.S_ISDIR(st.st_mode):
        kind = "directory"
    elif stat.S_ISREG(st.st_mode):
        kind = "file"
    else:
        kind = "other"
    out = {
        "exists": True,
        "type": kind,
        "mode": "%04o" % stat.S_IMODE(st.st_mode),
        "owner": _name(pwd.getpwuid, st.st_uid),
        "group": _name(grp.getgrgid, st.st_gid),
    }
    if kind == "link":
        out["target"] = os.readlink(path)
    elif kind == "file":
        out["checksum"] = sha1_file(path)
    return out


def wheels(directory):
    """The regular files of a wheelhouse: name, SHA1 and mode (as find's checksums)."""
    out = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return None
    for name in names:
        path = os.path.join(directory, name)
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode):
            out.append({"name": name, "checksum": sha1_file(path),
                        "mode": "%04o" % stat.S_IMODE(st.st_mode)})  # fmt: skip
    return out


def parse_show(text, services):
    """`systemctl show -p Id,LoadState,ActiveState,UnitFileState A.service B.service` blocks."""
    blocks = [b for b in text.strip().split("\n\n") if b.strip()]
    out = {}
    for service, block in zip(services, blocks):
        props = dict(line.split("=", 1) for line in block.splitlines() if "=" in line)
        load = props.get("LoadState", "")
        out[service] = {
            "exists": load not in ("", "not-found"),
            "load": load,
            "active": props.get("ActiveState", ""),
            "enabled": props.get("UnitFileState", ""),
        }
    return out


def service_states(run, services):
    """The states of the units, one systemctl call for all; None without systemctl."""
    if not services:
        return {}
    units = [s if "." in s else s + ".service" for s in services]
    argv = ["systemctl", "show", "--no-pager"] + ["--property=" + p for p in _SHOW] + ["--"]
    try:
        rc, out, _err = run(argv + units)
    except OSError:
        return None
    if rc != 0:
        return None
    return parse_show(out, services)


def parse_dpkg(text, packages):
    """`dpkg-query --show` lines 'STATUS<TAB>VERSION<TAB>NAME' -> {name: {status, version}}."""
    out = {name: {"status": "unknown", "version": None} for name in packages}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) == 3 and parts[2] in out:
            out[parts[2]] = {"status": parts[0], "version": parts[1] or None}
    return out


def package_states(run, packages):
    """Only the named Debian packages (never the whole database); None without dpkg-query."""
    if not packages:
        return {}
    fmt = "--showformat=${db:Status-Status}\\t${Version}\\t${Package}\\n"
    try:
        _rc, out, _err = run(["dpkg-query", "--show", fmt, *packages])
    except OSError:
        return None
    # exit 1 when one is unknown to dpkg: it is missing, as one not installed
    return parse_dpkg(out, packages)


def dist_version(venv, distribution):
    """The installed version from the venv's dist-info (no interpreter start); None if unclear."""
    norm = distribution.replace("-", "_")
    site = os.path.join(venv, "lib", "python3*", "site-packages")
    found = glob.glob(os.path.join(site, norm + "-*.dist-info", "METADATA"))
    if len(found) != 1:
        return None
    with open(found[0], encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("Version:"):
                return line.split(":", 1)[1].strip()
            if not line.strip():
                break
    return None


def venv_state(run, venv, distribution):
    """Whether the venv exists and the distribution's installed version in it (or None)."""
    python = os.path.join(venv, "bin", "python")
    if not os.path.exists(python):
        return {"exists": False, "version": None}
    version = dist_version(venv, distribution)
    if version is None:  # none or several dist-infos: ask the interpreter, as pip would see it
        code = "import importlib.metadata as m; print(m.version(%r))" % distribution
        try:
            rc, out, _err = run([python, "-c", code])
        except OSError:
            rc, out = 1, ""
        version = out.strip() if rc == 0 and out.strip() else None
    return {"exists": True, "version": version}


def running_state(socket_path):
    """The running vipkeeper's version and pid from its control socket; None if it is not up."""
    if not os.path.exists(socket_path):
        return None
    try:
        answer = control_request(socket_path, {"command": "status"}, timeout=5.0)
    except DaemonError:
        return None
    if not answer.get("ok", True) or "version" not in answer:
        return None
    return {"version": answer.get("version"), "pid": answer.get("pid")}
