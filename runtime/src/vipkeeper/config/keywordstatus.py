"""What vipkeeper does with each keepalived keyword that it reads but does not fully honour.

This is data, and the one source of the keyword table in docs/runtime-config.md (written by
runtime/tests/config/keyword_table.py; a test fails when the docs are stale). A keyword's
status is:

- `implemented`: it has a handler (config/build.py) and the daemon honours it. `NOTES` adds
  a caveat to some.
- `no effect`: it has a handler, so its value is checked as keepalived checks it, but it
  changes nothing in vipkeeper: the builder warns, from `check` and `run` alike, with the
  note below (`keyword 'X' is not supported by vipkeeper: NOTE`).
- `not supported`: recognized, warned about and skipped (config/builder/unsupported.py).

A keyword of none of these is unknown, an error. A unit test walks keepalived 2.4's keyword
list and checks that every keyword is implemented or warned about.
"""

from __future__ import annotations

from vipkeeper._compat import StrEnum

__all__ = ["NOTES", "NO_EFFECT", "Status", "no_effect_note"]


class Status(StrEnum):
    """What vipkeeper does with a keyword."""

    IMPLEMENTED = "implemented"
    NO_EFFECT = "no effect"
    UNSUPPORTED = "not supported"


_CHECKERS = (
    "TCP_CHECK", "PING_CHECK", "HTTP_GET", "MISC_CHECK", "DNS_CHECK", "UDP_CHECK",
    "FILE_CHECK", "SMTP_CHECK", "BFD_CHECK",
)  # fmt: skip
_LOG_ALL = "checker failures are logged as vipkeeper logs them, whatever this says"
_TLS = (
    "SSL_GET always ends its TLS connections with close_notify (Python's ssl module), as"
    " keepalived does with tls_compliant"
)
_FAST = "every url is fetched in each attempt, as keepalived does with fast_recovery"

# context -> keyword -> why it has no effect (the builder's warning says it)
NO_EFFECT: dict[str, dict[str, str]] = {
    "global_defs": {
        "default_interface": "each vrrp_instance needs its own interface",
        "dynamic_interfaces": (
            "an instance whose interface is missing at start or reload is not started"
        ),
        "vrrp_check_unicast_src": "adverts from addresses outside unicast_peer are not dropped",
    },
    "vrrp_instance": {
        "promote_secondaries": "the interface's promote_secondaries setting is left alone",
        "check_unicast_src": "adverts from addresses outside unicast_peer are not dropped",
        "debug": "the log level is set with `vipkeeper run --log-level`",
    },
    "real_server": {"SMTP_CHECK": "", "BFD_CHECK": ""},
    "HTTP_GET": {"fast_recovery": _FAST, "tls_compliant": _TLS},
    "url": {"tls_compliant": _TLS},
    **{checker: {"log_all_failures": _LOG_ALL} for checker in _CHECKERS},
}

# context -> keyword -> a caveat of an implemented keyword
NOTES: dict[str, dict[str, str]] = {
    "global_defs": {
        "vrrp_higher_prio_send_advert": (
            "vipkeeper always sends the advert (its split-brain parting advert)"
        ),
        "vrrp_min_garp": "one gratuitous ARP/NA a burst and no delayed burst, as keepalived",
        "nftables": (
            "the ip/ip6 tables keepalived makes for VIPs; not its rules for use_vmac interfaces"
        ),
        "vrrp_iptables": (
            "keepalived 2.2.7 has no iptables: an error, then `nftables` with its default table"
        ),
    },
    "vrrp_instance": {
        "higher_prio_send_advert": (
            "vipkeeper always sends the advert (its split-brain parting advert)"
        ),
        "no_accept": "a MASTER drops traffic to its VIPs through the nftables table",
        "virtual_rules": "added on becoming MASTER, removed on leaving it",
        "use_vmac": (
            "a private macvlan made at start and removed at stop; keepalived 2.4's `name`, "
            "`group` and `netlink_notify_msg` arguments are not 2.2.7's (read as names)"
        ),
    },
    "root": {
        "static_rules": "held from start to stop, changed by a reload",
        "SSL": "SSL_GET's one TLS client context; as in keepalived 2.2.7 it verifies nothing",
    },
    "HTTP_GET": {
        "nb_get_retry": "read as `retry`, with keepalived's deprecation error",
        "enable_sni": (
            "SNI is `sni_name`, else the url's, checker's or virtual server's virtualhost"
            " (never the real server's, as keepalived)"
        ),
    },
    "SSL": {
        "ca": (
            "loaded (a file that does not load fails every SSL_GET check), never used to"
            " verify: keepalived 2.2.7 does not verify SSL_GET servers"
        ),
        "certificate": "the client certificate, offered only with `key`, when a server asks",
        "key": "the client certificate's key, with `certificate`",
        "password": "decrypts `key`; without it an encrypted key does not load",
    },
}


def no_effect_note(context: str, name: str) -> str | None:
    """The warning's note when `name` has no effect in `context`, else None."""
    return NO_EFFECT.get(context, {}).get(name)
