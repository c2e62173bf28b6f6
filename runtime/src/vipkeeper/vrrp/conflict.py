# A VIP is held twice when a MAC that is not ours claims it while we hold it as MASTER (or
# while a BACKUP's takeover guard asks whether anyone holds it). This table is the sans-IO
# bookkeeping: the daemon feeds it the claims it hears with `now`, and it says which are new
# conflicts, which ended (no claim for `hold` seconds), and what a guard heard since it began.
"""VIP conflicts: who else claims our addresses, since when, and when it stopped."""

from __future__ import annotations

from dataclasses import field
from ipaddress import IPv4Address, IPv6Address
from typing import Union

from vipkeeper._compat import dataclass

Address = Union[IPv4Address, IPv6Address]


@dataclass(eq=False)
class Conflict:
    """Another MAC claims `address` of `instance` on `ifname`."""

    instance: str
    address: Address
    mac: bytes
    ifname: str
    first_seen: float
    last_seen: float
    answers: int = 1
    logged_at: float = 0.0  # when the daemon last logged it


@dataclass(eq=False)
class ConflictTable:
    """The conflicts heard and still going; `hold`: a conflict ends after that long unheard."""

    hold: float
    active: dict[tuple[str, Address, bytes], Conflict] = field(default_factory=dict)
    detected: int = 0  # conflicts that began
    answers: int = 0  # claims by another MAC, in all

    def heard(
        self, instance: str, address: Address, mac: bytes, ifname: str, now: float
    ) -> tuple[Conflict, bool]:
        """A claim of `address` by `mac`: its conflict, and whether it is new."""
        self.answers += 1
        key = (instance, address, mac)
        found = self.active.get(key)
        if found is not None:
            found.last_seen = now
            found.answers += 1
            found.ifname = ifname
            return found, False
        self.detected += 1
        conflict = Conflict(instance, address, mac, ifname, now, now)
        self.active[key] = conflict
        return conflict, True

    def expire(self, now: float) -> list[Conflict]:
        """The conflicts unheard for `hold` seconds, now ended."""
        ended = [c for c in self.active.values() if now - c.last_seen >= self.hold]
        for c in ended:
            del self.active[(c.instance, c.address, c.mac)]
        return ended

    def of(self, instance: str) -> list[Conflict]:
        """The conflicts of one instance."""
        return [c for c in self.active.values() if c.instance == instance]

    def heard_since(self, instance: str, since: float) -> Conflict | None:
        """A claim on one of the instance's addresses heard at or after `since`, if any."""
        found = [c for c in self.of(instance) if c.last_seen >= since]
        return min(found, key=lambda c: c.last_seen) if found else None

    def forget(self, instance: str) -> None:
        """Drop the instance's conflicts (it stopped, or a reload removed it)."""
        for c in self.of(instance):
            del self.active[(c.instance, c.address, c.mac)]
