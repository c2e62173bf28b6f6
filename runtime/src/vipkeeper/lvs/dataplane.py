"""The dataplane interface both backends implement, an in-memory fake, and backend selection."""

from __future__ import annotations

import logging
import os
from typing import Protocol

from vipkeeper.lvs.model import Table
from vipkeeper.lvs.reconcile import Op, apply_to

log = logging.getLogger(__name__)


class DataplaneError(RuntimeError):
    """The kernel refused an operation; the message names the service."""


class Dataplane(Protocol):
    """A kernel load balancer that can be read and changed idempotently.

    The kernel calls are coroutines on the daemon's loop: IPVS talks netlink there
    (`net/netlink.py`), nftables hands libnftables' blocking call to a worker (`lvs/nftables.py`).
    """

    name: str

    async def read(self) -> Table:
        """The services currently programmed (only those this backend can represent)."""
        ...

    def normalize(self, desired: Table) -> Table:
        """`desired` as this backend would read it back (drops what it cannot represent)."""
        ...

    async def apply(self, ops: list[Op]) -> None:
        """Carry out `ops` (from `reconcile.plan`)."""
        ...

    async def flush(self) -> None:
        """Remove every service (`lvs_flush`, a bare `lvs_flush_on_stop`)."""
        ...

    async def discard_stale(self) -> None:
        """At start: remove what a previous run that died left in vipkeeper's own objects.

        nftables deletes its own tables (nothing else writes them); IPVS does nothing, its
        services being shared with other tools (keepalived leaves them too: `lvs_flush`).
        """
        ...

    def close(self) -> None:
        """Release sockets."""
        ...


class FakeDataplane:
    """An in-memory dataplane for tests and `vipkeeper check`-style dry runs."""

    name = "fake"

    def __init__(self, table: Table | None = None) -> None:
        self.table: Table = dict(table or {})
        self.applied: list[list[Op]] = []

    async def read(self) -> Table:
        """The in-memory table."""
        return dict(self.table)

    def normalize(self, desired: Table) -> Table:
        """Unchanged: the fake represents everything."""
        return desired

    async def apply(self, ops: list[Op]) -> None:
        """Record and apply `ops`."""
        self.applied.append(list(ops))
        self.table = apply_to(self.table, ops)

    async def flush(self) -> None:
        """Forget every service."""
        self.table = {}

    async def discard_stale(self) -> None:
        """Nothing is left over in memory."""

    def close(self) -> None:
        """Nothing to release."""


async def ipvs_available() -> bool:
    """Whether the running kernel has IPVS (loaded, or loadable as the generic netlink family)."""
    if os.path.exists("/proc/net/ip_vs"):
        return True
    try:
        from vipkeeper.lvs.ipvs import IpvsDataplane

        (await IpvsDataplane.open()).close()
    except Exception:  # any failure means "no IPVS here"
        return False
    return True


async def open_backend(name: str = "auto") -> Dataplane:
    """IPVS where the kernel has it, else nftables (`name` forces one: ipvs, nftables)."""
    if name == "auto":
        name = "ipvs" if await ipvs_available() else "nftables"
        log.info("LVS dataplane: %s", name)
    if name == "ipvs":
        from vipkeeper.lvs.ipvs import IpvsDataplane

        return await IpvsDataplane.open()
    if name == "nftables":
        from vipkeeper.lvs.nftables import NftDataplane

        return NftDataplane()
    raise DataplaneError(f"unknown LVS dataplane {name!r} (auto, ipvs, nftables)")
