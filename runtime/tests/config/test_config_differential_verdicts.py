"""Differential test of verdicts: vipkeeper and `keepalived -t` give the same exit code.

The other differential tests compare ok/bad; this one compares the exact exit status (0, 2,
4, 5 or 6) on the categories where real configs showed vipkeeper straying (issue 18): flag
keywords given an argument, a keyword missing its value, a missing or over-long interface,
keepalived's corrected warnings, and the neighbours of each. The flag keywords are not
hand-picked: every keyword whose handler is a `Flag` in vipkeeper's registry is tried, in
every block that has it, with an argument of each kind.

keepalived runs in a namespace with eth0 (addressed); vipkeeper runs in-process with the
same interface list. The keepalived -t runs of the module's cases are started together, a few
at a time (REFERENCE_JOBS), before its first case: each is a process of its own on a file of
its own, so running them side by side changes no verdict, and each test still compares its own
case's exit code (a case without a run fails).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from config.differential import check_node, keepalived_t
from netlab import Node

from vipkeeper.config import load
from vipkeeper.config.build import REGISTRY
from vipkeeper.config.builder.handlers import Flag
from vipkeeper.config.builder.registry import block_of

pytestmark = [pytest.mark.netns, pytest.mark.keepalived]

SECURE = "global_defs {\n    enable_script_security\n    script_user root\n}\n"
INSTANCE = """vrrp_instance VI_1 {
    interface eth0
    virtual_router_id 10
    virtual_ipaddress {
        10.213.0.1/24
    }
%s
}
"""
SERVICE = """virtual_server 10.213.30.1 80 {
    lb_algo rr
    lb_kind NAT
    protocol TCP
%s
    real_server 10.213.30.10 80 {
        weight 1
%s
    }
}
"""
CHECKER_BODY = {
    "HTTP_GET": "            url {\n                path /\n            }\n",
    "MISC_CHECK": '            misc_path "/usr/bin/true"\n',
    "DNS_CHECK": "            name example.org\n",
}
# Checker blocks that need more than a line to be valid; they share keepalived's common
# checker handlers (install_checker_common_keywords) with TCP_CHECK, which is tried.
SKIPPED_CONTEXTS = frozenset({"FILE_CHECK", "BFD_CHECK"})


def render_in(context: str, line: str) -> str | None:
    """A whole config with `line` in a block of `context`, or None for a context not drawn."""
    if context == "global_defs":
        return "global_defs {\n" + line + "\n}\n" + INSTANCE % ""
    if context == "vrrp_instance":
        return INSTANCE % line
    if context == "vrrp_sync_group":
        group = "vrrp_sync_group G {\n    group {\n        VI_1\n    }\n"
        return group + line + "\n}\n" + INSTANCE % ""
    if context == "vrrp_script":
        script = 'vrrp_script chk {\n    script "/usr/bin/true"\n' + line + "\n}\n"
        return SECURE + script + INSTANCE % "    track_script {\n        chk\n    }"
    if context == "virtual_server":
        return SERVICE % (line, "")
    if context == "real_server":
        return SERVICE % ("", line)
    if context == "url":
        url = f"            url {{\n                path /\n{line}\n            }}\n"
        checker = f"        HTTP_GET {{\n{url}        }}"
        return SERVICE % ("", checker)
    if context.endswith("_CHECK") or context == "HTTP_GET":
        if context in SKIPPED_CONTEXTS:
            return None
        body = CHECKER_BODY.get(context, "")
        checker = f"        {context} {{\n{body}{line}\n        }}"
        return SECURE + SERVICE % ("", checker)
    return None


# What a flag needs beside it to be valid bare, so that only the argument is tested.
NEEDS = {
    "check_unicast_src": "    unicast_peer {\n        10.213.0.6\n    }\n",
    "vmac_xmit_base": "    use_vmac\n",
    "sorry_server_inhibit": "    sorry_server 10.213.30.11 80\n",
}
# Keywords Debian's keepalived 2.2.7 was built without (its parser calls them unknown;
# test_reference_lacks checks that): their arguments cannot be compared.
REFERENCE_LACKS = frozenset(
    {("global_defs", "v3_checksum_as_v2"), ("vrrp_instance", "v3_checksum_as_v2"),
     ("HTTP_GET", "tls_compliant"), ("url", "tls_compliant")}
)  # fmt: skip
FLAG_ARGS = ("1", "false", "off", "bogus", "On")
FLAGS = [
    pytest.param(context, keyword, arg, id=f"{context}-{keyword}-{arg}")
    for context, handlers in REGISTRY.handlers.items()
    for keyword, handler in handlers.items()
    if isinstance(handler, Flag)
    and render_in(context, "") is not None
    and (context, keyword) not in REFERENCE_LACKS
    for arg in FLAG_ARGS
]

# Every keyword of the registry that takes a value, alone on its line: keepalived's parser
# exits 2 unless the handler checks for its value itself (a general error, or ignored).
BARE = [
    pytest.param(context, keyword, id=f"{context}-{keyword}")
    for context, handlers in REGISTRY.handlers.items()
    for keyword, handler in handlers.items()
    if not isinstance(handler, Flag)
    and block_of(handler) is None
    and render_in(context, "") is not None
    and (context, keyword) not in REFERENCE_LACKS
]

# Flag-like keywords whose handlers are not `Flag`s in vipkeeper (they set more than one
# field, or clear one), with arguments: keepalived ignores the arguments of all of them.
OTHER_FLAGS = [
    ("vrrp_instance", "preempt 1"),
    ("vrrp_instance", "preempt false"),
    ("virtual_server", "lb_algo sh\n    sh-port 1"),
    ("virtual_server", "lb_algo sh\n    hashed 1"),
    ("global_defs", "dynamic_interfaces"),
    ("global_defs", "dynamic_interfaces allow_if_changes"),
    ("global_defs", "dynamic_interfaces 1"),
]

# (id, config) pairs of the other categories, each with its neighbours.
ETH7 = INSTANCE.replace("eth0", "eth7")
SH = SERVICE.replace("lb_algo rr", "lb_algo sh")
NO_ALGO = SERVICE.replace("    lb_algo rr\n", "")
MISC = "        MISC_CHECK {\n            misc_path /usr/bin/true\n            %s\n        }"
VIP_DEV = "    virtual_ipaddress {\n        10.213.0.2/24 dev eth7\n    }"
GROUP = "vrrp_sync_group {\n    group {\n        VI_1\n    }\n}\n"
NO_VIP = "vrrp_instance VI_1 {\n    interface eth0\n    virtual_router_id 10\n"
NO_IF = INSTANCE.replace("    interface eth0\n", "")
AUTH = "    authentication {{\n        auth_type PASS\n        auth_pass {}\n    }}"
PEER = "    unicast_peer {\n        10.213.0.6\n    }\n"
DEFAULT_IF = "global_defs {\n    default_interface eth0\n}\n"
GLOBAL = "global_defs {{\n    {}\n}}\n"
SEC = "enable_script_security\n    "
SCRIPT = 'vrrp_script chk {\n    script "/usr/bin/true"\n%s}\n'
TRACKED = SCRIPT % "" + INSTANCE % "    track_script {\n        chk\n    }"
OWN_USER = SCRIPT % "    user root\n" + INSTANCE % "    track_script {\n        chk\n    }"
NOTIFY = INSTANCE % '    notify_master "/usr/bin/true"'
TRACKS = (
    GLOBAL.format(SEC + "script_user root")
    + 'vrrp_script chk {\n    script "/usr/bin/true"\n    weight 10\n}\n'
    + "track_file tf {\n    file /tmp/vk-verdict-track-file\n}\n"
    + INSTANCE % "%s"
    + INSTANCE.replace("VI_1", "VI_2").replace("id 10", "id 11").replace(".0.1/", ".0.2/") % ""
)
UNWEIGHTED = TRACKS.replace("    weight 10\n", "")
SYNC = "vrrp_sync_group G {\n%s    group {\n        VI_1\n        VI_2\n    }\n}\n"
TS = "    track_script {{\n        chk{}\n    }}\n"
TI = "    track_interface {{\n        ethx{}\n    }}\n".replace("ethx", "lo")
TF = "    track_file {{\n        tf{}\n    }}\n"
VIPS = NO_VIP.replace("{", "{{") + "    virtual_ipaddress {{\n        {}\n    }}\n}}\n"
FWM = (
    "virtual_server fwmark 5 {{\n    lb_algo rr\n    lb_kind {1}\n{0}"
    "    real_server 10.213.30.10{2} {{\n        weight 1\n    }}\n}}\n"
)
# a `group` virtual server: the group's entries, then the service's own extra lines
VSG = (
    "virtual_server_group G {{\n{0}}}\nvirtual_server group G {{\n    lb_algo rr\n"
    "    lb_kind DR\n{1}    real_server 10.213.30.10{2} {{\n        weight 1\n    }}\n}}\n"
)
# a service by address on port 80: its forwarding method, its own lines, a real server's port
VSA = (
    "virtual_server 10.213.30.1 80 {{\n    protocol TCP\n    lb_algo rr\n    lb_kind {0}\n{1}"
    "    real_server 10.213.30.10{2} {{\n        weight 1\n    }}\n}}\n"
)
GM = "    fwmark 5\n"  # a fwmark entry
GA = "    10.213.30.1 80\n"  # an address entry
PROTO = "    protocol TCP\n"
HA = "    ha_suspend\n"
ESCAPED = (INSTANCE % "").replace("{", "{{").replace("}", "}}")
RULES = "{}_rules {{\n    {}\n}}\n" + ESCAPED
VRULES = (
    (INSTANCE % "    virtual_rules {\n        RULE\n    }")
    .replace("{", "{{")
    .replace("}", "}}")
    .replace("RULE", "{}")
)
ID_IF = (INSTANCE % "").replace("{", "{{").replace("}", "}}").replace("eth0", "{}")
# an SSL_GET service: the service's own lines, the checker's lines, the url's lines
SSLGET = (
    "virtual_server 10.213.30.1 443 {{\n    lb_algo rr\n    lb_kind NAT\n    protocol TCP\n{0}"
    "    real_server 10.213.30.10 443 {{\n        weight 1\n        SSL_GET {{\n"
    "            url {{\n                path /\n{2}            }}\n{1}        }}\n    }}\n}}\n"
)
SSL_GET = SSLGET.format("", "", "")
SSLB = "SSL {{\n{}}}\n"  # the root SSL block (keepalived's SSL_GET client context)
SSL_FILES = "    password secret\n    ca /nonexistent/ca.pem\n    certificate /nonexistent/c.pem\n"
DIGEST = "                digest {}\n"
MD5 = "9b3a0c85a887a256d6939da88aabd8cd"
CASES: list[tuple[str, str]] = [
    # a missing interface: keepalived's WARNING is a general error, which outranks its
    # CONFIG_BAD_IF: exit 5
    ("missing-interface", ETH7 % ""),
    ("missing-track-interface", INSTANCE % "    track_interface {\n        eth7\n    }"),
    ("missing-vip-dev", INSTANCE % VIP_DEV),
    ("missing-interface-dynamic", "global_defs {\n    dynamic_interfaces\n}\n" + ETH7 % ""),
    # a keyword missing its value, then other errors: keepalived stops at once (exit 2)
    ("missing-value-first", INSTANCE % "    interface\n    priority 300"),
    ("missing-value-after-error", INSTANCE % "    priority 300\n    unicast_src_ip"),
    ("missing-value-and-interface", ETH7 % "    advert_int"),
    ("no-name-instance", "vrrp_instance {\n    interface eth0\n}\n"),
    ("no-name-sync-group", GROUP + INSTANCE % ""),
    ("no-address-virtual-server", "virtual_server {\n    lb_algo rr\n}\n"),
    # scheduler flags (keepalived's lbflags_handler)
    ("sched-flag-without-sh", SERVICE % ("    sh-port", "")),
    ("sched-flag-with-sh", SH % ("    sh-port", "")),
    ("sched-flag-mh-with-sh", SH % ("    mh-port", "")),
    ("sched-flag-before-sh", NO_ALGO % ("    sh-port\n    lb_algo sh", "")),
    ("misc-check-connect-timeout", SECURE + SERVICE % ("", MISC % "connect_timeout 3")),
    ("misc-check-timeout", SECURE + SERVICE % ("", MISC % "misc_timeout 3")),
    # keepalived's warnings that it corrects and runs with (exit 5 for -t)
    ("state-unknown", INSTANCE % "    state FOO"),
    ("state-lower-case", INSTANCE % "    state master"),
    ("state-master-then-backup", INSTANCE % "    state MASTER\n    state BACKUP"),
    ("state-backup-then-master", INSTANCE % "    state BACKUP\n    state MASTER"),
    ("interface-too-long-after-one", INSTANCE % "    interface abcdefghijklmnopq"),
    ("interface-too-long-alone", NO_IF % "    interface abcdefghijklmnopq"),
    ("interface-15-chars", NO_IF % "    interface abcdefghijklmno"),
    ("auth-pass-8", INSTANCE % AUTH.format("12345678")),
    ("auth-pass-9", INSTANCE % AUTH.format("123456789")),
    # an instance without interface: 2.2.7 says "Unknown interface!", unicast or not
    ("no-interface", NO_IF % ""),
    ("no-interface-unicast", NO_IF % PEER),
    ("no-interface-unicast-src", NO_IF % (PEER + "    unicast_src_ip 10.213.0.5")),
    ("no-interface-default-interface", DEFAULT_IF + NO_IF % ""),
    ("no-interface-unicast-default-interface", DEFAULT_IF + NO_IF % PEER),
    ("unicast-with-interface", INSTANCE % PEER),
    # script_user / the default script user naming a user or group that does not exist
    ("script-user-missing-no-scripts", GLOBAL.format("script_user nosuchuser_vk") + INSTANCE % ""),
    ("script-user-group-missing", GLOBAL.format("script_user root nosuchgroup_vk") + INSTANCE % ""),
    ("script-user-missing-track", GLOBAL.format("script_user nosuchuser_vk") + TRACKED),
    ("script-user-missing-secure", GLOBAL.format(SEC + "script_user nosuchuser_vk") + TRACKED),
    ("script-user-missing-own-user", GLOBAL.format(SEC + "script_user nosuchuser_vk") + OWN_USER),
    ("default-script-user-missing-secure", GLOBAL.format(SEC) + TRACKED),
    ("default-script-user-missing-own-user", GLOBAL.format(SEC) + OWN_USER),
    ("script-user-missing-notify", GLOBAL.format("script_user nosuchuser_vk") + NOTIFY),
    ("default-script-user-missing-notify", GLOBAL.format(SEC) + NOTIFY),
    # weighted tracking in a sync group without sync_group_tracking_weight, and the owner
    ("sync-weighted-script", SYNC % "" + TRACKS % TS.format("")),
    ("sync-weighted-script-ref-0", SYNC % "" + TRACKS % TS.format(" weight 0")),
    (
        "sync-unweighted-script-ref-5",
        SYNC % "" + TRACKS.replace("weight 10", "") % TS.format(" weight 5"),
    ),
    ("sync-unweighted-script", SYNC % "" + TRACKS.replace("weight 10", "") % TS.format("")),
    ("sync-tracking-weight", SYNC % "    sync_group_tracking_weight\n" + TRACKS % TS.format("")),
    ("sync-global-tracking", SYNC % "    global_tracking\n" + TRACKS % TS.format("")),
    ("sync-weighted-interface", SYNC % "" + TRACKS % TI.format(" weight 5")),
    ("sync-unweighted-interface", SYNC % "" + TRACKS % TI.format("")),
    ("sync-file-default-weight", SYNC % "" + TRACKS % TF.format("")),
    ("sync-file-weight-0", SYNC % "" + TRACKS % TF.format(" weight 0")),
    ("sync-file-weight-3", SYNC % "" + TRACKS % TF.format(" weight 3")),
    ("owner-weighted-script", TRACKS % (TS.format("") + "    priority 255\n")),
    ("owner-weighted-interface", TRACKS % (TI.format(" weight 5") + "    priority 255\n")),
    ("owner-file-default-weight", TRACKS % (TF.format("") + "    priority 255\n")),
    ("no-sync-weighted-script", TRACKS % TS.format("")),
    # address ranges in virtual_ipaddress: keepalived 2.2.7 skips them as invalid IPs
    ("vip-range-v4", VIPS.format("10.213.0.10-13")),
    ("vip-range-v4-prefix", VIPS.format("10.213.0.10-13/24")),
    ("vip-range-v6", VIPS.format("fd00::2-5/64")),
    ("vip-range-and-vip", VIPS.format("10.213.0.10-13\n        10.213.0.2/24")),
    (
        "vip-range-excluded",
        INSTANCE % "    virtual_ipaddress_excluded {\n        10.213.0.20-22\n    }",
    ),
    ("vip-invalid-only", VIPS.format("10.213.0.300")),
    ("vip-empty-block", VIPS.format("")),
    # a block keyword with no '{': keepalived looks for it on the next line, and at the end
    # of the configuration takes the block as empty in silence
    ("block-bare-at-end", INSTANCE % "" + "global_defs\n"),
    ("block-bare-at-end-with-args", INSTANCE % "" + "global_defs router_id x\n"),
    ("block-brace-next-line", "global_defs\n{\n    router_id x\n}\n" + INSTANCE % ""),
    ("block-bare-then-keyword", "global_defs\n    router_id x\n" + INSTANCE % ""),
    ("block-bare-then-block", "global_defs\n" + INSTANCE % ""),
    ("instance-bare-at-end", INSTANCE % "" + "vrrp_instance VI_2\n"),
    ("script-bare-at-end", INSTANCE % "" + "vrrp_script chk\n"),
    ("static-addresses-bare-at-end", INSTANCE % "" + "static_ipaddress\n"),
    ("sync-group-bare-at-end", INSTANCE % "" + "vrrp_sync_group G\n"),
    ("virtual-server-bare-at-end", INSTANCE % "" + "virtual_server 10.213.30.1 80\n"),
    # protocol on a fwmark virtual server, and its neighbours
    ("fwmark-protocol", FWM.format("    protocol TCP\n", "DR", " 80")),
    ("fwmark-protocol-udp-no-rs-port", FWM.format("    protocol UDP\n", "DR", "")),
    ("fwmark-no-protocol-rs-port", FWM.format("", "DR", " 80")),
    ("fwmark-no-protocol-no-rs-port", FWM.format("", "DR", "")),
    ("fwmark-nat-rs-port", FWM.format("", "NAT", " 80")),
    ("fwmark-tun-rs-port", FWM.format("", "TUN", " 80")),
    # the same rules for a `group` service: by fwmark when its group has fwmark entries only,
    # by address when it has any address entry; ha_suspend is cleared with any fwmark
    ("group-fwmark-protocol", VSG.format(GM, PROTO, "")),
    ("group-fwmark-no-protocol", VSG.format(GM, "", "")),
    ("group-fwmark-protocol-rs-port", VSG.format(GM, PROTO, " 80")),
    ("group-fwmark-no-protocol-rs-port", VSG.format(GM, "", " 80")),
    ("group-address-protocol", VSG.format(GA, PROTO, " 80")),
    ("group-address-no-protocol", VSG.format(GA, "", " 80")),
    ("group-mixed-protocol", VSG.format(GA + GM, PROTO, " 80")),
    ("group-mixed-no-protocol", VSG.format(GM + GA, "", " 80")),
    ("group-empty-protocol", VSG.format("", PROTO, " 80")),
    ("group-empty-no-protocol", VSG.format("", "", " 80")),
    ("group-fwmark-ha-suspend", VSG.format(GM, HA, "")),
    ("group-address-ha-suspend", VSG.format(GA, PROTO + HA, " 80")),
    ("group-mixed-ha-suspend", VSG.format(GA + GM, PROTO + HA, " 80")),
    ("fwmark-ha-suspend", FWM.format(HA, "DR", "")),
    # real and sorry server ports against the service's (keepalived resets them unless NAT)
    ("port-dr-mismatch", VSA.format("DR", "", " 8080")),
    ("port-tun-mismatch", VSA.format("TUN", "", " 8080")),
    ("port-nat-mismatch", VSA.format("NAT", "", " 8080")),
    ("port-dr-same", VSA.format("DR", "", " 80")),
    ("port-dr-none", VSA.format("DR", "", "")),
    (
        "port-dr-rs-nat-mismatch",
        VSA.format("DR", "", " 8080").replace("weight 1", "lvs_method NAT"),
    ),
    (
        "port-nat-rs-dr-mismatch",
        VSA.format("NAT", "", " 8080").replace("weight 1", "lvs_method DR"),
    ),
    ("sorry-dr-mismatch", VSA.format("DR", "    sorry_server 10.213.30.9 8080\n", " 80")),
    ("sorry-dr-same", VSA.format("DR", "    sorry_server 10.213.30.9 80\n", " 80")),
    ("sorry-nat-mismatch", VSA.format("NAT", "    sorry_server 10.213.30.9 8080\n", " 80")),
    ("sorry-fwmark-port", FWM.format("    sorry_server 10.213.30.9 80\n", "DR", "")),
    ("sorry-fwmark-nat-port", FWM.format("    sorry_server 10.213.30.9 80\n", "NAT", "")),
    ("group-address-port-mismatch", VSG.format(GA, PROTO, " 8080")),
    ("group-address-port-none", VSG.format(GA, PROTO, "")),
    ("group-two-address-ports", VSG.format(GA + "    10.213.30.2 81\n", PROTO, " 80")),
    ("group-address-nat-mismatch", VSG.format(GA, PROTO, " 8080").replace("DR", "NAT")),
    ("group-sorry-mismatch", VSG.format(GA, PROTO + "    sorry_server 10.213.30.9 8080\n", " 80")),
    ("group-fwmark-sorry-port", VSG.format(GM, "    sorry_server 10.213.30.9 80\n", "")),
    # invalid addresses inside virtual_rules / static_rules, and the neighbours
    ("static-rule-bad-from", RULES.format("static", "from 10.213.0.300 table 100 priority 5")),
    ("static-rule-bad-to", RULES.format("static", "to bogus table 100 priority 5")),
    ("static-rule-good", RULES.format("static", "from 10.213.0.3 table 100 priority 5")),
    ("static-rule-from-all", RULES.format("static", "from all table 100 priority 5")),
    ("static-rule-v6", RULES.format("static", "from fd00::3/64 table 100 preference 5")),
    (
        "static-rule-mixed",
        RULES.format("static", "from 10.213.0.3 to fd00::1 table 100 priority 5"),
    ),
    ("static-rule-no-preference", RULES.format("static", "from 10.213.0.3 table 100")),
    ("static-rule-no-action", RULES.format("static", "from 10.213.0.3 priority 5")),
    ("virtual-rule-bad-from", VRULES.format("from 10.213.0.999/32 table 100 priority 5")),
    ("virtual-rule-bad-prefix", VRULES.format("from 10.213.0.9/33 table 100 priority 5")),
    ("virtual-rule-good", VRULES.format("from 10.213.0.9/32 table 100 priority 5")),
    # every rule word keepalived's alloc_rule reads, valid and not (static and virtual)
    (
        "static-rule from 10.213.0.3 table 100 priority 5 bogus",
        RULES.format("static", "from 10.213.0.3 table 100 priority 5 bogus"),
    ),
    (
        "virtual-rule from 10.213.0.3 table 100 priority",
        VRULES.format("from 10.213.0.3 table 100 priority"),
    ),
    ("static-rule from", RULES.format("static", "from")),
    (
        "virtual-rule from 10.213.0.3 lookup main priority 5",
        VRULES.format("from 10.213.0.3 lookup main priority 5"),
    ),
    (
        "static-rule from 10.213.0.3 table nosuch priority 5",
        RULES.format("static", "from 10.213.0.3 table nosuch priority 5"),
    ),
    (
        "virtual-rule from 10.213.0.3 table 0 priority 5",
        VRULES.format("from 10.213.0.3 table 0 priority 5"),
    ),
    (
        "static-rule from 10.213.0.3 table 100 table 101 priority 5",
        RULES.format("static", "from 10.213.0.3 table 100 table 101 priority 5"),
    ),
    (
        "virtual-rule from 10.213.0.3 type prohibit priority 5",
        VRULES.format("from 10.213.0.3 type prohibit priority 5"),
    ),
    (
        "static-rule from 10.213.0.3 type unicast priority 5",
        RULES.format("static", "from 10.213.0.3 type unicast priority 5"),
    ),
    (
        "virtual-rule from 10.213.0.3 nop priority 5",
        VRULES.format("from 10.213.0.3 nop priority 5"),
    ),
    (
        "static-rule from 10.213.0.3 goto 10 priority 5",
        RULES.format("static", "from 10.213.0.3 goto 10 priority 5"),
    ),
    (
        "virtual-rule from 10.213.0.3 goto 3 priority 5",
        VRULES.format("from 10.213.0.3 goto 3 priority 5"),
    ),
    ("static-rule from 10.213.0.3 goto 10", RULES.format("static", "from 10.213.0.3 goto 10")),
    (
        "virtual-rule fwmark 0x5/0xff table 100 priority 5",
        VRULES.format("fwmark 0x5/0xff table 100 priority 5"),
    ),
    (
        "static-rule fwmark 5/ table 100 priority 5",
        RULES.format("static", "fwmark 5/ table 100 priority 5"),
    ),
    (
        "virtual-rule fwmark -5 table 100 priority 5",
        VRULES.format("fwmark -5 table 100 priority 5"),
    ),
    (
        "static-rule fwmark 5/0x1/2 table 100 priority 5",
        RULES.format("static", "fwmark 5/0x1/2 table 100 priority 5"),
    ),
    (
        "virtual-rule iif eth0 oif lo table 100 priority 5",
        VRULES.format("iif eth0 oif lo table 100 priority 5"),
    ),
    (
        "static-rule iif eth9 table 100 priority 5",
        RULES.format("static", "iif eth9 table 100 priority 5"),
    ),
    ("virtual-rule oif eth9 table 100 priority 5", VRULES.format("oif eth9 table 100 priority 5")),
    (
        "static-rule tos 0x10 table 100 priority 5",
        RULES.format("static", "tos 0x10 table 100 priority 5"),
    ),
    ("virtual-rule tos 300 table 100 priority 5", VRULES.format("tos 300 table 100 priority 5")),
    (
        "static-rule uidrange 100-200 table 100 priority 5",
        RULES.format("static", "uidrange 100-200 table 100 priority 5"),
    ),
    (
        "virtual-rule uidrange 100 table 100 priority 5",
        VRULES.format("uidrange 100 table 100 priority 5"),
    ),
    (
        "static-rule sport 80-90 dport 443-443 table 100 priority 5",
        RULES.format("static", "sport 80-90 dport 443-443 table 100 priority 5"),
    ),
    ("virtual-rule sport 80 table 100 priority 5", VRULES.format("sport 80 table 100 priority 5")),
    (
        "static-rule ipproto tcp table 100 priority 5",
        RULES.format("static", "ipproto tcp table 100 priority 5"),
    ),
    (
        "virtual-rule ipproto 200 table 100 priority 5",
        VRULES.format("ipproto 200 table 100 priority 5"),
    ),
    ("static-rule l3mdev priority 5", RULES.format("static", "l3mdev priority 5")),
    ("virtual-rule l3mdev table 100 priority 5", VRULES.format("l3mdev table 100 priority 5")),
    (
        "static-rule protocol 5 table 100 priority 5",
        RULES.format("static", "protocol 5 table 100 priority 5"),
    ),
    (
        "virtual-rule protocol 5 table 100 priority 5 no_track",
        VRULES.format("protocol 5 table 100 priority 5 no_track"),
    ),
    (
        "static-rule protocol 300 table 100 priority 5",
        RULES.format("static", "protocol 300 table 100 priority 5"),
    ),
    (
        "virtual-rule realms 5/6 table 100 priority 5",
        VRULES.format("realms 5/6 table 100 priority 5"),
    ),
    (
        "static-rule realms 5 blackhole priority 5",
        RULES.format("static", "realms 5 blackhole priority 5"),
    ),
    (
        "virtual-rule realms 5 from fd00::1 table 100 priority 5",
        VRULES.format("realms 5 from fd00::1 table 100 priority 5"),
    ),
    (
        "static-rule suppress_prefixlength 0 table main priority 5",
        RULES.format("static", "suppress_prefixlength 0 table main priority 5"),
    ),
    (
        "virtual-rule suppress_prefixlength 0 blackhole priority 5",
        VRULES.format("suppress_prefixlength 0 blackhole priority 5"),
    ),
    (
        "static-rule suppress_ifgroup default table main priority 5",
        RULES.format("static", "suppress_ifgroup default table main priority 5"),
    ),
    (
        "virtual-rule suppress_ifgroup x table main priority 5",
        VRULES.format("suppress_ifgroup x table main priority 5"),
    ),
    (
        "static-rule tunnel-id x table 100 priority 5",
        RULES.format("static", "tunnel-id x table 100 priority 5"),
    ),
    (
        "virtual-rule not from 10.213.0.3 table 100 priority 5",
        VRULES.format("not from 10.213.0.3 table 100 priority 5"),
    ),
    (
        "static-rule inet6 from 10.213.0.3 table 100 priority 5",
        RULES.format("static", "inet6 from 10.213.0.3 table 100 priority 5"),
    ),
    (
        "virtual-rule to fd00::/64 table 100 priority 5",
        VRULES.format("to fd00::/64 table 100 priority 5"),
    ),
    ("static-rule priority -1 table 100", RULES.format("static", "priority -1 table 100")),
    ("virtual-rule priority 4294967296 table 100", VRULES.format("priority 4294967296 table 100")),
    ("static-rule priority 0x10 table 100", RULES.format("static", "priority 0x10 table 100")),
    (
        "virtual-rule table 100 priority 5 track_group g",
        VRULES.format("table 100 priority 5 track_group g"),
    ),
    (
        "static-rule from fd00::3/129 table 100 priority 5",
        RULES.format("static", "from fd00::3/129 table 100 priority 5"),
    ),
    (
        "virtual-rule from 10.213.0 table 100 priority 5",
        VRULES.format("from 10.213.0 table 100 priority 5"),
    ),
    ("static-rule type 6 priority 5", RULES.format("static", "type 6 priority 5")),
    (
        "virtual-rule from fd00::3 to 10.0.0.1 table 100 priority 5",
        VRULES.format("from fd00::3 to 10.0.0.1 table 100 priority 5"),
    ),
    (
        "static-rule-missing-iif-dynamic",
        "global_defs {\n    dynamic_interfaces\n}\n"
        + RULES.format("static", "iif eth9 table 100 priority 5"),
    ),
    (
        "static-route-bad-via",
        "static_routes {\n    10.213.99.0/24 via 10.213.0.300\n}\n" + INSTANCE % "",
    ),
    # keepalived 2.2.7's predefined names (the node's config-id is node1: see verdicts())
    (
        "builtin-instance",
        INSTANCE % '    @node1 priority 150\n    notify_master "/usr/bin/true ${_INSTANCE}"',
    ),
    ("builtin-instance-as-value", ID_IF.format("${_INSTANCE}")),
    ("builtin-instance-bare", ID_IF.format("$_INSTANCE")),
    ("builtin-random-fixed", INSTANCE.replace("id 10", "id ${_RANDOM 7 7}") % ""),
    ("builtin-random-out-of-range", INSTANCE.replace("id 10", "id ${_RANDOM 300 300}") % ""),
    ("builtin-hash", INSTANCE.replace("eth0", "eth0${_HASH}x") % ""),
    ("builtin-bang", INSTANCE.replace("id 10", "id 10${_BANG}x") % ""),
    ("builtin-pwd", INSTANCE.replace("eth0", "${_PWD}") % ""),
    ("builtin-undefined", INSTANCE.replace("eth0", "${_NOPE}") % ""),
    ("builtin-env-not-in-2.2.7", INSTANCE.replace("eth0", "${_ENV HOME}") % ""),
    ("builtin-overridden", "$_INSTANCE=eth0\n" + ID_IF.format("${_INSTANCE}")),
    # a syntax error in a script line: keepalived drops the command, so no security verdict
    ("notify-unterminated-quote", INSTANCE % '    notify_master "/usr/bin/true x'),
    ("notify-terminated-quote", INSTANCE % '    notify_master "/usr/bin/true x"'),
    ("static-address-bad", "static_ipaddress {\n    10.213.0.300/24 dev eth0\n}\n" + INSTANCE % ""),
    # the VRRP firewall (keepalived 2.2.7 is built with nftables and without iptables)
    *(
        (f"firewall-{name}", GLOBAL.format(line) + INSTANCE % "")
        for name, line in (
            ("nftables", "nftables"),
            ("nftables-name", "nftables vk_fw"),
            ("nftables-twice", "nftables a\n    nftables b"),
            ("nftables-name-too-long", "nftables " + "x" * 300),
            ("nftables-name-255", "nftables " + "x" * 255),
            ("nftables-name-256", "nftables " + "x" * 256),
            ("nftables-priority", "nftables\n    nftables_priority -5"),
            ("nftables-priority-before", "nftables_priority 7\n    nftables"),
            ("nftables-priority-bad", "nftables_priority abc"),
            ("nftables-priority-huge", "nftables_priority 4294967296"),
            ("nftables-priority-missing", "nftables_priority"),
            ("nftables-priority-extra", "nftables_priority 3 4"),
            ("nftables-with-strict", "vrrp_strict\n    nftables"),
            ("vrrp-iptables", "vrrp_iptables"),
            ("vrrp-iptables-chains", "vrrp_iptables IN OUT"),
            ("vrrp-iptables-then-nftables", "vrrp_iptables\n    nftables fw"),
        )
    ),
    # the root SSL block (files are not read by -t), SSL_GET's TLS keywords and digest
    ("ssl-block-full", SSLB.format(SSL_FILES + "    key /nonexistent/k.pem\n") + SSL_GET),
    ("ssl-block-empty", SSLB.format("") + SSL_GET),
    ("ssl-block-no-ssl-get", SSLB.format(SSL_FILES) + INSTANCE % ""),
    ("ssl-block-after-service", SSL_GET + SSLB.format(SSL_FILES)),
    ("ssl-block-lower-case", "ssl {\n    ca /nonexistent/ca.pem\n}\n" + SSL_GET),
    ("ssl-block-in-global-defs", GLOBAL.format("SSL {\n    }") + SSL_GET),
    ("ssl-block-twice", SSLB.format(SSL_FILES) + SSLB.format("    ca /b.pem\n") + SSL_GET),
    ("ssl-ca-missing", SSLB.format("    ca\n") + SSL_GET),
    ("ssl-certificate-missing", SSLB.format("    certificate\n") + SSL_GET),
    ("ssl-key-missing", SSLB.format("    key\n") + SSL_GET),
    ("ssl-password-missing", SSLB.format("    password\n") + SSL_GET),
    ("ssl-ca-twice", SSLB.format("    ca /a.pem\n    ca /b.pem\n") + SSL_GET),
    ("ssl-key-twice", SSLB.format("    key /a.pem\n    key /b.pem\n") + SSL_GET),
    ("ssl-ca-extra-words", SSLB.format("    ca /a.pem /b.pem\n") + SSL_GET),
    ("ssl-tls-version-in-block", SSLB.format("    tls_version 1.2\n") + SSL_GET),
    ("ssl-verify-in-block", SSLB.format("    verify yes\n") + SSL_GET),
    ("ssl-get-tls-version", SSLGET.format("", "            tls_version 1.2\n", "")),
    ("ssl-get-min-tls", SSLGET.format("", "            min_tls_version TLSv1.2\n", "")),
    ("ssl-get-enable-sni", SSLGET.format("", "            enable_sni\n", "")),
    ("ssl-get-enable-sni-no", SSLGET.format("", "            enable_sni no\n", "")),
    ("ssl-get-enable-sni-bad", SSLGET.format("", "            enable_sni maybe\n", "")),
    ("ssl-get-digest", SSLGET.format("", "", DIGEST.format(MD5))),
    ("ssl-get-digest-upper", SSLGET.format("", "", DIGEST.format(MD5.upper()))),
    ("ssl-get-digest-short", SSLGET.format("", "", DIGEST.format(MD5[:12]))),
    ("ssl-get-digest-long", SSLGET.format("", "", DIGEST.format(MD5 + "00"))),
    ("ssl-get-digest-not-hex", SSLGET.format("", "", DIGEST.format("z" + MD5[1:]))),
    ("ssl-get-digest-missing", SSLGET.format("", "", DIGEST.format(""))),
    ("ssl-get-digest-twice", SSLGET.format("", "", DIGEST.format(MD5) * 2)),
    (
        "ssl-get-digest-twice-differ",
        SSLGET.format("", "", DIGEST.format(MD5) + DIGEST.format("0" * 32)),
    ),
    # use_vmac [name] [MAC] [name NAME] [netlink_notify_msg], vmac_xmit_base (vrrp_parser.c)
    ("vmac-default-name", INSTANCE % "    use_vmac"),
    ("vmac-own-name", INSTANCE % "    use_vmac vk77"),
    ("vmac-name-keyword", INSTANCE % "    use_vmac name vk77"),
    ("vmac-two-names", INSTANCE % "    use_vmac vk77 vk78"),
    ("vmac-name-too-long", INSTANCE % "    use_vmac abcdefghijklmnopq"),
    ("vmac-netlink-notify", INSTANCE % "    use_vmac netlink_notify_msg"),
    ("vmac-group", INSTANCE % "    use_vmac group 5"),
    ("vmac-name-and-mac", INSTANCE % "    use_vmac vk77 02:00:00:00:00:01"),
    ("vmac-five-octets", INSTANCE % "    use_vmac 02:00:00:00:00"),
    ("vmac-multicast-mac", INSTANCE % "    use_vmac 03:00:00:00:00:01"),
    ("vmac-mac", INSTANCE % "    use_vmac 02:00:00:00:00:01"),
    ("vmac-mac-rfc", INSTANCE % "    use_vmac 00:00:5e:00:01:0a"),
    ("vmac-mac-bad", INSTANCE % "    use_vmac 02:zz:00:00:00:01"),
    ("vmac-xmit-base", INSTANCE % "    use_vmac\n    vmac_xmit_base"),
    ("vmac-xmit-base-alone", INSTANCE % "    vmac_xmit_base"),
    ("vmac-unicast", INSTANCE % (PEER + "    use_vmac")),
    ("vmac-unicast-xmit-base", INSTANCE % (PEER + "    use_vmac\n    vmac_xmit_base")),
    ("vmac-strict-xmit-base", INSTANCE % "    strict_mode\n    use_vmac\n    vmac_xmit_base"),
    (
        "vmac-same-name-twice",
        INSTANCE % "    use_vmac vk77"
        + (INSTANCE % "    use_vmac vk77")
        .replace("VI_1", "VI_2")
        .replace("id 10", "id 11")
        .replace(".0.1/", ".0.2/"),
    ),
]


def flag_text(context: str, keyword: str, arg: str) -> str | None:
    return render_in(context, f"{NEEDS.get(keyword, '')}    {keyword} {arg}")


# Every compared case, by name: the config each test builds (checked against the one run).
COMPARED: dict[str, str | None] = {
    **{f"{c}-{k}-{a}": flag_text(c, k, a) for c, k, a in (p.values for p in FLAGS)},
    **{f"bare-{c}-{k}": render_in(c, f"    {k}") for c, k in (p.values for p in BARE)},
    **{f"{c}-{line}": render_in(c, f"    {line}") for c, line in OTHER_FLAGS},
    **dict(CASES),
}
REFERENCE_JOBS = 8  # keepalived -t runs at once: each mostly waits on exec and the file system


@pytest.fixture(scope="module")
def node() -> Iterator[Node]:
    """A namespace with eth0 addressed."""
    with check_node("vrd", "10.213.0.5/24") as n:
        yield n


def _write(node: Node, text: str, name: str) -> Path:
    path = Path(node.lab.workdir) / f"verdict-{abs(hash(name))}.conf"
    path.write_text(text)
    return path


@pytest.fixture(scope="module")
def reference(node: Node) -> dict[str, tuple[str, int, str]]:
    """Each compared case's config and `keepalived -t -i node1` verdict: exit code, stderr."""

    def run(name: str, text: str) -> tuple[str, int, str]:
        k_rc, k_err = keepalived_t(node, _write(node, text, name), "-i", "node1")
        return text, k_rc, k_err

    cases = [(name, text) for name, text in COMPARED.items() if text is not None]
    with ThreadPoolExecutor(REFERENCE_JOBS) as pool:
        runs = list(pool.map(lambda case: run(*case), cases))
    return {name: ran for (name, _), ran in zip(cases, runs)}


