"""Effective priority and FAULT from tracked scripts, interfaces and files (keepalived semantics).

- script / interface / process, keepalived's rule (vrrp_track.c, its ``weight_multiplier``):
  ``reverse`` multiplies the weight by -1 but does not change *when* it applies.
  weight 0 -> FAULT while failing/down/the quorum is lost (while OK/up/held, when reversed);
  weight > 0 -> weight x multiplier added while OK/up/held;
  weight < 0 -> weight x multiplier added while failing/down/lost.
  So ``weight 10 reverse`` takes 10 off while the script succeeds, and ``weight -10 reverse``
  adds 10 while it fails.
- file: weight 0 -> FAULT while the value is non-zero; otherwise value x weight (negated by
  ``reverse``) is added, and a result below -253 means FAULT.
- The sum is added to the base priority and clamped to 1..254; the address owner (255) is never
  adjusted, though it can still go to FAULT.
"""

from __future__ import annotations

from collections.abc import Mapping

from vipkeeper._compat import SLOTS, dataclass
from vipkeeper.vrrp.settings import OWNER_PRIORITY, InstanceSettings

FILE_FAULT_BELOW = -253


@dataclass(frozen=True, **SLOTS)
class TrackResult:
    """The outcome of tracking: effective priority and the trackers holding a fault."""

    priority: int
    faults: tuple[str, ...]


def _binary(weight: int, reverse: bool, up: bool, name: str, faults: list[str]) -> int:
    """One script, interface or process: its share of the priority, or a fault."""
    if weight == 0:
        if up == reverse:
            faults.append(name)
        return 0
    if (weight > 0) == up:
        return -weight if reverse else weight
    return 0


def evaluate(
    settings: InstanceSettings,
    scripts: Mapping[str, bool],
    interfaces: Mapping[str, bool],
    files: Mapping[str, int],
    processes: Mapping[str, bool] | None = None,
) -> TrackResult:
    """Compute the effective priority and faults from the current tracker values."""
    faults: list[str] = []
    delta = 0
    for ts in settings.track_scripts:
        delta += _binary(ts.weight, ts.reverse, scripts[ts.name], f"script:{ts.name}", faults)
    for ti in settings.track_interfaces:
        delta += _binary(ti.weight, ti.reverse, interfaces[ti.name], f"interface:{ti.name}", faults)
    for tf in settings.track_files:
        value = files[tf.name]
        if tf.weight == 0:
            if value != 0:
                faults.append(f"file:{tf.name}")
            continue
        contribution = value * tf.weight * (-1 if tf.reverse else 1)
        if contribution < FILE_FAULT_BELOW:
            faults.append(f"file:{tf.name}")
        else:
            delta += contribution
    for tp in settings.track_processes:
        up = processes[tp.name] if processes is not None else tp.initially_up
        delta += _binary(tp.weight, tp.reverse, up, f"process:{tp.name}", faults)
    base = settings.priority
    if base == OWNER_PRIORITY:
        return TrackResult(base, tuple(faults))
    return TrackResult(max(1, min(254, base + delta)), tuple(faults))
