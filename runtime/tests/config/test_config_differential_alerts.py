"""Differential test of the SMTP alert and notify keywords: vipkeeper and `keepalived -t` give
the same exit code (issue 18).

Each valid form has its neighbours: a missing value, a bad address, a bad port, a bad
timeout, an empty recipient list, a repeated notify command. keepalived runs in a namespace
with eth0 (addressed); vipkeeper runs in-process with the same interface list.

Known gap, left out on purpose: keepalived resolves a host name given to `smtp_server` while
it reads the config (a name that does not resolve is its config error); `vipkeeper check`
reads files only, so it accepts any well-formed name.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from config.differential import check_node, keepalived_t
from netlab import Node

from vipkeeper.config import load

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    virtual_ipaddress {
        10.213.0.1/24
    }
%s
}
"""
GLOBAL = "global_defs {\n%s\n}\n"
SECURE = "    enable_script_security\n    script_user root"
GROUP = "vrrp_sync_group G {\n    group {\n        VI_1\n        VI_2\n    }\n%s\n}\n"
SECOND = INSTANCE.replace("VI_1", "VI_2").replace("id 10", "id 11").replace(".0.1/", ".0.2/")
MAIL = (
    "    notification_email {\n        ops@example.org\n        Ops Team <team@example.org>\n"
    "    }\n    notification_email_from vk@example.org\n"
)


def g(line: str) -> str:
    """`line` in global_defs, then an instance."""
    return GLOBAL % line + INSTANCE % ""


def twice(keyword: str, where: str = "instance") -> str:
    """`keyword` given twice, with script security so that only the repetition counts."""
    lines = f"    {keyword} /usr/bin/true\n    {keyword} /bin/true"
    if where == "group":
        return GLOBAL % SECURE + GROUP % lines + INSTANCE % "" + SECOND % ""
    return GLOBAL % SECURE + INSTANCE % lines


