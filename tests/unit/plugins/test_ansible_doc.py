"""ansible-doc shows every address of the docs as written.

ansible-doc's text mode strips what looks like an RST directive (`.. name::`), so a bare
"224.0.0.18 / ff02::12" came out as "224.0.0.1812". Addresses in C() or V() markup are safe. This
renders every module, filter and role of the collection with ansible-doc and looks for each
address of its documentation, whole, in the text.
"""

from __future__ import annotations

import functools
import ipaddress
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

COLLECTION = Path(__file__).resolve().parents[3]
COLLECTIONS_ROOT = COLLECTION.parents[2]  # the directory holding ansible_collections/
PLUGINS = [
    *(("module", p.stem) for p in sorted((COLLECTION / "plugins/modules").glob("[!_]*.py"))),
    *(("filter", p.stem) for p in sorted((COLLECTION / "plugins/filter").glob("[!_]*.py"))),
    *(("role", p.parts[-3]) for p in sorted(COLLECTION.glob("roles/*/meta/argument_specs.yml"))),
]
# Where ansible-doc's text of one plugin starts, when it shows several: its FQCN. ansible-core
# 2.17+ writes "> MODULE vipkeeper.vrrp.x (path)" and "> ROLE: *vipkeeper.vrrp.x* (path)";
# 2.16 writes "> VIPKEEPER.VRRP.X    (path)".
HEADER = re.compile(r"^> (?:[A-Z]+:? )?\*?((?i:vipkeeper\.vrrp\.\w+))\*?\s+\(", re.MULTILINE)
# Anything that may be an IPv4 or IPv6 address or network; ipaddress decides.
CANDIDATE = re.compile(r"[0-9A-Fa-f]*[.:][0-9A-Fa-f.:]+(?:/\d{1,3})?")


def ansible_doc(*args: str) -> str:
    env = dict(os.environ, ANSIBLE_COLLECTIONS_PATH=str(COLLECTIONS_ROOT), ANSIBLE_NOCOLOR="1")
    env["PAGER"] = "cat"
    done = subprocess.run(
        [sys.executable, "-m", "ansible.cli.doc", *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for key, value in node.items():
            if key not in ("filename", "collection", "plugin_name", "version_added_collection"):
                yield from strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from strings(item)


def addresses(text: str) -> set[str]:
    found = set()
    for token in CANDIDATE.findall(text):
        token = token.strip(".:")
        if token.count(".") != 3 and "::" not in token and token.count(":") != 7:
            continue
        try:
            ipaddress.ip_interface(token)
        except ValueError:
            continue
        found.add(token)
    return found


def whole(address: str, text: str) -> bool:
    """`address` appears in `text` as a token of its own (not glued to another)."""
    pattern = r"(?<![0-9A-Za-z.:/])" + re.escape(address) + r"(?![0-9A-Za-z:/]|\.\d)"
    return re.search(pattern, text) is not None


def test_the_check_catches_the_mangling() -> None:
    """What ansible-doc made of "224.0.0.18 / ff02::12" fails the check."""
    assert addresses("clusters use 224.0.0.18 / ff02::12.") == {"224.0.0.18", "ff02::12"}
    assert not whole("224.0.0.18", "clusters use 224.0.0.1812.")
    assert whole("224.0.0.18", "clusters use `224.0.0.18' / `ff02::12'.")
    assert whole("ff02::5650:0/120", "(default `ff02::5650:0/120')")


@functools.cache
def rendered(kind: str) -> tuple[dict[str, Any], dict[str, str]]:
    """Every plugin of `kind`, by FQCN: its documentation as JSON and as ansible-doc's text.

    One ansible-doc run per kind and format (it starts in about a second) rather than two per
    plugin; the text is cut at each plugin's header ("> MODULE fqcn (path)", "> ROLE: *fqcn*").
    """
    fqcns = [f"vipkeeper.vrrp.{n}" for k, n in PLUGINS if k == kind]
    docs: dict[str, Any] = json.loads(ansible_doc("--json", "-t", kind, *fqcns))
    parts = HEADER.split(ansible_doc("-t", kind, *fqcns))
    texts = dict(zip((fqcn.lower() for fqcn in parts[1::2]), parts[2::2]))
    assert len(parts) == 2 * len(fqcns) + 1 and sorted(texts) == sorted(fqcns), parts[1::2]
    assert sorted(docs) == sorted(fqcns)
    return docs, texts


@pytest.mark.parametrize(("kind", "name"), PLUGINS, ids=[f"{k}:{n}" for k, n in PLUGINS])
def test_ansible_doc_keeps_every_address(kind: str, name: str) -> None:
    fqcn = f"vipkeeper.vrrp.{name}"
    docs, texts = rendered(kind)
    wanted = addresses("\n".join(strings({fqcn: docs[fqcn]})))
    shown = texts[fqcn]
    mangled = sorted(a for a in wanted if not whole(a, shown))
    assert not mangled, f"ansible-doc -t {kind} {fqcn} mangles {mangled}"
