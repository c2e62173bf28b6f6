"""`vipkeeper check`: messages, exit codes, --json, never a traceback."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from vipkeeper import cli

CONFIGS = Path(__file__).resolve().parent.parent / "data" / "configs"
GOOD = """vrrp_instance VI_1 {
    interface lo
    virtual_router_id 5
    virtual_ipaddress {
        10.213.0.1/24
    }
}
"""


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(["check", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_good_config_exit_0_and_silent(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD)
    assert run(capsys, "-f", str(conf)) == (0, "", "")


def test_errors_on_stderr_keepalived_style(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(
        GOOD.replace("priority", "x").replace(
            "virtual_router_id 5", "virtual_router_id 5\n    prio 3"
        )
    )
    code, out, err = run(capsys, "-f", str(conf))
    assert code == 5
    assert out == ""
    assert (
        err
        == f"({conf}: Line 4) unknown keyword 'prio' in vrrp_instance - did you mean 'priority'?\n"
    )


def test_missing_file_exit_4(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "-f", str(tmp_path / "nope.conf"))
    assert code == 4
    assert "not found" in err


def test_missing_interface_exit_5_unless_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD.replace("interface lo", "interface vk-none0"))
    code, _, err = run(capsys, "-f", str(conf))
    assert code == 5  # as keepalived -t 2.2.7 (its WARNING is a general error)
    assert "interface vk-none0 for vrrp_instance VI_1 doesn't exist" in err
    assert run(capsys, "-f", str(conf), "--skip-interfaces")[0] == 0


def test_script_security_exit_6(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        capsys, "-f", str(CONFIGS / "bad-script-security-off.conf"), "--skip-interfaces"
    )
    assert code == 6
    assert "SECURITY VIOLATION" in err
    code, _, _ = run(
        capsys,
        "-f",
        str(CONFIGS / "bad-script-security-off.conf"),
        "--skip-interfaces",
        "--skip-scripts",
    )
    assert code == 0


def test_config_id_selects_lines(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(
        "@hostA $P=10\n@^hostA $P=300\n"
        + GOOD.replace("virtual_router_id 5", "virtual_router_id 5\n    priority $P")
    )
    assert run(capsys, "-f", str(conf), "-i", "hostA")[0] == 0
    code, _, err = run(capsys, "-f", str(conf), "-i", "hostB")
    assert code == 5
    assert "priority: number '300' outside range [1, 255]" in err


def test_json_output_is_stable(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD.replace("virtual_router_id 5", "virtual_router_id 500\n    enable_traps"))
    code, out, err = run(capsys, "-f", str(conf), "--json")
    assert code == 5
    assert err == ""
    doc = json.loads(out)
    assert doc == {
        "ok": False,
        "exit_code": 5,
        "diagnostics": [
            {
                "file": str(conf),
                "line": 3,
                "column": 5,
                "severity": "error",
                "message": "virtual_router_id: number '500' outside range [1, 255]",
                "code": "bad-value",
            },
            {
                "file": str(conf),
                "line": 4,
                "column": 5,
                "severity": "error",
                "message": "unknown keyword 'enable_traps' in vrrp_instance",
                "code": "unknown-keyword",
            },
        ],
    }


def test_json_ok(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(GOOD)
    code, out, _ = run(capsys, "-f", str(conf), "--json")
    assert (code, json.loads(out)) == (0, {"ok": True, "exit_code": 0, "diagnostics": []})


@pytest.mark.parametrize(
    "content",
    [b"\xff\xfe\x00garbage", b"{" * 5000, b"}" * 5000, b'"' * 999, b"$A=$A\n$A\n", b"include /\n"],
    ids=["binary", "open-braces", "close-braces", "quotes", "self-var", "include-dir"],
)
def test_never_a_traceback(tmp_path: Path, content: bytes) -> None:
    conf = tmp_path / "k.conf"
    conf.write_bytes(content)
    proc = subprocess.run(
        [sys.executable, "-m", "vipkeeper.cli", "check", "-f", str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode in (4, 5, 6)
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith(f"({conf}")


# `vipkeeper check` runs on every deploy (the render action, config_check): it must not pay for
# the daemon's imports. A config that reaches every builder: VRRP with a sync group, a tracked
# script and file, and a virtual_server with each checker kind.
LEAN = """global_defs {
    router_id lean
    enable_script_security
    script_user root
}
vrrp_script chk {
    script "/bin/true"
    interval 2
}
vrrp_track_file flag {
    file /tmp/vipkeeper-lean-flag
}
vrrp_instance VI_1 {
    interface lo
    virtual_router_id 5
    priority 100
    advert_int 1
    authentication {
        auth_type PASS
        auth_pass lean
    }
    virtual_ipaddress {
        10.213.0.1/24
    }
    track_script {
        chk
    }
    track_file {
        flag weight 0
    }
}
vrrp_instance VI_2 {
    interface lo
    virtual_router_id 6
    priority 100
    virtual_ipaddress {
        10.213.0.2/24
    }
}
vrrp_sync_group G {
    group {
        VI_1
        VI_2
    }
}
virtual_server 10.213.1.1 80 {
    delay_loop 6
    lb_algo wrr
    lb_kind DR
    protocol TCP
    real_server 10.213.2.1 80 {
        HTTP_GET {
            url {
                path /health
                status_code 200
            }
        }
    }
    real_server 10.213.2.2 80 {
        TCP_CHECK {
            connect_timeout 3
        }
    }
    real_server 10.213.2.3 80 {
        MISC_CHECK {
            misc_path "/bin/true"
        }
    }
}
"""

HEAVY = ("asyncio", "pyroute2", "vipkeeper.daemon", "vipkeeper.net", "vipkeeper.checks")
PROBE = """
import sys
{before}
from vipkeeper import cli
code = cli.main(["check", "-f", sys.argv[1]])
heavy = sorted(
    {{
        root
        for name in sys.modules
        for root in {heavy!r}
        if name == root or name.startswith(root + ".")
    }}
)
print(code, " ".join(heavy))
"""


def _check_imports(conf: Path, before: str = "") -> tuple[int, list[str]]:
    """Exit code of `vipkeeper check -f conf` in a fresh interpreter, and the heavy packages
    loaded by the end of it (of HEAVY)."""
    src = Path(cli.__file__).resolve().parents[1]  # the runtime these tests import
    proc = subprocess.run(
        [sys.executable, "-c", PROBE.format(before=before, heavy=HEAVY), str(conf)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "PYTHONPATH": str(src)},
    )
    assert proc.stderr == "", proc.stderr
    code, *heavy = proc.stdout.split()
    return int(code), heavy


def test_check_does_not_import_the_daemon(tmp_path: Path) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(LEAN)
    assert _check_imports(conf) == (0, [])


def test_check_import_probe_sees_asyncio(tmp_path: Path) -> None:
    """The probe above would see them: the same run, with the daemon's asyncio half imported."""
    conf = tmp_path / "k.conf"
    conf.write_text(LEAN)
    assert _check_imports(conf, "import vipkeeper._aiocompat") == (0, ["asyncio"])
