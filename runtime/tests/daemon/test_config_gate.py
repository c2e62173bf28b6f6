"""Which config errors stop `vipkeeper run`: keepalived runs what it can correct."""

from __future__ import annotations

from vipkeeper.config import load_text
from vipkeeper.config.diagnostics import Severity
from vipkeeper.daemon.reload import blocking_errors

BASE = """
vrrp_instance VI_1 {
    state BACKUP
    interface eth0
    virtual_router_id 51
    priority 100
    advert_int 1
    %s
    virtual_ipaddress {
        10.213.9.100/24
    }
}
"""


def test_corrected_values_do_not_block_the_daemon() -> None:
    # `keepalived -t` rejects an auth_pass over 8 bytes, but keepalived truncates it and runs.
    res = load_text(BASE % "authentication {\n auth_type PASS\n auth_pass 0123456789abc\n}")
    errors = [d for d in res.diagnostics if d.severity is Severity.ERROR]
    assert errors, "the check must still report the long password"
    assert blocking_errors(res.diagnostics) == []


def test_real_errors_still_block_the_daemon() -> None:
    res = load_text(BASE.replace("virtual_router_id 51", "virtual_router_id 300") % "")
    blocking = blocking_errors(res.diagnostics)
    assert blocking
    assert any("virtual_router_id" in d.message or "300" in d.message for d in blocking)
