"""The vipkeeper-only `vipkeeper { }` block: conflict detection and the takeover guard."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from vipkeeper import cli
from vipkeeper.config import LoadResult
from vipkeeper.config import model as m
from vipkeeper.config.scripts import script_uses

INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 5
    priority 100
    virtual_ipaddress {
        10.213.0.1/24
    }
}
"""


def test_defaults_without_the_block(conf: Callable[..., LoadResult]) -> None:
    res = conf(INSTANCE)
    assert res.ok
    vk = res.config.vipkeeper
    assert vk.conflict_detection is m.ConflictMode.REPORT
    assert vk.conflict_interval == 5.0
    assert vk.conflict_notify is None
    assert vk.takeover_guard == 0.0


def test_every_setting(conf: Callable[..., LoadResult]) -> None:
    res = conf(
        "vipkeeper {\n"
        "    conflict_detection off\n"
        "    conflict_interval 2.5\n"
        '    conflict_notify "/usr/local/bin/page oncall" nobody\n'
        "    takeover_guard 0.03\n"
        "}\n" + INSTANCE
    )
    assert res.ok, res.diagnostics
    vk = res.config.vipkeeper
    assert vk.conflict_detection is m.ConflictMode.OFF
    assert vk.conflict_interval == 2.5
    assert vk.conflict_notify is not None
    assert vk.conflict_notify.argv == ("/usr/local/bin/page", "oncall")
    assert vk.conflict_notify.user == "nobody"
    assert vk.takeover_guard == 0.03
    assert vk.location is not None and vk.location.line == 1


def test_a_later_block_replaces_a_keyword(conf: Callable[..., LoadResult]) -> None:
    res = conf(
        "vipkeeper {\n  takeover_guard 0.02\n}\n"
        + INSTANCE
        + "vipkeeper {\n  takeover_guard off\n  conflict_interval 9\n}\n"
    )
    assert res.ok
    assert res.config.vipkeeper.takeover_guard == 0.0
    assert res.config.vipkeeper.conflict_interval == 9.0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("conflict_detection loud", "conflict_detection: 'loud' is not one of OFF, REPORT"),
        ("conflict_interval 0.5", "conflict_interval: number '0.5' outside range [1, 3600]"),
        ("takeover_guard 2", "takeover_guard: number '2' outside range [0.005, 1]"),
        ("takeover_guard 0.001", "takeover_guard: number '0.001' outside range [0.005, 1]"),
        ("takeover_gaurd 0.03", "unknown keyword 'takeover_gaurd' in vipkeeper"),
    ],
)
def test_bad_settings_name_their_line(
    conf: Callable[..., LoadResult], line: str, message: str
) -> None:
    res = conf(INSTANCE + f"vipkeeper {{\n    {line}\n}}\n")
    [err] = res.errors
    assert err.line == 10
    assert err.message.startswith(message)
    assert res.exit_code != 0


def test_conflict_notify_is_vetted_like_a_notify(conf: Callable[..., LoadResult]) -> None:
    res = conf('vipkeeper {\n  conflict_notify "/bin/true a"\n}\n' + INSTANCE)
    [use] = [u for u in script_uses(res.config) if u.what == "vipkeeper conflict_notify"]
    assert (use.line, use.kind) == (2, "notify")


def test_check_reports_file_and_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    conf = tmp_path / "k.conf"
    conf.write_text(INSTANCE.replace("eth0", "lo") + "vipkeeper {\n  conflict_interval 0\n}\n")
    code = cli.main(["check", "-f", str(conf)])
    _, err = capsys.readouterr()
    assert code != 0
    assert f"{conf}: Line 10" in err or f"{conf}:10" in err, err
    assert "conflict_interval" in err