ALL = (
    MAIL
    + "    smtp_server 10.213.0.9 2525\n    smtp_helo_name vk.example.org\n"
    + "    smtp_connect_timeout 5\n    smtp_alert"
)
RX_LOWER = "    notify_master_rx_lower_pri /bin/true"
CASES: list[tuple[str, str]] = [
    # the whole set, valid
    ("all", GLOBAL % ALL + INSTANCE % "    smtp_alert"),
    # smtp_server: address [port]
    ("server-v4", g("    smtp_server 10.213.0.9")),
    ("server-v4-port", g("    smtp_server 10.213.0.9 587")),
    ("server-v6", g("    smtp_server fd00::9 25")),
    ("server-name", g("    smtp_server localhost")),
    ("server-bad-address", g("    smtp_server 10.213.0.300")),
    ("server-bad-v6", g("    smtp_server fd00::9::1")),
    ("server-port-0", g("    smtp_server 10.213.0.9 0")),
    ("server-port-65535", g("    smtp_server 10.213.0.9 65535")),
    ("server-port-65536", g("    smtp_server 10.213.0.9 65536")),
    ("server-port-word", g("    smtp_server 10.213.0.9 smtp")),
    ("server-port-negative", g("    smtp_server 10.213.0.9 -25")),
    ("server-missing", g("    smtp_server")),
    ("server-extra", g("    smtp_server 10.213.0.9 25 more")),
    # smtp_connect_timeout: whole seconds, 0 is corrected to 1
    ("timeout-5", g("    smtp_connect_timeout 5")),
    ("timeout-4294", g("    smtp_connect_timeout 4294")),
    ("timeout-4295", g("    smtp_connect_timeout 4295")),
    ("timeout-0", g("    smtp_connect_timeout 0")),
    ("timeout-negative", g("    smtp_connect_timeout -1")),
    ("timeout-fraction", g("    smtp_connect_timeout 1.5")),
    ("timeout-word", g("    smtp_connect_timeout soon")),
    ("timeout-missing", g("    smtp_connect_timeout")),
    # notification_email and notification_email_from, smtp_helo_name
    ("email", g(MAIL)),
    ("email-empty-block", g("    notification_email {\n    }")),
    ("email-no-block", g("    notification_email")),
    ("email-inline", g("    notification_email { a@example.org b@example.org }")),
    ("from-missing", g("    notification_email_from")),
    ("from-extra", g("    notification_email_from a@example.org b@example.org")),
    ("from-display-name", g("    notification_email_from Keepalived <a@example.org>")),
    ("helo", g("    smtp_helo_name vk.example.org")),
    ("helo-missing", g("    smtp_helo_name")),
    # smtp_alert everywhere, with the smtp_alert_vrrp / smtp_alert_checker globals
    ("alert-global-off", g("    smtp_alert off")),
    ("alert-global-bogus", g("    smtp_alert maybe")),
    ("alert-vrrp", g("    smtp_alert_vrrp")),
    ("alert-vrrp-false", g("    smtp_alert_vrrp false")),
    ("alert-vrrp-bogus", g("    smtp_alert_vrrp sometimes")),
    ("alert-checker", g("    smtp_alert_checker on")),
    ("alert-instance", INSTANCE % "    smtp_alert"),
    ("alert-instance-no", INSTANCE % "    smtp_alert no"),
    ("alert-instance-bogus", INSTANCE % "    smtp_alert 2"),
    ("alert-group", GROUP % "    smtp_alert" + INSTANCE % "" + SECOND % ""),
    ("alert-group-false", GROUP % "    smtp_alert false" + INSTANCE % "" + SECOND % ""),
    ("alert-group-bogus", GROUP % "    smtp_alert bogus" + INSTANCE % "" + SECOND % ""),
    # notify_deleted (a flag with an optional command) and notify_master_rx_lower_pri
    ("deleted-bare", INSTANCE % "    notify_deleted"),
    ("deleted-command", GLOBAL % SECURE + INSTANCE % '    notify_deleted "/usr/bin/true"'),
    ("deleted-twice", INSTANCE % "    notify_deleted\n    notify_deleted"),
    ("deleted-bare-then-command", twice("notify_deleted").replace(" /usr/bin/true", "")),
    ("deleted-in-group", GROUP % "    notify_deleted" + INSTANCE % "" + SECOND % ""),
    ("rx-lower", GLOBAL % SECURE + INSTANCE % RX_LOWER),
    ("rx-lower-missing", INSTANCE % "    notify_master_rx_lower_pri"),
    ("rx-lower-twice", twice("notify_master_rx_lower_pri")),
    ("rx-lower-in-group", GROUP % RX_LOWER + INSTANCE % "" + SECOND % ""),
    # every notify command given twice
    ("master-twice", twice("notify_master")),
    ("backup-twice", twice("notify_backup")),
    ("fault-twice", twice("notify_fault")),
    ("stop-twice", twice("notify_stop")),
    ("notify-twice", twice("notify")),
    ("group-master-twice", twice("notify_master", "group")),
    ("group-notify-twice", twice("notify", "group")),
    # notify_priority_changes: instance, sync group, global
    ("priority-changes", INSTANCE % "    notify_priority_changes"),
    ("priority-changes-off", INSTANCE % "    notify_priority_changes off"),
    ("priority-changes-bogus", INSTANCE % "    notify_priority_changes sometimes"),
    ("group-priority-changes", GROUP % "    notify_priority_changes" + INSTANCE % "" + SECOND % ""),
    (
        "group-priority-changes-bogus",
        GROUP % "    notify_priority_changes x" + INSTANCE % "" + SECOND % "",
    ),
    ("global-priority-changes", g("    vrrp_notify_priority_changes")),
    ("global-priority-changes-bogus", g("    vrrp_notify_priority_changes 7")),
    # the event flags
    ("no-email-faults", g("    no_email_faults")),
    ("no-email-faults-arg", g("    no_email_faults whatever")),
    ("no-checker-emails", g("    no_checker_emails")),
    ("no-checker-emails-bogus", g("    no_checker_emails perhaps")),
]


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    with check_node("vra", "10.213.0.5/24") as n:
        yield n


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_same_exit_code(node: Node, case: tuple[str, str]) -> None:
    name, text = case
    path = Path(node.lab.workdir) / f"alerts-{name}.conf"
    path.write_text(text)
    k_rc, k_err = keepalived_t(node, path, "-i", "node1")
    res = load(path, "node1", interface_exists={"eth0", "lo"}.__contains__)
    v_diags = [d.format() for d in res.diagnostics]
    assert k_rc == res.exit_code, (
        f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper exit {res.exit_code}: {v_diags}"
    )
