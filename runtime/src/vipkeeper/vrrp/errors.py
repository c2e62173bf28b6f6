"""Errors of the VRRP core: our own misuse versus a peer's bad input (as h11 splits them)."""

from __future__ import annotations

from vipkeeper._compat import StrEnum


class VrrpError(Exception):
    """Base class of every error the VRRP core raises."""


class LocalProtocolError(VrrpError):
    """We misused the core (a bug): an illegal transition, an unknown tracker, a bad advert."""


class DropReason(StrEnum):
    """Why a received advert was dropped; the order follows keepalived's receive checks."""

    TOO_SHORT = "too_short"
    WRONG_FAMILY = "wrong_family"
    WRONG_VRID = "wrong_vrid"
    TTL = "ttl"
    VERSION = "version"
    AUTH_TYPE = "auth_type"
    AUTH_PASSWORD = "auth_password"  # noqa: S105 - a reason name, not a secret
    AUTH_AH = "auth_ah"  # IPsec-AH: next header, ICV, SPI or sequence number (vrrp/ah.py)
    ADVERT_INTERVAL = "advert_interval"
    TYPE = "type"
    CHECKSUM = "checksum"
    VIP_MISMATCH = "vip_mismatch"


class RemoteProtocolError(VrrpError):
    """A peer sent something we must drop; ``reason`` names the failed check."""

    def __init__(self, reason: DropReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class PacketError(RemoteProtocolError):
    """The only error the packet decoder and the receive checks raise."""
