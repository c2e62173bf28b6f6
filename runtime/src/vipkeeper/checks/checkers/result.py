"""The outcome of one health-check attempt."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv6Address

from vipkeeper._compat import SLOTS, dataclass


@dataclass(frozen=True, **SLOTS)
class CheckResult:
    """Up or down, why, and (for dynamic checkers) the weight to use."""

    ok: bool
    detail: str = ""
    weight: int | None = None  # misc_dynamic / FILE_CHECK: new weight; None: unchanged


@dataclass(frozen=True, **SLOTS)
class Target:
    """Where a checker connects: the real server's address/port unless overridden."""

    address: IPv4Address | IPv6Address
    port: int
    bind_address: IPv4Address | IPv6Address | None = None
    bind_port: int | None = None
    bind_if: str | None = None
    fwmark: int | None = None
    virtualhost: str | None = None  # from real_server / virtual_server

    @property
    def hostport(self) -> str:
        """`[addr]:port` as keepalived logs it."""
        return f"[{self.address}]:{self.port}"