def verdicts(
    node: Node, reference: dict[str, tuple[str, int, str]], text: str, name: str
) -> tuple[int, str, int, list[str]]:
    ran, k_rc, k_err = reference[name]
    assert ran == text, f"keepalived -t ran another config for {name}"
    res = load(_write(node, text, name), "node1", interface_exists={"eth0", "lo"}.__contains__)
    return k_rc, k_err, res.exit_code, [d.format() for d in res.diagnostics]


def test_flags_are_found_in_every_block() -> None:
    """The registry has flags in the blocks this test draws (so no block is left out)."""
    contexts = {p.values[0] for p in FLAGS}
    assert {"global_defs", "vrrp_instance", "vrrp_sync_group", "vrrp_script"} <= contexts
    assert {"virtual_server", "real_server", "TCP_CHECK", "HTTP_GET", "MISC_CHECK"} <= contexts
    assert len(FLAGS) >= 40 * len(FLAG_ARGS)


@pytest.mark.parametrize(("context", "keyword"), sorted(REFERENCE_LACKS))
def test_reference_lacks(node: Node, context: str, keyword: str) -> None:
    text = render_in(context, f"    {keyword}")
    assert text is not None
    k_rc, k_err = keepalived_t(node, _write(node, text, f"lacks-{context}-{keyword}"))
    assert k_rc == 5 and f"Unknown keyword '{keyword}'" in k_err


