"""The image cache: keyed by its inputs, built atomically, aborted builds and old images removed.

The real build (debootstrap, several minutes) runs once per recipe through test_vm.py; here the
build step is replaced so that the cache logic itself is checked quickly."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import image
import pytest


def _fake_build(work: Path) -> None:
    out = work / "image"
    out.mkdir(parents=True)
    for name in ("vmlinuz", "initrd.img", "disk.img"):
        (out / name).write_text(name)
    (out / "manifest.json").write_text(json.dumps({"key": image.image_key()}))


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_key_follows_every_input(monkeypatch: pytest.MonkeyPatch) -> None:
    key = image.image_key()
    assert key == image.image_key()
    monkeypatch.setattr(image, "WHEELS", (*image.WHEELS, "extra==1"))
    assert image.image_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(image, "GUEST_FILES", {**image.GUEST_FILES, "etc/x": ("x", 0o644)})
    assert image.image_key() != key
    monkeypatch.undo()
    monkeypatch.setattr(image, "LATE_PACKAGES", ())
    assert image.image_key() != key


def test_missing_image_is_built_once_and_old_ones_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def build(work: Path) -> None:
        calls.append(work)
        _fake_build(work)

    monkeypatch.setattr(image, "_build", build)
    old = tmp_path / "vm-0000000000000000"
    old.mkdir()
    (old / "manifest.json").write_text("{}")
    aborted = tmp_path / f".vm-build-{image.image_key()}-{_dead_pid()}"
    aborted.mkdir()

    img = image.ensure_image(tmp_path)
    assert img.disk == tmp_path / f"vm-{image.image_key()}" / "disk.img"
    assert img.kernel.read_text() == "vmlinuz"
    assert len(calls) == 1
    assert not old.exists()
    assert not aborted.exists()
    assert not calls[0].exists()  # the temporary build directory is gone

    assert image.ensure_image(tmp_path) == img
    assert len(calls) == 1  # cached: not built again


def test_failed_build_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def build(work: Path) -> None:
        _fake_build(work)
        raise image.ImageError("debootstrap failed with exit code 1")

    monkeypatch.setattr(image, "_build", build)
    with pytest.raises(image.ImageError, match="debootstrap failed"):
        image.ensure_image(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["vm-build.lock"]


def test_build_step_failure_names_the_step_and_shows_the_log(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    with pytest.raises(image.ImageError, match=r"(?s)mkfs.ext4 failed with exit code 3:.*boom"):
        image._run("mkfs.ext4", ["sh", "-c", "echo boom; exit 3"], log, timeout=10)
    with pytest.raises(image.ImageError, match="not installed"):
        image._run("debootstrap", ["vk-no-such-tool"], log, timeout=10)
