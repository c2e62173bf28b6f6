"""Script existence and keepalived's script security rules."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper.config import LoadResult, load_text
from vipkeeper.config.diagnostics import Code

Conf = Callable[..., LoadResult]

SECURE = "global_defs {\n    enable_script_security\n    script_user root\n}\n"


def with_script(command: str, head: str = SECURE) -> str:
    return head + (
        f'vrrp_script chk {{\n    script "{command}"\n}}\n'
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n"
        "    virtual_ipaddress {\n        10.213.0.1/24\n    }\n"
        "    track_script {\n        chk\n    }\n}\n"
    )


def script_file(directory: Path, mode: int = 0o755, dir_mode: int = 0o755) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "check.sh"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(mode)
    directory.chmod(dir_mode)
    return path


@pytest.fixture
def safe_dir(tmp_path: Path) -> Path:
    """A directory tree only root can write (pytest's tmp dirs are 0700 root-owned)."""
    for part in (tmp_path, *tmp_path.parents):
        if part == Path("/"):
            break
        st = part.stat()
        assert st.st_uid == 0 or st.st_mode & 0o1000, f"{part} must be root-owned for this test"
    return tmp_path


def test_secure_script_passes(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "bin")
    res = conf(with_script(f"{path} arg"), check_scripts=True)
    assert res.diagnostics == []
    assert res.exit_code == 0


def test_missing_script(conf: Conf) -> None:
    res = conf(with_script("/nonexistent/check.sh"), check_scripts=True)
    assert [(d.line, str(d.code)) for d in res.errors] == [(6, "script-missing")]
    assert "'/nonexistent/check.sh' not found" in res.errors[0].message
    assert res.exit_code == 5


def test_script_found_in_path(conf: Conf) -> None:
    res = conf(with_script("true"), check_scripts=True)
    assert res.errors == []


def test_not_executable(conf: Conf, safe_dir: Path) -> None:
    # keepalived drops a vrrp_script it cannot execute without an error: `-t` exits 0
    path = script_file(safe_dir / "bin", mode=0o644)
    res = conf(with_script(str(path)), check_scripts=True)
    assert res.errors == []
    assert [str(d.code) for d in res.warnings] == ["script-missing"]
    assert "not executable" in res.warnings[0].message
    assert res.exit_code == 0


def test_world_writable_script_is_insecure(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "bin", mode=0o777)
    res = conf(with_script(str(path)), check_scripts=True)
    # keepalived -t: "Disabling track script chk due to insecure", a general error (exit 5)
    assert [(d.line, str(d.code)) for d in res.errors] == [(6, "script-insecure")]
    assert f"'{path}' is writable" in res.errors[0].message
    assert res.exit_code == 5


def test_group_writable_parent_dir_is_insecure(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "bin", dir_mode=0o775)
    os.chown(path.parent, 0, 65534)  # group nogroup may write the directory
    res = conf(with_script(str(path)), check_scripts=True)
    assert [str(d.code) for d in res.errors] == ["script-insecure"]
    assert f"'{path.parent}' is writable" in res.errors[0].message


def test_sticky_world_writable_dir_is_fine(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "tmp", dir_mode=0o1777)
    res = conf(with_script(str(path)), check_scripts=True)
    assert res.errors == []


def test_owner_other_than_root_is_insecure(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "bin")
    os.chown(path, 65534, 0)
    res = conf(with_script(str(path)), check_scripts=True)
    assert [str(d.code) for d in res.errors] == ["script-insecure"]
    assert res.exit_code == 5


def test_scripts_as_root_without_security_is_a_violation(conf: Conf) -> None:
    res = conf(with_script("/usr/bin/true", head=""), check_scripts=True)
    assert [str(d.code) for d in res.errors] == ["script-security"]
    assert res.errors[0].message.startswith("SECURITY VIOLATION")
    assert res.exit_code == 6


def test_security_without_script_user_needs_default_user(conf: Conf) -> None:
    head = "global_defs {\n    enable_script_security\n}\n"
    res = conf(with_script("/usr/bin/true", head=head), check_scripts=True)
    # keepalived: "Unable to set default user keepalived_script for script", then the
    # vrrp_script is removed ("Unable to set default user for vrrp script chk")
    assert [str(d.code) for d in res.errors] == ["script-user", "script-user"]
    assert "keepalived_script" in res.errors[0].message
    assert res.exit_code == 5


def test_unknown_script_user(conf: Conf) -> None:
    head = "global_defs {\n    enable_script_security\n    script_user nosuchuser_vk\n}\n"
    res = conf(with_script("/usr/bin/true", head=head), check_scripts=True)
    # keepalived: "Error setting global script uid/gid", and the vrrp_script has no user
    assert [str(d.code) for d in res.errors] == ["script-user", "script-user"]
    assert "nosuchuser_vk" in res.errors[0].message
    assert res.exit_code == 5


def test_notify_and_misc_scripts_are_checked(conf: Conf) -> None:
    text = (
        SECURE + "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n"
        "    virtual_ipaddress {\n        10.213.0.1/24\n    }\n"
        '    notify_master "/nonexistent/notify.sh master"\n}\n'
        "virtual_server 10.213.0.1 80 {\n    real_server 10.213.0.2 80 {\n"
        '        MISC_CHECK {\n            misc_path "/nonexistent/misc.sh"\n        }\n    }\n'
        "    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n}\n"
    )
    assert conf(text).errors == []  # the fixture leaves script checks off by default
    res = conf(text, check_scripts=True)
    # keepalived -t checks only vrrp_script files: other scripts are warned about, not errors
    assert res.errors == []
    assert [(d.line, str(d.code)) for d in res.warnings] == [
        (11, "script-missing"),
        (16, "script-missing"),
    ]


def test_notify_scripts_as_root_are_a_violation_too(conf: Conf) -> None:
    res = conf(
        "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n"
        "    virtual_ipaddress {\n        10.213.0.1/24\n    }\n"
        '    notify_master "/usr/bin/logger master"\n}\n',
        check_scripts=True,
    )
    assert [(d.line, str(d.code)) for d in res.errors] == [(7, "script-security")]
    assert res.exit_code == 6


def test_insecure_notify_script_is_a_warning(conf: Conf, safe_dir: Path) -> None:
    path = script_file(safe_dir / "bin", mode=0o777)
    res = conf(
        SECURE + "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n"
        "    virtual_ipaddress {\n        10.213.0.1/24\n    }\n"
        f'    notify_master "{path}"\n}}\n',
        check_scripts=True,
    )
    assert res.errors == []
    assert [str(d.code) for d in res.warnings] == ["script-insecure"]
    assert res.exit_code == 0


# ---- notify FIFOs: `notify_fifo PATH [USER [GROUP]]` ---------------------------------------

FIFO_INSTANCE = (
    "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 5\n"
    "    virtual_ipaddress {\n        10.213.0.1/24\n    }\n}\n"
)


def test_a_fifo_keeps_its_user_and_group(conf: Conf) -> None:
    res = conf(
        "global_defs {\n    notify_fifo /run/n.fifo nobody nogroup\n"
        "    vrrp_notify_fifo /run/v.fifo root\n    lvs_notify_fifo /run/l.fifo\n}\n"
        + FIFO_INSTANCE
    )
    g = res.config.global_defs
    assert g.notify_fifo_owner is not None and g.vrrp_notify_fifo_owner is not None
    assert (g.notify_fifo, g.notify_fifo_owner.user, g.notify_fifo_owner.group) == (
        "/run/n.fifo",
        "nobody",
        "nogroup",
    )
    assert (g.vrrp_notify_fifo_owner.user, g.vrrp_notify_fifo_owner.group) == ("root", None)
    assert g.notify_fifo_owner.location is not None and g.notify_fifo_owner.location.line == 2
    assert (g.lvs_notify_fifo, g.lvs_notify_fifo_owner) == ("/run/l.fifo", None)
    assert res.exit_code == 0


def test_a_fifo_of_an_unknown_user_is_a_warning_naming_it(conf: Conf) -> None:
    res = conf(
        "global_defs {\n    script_user root\n    vrrp_notify_fifo /run/v.fifo nosuchuser_vk\n}\n"
        + FIFO_INSTANCE,
        check_scripts=True,
    )
    assert [(d.line, str(d.code)) for d in res.warnings] == [(3, "script-user")]
    assert res.warnings[0].message == (
        "global_defs vrrp_notify_fifo /run/v.fifo: user 'nosuchuser_vk' does not exist; "
        "the FIFO is not used"
    )
    assert res.exit_code == 0  # keepalived -t only logs it


def test_a_fifo_with_extra_words_warns(conf: Conf) -> None:
    res = conf("global_defs {\n    notify_fifo /run/n.fifo root root more\n}\n" + FIFO_INSTANCE)
    assert any("extra arguments ignored: more" in d.message for d in res.warnings)
    assert res.config.global_defs.notify_fifo_owner is not None


def test_an_unterminated_script_line_is_a_syntax_error_only() -> None:
    """keepalived drops the command ("missing terminating"): no security verdict about it,
    and the syntax error is what the line reports."""
    text = (
        "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 1\n"
        " virtual_ipaddress {\n  10.213.0.1\n }\n"
        ' notify_master "/usr/bin/true x\n}\n'
    )
    res = load_text(text, check_scripts=True)
    assert [(d.line, d.code) for d in res.errors] == [(7, Code.UNTERMINATED_QUOTE)]
    assert res.exit_code == 5
