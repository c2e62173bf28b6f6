"""VRRP protocol core (sans-IO): packets, state machine, timers, tracking, sync groups."""

from vipkeeper.vrrp.errors import (
    DropReason,
    LocalProtocolError,
    PacketError,
    RemoteProtocolError,
    VrrpError,
)
from vipkeeper.vrrp.instance import Stats, VrrpInstance
from vipkeeper.vrrp.packet import Advert, checksum_ok, decode_advert, encode_advert
from vipkeeper.vrrp.settings import (
    Auth,
    AuthType,
    InstanceSettings,
    Notify,
    SettingsError,
    TrackFile,
    TrackInterface,
    TrackScript,
    VirtualRoute,
    VirtualRule,
)
from vipkeeper.vrrp.state import TRANSITIONS, State, Trigger
from vipkeeper.vrrp.syncgroup import SyncGroup, SyncGroupSettings

__all__ = [
    "TRANSITIONS",
    "Advert",
    "Auth",
    "AuthType",
    "DropReason",
    "InstanceSettings",
    "LocalProtocolError",
    "Notify",
    "PacketError",
    "RemoteProtocolError",
    "SettingsError",
    "State",
    "Stats",
    "SyncGroup",
    "SyncGroupSettings",
    "TrackFile",
    "TrackInterface",
    "TrackScript",
    "Trigger",
    "VirtualRoute",
    "VirtualRule",
    "VrrpError",
    "VrrpInstance",
    "checksum_ok",
    "decode_advert",
    "encode_advert",
]
