"""Weighted tracking that keepalived ignores: sync group members and address owners.

keepalived (vrrp_complete_instance) lets an instance of a sync group adjust its priority
only when the group sets `sync_group_tracking_weight` (or the deprecated `global_tracking`),
and never lets the address owner (priority 255) adjust it. For such an instance it reports,
as config errors, and then runs with:
- a tracked interface with a weight: weight 0 in a sync group (down means FAULT), dropped
  for the address owner;
- a tracked script with a weight: dropped;
- a tracked file with the default weight (1): weight 0; with another weight: dropped.
This module applies that to the model, so that the daemon does what keepalived does, and
reports each change as a `defaulted` error (keepalived -t exits 5; keepalived runs).
"""

from __future__ import annotations

import dataclasses

from vipkeeper.config.diagnostics import Code, Diagnostic, Severity
from vipkeeper.config.model import Config, Location, VrrpInstanceConfig

OWNER_PRIORITY = 255


def _diag(where: Location | None, fallback: Location | None, message: str) -> Diagnostic:
    loc = where or fallback
    return Diagnostic(
        loc.file if loc else "<config>",
        loc.line if loc else 0,
        loc.column if loc else 0,
        Severity.ERROR,
        message,
        Code.DEFAULTED,
    )


def _ignore(
    config: Config, inst: VrrpInstanceConfig, sync: bool, out: list[Diagnostic]
) -> VrrpInstanceConfig:
    why = "SYNC group" if sync else "address owner"
    name = f"({inst.name})"
    interfaces = []
    for ti in inst.track_interfaces:
        if ti.weight == 0 or ti.name == inst.interface:  # its own: reported by validate
            interfaces.append(ti)
            continue
        word = "weight " if sync else ""
        msg = f"{name} ignoring {ti.name} tracked interface {word}due to {why}"
        out.append(_diag(ti.location, inst.location, msg))
        if sync:
            interfaces.append(dataclasses.replace(ti, weight=0))
    scripts_by_name = {s.name: s for s in config.vrrp_scripts}
    scripts = []
    for ref in inst.track_scripts:
        script = scripts_by_name.get(ref.name)
        weight = ref.weight if ref.weight is not None else (script.weight if script else 0)
        if weight == 0:
            scripts.append(ref)
            continue
        why_script = why if sync else "address_owner"
        msg = f"{name} ignoring tracked script {ref.name} with weights due to {why_script}"
        out.append(_diag(ref.location, inst.location, msg))
    files_by_name = {f.name: f for f in config.track_files}
    files = []
    why_file = why if sync else "address_owner"
    for fref in inst.track_files:
        tfile = files_by_name.get(fref.name)
        weight = fref.weight if fref.weight is not None else (tfile.weight if tfile else 0)
        if weight == 0 or tfile is None:  # an undefined one: validate reports it
            files.append(fref)
        elif weight == 1:
            msg = (
                f"{name} ignoring weight from tracked file {fref.name} due to {why_file}."
                " specify weight 0"
            )
            out.append(_diag(fref.location, inst.location, msg))
            files.append(dataclasses.replace(fref, weight=0))
        else:
            msg = f"{name} ignoring tracked file {fref.name} with weight {weight} due to {why_file}"
            out.append(_diag(fref.location, inst.location, msg))
    return dataclasses.replace(
        inst,
        track_interfaces=tuple(interfaces),
        track_scripts=tuple(scripts),
        track_files=tuple(files),
    )


def ignore_weights(config: Config, out: list[Diagnostic]) -> Config:
    """The config with keepalived's treatment of weights it ignores; diagnostics to `out`."""
    weighted = {
        g.name: g.sync_group_tracking_weight or g.global_tracking for g in config.vrrp_sync_groups
    }
    instances = []
    changed = False
    for inst in config.vrrp_instances:
        group = inst.sync_group
        sync = group is not None and not weighted.get(group, False)
        if sync or inst.priority == OWNER_PRIORITY:
            new = _ignore(config, inst, sync, out)
            changed = changed or new != inst
            inst = new
        instances.append(inst)
    return dataclasses.replace(config, vrrp_instances=tuple(instances)) if changed else config
