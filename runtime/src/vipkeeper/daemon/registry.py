"""The running instances, shared by the daemon's pieces (scheduler, receiver, executor, reload).

A reload replaces the tables whole; every piece reads them through the one `Registry`, so
none holds a stale copy.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import field
from typing import Any

from vipkeeper._compat import dataclass
from vipkeeper.daemon.build import InstancePlan
from vipkeeper.vrrp.actions import Action
from vipkeeper.vrrp.instance import VrrpInstance
from vipkeeper.vrrp.syncgroup import SyncGroup


@dataclass(eq=False)
class Managed:
    """A running instance: its plan, its core and what the daemon tracks about it."""

    plan: InstancePlan
    core: VrrpInstance
    last_transition: dict[str, Any] | None = None
    transitions: int = 0
    transitions_by: dict[tuple[str, str, str], int] = field(
        default_factory=dict
    )  # (from, to, reason)
    drop_logged: dict[str, float] = field(default_factory=dict)
    retired: InstancePlan | None = None  # the plan a reload just replaced, while it applies

    @property
    def name(self) -> str:
        """The instance name."""
        return self.plan.settings.name

    @property
    def key(self) -> tuple[str, int, int]:
        """(interface, family, VRID): how received packets find the instance."""
        s = self.plan.settings
        return (self.plan.interface, s.family, s.vrid)


@dataclass(eq=False)
class Registry:
    """The instances by name, by received-packet key, and their sync groups."""

    instances: dict[str, Managed] = field(default_factory=dict)
    by_key: dict[tuple[str, int, int], Managed] = field(default_factory=dict)
    groups: dict[str, SyncGroup] = field(default_factory=dict)


# Carries out one instance's actions at `now` (Executor.run): passed to the pieces that feed
# events to the cores.
Run = Callable[[Managed, list[Action], float], None]
