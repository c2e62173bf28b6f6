"""JSON-able view of the config model (golden tests, `vipkeeper check --dump`, data dumps)."""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from typing import Any

_IP_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)


def to_jsonable(value: Any, *, locations: bool = True) -> Any:
    """Dataclasses become dicts, enums their value, addresses strings, bytes hex."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not locations and f.name in ("location", "files"):
                continue
            out[f.name] = to_jsonable(getattr(value, f.name), locations=locations)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _IP_TYPES):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v, locations=locations) for v in value]
    return value
