"""The builder's typed drafts match the model, and the keyword registry is consistent."""

from __future__ import annotations

import dataclasses
import inspect

import pytest

from vipkeeper.config import model as m
from vipkeeper.config.build import HANDLERS, REGISTRY
from vipkeeper.config.builder.checkers import CHECKER_TYPES, CheckerDraft, TimingDraft, UrlDraft
from vipkeeper.config.builder.core import Draft, Field
from vipkeeper.config.builder.extensions import VipkeeperDraft
from vipkeeper.config.builder.global_defs import GlobalDraft
from vipkeeper.config.builder.lvs import RealServerDraft, VirtualServerDraft
from vipkeeper.config.builder.registry import Keyword, Registry
from vipkeeper.config.builder.unsupported import UNSUPPORTED
from vipkeeper.config.builder.vrrp import (
    AuthDraft,
    InstanceDraft,
    ScriptDraft,
    SyncGroupDraft,
    TrackFileDraft,
)


def fields_of(draft: type[Draft], *, model: bool) -> set[str]:
    """The names of a draft's fields that are (or are not) passed to its model."""
    out = set()
    for cls in draft.__mro__:
        for value in vars(cls).values():
            if isinstance(value, Field) and value.model == model:
                out.add(value.name)
    return out


def params_of(*models: type) -> set[str]:
    return {p for model in models for p in inspect.signature(model).parameters}


TIMING_ONLY = {f.name for f in TimingDraft.INHERITED} - {"alpha"}

DRAFTS = [
    (GlobalDraft, (m.GlobalDefs,), set()),
    (VipkeeperDraft, (m.VipkeeperDefs,), set()),
    (InstanceDraft, (m.VrrpInstanceConfig,), set()),
    (AuthDraft, (m.Authentication,), set()),
    (SyncGroupDraft, (m.VrrpSyncGroup,), set()),
    (ScriptDraft, (m.VrrpScript,), set()),
    (TrackFileDraft, (m.TrackFile,), set()),
    (VirtualServerDraft, (m.VirtualServer,), set()),
    (RealServerDraft, (m.RealServer,), TIMING_ONLY),  # inherited by its checkers only
    (UrlDraft, (m.HttpUrl,), set()),
    (CheckerDraft, tuple(model for model, _ in CHECKER_TYPES.values()), set()),
]


@pytest.mark.parametrize(
    ("draft", "models", "dropped"), DRAFTS, ids=lambda v: getattr(v, "__name__", "")
)
def test_draft_fields_are_model_fields(
    draft: type[Draft], models: tuple[type, ...], dropped: set[str]
) -> None:
    assert all(dataclasses.is_dataclass(model) for model in models)
    assert fields_of(draft, model=True) - dropped <= params_of(*models)
    # a parse-state field never shadows a model field of the same name
    assert not fields_of(draft, model=False) & fields_of(draft, model=True)


def test_unset_field_reads_none_and_is_absent() -> None:
    d = InstanceDraft()
    assert d.priority is None
    assert not d.is_set(InstanceDraft.priority)
    d.priority = 200
    d.notify_master = m.ScriptCommand(command="x", argv=("x",))
    assert d.values == {"priority": 200}
    assert set(d.aside) == {"notify_master"}
    copy = d.copy()
    copy.priority = 100
    assert d.priority == 200


def test_implemented_and_unsupported_never_overlap() -> None:
    for context, table in UNSUPPORTED.items():
        assert not set(table) & set(HANDLERS.get(context, {})), context
    clash = {"vrrp_instance": {"priority": Keyword("priority", "vrrp_instance", False, None)}}
    with pytest.raises(ValueError, match="priority"):
        Registry(HANDLERS, clash)


def test_registry_marks_each_context_keyword() -> None:
    assert REGISTRY.lookup("vrrp_instance", "priority") == Keyword(
        "priority", "vrrp_instance", True, None
    )
    assert REGISTRY.lookup("vrrp_instance", "virtual_ipaddress") == Keyword(
        "virtual_ipaddress", "vrrp_instance", True, "[]"
    )
    assert REGISTRY.lookup("real_server", "SSL_GET") == Keyword(
        "SSL_GET", "real_server", True, "HTTP_GET"
    )
    assert REGISTRY.lookup("vrrp_instance", "use_ipvlan") == Keyword(
        "use_ipvlan", "vrrp_instance", False, None
    )
    assert REGISTRY.lookup("vrrp_instance", "no_such_keyword") is None
