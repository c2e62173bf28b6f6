"""The modules' docs as ansible-doc merges them, and the AnsibleModule each module builds."""

from __future__ import annotations

import contextlib
import importlib
from pathlib import Path
from types import ModuleType
from typing import Any
from unittest import mock

import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

from ansible_collections.vipkeeper.vrrp.plugins.doc_fragments.common import ModuleDocFragment

MODULES_DIR = Path(__file__).resolve().parents[3] / "plugins" / "modules"
MODULES = sorted(p.stem for p in MODULES_DIR.glob("*.py") if not p.stem.startswith("_"))
FRAGMENT = "vipkeeper.vrrp.common"


def load(name: str) -> ModuleType:
    return importlib.import_module(f"ansible_collections.vipkeeper.vrrp.plugins.modules.{name}")


def fragment(slug: str) -> dict[str, Any]:
    """One of our fragments: vipkeeper.vrrp.common or vipkeeper.vrrp.common.<var>."""
    var = slug[len(FRAGMENT) + 1 :].upper() or "DOCUMENTATION"
    loaded: dict[str, Any] = yaml.safe_load(getattr(ModuleDocFragment, var))
    return loaded


def documented(name: str) -> dict[str, Any]:
    """The module's DOCUMENTATION with our fragments merged under it, as ansible-doc does."""
    doc: dict[str, Any] = yaml.safe_load(load(name).DOCUMENTATION)
    for slug in doc.get("extends_documentation_fragment", []):
        if not slug.startswith(FRAGMENT):
            continue
        for key in ("options", "attributes"):
            for item, value in fragment(slug).get(key, {}).items():
                doc.setdefault(key, {})[item] = {**value, **doc.get(key, {}).get(item, {})}
    return doc


class _Built(Exception):
    pass


def module_kwargs(name: str) -> dict[str, Any]:
    """The keyword arguments main() gives AnsibleModule (argument_spec, required_if, ...)."""
    module = load(name)
    seen: dict[str, Any] = {}

    def capture(**kwargs: Any) -> None:
        seen.update(kwargs)
        raise _Built

    with mock.patch.object(module, "AnsibleModule", capture), contextlib.suppress(_Built):
        module.main()
    return seen


def validation_errors(name: str, params: dict[str, Any]) -> str:
    """What AnsibleModule's argument checks would fail with, for these task arguments."""
    kwargs = module_kwargs(name)
    validator = ArgumentSpecValidator(
        kwargs["argument_spec"],
        mutually_exclusive=kwargs.get("mutually_exclusive"),
        required_together=kwargs.get("required_together"),
        required_one_of=kwargs.get("required_one_of"),
        required_if=kwargs.get("required_if"),
        required_by=kwargs.get("required_by"),
    )
    return " ".join(validator.validate(params).errors.messages)


def spec_view(option: dict[str, Any]) -> dict[str, Any]:
    """What documentation and argument spec must agree on."""
    keys = ("type", "required", "default", "choices", "elements")
    return {k: option[k] for k in keys if k in option and option[k] not in (None, False)}
