"""What a lab is made of, recorded on disk before each piece is created, so `down` can undo it.

One directory per lab under the state root (/var/tmp/vipkeeper-lab/NAME, or
$VIPKEEPER_LAB_STATE/NAME): state.json, the lab's SSH key pair, the generated inventory,
ssh_config and hosts file, and one console log per container.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vklab.procs import Proc

STATE_VERSION = 1
DEFAULT_ROOT = Path("/var/tmp/vipkeeper-lab")
# Host names are NAME-lbN / NAME-client: keep them valid DNS labels.
NAME_RE = re.compile(r"^[a-z][a-z0-9-]{0,30}[a-z0-9]$|^[a-z]$")

STARTING = "starting"
UP = "up"
# A host recorded before releases existed runs the lab's base tree, bookworm.
DEFAULT_RELEASE = "bookworm"


def state_root() -> Path:
    """Directory holding every lab's state: $VIPKEEPER_LAB_STATE or /var/tmp/vipkeeper-lab."""
    return Path(os.environ.get("VIPKEEPER_LAB_STATE", str(DEFAULT_ROOT)))


@dataclass(frozen=True)
class Host:
    """One container of the lab."""

    name: str
    group: str
    address: str
    nspawn: Proc | None = None
    init: Proc | None = None
    release: str = DEFAULT_RELEASE
    base: str = ""  # its root tree; empty: the lab's base (LabState.base)

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "name": self.name,
            "group": self.group,
            "address": self.address,
            "release": self.release,
            "base": self.base,
            "nspawn": self.nspawn.to_json() if self.nspawn else None,
            "init": self.init.to_json() if self.init else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Host:
        """Inverse of to_json."""
        return cls(
            name=data["name"],
            group=data["group"],
            address=data["address"],
            nspawn=Proc.from_json(data["nspawn"]) if data.get("nspawn") else None,
            init=Proc.from_json(data["init"]) if data.get("init") else None,
            release=data.get("release", DEFAULT_RELEASE),
            base=data.get("base", ""),
        )


@dataclass(frozen=True)
class LabState:
    """Everything `down` needs to remove a lab, even after the creating process died."""

    name: str
    phase: str
    bridge: str
    subnet_index: int
    base: str
    creator: Proc
    owner: Proc | None = None
    hosts: tuple[Host, ...] = field(default_factory=tuple)

    @property
    def network(self) -> str:
        """The lab's /24."""
        return f"10.213.{self.subnet_index}.0/24"

    @property
    def controller_address(self) -> str:
        """This machine's address on the lab bridge."""
        return f"10.213.{self.subnet_index}.1"

    def with_host(self, host: Host) -> LabState:
        """Copy with HOST added or replaced (by name)."""
        hosts = [h for h in self.hosts if h.name != host.name]
        order = [h.name for h in self.hosts]
        hosts.append(host)
        hosts.sort(key=lambda h: order.index(h.name) if h.name in order else len(order))
        return replace(self, hosts=tuple(hosts))

    def to_json(self) -> dict[str, Any]:
        """JSON form."""
        return {
            "version": STATE_VERSION,
            "name": self.name,
            "phase": self.phase,
            "bridge": self.bridge,
            "subnet_index": self.subnet_index,
            "network": self.network,
            "base": self.base,
            "creator": self.creator.to_json(),
            "owner": self.owner.to_json() if self.owner else None,
            "hosts": [h.to_json() for h in self.hosts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LabState:
        """Inverse of to_json."""
        return cls(
            name=data["name"],
            phase=data["phase"],
            bridge=data["bridge"],
            subnet_index=int(data["subnet_index"]),
            base=data["base"],
            creator=Proc.from_json(data["creator"]),
            owner=Proc.from_json(data["owner"]) if data.get("owner") else None,
            hosts=tuple(Host.from_json(h) for h in data.get("hosts", [])),
        )


class StateDir:
    """The on-disk directory of one lab."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = name
        self.path = (root or state_root()) / name

    @property
    def state_file(self) -> Path:
        """state.json."""
        return self.path / "state.json"

    @property
    def key(self) -> Path:
        """The lab's private SSH key."""
        return self.path / "id_ed25519"

    @property
    def inventory(self) -> Path:
        """Generated Ansible inventory."""
        return self.path / "inventory.yml"

    @property
    def ssh_config(self) -> Path:
        """ssh -F file naming every host."""
        return self.path / "ssh_config"

    @property
    def hosts_file(self) -> Path:
        """/etc/hosts bound read-only into every container."""
        return self.path / "hosts"

    @property
    def authorized_keys(self) -> Path:
        """root's authorized_keys bound read-only into every container."""
        return self.path / "authorized_keys"

    def console_log(self, host: str) -> Path:
        """Where a container's console output goes."""
        return self.path / f"{host}.console.log"

    def exists(self) -> bool:
        """True when a state file is present."""
        return self.state_file.is_file()

    def load(self) -> LabState:
        """Read state.json."""
        return LabState.from_json(json.loads(self.state_file.read_text()))

    def try_load(self) -> LabState | None:
        """state.json, or None when absent or vanishing under a concurrent `down`."""
        try:
            return self.load()
        except (OSError, ValueError, KeyError):
            return None

    def save(self, state: LabState) -> None:
        """Write state.json atomically (a crash leaves the old or the new file, never half)."""
        self.path.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state.to_json(), indent=2) + "\n")
        os.replace(tmp, self.state_file)


def all_labs(root: Path | None = None) -> list[StateDir]:
    """Every lab directory under the state root (with or without a state file)."""
    base = root or state_root()
    if not base.is_dir():
        return []
    return [StateDir(p.name, base) for p in sorted(base.iterdir()) if p.is_dir()]
