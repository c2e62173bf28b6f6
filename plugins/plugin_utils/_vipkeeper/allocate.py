# Stable slot allocation (VRIDs, multicast groups) shared by every broadcast domain.
#
# Rules, in order of strength:
#   0. A reserved slot of a domain (a foreign router's VRID) is never given to an item there;
#      a pin on it is an error, a lock on it is re-allocated with a warning.
#   1. A pinned value is always used. Two pins on the same value in one domain are an error.
#   2. A locked value (from the previous plan) is kept unless it clashes with a pin or with a
#      lock that sorts first; the loser is re-allocated and a warning names it.
#   3. Everything else takes the first free slot probing upwards (wrapping) from its preferred
#      slot, a hash of its key. Items are placed in key order, so the result depends only on
#      the set of items, never on inventory order.
# A slot is free for an item when no item sharing any of its domains holds it.
# Hence: with the lock of the previous plan, adding or removing items never moves another item.
"""Deterministic, lock-aware allocation of small integer slots per domain."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


_RESERVED = "\0"


@dataclass(frozen=True)
class Request:
    """One item wanting a slot in every domain it belongs to."""

    key: str
    domains: frozenset[str]
    pinned: int | None = None
    locked: int | None = None
    preferred: int | None = None
    label: str = ""


@dataclass(frozen=True)
class Allocation:
    """The result: a slot per key, plus errors and warnings in plain words."""

    slots: Mapping[str, int]
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()


@dataclass
class _Taken:
    by_domain: dict[str, dict[int, str]] = field(default_factory=dict)

    def holder(self, domains: Iterable[str], slot: int) -> str | None:
        for domain in domains:
            who = self.by_domain.get(domain, {}).get(slot)
            if who is not None:
                return who
        return None

    def take(self, domains: Iterable[str], slot: int, key: str) -> None:
        for domain in domains:
            self.by_domain.setdefault(domain, {})[slot] = key


def preferred_slot(key: str, size: int, first: int = 1) -> int:
    """The slot a key prefers: a stable hash (sha256, not Python's salted hash)."""
    digest = hashlib.sha256(key.encode("utf-8")).digest()
    return first + int.from_bytes(digest[:8], "big") % size


def allocate(
    requests: Iterable[Request],
    *,
    first: int,
    last: int,
    what: str = "VRID",
    reserved: Mapping[str, Mapping[int, str]] | None = None,
) -> Allocation:
    """Give each request a slot in first..last, unique per domain, never a reserved one."""
    reqs = sorted(requests, key=lambda r: r.key)
    size = last - first + 1
    labels = {r.key: r.label or r.key for r in reqs}
    errors: list[str] = []
    warnings: list[str] = []
    slots: dict[str, int] = {}
    taken = _Taken()
    # reserved: domain -> slot -> who holds it (never a request: keys carry a NUL prefix)
    for domain, held in (reserved or {}).items():
        for slot, who in held.items():
            if first <= slot <= last:
                labels[_RESERVED + who] = who
                taken.take([domain], slot, _RESERVED + who)

    members: dict[str, list[str]] = {}
    for req in reqs:
        for domain in req.domains:
            members.setdefault(domain, []).append(req.key)
    for domain, keys in sorted(members.items()):
        free = size - len(taken.by_domain.get(domain, {}))
        if len(keys) > free:
            names = ", ".join(labels[k] for k in keys)
            avail = f"{size} {what}s exist" if free == size else f"{free} {what}s are free"
            errors.append(
                f"{len(keys)} clusters share domain {domain} but only {avail}"
                f" ({first}..{last}): {names}"
            )
    if errors:
        return Allocation({}, tuple(errors), ())

    for req in reqs:
        if req.pinned is None:
            continue
        if not first <= req.pinned <= last:
            errors.append(
                f"{labels[req.key]}: pinned {what} {req.pinned} is outside {first}..{last}"
            )
            continue
        for domain in sorted(req.domains):
            other = taken.holder([domain], req.pinned)
            if other is not None and other.startswith(_RESERVED):
                errors.append(
                    f"{labels[req.key]}: pinned {what} {req.pinned} is used by {labels[other]}"
                    f" in domain {domain}"
                )
            elif other is not None:
                errors.append(
                    f"duplicate pinned {what} {req.pinned} in domain {domain}:"
                    f" {labels[other]} and {labels[req.key]}"
                )
        taken.take(req.domains, req.pinned, req.key)
        slots[req.key] = req.pinned
    if errors:
        return Allocation({}, tuple(errors), ())

    for req in reqs:
        if req.key in slots or req.locked is None or not first <= req.locked <= last:
            continue
        other = taken.holder(req.domains, req.locked)
        if other is not None:
            warnings.append(
                f"{labels[req.key]}: locked {what} {req.locked} is now held by {labels[other]};"
                f" a new {what} is chosen"
            )
            continue
        taken.take(req.domains, req.locked, req.key)
        slots[req.key] = req.locked

    for req in reqs:
        if req.key in slots:
            continue
        start = req.preferred if req.preferred is not None else preferred_slot(req.key, size, first)
        for step in range(size):
            slot = first + (start - first + step) % size
            if taken.holder(req.domains, slot) is None:
                taken.take(req.domains, slot, req.key)
                slots[req.key] = slot
                break
        else:
            domains = ", ".join(sorted(req.domains))
            errors.append(f"{labels[req.key]}: no free {what} left in domains {domains}")
    return Allocation(slots, tuple(errors), tuple(warnings))
