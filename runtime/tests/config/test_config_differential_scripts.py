"""Differential test of script users and script security: vipkeeper check vs keepalived -t.

Every kind of script keepalived runs (vrrp_script, the seven instance notifies, the five
sync-group notifies, the three FIFO scripts, MISC_CHECK, notify_up/down, quorum_up/down) in
each form (secure, insecure, missing, not executable; with and without
enable_script_security) must get the same exit code from both, and that code is pinned too:
keepalived -t makes only vrrp_script problems errors (5), drops the others with a log line
(0), and calls any existing script run without enable_script_security a SECURITY VIOLATION
(6). Then the neighbours: sticky, group-writable and foreign-owned directories, symlinks,
unknown users, the keepalived_script fallback and which side (VRRP or checker) a script
counts for.

The scripts live in a root-owned 0755 tree under /tmp, with files owned by nobody where a
case needs one. A case that needs a `keepalived_script` user runs both tools in a private
mount namespace with a copy of /etc/passwd bind-mounted over the real one (the machine's
user database is never touched). keepalived 2.2.7's `-t` kills itself (SIGTERM) whenever it
checks a script for a uid or gid other than its own (core/notify.c check_script_secure: its
"parent died" test, fixed upstream by skipping it under -t); for those cases the test
requires that termination and pins vipkeeper to the verdict of keepalived's source.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from config.differential import check_node, keepalived_t
from netlab import Node

from vipkeeper.config import load
from vipkeeper.config.diagnostics import Code

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

NOBODY = 65534
KA_TERMINATED = (-15, 143)  # keepalived 2.2.7 -t checking a script for another uid/gid

INSTANCE = """vrrp_instance {name} {{
    interface eth0
    virtual_router_id {vrid}
    virtual_ipaddress {{
        10.213.0.{vrid}/24
    }}
{extra}
}}
"""
SERVICE = """virtual_server 10.213.30.1 80 {{
    lb_algo rr
    lb_kind NAT
    protocol TCP
{vs}
    real_server 10.213.30.10 80 {{
        weight 1
{rs}
    }}
}}
"""
TCP = "        TCP_CHECK {\n            connect_timeout 3\n        }"


def instance(extra: str = "", name: str = "VI_1", vrid: int = 10) -> str:
    return INSTANCE.format(name=name, vrid=vrid, extra=extra)


def service(vs: str = "", rs: str = TCP) -> str:
    return SERVICE.format(vs=vs, rs=rs)


def head(*lines: str) -> str:
    return "global_defs {\n" + "".join(f"    {line}\n" for line in lines) + "}\n"


def vrrp_script(cmd: str, tracked: bool = True, user: str = "") -> str:
    block = f'vrrp_script chk {{\n    script "{cmd}"\n' + (f"    user {user}\n" if user else "")
    return block + "}\n" + instance("    track_script {\n        chk\n    }" if tracked else "")


def sync_group(keyword: str, cmd: str) -> str:
    members = "    group {\n        VI_1\n        VI_2\n    }\n"
    group = f'vrrp_sync_group G {{\n{members}    {keyword} "{cmd}"\n}}\n'
    return group + instance() + instance(name="VI_2", vrid=11)


INSTANCE_NOTIFIES = (
    "notify_master",
    "notify_backup",
    "notify_fault",
    "notify_stop",
    "notify_deleted",
    "notify",
    "notify_master_rx_lower_pri",
)
GROUP_NOTIFIES = ("notify_master", "notify_backup", "notify_fault", "notify_stop", "notify")
FIFOS = ("notify_fifo", "vrrp_notify_fifo", "lvs_notify_fifo")
KINDS = (
    "vrrp_script",
    "vrrp_script-untracked",
    *(f"instance-{kw}" for kw in INSTANCE_NOTIFIES),
    *(f"group-{kw}" for kw in GROUP_NOTIFIES),
    *(f"{fifo}_script" for fifo in FIFOS),
    "MISC_CHECK",
    "notify_up",
    "notify_down",
    "quorum_up",
    "quorum_down",
)


def render_kind(kind: str, cmd: str, fifo: str) -> tuple[tuple[str, ...], str]:
    """The global_defs lines and the rest of a config that runs `cmd` as a `kind` script."""
    if kind.startswith("vrrp_script"):
        return (), vrrp_script(cmd, tracked=kind == "vrrp_script")
    if kind.startswith("instance-"):
        return (), instance(f'    {kind.split("-", 1)[1]} "{cmd}"')
    if kind.startswith("group-"):
        return (), sync_group(kind.split("-", 1)[1], cmd)
    if kind.endswith("_fifo_script"):
        fifo_kw = kind.removesuffix("_script")
        rest = service() if fifo_kw == "lvs_notify_fifo" else instance()
        return (f"{fifo_kw} {fifo}", f'{kind} "{cmd}"'), rest
    if kind == "MISC_CHECK":
        return (), service(rs=f'        MISC_CHECK {{\n            misc_path "{cmd}"\n        }}')
    if kind.startswith("quorum_"):
        return (), service(vs=f'    {kind} "{cmd}"')
    return (), service(rs=f'{TCP}\n        {kind} "{cmd}"')  # notify_up / notify_down


TRACK_KINDS = {"vrrp_script", "vrrp_script-untracked"}
SECURE = ("enable_script_security", "script_user root")
OPEN = ("script_user root",)


@dataclass(frozen=True)
class Form:
    """One way of writing a script: which file, and whether script security is on."""

    script: str  # a file name in the tree
    secure: bool
    track_code: int  # keepalived -t's exit code for a vrrp_script
    other_code: int  # ... for every other kind


FORMS = {
    "secure": Form("good.sh", True, 0, 0),
    "insecure": Form("evil.sh", True, 5, 0),
    "missing": Form("missing.sh", True, 5, 0),
    "noexec": Form("noexec.sh", True, 0, 0),
    "open": Form("good.sh", False, 6, 6),  # SECURITY VIOLATION
    "open-insecure": Form("evil.sh", False, 6, 6),
    "open-missing": Form("missing.sh", False, 5, 0),  # a missing script never counts
    "open-noexec": Form("noexec.sh", False, 6, 6),  # it exists: it counts
}


@pytest.fixture(scope="module")
def tree(node: Node) -> Path:
    """Scripts in a root-owned 0755 directory: good, evil (owned by nobody), and neighbours.

    It lives in the lab's work tree (removed with the lab), opened to other users' lookups.
    """
    Path(node.lab.workdir).chmod(0o755)
    root = Path(node.lab.workdir) / "scripts"
    root.mkdir(mode=0o755)

    def script(path: Path, mode: int = 0o755, uid: int = 0, gid: int = 0) -> None:
        path.write_text("#!/bin/sh\nexit 0\n")
        path.chmod(mode)
        os.chown(path, uid, gid)

    def directory(name: str, mode: int, uid: int = 0, gid: int = 0) -> None:
        (root / name).mkdir()
        script(root / name / "s.sh")
        (root / name).chmod(mode)
        os.chown(root / name, uid, gid)

    script(root / "good.sh")
    script(root / "evil.sh", uid=NOBODY)
    script(root / "noexec.sh", mode=0o644)
    script(root / "world.sh", mode=0o777)
    script(root / "group0.sh", mode=0o775)
    script(root / "groupn.sh", mode=0o775, gid=NOBODY)
    directory("sticky", 0o1777)
    directory("sticky-nobody", 0o1777, uid=NOBODY)
    directory("group0", 0o775)
    directory("groupn", 0o775, gid=NOBODY)
    directory("owned", 0o755, uid=NOBODY)
    (root / "adir").mkdir(mode=0o755)
    (root / "link-good.sh").symlink_to(root / "good.sh")
    (root / "link-evil.sh").symlink_to(root / "evil.sh")
    (root / "dirlink").symlink_to(root)
    for part in (root, *root.parents):  # the premise: only root can change the tree
        st = part.stat()
        assert st.st_uid == 0 and (not st.st_mode & 0o022 or st.st_mode & 0o1000), part
    return root


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    with check_node("scr", "10.213.0.5/24") as n:
        yield n


def write(node: Node, name: str, text: str) -> Path:
    path = Path(node.lab.workdir) / f"{name}.conf"
    path.write_text(text)
    return path


def vipkeeper_code(path: Path) -> tuple[int, list[str], set[Code]]:
    res = load(path, "node1", interface_exists={"eth0", "lo"}.__contains__)
    return res.exit_code, [d.format() for d in res.diagnostics], {d.code for d in res.diagnostics}


CASES = [pytest.param(kind, form, id=f"{kind}-{form}") for kind in KINDS for form in FORMS]


@pytest.mark.parametrize(("kind", "form"), CASES)
def test_every_script_kind(node: Node, tree: Path, kind: str, form: str) -> None:
    f = FORMS[form]
    lines, body = render_kind(kind, str(tree / f.script), str(tree / "fifo"))
    path = write(node, f"{kind}-{form}", head(*(SECURE if f.secure else OPEN), *lines) + body)
    k_rc, k_err = keepalived_t(node, path)
    v_rc, v_diags, v_codes = vipkeeper_code(path)
    expected = f.track_code if kind in TRACK_KINDS else f.other_code
    assert (k_rc, v_rc) == (expected, expected), (
        f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper: exit {v_rc}: {v_diags}"
    )
    if form == "insecure":  # dropped by keepalived with a log line: vipkeeper says why
        assert Code.SCRIPT_INSECURE in v_codes, v_diags
        assert any(f"'{tree / 'evil.sh'}' is owned by uid {NOBODY}" in d for d in v_diags)


@dataclass(frozen=True)
class Case:
    """A neighbour of the kinds above: a config, its verdict, how keepalived 2.2.7 takes it."""

    text: str
    expected: int
    ka_terminates: bool = False  # keepalived 2.2.7 -t kills itself: verdict from its source
    keepalived_script: str | None = None  # a passwd line for the user, in a private mount ns


def neighbours(t: Path) -> dict[str, Case]:
    sec, opn = head(*SECURE), head(*OPEN)
    notify = instance(f'    notify_master "{t}/evil.sh"')
    return {
        # directories and files (vrrp_script, where keepalived -t shows the verdict)
        "sticky-dir": Case(sec + vrrp_script(f"{t}/sticky/s.sh"), 0),
        "sticky-dir-owned-by-nobody": Case(sec + vrrp_script(f"{t}/sticky-nobody/s.sh"), 5),
        "group-writable-dir-gid0": Case(sec + vrrp_script(f"{t}/group0/s.sh"), 0),
        "group-writable-dir-nogroup": Case(sec + vrrp_script(f"{t}/groupn/s.sh"), 5),
        "dir-owned-by-nobody": Case(sec + vrrp_script(f"{t}/owned/s.sh"), 5),
        "world-writable-file": Case(sec + vrrp_script(f"{t}/world.sh"), 5),
        "group-writable-file-gid0": Case(sec + vrrp_script(f"{t}/group0.sh"), 0),
        "group-writable-file-nogroup": Case(sec + vrrp_script(f"{t}/groupn.sh"), 5),
        "symlink-to-secure": Case(sec + vrrp_script(f"{t}/link-good.sh"), 0),
        "symlink-to-insecure": Case(sec + vrrp_script(f"{t}/link-evil.sh"), 5),
        "symlinked-dir": Case(sec + vrrp_script(f"{t}/dirlink/good.sh"), 0),
        "directory-as-script": Case(sec + vrrp_script(f"{t}/adir"), 5),
        "bare-name-in-path": Case(sec + vrrp_script("true"), 0),
        "bare-name-missing": Case(sec + vrrp_script("no-such-command-vk"), 5),
        # users
        "script_user-unknown": Case(head("script_user nosuchuser_vk") + instance(), 5),
        "script_user-unknown-notify": Case(
            head("script_user nosuchuser_vk") + instance(f'    notify_master "{t}/good.sh"'), 5
        ),
        "notify-own-user-unknown": Case(
            sec + instance(f'    notify_master "{t}/good.sh" nosuchuser_vk'), 0
        ),
        "notify-own-user-root-insecure": Case(
            head("enable_script_security") + instance(f'    notify_master "{t}/evil.sh" root'),
            0,
        ),
        "fifo-script-own-user-unknown": Case(
            head(
                *SECURE, f"notify_fifo {t}/fifo", f'notify_fifo_script "{t}/good.sh" nosuchuser_vk'
            )
            + instance(),
            0,
        ),
        "vrrp_script-user-unknown": Case(
            sec + vrrp_script(f"{t}/good.sh", user="nosuchuser_vk"), 5
        ),
        "MISC_CHECK-user-unknown": Case(
            sec
            + service(
                rs=f'        MISC_CHECK {{\n            misc_path "{t}/good.sh"\n'
                "            user nosuchuser_vk\n        }"
            ),
            5,
        ),
        "security-without-any-script": Case(head("enable_script_security") + instance(), 0),
        "security-no-default-user-notify": Case(
            head("enable_script_security") + instance(f'    notify_master "{t}/good.sh"'), 5
        ),
        "security-no-default-user-vrrp_script": Case(
            head("enable_script_security") + vrrp_script(f"{t}/good.sh"), 5
        ),
        "security-no-default-user-notify_fifo": Case(
            head("enable_script_security", f"notify_fifo {t}/fifo") + instance(), 5
        ),
        # A FIFO with its own user needs no default user; an unknown one is only logged.
        "security-no-default-user-notify_fifo-own-user": Case(
            head("enable_script_security", f"notify_fifo {t}/fifo root") + instance(), 0
        ),
        "security-no-default-user-vrrp_notify_fifo-own-user-group": Case(
            head("enable_script_security", f"vrrp_notify_fifo {t}/fifo nobody nogroup")
            + instance(),
            0,
        ),
        "notify_fifo-unknown-user": Case(
            head(*OPEN, f"notify_fifo {t}/fifo nosuchuser_vk") + instance(), 0
        ),
        "security-no-default-user-lvs_notify_fifo-unknown-user": Case(
            head("enable_script_security", f"lvs_notify_fifo {t}/fifo nosuchuser_vk") + service(),
            0,
        ),
        "security-no-default-user-MISC_CHECK": Case(
            head("enable_script_security")
            + service(rs=f'        MISC_CHECK {{\n            misc_path "{t}/good.sh"\n        }}'),
            5,
        ),
        "no-script_user-no-security-runs-as-root": Case(
            head() + instance(f'    notify_master "{t}/good.sh"'), 6
        ),
        "keepalived_script-secure": Case(
            head("enable_script_security") + vrrp_script(f"{t}/good.sh"),
            0,
            keepalived_script="keepalived_script:x:0:0::/nonexistent:/usr/sbin/nologin",
        ),
        "keepalived_script-insecure": Case(
            head("enable_script_security") + vrrp_script(f"{t}/evil.sh"),
            5,
            keepalived_script="keepalived_script:x:0:0::/nonexistent:/usr/sbin/nologin",
        ),
        "keepalived_script-no-security": Case(
            head() + instance(f'    notify_master "{t}/good.sh"'),
            6,
            keepalived_script="keepalived_script:x:0:0::/nonexistent:/usr/sbin/nologin",
        ),
        # which side a script counts for (keepalived checks a side only when it has work)
        "vrrp_notify_fifo_script-without-instances": Case(
            head(*OPEN, f"vrrp_notify_fifo {t}/fifo", f'vrrp_notify_fifo_script "{t}/good.sh"')
            + service(),
            0,
        ),
        "lvs_notify_fifo_script-without-services": Case(
            head(*OPEN, f"lvs_notify_fifo {t}/fifo", f'lvs_notify_fifo_script "{t}/good.sh"')
            + instance(),
            0,
        ),
        "notify_fifo_script-services-only": Case(
            head(*OPEN, f"notify_fifo {t}/fifo", f'notify_fifo_script "{t}/good.sh"') + service(),
            6,
        ),
        "vrrp_script-without-instances": Case(
            opn + f'vrrp_script chk {{\n    script "{t}/good.sh"\n}}\n' + service(), 0
        ),
        # scripts run as another user: keepalived 2.2.7 -t terminates; its source decides
        "nobody-without-security": Case(head("script_user nobody") + notify, 6, ka_terminates=True),
        "nobody-insecure-notify-is-not-protected": Case(
            head("enable_script_security", "script_user nobody") + notify, 0, ka_terminates=True
        ),
        "nobody-insecure-vrrp_script-is-not-protected": Case(
            head("enable_script_security", "script_user nobody") + vrrp_script(f"{t}/evil.sh"),
            0,
            ka_terminates=True,
        ),
        "group-root-is-protected": Case(
            head("enable_script_security", "script_user nobody root") + vrrp_script(f"{t}/evil.sh"),
            5,
            ka_terminates=True,
        ),
        "root-with-another-group-is-protected": Case(
            sec + vrrp_script(f"{t}/groupn/s.sh", user="root nogroup"), 5, ka_terminates=True
        ),
    }


NEIGHBOURS = sorted(neighbours(Path("/x")))


def run_with_passwd(node: Node, passwd: Path, argv: list[str]) -> tuple[int, str]:
    """`argv` in the node, in a private mount namespace where /etc/passwd is `passwd`."""
    wrapped = [
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" /etc/passwd && exec "$@"', str(passwd), *argv,
    ]  # fmt: skip
    proc = node.run(wrapped, check=False, timeout=60)
    return proc.returncode, proc.stderr


@pytest.mark.parametrize("name", NEIGHBOURS)
def test_neighbours(node: Node, tree: Path, name: str) -> None:
    case = neighbours(tree)[name]
    path = write(node, name, case.text)
    if case.keepalived_script is not None:
        passwd = Path(node.lab.workdir) / "passwd"
        passwd.write_text(Path("/etc/passwd").read_text() + case.keepalived_script + "\n")
        k_rc, k_err = run_with_passwd(node, passwd, ["keepalived", "-t", "-f", str(path)])
        v_rc, v_err = run_with_passwd(
            node, passwd, [sys.executable, "-m", "vipkeeper.cli", "check", "-f", str(path)]
        )
        v_diags = [v_err]
    else:
        k_rc, k_err = keepalived_t(node, path)
        v_rc, v_diags, _codes = vipkeeper_code(path)
    if case.ka_terminates:
        assert k_rc in KA_TERMINATED, f"keepalived -t exit {k_rc}: {k_err}"
        assert v_rc == case.expected, v_diags
    else:
        assert (k_rc, v_rc) == (case.expected, case.expected), (
            f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper: exit {v_rc}: {v_diags}"
        )


def test_the_passwd_wrapper_adds_the_user(node: Node, tmp_path: Path) -> None:
    passwd = Path(node.lab.workdir) / "passwd-probe"
    line = "keepalived_script:x:0:0::/nonexistent:/usr/sbin/nologin"
    passwd.write_text(Path("/etc/passwd").read_text() + line + "\n")
    rc, _err = run_with_passwd(node, passwd, ["getent", "passwd", "keepalived_script"])
    assert rc == 0
    assert subprocess.run(["getent", "passwd", "keepalived_script"], check=False).returncode != 0
