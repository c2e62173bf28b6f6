"""The one keyword table: no keepalived keyword is accepted in silence, and the docs are current.

Every keyword of keepalived 2.4's list (keepalived-keywords.txt, the copy of the design docs'
list kept beside these tests) is tried in every block where vipkeeper recognizes it. It is
implemented (a handler), or `vipkeeper check` gives a warning naming it; and `vipkeeper run`
logs what the same load says (the last test).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from config.keyword_table import DOC, rewrite
from config.test_config_keywords import CONTEXTS_FOR, keepalived_keywords

from vipkeeper.config import load
from vipkeeper.config.diagnostics import Severity
from vipkeeper.config.keywords import Status, lookup, status
from vipkeeper.config.keywordstatus import NO_EFFECT, NOTES

INSTANCE = (
    "vrrp_instance VI_1 {\n interface eth0\n virtual_router_id 10\n"
    " virtual_ipaddress {\n  10.213.0.1/24\n }\n%s\n}\n"
)
SERVER = "virtual_server 10.213.30.1 80 {\n lb_algo rr\n lb_kind NAT\n%s\n}\n"
REAL = SERVER % " real_server 10.213.30.10 80 {\n  weight 1\n%s\n }"
CHECKERS = (
    "TCP_CHECK", "PING_CHECK", "HTTP_GET", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK",
    "FILE_CHECK", "SMTP_CHECK", "BFD_CHECK",
)  # fmt: skip
# block context -> (the config with the keyword line at %s, the block keyword the warning
# names when the context is inside a block vipkeeper skips whole)
PLACES: dict[str, tuple[str, str | None]] = {
    "root": ("%s\n", None),
    "global_defs": ("global_defs {\n%s\n}\n", None),
    "vrrp_instance": (INSTANCE, None),
    "authentication": (INSTANCE % " authentication {\n  auth_type PASS\n%s\n }", None),
    "vrrp_sync_group": ("vrrp_sync_group G {\n group {\n  VI_1\n }\n%s\n}\n" + INSTANCE % "", None),
    "vrrp_script": ('vrrp_script chk {\n script "/bin/true"\n%s\n}\n', None),
    "track_file": ("track_file tf {\n file /tmp/x\n%s\n}\n", None),
    "vrrp_track_process": ("vrrp_track_process p {\n process x\n%s\n}\n", None),
    "garp_group": ("garp_group {\n%s\n}\n", "garp_group"),
    "track_group": ("track_group g {\n%s\n}\n", "track_group"),
    "SSL": ("SSL {\n%s\n}\n", "SSL"),
    "bfd_instance": ("bfd_instance b {\n%s\n}\n", "bfd_instance"),
    "virtual_server": (SERVER, None),
    "real_server": (REAL, None),
    "url": (REAL.replace("%s", "  HTTP_GET {\n   url {\n    path /\n%s\n   }\n  }"), None),
    "SMTP_host": (REAL.replace("%s", "  SMTP_CHECK {\n   host {\n%s\n   }\n  }"), "host"),
    **{checker: (REAL.replace("%s", f"  {checker} {{\n%s\n  }}"), None) for checker in CHECKERS},
}


def placements() -> list[tuple[str, str]]:
    """(context, keyword) for every keyword of the list in every block that recognizes it."""
    out = []
    for area, name, kind in keepalived_keywords():
        for context in CONTEXTS_FOR[(area, kind)]:
            if lookup(context, name) is not None:
                out.append((context, name))
    return sorted(set(out))


def test_every_block_can_be_drawn() -> None:
    assert {c for c, _ in placements()} <= set(PLACES)
    assert len(placements()) > 400


@pytest.mark.parametrize(("context", "name"), placements())
def test_no_keyword_is_accepted_in_silence(tmp_path: Path, context: str, name: str) -> None:
    state = status(context, name)
    if state is Status.IMPLEMENTED:
        spec = lookup(context, name)
        assert spec is not None and spec.supported  # a handler: it is read into the model
        return
    template, outer = PLACES[context]
    text = template % f"    {name}"
    path = tmp_path / "keepalived.conf"
    path.write_text(text)
    res = load(path, interface_exists={"eth0"}.__contains__, check_scripts=False)
    warned = outer or name
    line = next(i for i, ln in enumerate(text.splitlines(), 1) if ln.split()[:1] == [warned])
    found = [
        d
        for d in res.diagnostics
        if d.severity is Severity.WARNING
        and d.line == line
        and d.message.startswith(f"keyword '{warned}' is not supported by vipkeeper")
    ]
    assert found, f"{name} in {context} ({state}): {[d.format() for d in res.diagnostics]}"
    note = NO_EFFECT.get(context, {}).get(name)
    if outer is None and note:
        assert found[0].message.endswith(f": {note}")


def test_the_status_table_names_real_keywords() -> None:
    for table in (NO_EFFECT, NOTES):
        for context, names in table.items():
            for name in names:
                spec = lookup(context, name)
                assert spec is not None and spec.supported, (context, name)


def test_the_docs_table_is_current() -> None:
    text = DOC.read_text()
    assert rewrite(text) == text, (
        "run: cd runtime && PYTHONPATH=src python tests/config/keyword_table.py"
    )


def test_run_logs_the_same_warnings(tmp_path: Path) -> None:
    """`vipkeeper run` loads with the same code as `check` and logs every diagnostic; an error
    in the config makes it stop right after, so this needs no root and starts nothing."""
    conf = tmp_path / "keepalived.conf"
    conf.write_text(INSTANCE % "    promote_secondaries\n    use_ipvlan\n    priority 300")
    argv = [sys.executable, "-m", "vipkeeper.cli", "run", "-f", str(conf)]
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode != 0
    assert "keyword 'promote_secondaries' is not supported by vipkeeper: " in proc.stderr
    assert "keyword 'use_ipvlan' is not supported by vipkeeper" in proc.stderr
    check = [sys.executable, "-m", "vipkeeper.cli", "check", "-f", str(conf)]
    out = subprocess.run(check, capture_output=True, text=True, timeout=60, check=False)
    assert "keyword 'promote_secondaries' is not supported by vipkeeper: " in out.stderr


SRC = Path(__file__).resolve().parents[2] / "src" / "vipkeeper"
# Model fields that no layer above config/ reads, and why that is not a silent keyword. A new
# keyword whose field the daemon ignores fails the test below until it is used, warned about
# (keywordstatus.NO_EFFECT) or explained here.
UNREAD: dict[str, str] = {
    **dict.fromkeys(
        (
            "GlobalDefs.vrrp_garp_master_delay",
            "GlobalDefs.vrrp_garp_master_repeat",
            "GlobalDefs.vrrp_garp_master_refresh",
            "GlobalDefs.vrrp_garp_master_refresh_repeat",
            "GlobalDefs.vrrp_garp_lower_prio_delay",
            "GlobalDefs.vrrp_garp_lower_prio_repeat",
            "GlobalDefs.vrrp_min_garp",
            "GlobalDefs.vrrp_down_timer_adverts",
            "GlobalDefs.vrrp_lower_prio_no_advert",
            "GlobalDefs.vrrp_skip_check_adv_addr",
            "VrrpSyncGroup.global_tracking",
            "VrrpSyncGroup.sync_group_tracking_weight",
            "Config.virtual_server_groups",
        ),
        "applied by the config layer (instance defaults, sync group weights, groups)",
    ),
    **dict.fromkeys(
        (
            "GlobalDefs.default_interface",
            "GlobalDefs.dynamic_interfaces",
            "GlobalDefs.vrrp_check_unicast_src",
            "VrrpInstanceConfig.check_unicast_src",
            "VrrpInstanceConfig.promote_secondaries",
            "HttpCheck.fast_recovery",
            "HttpCheck.tls_compliant",
            "SmtpCheck.helo_name",
            *(
                f"{kind}.log_all_failures"
                for kind in (
                    "CheckerBase",
                    "TcpCheck",
                    "HttpCheck",
                    "MiscCheck",
                    "DnsCheck",
                    "UdpCheck",
                    "PingCheck",
                    "FileCheck",
                    "SmtpCheck",
                    "BfdCheck",
                )
            ),
        ),
        "warned about (keywordstatus.NO_EFFECT)",
    ),
    **dict.fromkeys(
        ("GlobalDefs.vrrp_higher_prio_send_advert", "VrrpInstanceConfig.higher_prio_send_advert"),
        "always on in vipkeeper (keywordstatus.NOTES)",
    ),
    **dict.fromkeys(
        (
            "VirtualIP.home",
            "VirtualIP.autojoin",
            "VirtualIP.track_group",
            "VirtualIP.preferred_lft",
            "IpRule.track_group",
        ),
        # VirtualIP.no_track is read by the VRRP firewall (daemon/build.py), and the word
        # check below then finds IpRule.no_track too (it sets a rule's protocol in config/)
        "entry words, not keywords",
    ),
    "Location.column": "diagnostics only",
}


def test_every_model_field_is_read_or_accounted_for() -> None:
    import dataclasses
    import re

    from vipkeeper.config import model as m

    runtime = "\n".join(
        p.read_text() for p in SRC.rglob("*.py") if "config" not in p.relative_to(SRC).parts
    )
    unread = set()
    for cls in vars(m).values():
        if isinstance(cls, type) and dataclasses.is_dataclass(cls):
            for f in dataclasses.fields(cls):
                if f.name != "location" and not re.search(rf"\b{f.name}\b", runtime):
                    unread.add(f"{cls.__name__}.{f.name}")
    assert unread == set(UNREAD), (sorted(unread - set(UNREAD)), sorted(set(UNREAD) - unread))


def test_vrrp_min_garp_takes_effect(tmp_path: Path) -> None:
    """keepalived's vrrp_min_garp: one GARP a burst and no delayed burst, unless written."""
    path = tmp_path / "keepalived.conf"
    path.write_text("global_defs {\n vrrp_min_garp\n}\n" + INSTANCE % "")
    res = load(path, interface_exists={"eth0"}.__contains__, check_scripts=False)
    assert res.config is not None and res.exit_code == 0
    inst = res.config.vrrp_instances[0]
    assert (inst.garp_master_repeat, inst.garp_master_delay) == (1, 0.0)
    path.write_text(
        "global_defs {\n vrrp_min_garp\n vrrp_garp_master_repeat 3\n}\n"
        + INSTANCE % " garp_master_delay 2"
    )
    res = load(path, interface_exists={"eth0"}.__contains__, check_scripts=False)
    assert res.config is not None
    inst = res.config.vrrp_instances[0]
    assert (inst.garp_master_repeat, inst.garp_master_delay) == (3, 2.0)
    path.write_text("global_defs {\n vrrp_min_garp off\n}\n" + INSTANCE % "")
    res = load(path, interface_exists={"eth0"}.__contains__, check_scripts=False)
    assert res.config is not None
    inst = res.config.vrrp_instances[0]
    assert (inst.garp_master_repeat, inst.garp_master_delay) == (5, 5.0)
