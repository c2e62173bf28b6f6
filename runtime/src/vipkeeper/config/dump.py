"""JSON-able view of the config model (golden tests, `vipkeeper check --dump`, data dumps)."""

from __future__ import annotations

import dataclasses
import enum
import ipaddress
from collections.abc import Callable
from typing import Any

_IP_TYPES = (
    ipaddress.IPv4Address,
    ipaddress.IPv6Address,
    ipaddress.IPv4Interface,
    ipaddress.IPv6Interface,
    ipaddress.IPv4Network,
    ipaddress.IPv6Network,
)
LOCATION_FIELDS = ("location", "files")  # where a value was read: left out with locations=False


def to_jsonable(
    value: Any,
    *,
    locations: bool = True,
    annotate: Callable[[Any, dict[str, Any]], None] | None = None,
) -> Any:
    """Dataclasses become dicts, enums their value, addresses strings, bytes hex.

    `annotate(dataclass, its_dict)` may add keys to each dataclass's dict once it is built (the
    keepalived_import exporter marks the fields set away from their defaults).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(value):
            if not locations and f.name in LOCATION_FIELDS:
                continue
            item = getattr(value, f.name)
            out[f.name] = to_jsonable(item, locations=locations, annotate=annotate)
        if annotate is not None:
            annotate(value, out)
        return out
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, _IP_TYPES):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, (tuple, list)):
        return [to_jsonable(v, locations=locations, annotate=annotate) for v in value]
    return value
