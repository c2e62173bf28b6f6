"""From the block tree to the typed model: one handler per implemented keyword.

Handlers are small functions kept in one table per block context (`HANDLERS`), and they set
the typed fields of that block's draft (`builder/core.py`). The keywords keepalived has and
vipkeeper does not implement are in `builder/unsupported.py`; `REGISTRY` merges the two, so
an unsupported keyword gets a warning and an unknown one an error with a suggestion.
Defaults and inheritance (global -> instance, virtual_server -> real_server -> checker) are
resolved here, so the model is final.

The parts are in the `builder` package: its docstring lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vipkeeper.config.builder.checkers import CHECKER_HANDLERS
from vipkeeper.config.builder.core import Builder
from vipkeeper.config.builder.extensions import VIPKEEPER, VIPKEEPER_HANDLERS, finish_vipkeeper
from vipkeeper.config.builder.global_defs import GLOBAL_DEFS, GLOBAL_HANDLERS, finish_global_defs
from vipkeeper.config.builder.lvs import LVS_ROOT_HANDLERS, RS_HANDLERS, VS_HANDLERS
from vipkeeper.config.builder.registry import Handler, Registry
from vipkeeper.config.builder.tls import SSL_HANDLERS, SSL_ROOT, attach_ssl, finish_ssl
from vipkeeper.config.builder.trackproc import (
    TRACK_PROCESS_HANDLERS,
    TRACK_PROCESS_ROOT_HANDLERS,
    owner_groups_unweighted,
)
from vipkeeper.config.builder.unsupported import UNSUPPORTED
from vipkeeper.config.builder.vrrp import (
    AUTH_HANDLERS,
    INSTANCE_HANDLERS,
    SCRIPT_HANDLERS,
    SYNC_GROUP_HANDLERS,
    TRACK_FILE_HANDLERS,
    VRRP_ROOT_HANDLERS,
    finish_instance,
)
from vipkeeper.config.diagnostics import Diagnostic
from vipkeeper.config.model import Config
from vipkeeper.config.parser import Node
from vipkeeper.config.syncweights import ignore_weights

__all__ = ["HANDLERS", "REGISTRY", "Builder", "build"]

HANDLERS: dict[str, Mapping[str, Handler[Any]]] = {
    "root": {
        "global_defs": GLOBAL_DEFS,
        **VRRP_ROOT_HANDLERS,
        **TRACK_PROCESS_ROOT_HANDLERS,
        **LVS_ROOT_HANDLERS,
        "vipkeeper": VIPKEEPER,
        "SSL": SSL_ROOT,
    },
    "SSL": SSL_HANDLERS,
    "global_defs": GLOBAL_HANDLERS,
    "vipkeeper": VIPKEEPER_HANDLERS,
    "vrrp_instance": INSTANCE_HANDLERS,
    "authentication": AUTH_HANDLERS,
    "vrrp_sync_group": SYNC_GROUP_HANDLERS,
    "vrrp_script": SCRIPT_HANDLERS,
    "track_file": TRACK_FILE_HANDLERS,
    "vrrp_track_process": TRACK_PROCESS_HANDLERS,
    "virtual_server": VS_HANDLERS,
    "real_server": RS_HANDLERS,
    **CHECKER_HANDLERS,
}

REGISTRY = Registry(HANDLERS, UNSUPPORTED)


def build(nodes: list[Node], diagnostics: list[Diagnostic]) -> tuple[Config, Builder]:
    """Build the model from the tree; the Builder keeps the drafts for validation."""
    b = Builder(diagnostics, REGISTRY)
    b.build_root(nodes)
    g = finish_global_defs(b)
    member_of: dict[str, str] = {}
    for group in b.sync_groups:
        for member in group.group:
            member_of.setdefault(member, group.name)
    instances = []
    for _, d in b.instances:
        instances.append(finish_instance(g, d, member_of.get(d.name or "")))
    ssl = finish_ssl(b)
    config = Config(
        global_defs=g,
        vrrp_scripts=tuple(b.scripts),
        track_files=tuple(b.track_files),
        track_processes=tuple(b.track_processes),
        vrrp_instances=tuple(instances),
        vrrp_sync_groups=tuple(owner_groups_unweighted(b, b.sync_groups, instances)),
        virtual_server_groups=tuple(b.vs_groups),
        virtual_servers=attach_ssl(tuple(b.virtual_servers), ssl),
        static_ipaddresses=tuple(b.static_ips),
        static_routes=tuple(b.static_routes),
        static_rules=tuple(b.static_rules),
        vipkeeper=finish_vipkeeper(b),
        ssl=ssl,
    )
    return ignore_weights(config, diagnostics), b
