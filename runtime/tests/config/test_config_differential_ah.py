"""Differential test of `auth_type AH`: `vipkeeper check` gives `keepalived -t`'s exit code.

keepalived 2.2.7 (vrrp.c, vrrp_complete_instance) drops the authentication of a strict-mode or
VRRPv3 instance (IPv6 is always v3) first; otherwise `auth_type AH` with `state MASTER` below
the owner priority is a config error ("Initial state master is incompatible with AH
authentication - clearing", exit 5) and the state becomes BACKUP, before the preempt_delay and
nopreempt checks that a state MASTER would have failed. No priority with state MASTER makes
keepalived derive the owner priority, 255, so that is accepted.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from config.differential import check_node, check_text
from netlab import Node

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

KA_MESSAGE = "Initial state master is incompatible with AH authentication"
VK_MESSAGE = "initial state MASTER is incompatible with AH authentication; it is cleared"


def conf(*lines: str, vips: str = "10.213.250.100/32", globals_: str = "") -> str:
    """One AH instance on eth0 with ``lines`` added."""
    body = "\n    ".join(lines)
    return f"""{globals_}
vrrp_instance VI_1 {{
    interface eth0
    virtual_router_id 51
    advert_int 1
    {body}
    authentication {{
        auth_type AH
        auth_pass s3cr3t
    }}
    virtual_ipaddress {{
        {vips}
    }}
}}
"""


CASES = {
    "backup": conf("state BACKUP", "priority 100"),
    "no-state": conf("priority 100"),
    "master-100": conf("state MASTER", "priority 100"),
    "master-254": conf("state MASTER", "priority 254"),
    "master-255": conf("state MASTER", "priority 255"),
    "master-no-priority": conf("state MASTER"),
    "master-preempt-delay": conf("state MASTER", "priority 100", "preempt_delay 5"),
    "master-nopreempt": conf("state MASTER", "priority 100", "nopreempt"),
    "master-unicast": conf(
        "state MASTER",
        "priority 100",
        "unicast_src_ip 10.213.250.1",
        "unicast_peer {\n        10.213.250.2\n    }",
    ),
    "master-version3": conf("state MASTER", "priority 100", "version 3"),
    "backup-version3": conf("state BACKUP", "priority 100", "version 3"),
    "master-global-v3": conf(
        "state MASTER", "priority 100", globals_="global_defs {\n    vrrp_version 3\n}"
    ),
    "ipv6": conf("state BACKUP", "priority 100", vips="fd00:213::100/128"),
    "master-ipv6": conf("state MASTER", "priority 100", vips="fd00:213::100/128"),
    "master-strict": conf("state MASTER", "priority 100", "strict_mode"),
    "master-long-pass": conf("state MASTER", "priority 255").replace("s3cr3t", "s3cr3t_toolong"),
}


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    with check_node("ahc", "10.213.250.1/24") as n:
        yield n


@pytest.mark.parametrize("name", sorted(CASES))
def test_ah_verdicts_match_keepalived(node: Node, name: str) -> None:
    (ka_rc, ka_err), (vk_rc, vk_err) = check_text(node, CASES[name])
    assert vk_rc == ka_rc, f"keepalived -t {ka_rc}:\n{ka_err}\nvipkeeper check {vk_rc}:\n{vk_err}"
    assert (KA_MESSAGE in ka_err) == (VK_MESSAGE in vk_err), f"{ka_err}\n---\n{vk_err}"
    assert vk_err.count(VK_MESSAGE) <= 1, vk_err


def test_the_clearing_case_is_covered(node: Node) -> None:
    """At least one case hits the rule and one the owner exception (the test can fail)."""
    (ka_rc, ka_err), _ = check_text(node, CASES["master-100"])
    assert ka_rc == 5 and KA_MESSAGE in ka_err, ka_err
    (ka_rc, ka_err), _ = check_text(node, CASES["master-255"])
    assert ka_rc == 0 and KA_MESSAGE not in ka_err, ka_err