@pytest.mark.parametrize(("context", "keyword", "arg"), FLAGS)
def test_flag_with_argument(
    node: Node, reference: dict[str, tuple[str, int, str]], context: str, keyword: str, arg: str
) -> None:
    text = flag_text(context, keyword, arg)
    assert text is not None
    k_rc, k_err, v_rc, v_diags = verdicts(node, reference, text, f"{context}-{keyword}-{arg}")
    assert k_rc == v_rc, f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper exit {v_rc}: {v_diags}"


@pytest.mark.parametrize(("context", "keyword"), BARE)
def test_keyword_without_value(
    node: Node, reference: dict[str, tuple[str, int, str]], context: str, keyword: str
) -> None:
    text = render_in(context, f"    {keyword}")
    assert text is not None
    k_rc, k_err, v_rc, v_diags = verdicts(node, reference, text, f"bare-{context}-{keyword}")
    assert k_rc == v_rc, f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper exit {v_rc}: {v_diags}"


@pytest.mark.parametrize(("context", "line"), OTHER_FLAGS, ids=str)
def test_other_flag_with_argument(
    node: Node, reference: dict[str, tuple[str, int, str]], context: str, line: str
) -> None:
    text = render_in(context, f"    {line}")
    assert text is not None
    k_rc, k_err, v_rc, v_diags = verdicts(node, reference, text, f"{context}-{line}")
    assert k_rc == v_rc, f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper exit {v_rc}: {v_diags}"


@pytest.mark.parametrize("case", CASES, ids=lambda c: c[0])
def test_same_exit_code(
    node: Node, reference: dict[str, tuple[str, int, str]], case: tuple[str, str]
) -> None:
    name, text = case
    k_rc, k_err, v_rc, v_diags = verdicts(node, reference, text, name)
    assert k_rc == v_rc, f"keepalived -t exit {k_rc}: {k_err}\nvipkeeper exit {v_rc}: {v_diags}"
