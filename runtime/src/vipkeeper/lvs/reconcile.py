"""Diff desired against actual dataplane state into the smallest list of operations (sans-IO).

Idempotent by construction: applying the plan for (desired, actual) and planning again gives
an empty plan. Services and destinations that did not change produce no operation at all, so
a reload never touches them (and their connections survive).
"""

from __future__ import annotations

from typing import Union

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.lvs.model import Dest, DestKey, Service, ServiceKey, Table


@dataclass(frozen=True, **SLOTS)
class AddService:
    """Create a service (its dests follow as AddDest)."""

    service: Service


@dataclass(frozen=True, **SLOTS)
class EditService:
    """Change a service's settings in place."""

    service: Service


@dataclass(frozen=True, **SLOTS)
class DelService:
    """Delete a service and its destinations."""

    key: ServiceKey


@dataclass(frozen=True, **SLOTS)
class AddDest:
    """Add a destination to a service."""

    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, **SLOTS)
class EditDest:
    """Change a destination's weight, method or thresholds."""

    service: ServiceKey
    dest: Dest


@dataclass(frozen=True, **SLOTS)
class DelDest:
    """Remove a destination from a service."""

    service: ServiceKey
    dest: DestKey


Op = Union[AddService, EditService, DelService, AddDest, EditDest, DelDest]


def plan(desired: Table, actual: Table, *, managed: set[ServiceKey] | None = None) -> list[Op]:
    """Operations turning `actual` into `desired`.

    Only services in `managed` (default: every actual service) may be deleted, so services
    that another tool configured are left alone.
    """
    ops: list[Op] = []
    for key in sorted(actual):
        if key not in desired and (managed is None or key in managed):
            ops.append(DelService(key))
    for key in sorted(desired):
        want = desired[key]
        have = actual.get(key)
        if have is None:
            ops.append(AddService(want.service))
            ops.extend(AddDest(key, d) for d in want)
            continue
        if have.service != want.service:
            ops.append(EditService(want.service))
        for dkey in sorted(have.dests):
            if dkey not in want.dests:
                ops.append(DelDest(key, dkey))
        for dest in want:
            old = have.dests.get(dest.key)
            if old is None:
                ops.append(AddDest(key, dest))
            elif old != dest:
                ops.append(EditDest(key, dest))
    return ops


def apply_to(table: Table, ops: list[Op]) -> Table:
    """The table after `ops` (a model of what a backend does; used by tests and the fake)."""
    from vipkeeper.lvs.model import ServiceState

    out: Table = {k: ServiceState(v.service, dict(v.dests)) for k, v in table.items()}
    for op in ops:
        if isinstance(op, (AddService, EditService)):
            old = out.get(op.service.key)
            out[op.service.key] = ServiceState(op.service, dict(old.dests) if old else {})
        elif isinstance(op, DelService):
            out.pop(op.key, None)
        elif isinstance(op, (AddDest, EditDest)):
            dests = dict(out[op.service].dests)
            dests[op.dest.key] = op.dest
            out[op.service] = ServiceState(out[op.service].service, dests)
        else:
            dests = dict(out[op.service].dests)
            dests.pop(op.dest, None)
            out[op.service] = ServiceState(out[op.service].service, dests)
    return out
