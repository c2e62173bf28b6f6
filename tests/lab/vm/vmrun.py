#!/usr/bin/env python3
"""Run a shell script inside a throwaway qemu VM that boots Debian's cloud kernel (it has ip_vs).

    from vmrun import run_in_vm
    res = run_in_vm("modprobe ip_vs && ipvsadm -Ln", {"runtime": REPO / "runtime"}, timeout=120)
    assert res.exit_code == 0, res.output

Each run boots the cached image (image.py) from a copy-on-write overlay, so the base disk never
changes. The payload (files and directories, plus the script as run.sh) travels as a second
ext4 disk, mounted at /payload in the VM; the guest runs `bash /payload/run.sh` as root with
/opt/venv/bin first in PATH, stores its output and exit code on that disk and powers off, and
the host reads them back with debugfs. The VM has no network to the outside (-nic none).
Every run uses its own temporary directory (vk-vm-<pid>-*), the qemu process is always killed
on timeout or Ctrl-C, and leftovers of runs whose process died are removed by the next run.

CLI for developers:  python tests/lab/vm/vmrun.py [--build-only] [-p NAME=PATH] -- CMD...
"""

from __future__ import annotations

import argparse
import contextlib
import ctypes
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

# the tests' shared helpers (runtime/tests/procs.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "runtime" / "tests"))
from image import EXIT_MARKER, PAYLOAD_LABEL, RESULT_DIR, ImageError, VmImage, ensure_image
from procs import pid_exists

PREFIX = "vk-vm"
BOOT_ALLOWANCE = 180.0  # seconds on top of the script's timeout for boot and power-off (tcg)
# Both disks are NVMe: the cloud kernel has NVMe and ext4 built in (virtio_blk is a module), so
# it mounts the root itself and the initramfs stage (several seconds under tcg) is skipped.
KERNEL_ARGS = (
    "root=/dev/nvme0n1 rootfstype=ext4 rootwait rw console=ttyS0 quiet loglevel=3 panic=-1 "
    "mitigations=off systemd.unit=vk-lab.target systemd.show_status=false"
)
# Never copied into the payload: caches and virtualenvs of the host.
PAYLOAD_IGNORE = shutil.ignore_patterns(
    "__pycache__", "*.pyc", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".venv", "*.egg-info"
)
_RESERVED = {"run.sh", RESULT_DIR, "out", "lost+found"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")
_PR_SET_PDEATHSIG = 1


class VmError(RuntimeError):
    """The VM gave no result (boot failure, host-side timeout); the message holds the console."""


@dataclass(frozen=True)
class VmResult:
    """What a script run in the VM left behind."""

    exit_code: int  # the script's exit code; 124 when the guest-side timeout stopped it
    output: str  # the script's stdout and stderr, interleaved
    console: str  # the VM's serial console (kernel and boot messages, the exit marker)
    seconds: float  # wall time of the whole run: boot, script and power-off

    @property
    def timed_out(self) -> bool:
        """True when the guest-side timeout stopped the script."""
        return self.exit_code == 124


def run_in_vm(
    script: str,
    payload: Mapping[str, Path] | None = None,
    timeout: float = 300.0,
    *,
    out_dir: Path | None = None,
    image: VmImage | None = None,
    memory_mb: int = 1024,
    cpus: int = 2,
    boot_allowance: float = BOOT_ALLOWANCE,
) -> VmResult:
    """Boot a VM, run `script` with bash as root, return its exit code and output.

    payload maps a name to a host file or directory, copied to /payload/<name> (writable).
    The script gets `timeout` seconds inside the VM; the host gives up (VmError) after
    timeout + boot_allowance. Files the script writes under /payload/out ($VK_OUT) are copied
    to out_dir when one is given.
    """
    cleanup_stale()
    img = image or ensure_image()
    tmp = Path(tempfile.mkdtemp(prefix=f"{PREFIX}-{os.getpid()}-"))
    try:
        payload_img = _make_payload(tmp, script, payload or {}, timeout)
        overlay = tmp / "overlay.qcow2"
        _check_run(
            [
                "qemu-img",
                "create",
                "-q",
                "-f",
                "qcow2",
                "-b",
                str(img.disk),
                "-F",
                "raw",
                str(overlay),
            ]
        )
        console_path = tmp / "console.log"
        started = time.monotonic()
        _boot(img, overlay, payload_img, console_path, timeout + boot_allowance, cpus, memory_mb)
        seconds = time.monotonic() - started
        console = console_path.read_text(errors="replace")
        exit_code = _read_exit_code(payload_img, console)
        output = _debugfs_cat(payload_img, f"/{RESULT_DIR}/output") or ""
        if out_dir is not None:
            _copy_out(payload_img, out_dir)
        return VmResult(exit_code, output, console, seconds)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _make_payload(tmp: Path, script: str, payload: Mapping[str, Path], timeout: float) -> Path:
    """Stage run.sh and the payload items, then pack them into an ext4 image."""
    stage = tmp / "payload"
    (stage / RESULT_DIR).mkdir(parents=True)
    (stage / "out").mkdir()
    for name, src in payload.items():
        if not _NAME_RE.match(name) or name in _RESERVED:
            raise ValueError(f"payload name {name!r}: use a plain name other than {_RESERVED}")
        if src.is_dir():
            shutil.copytree(src, stage / name, symlinks=True, ignore=PAYLOAD_IGNORE)
        elif src.is_file():
            shutil.copy2(src, stage / name)
        else:
            raise FileNotFoundError(f"payload {name!r}: {src} is neither a file nor a directory")
    (stage / "run.sh").write_text(
        "# written by vmrun.py; VK_PAYLOAD=/payload, VK_OUT=/payload/out\n"
        "export VK_OUT=/payload/out VK_IN_VM=1\n" + script + "\n"
    )
    (stage / RESULT_DIR / "timeout").write_text(f"{max(1, round(timeout))}\n")
    used = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file() and not p.is_symlink())
    size_mb = 256 + 2 * used // (1 << 20)  # sparse: room for $VK_OUT costs nothing
    image = tmp / "payload.img"
    _check_run(
        ["mkfs.ext4", "-q", "-L", PAYLOAD_LABEL, "-d", str(stage), str(image), f"{size_mb}M"]
    )
    shutil.rmtree(stage)
    return image


def _qemu_argv(
    img: VmImage, overlay: Path, payload_img: Path, cpus: int, memory_mb: int
) -> list[str]:
    return [
        "qemu-system-x86_64",
        "-name", f"{PREFIX}-{os.getpid()}",
        "-accel", "tcg",
        "-m", str(memory_mb),
        "-smp", str(cpus),
        "-kernel", str(img.kernel),
        "-append", KERNEL_ARGS,
        "-drive", f"file={overlay},if=none,id=root,format=qcow2",
        "-device", "nvme,drive=root,serial=vkroot",
        "-drive", f"file={payload_img},if=none,id=payload,format=raw",
        "-device", f"nvme,drive=payload,serial={PAYLOAD_LABEL}",
        "-nic", "none",
        "-display", "none",
        "-monitor", "none",
        "-serial", "stdio",
        "-no-reboot",
    ]  # fmt: skip


def _die_with_parent() -> None:
    """In the qemu child: get SIGKILL when the process that started it dies; SIGINT unblocked."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _boot(
    img: VmImage,
    overlay: Path,
    payload_img: Path,
    console_path: Path,
    limit: float,
    cpus: int,
    memory_mb: int,
) -> None:
    """Run qemu until the guest powers off; kill it (by pid) on timeout or interruption."""
    argv = _qemu_argv(img, overlay, payload_img, cpus, memory_mb)
    with console_path.open("wb") as console:
        # Ctrl-C is held back while qemu is spawned: a KeyboardInterrupt inside Popen would leave
        # a running qemu that nothing here knows about. It is delivered right after, inside the
        # try block that ends qemu.
        held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, and we end qemu ourselves
                preexec_fn=_die_with_parent,  # noqa: PLW1509 - only sets a death signal
            )
        except FileNotFoundError as exc:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            raise VmError("qemu-system-x86_64 is not installed (run `make deps`)") from exc
        try:
            signal.pthread_sigmask(signal.SIG_SETMASK, held)
            proc.wait(timeout=limit)
        except subprocess.TimeoutExpired:
            raise VmError(
                f"the VM gave no result within {limit:.0f} s; console tail:\n"
                + _tail(console_path.read_text(errors="replace"))
            ) from None
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    if proc.returncode != 0:
        raise VmError(
            f"qemu exited with {proc.returncode}; console tail:\n"
            + _tail(console_path.read_text(errors="replace"))
        )


def _read_exit_code(payload_img: Path, console: str) -> int:
    text = _debugfs_cat(payload_img, f"/{RESULT_DIR}/exit_code")
    if text is not None and text.strip().isdigit():
        return int(text.strip())
    marker = re.search(rf"{EXIT_MARKER}(\d+)", console)
    if marker:
        return int(marker.group(1))
    raise VmError(
        "the VM powered off without running the payload; console tail:\n" + _tail(console)
    )


def _debugfs_cat(fs_image: Path, path: str) -> str | None:
    """A file's text from an unmounted ext4 image, or None when it does not exist."""
    proc = subprocess.run(
        ["debugfs", "-R", f"cat {path}", str(fs_image)], capture_output=True, check=False
    )
    if proc.returncode != 0 or b"File not found" in proc.stderr:
        return None
    return proc.stdout.decode(errors="replace")


def _copy_out(fs_image: Path, out_dir: Path) -> None:
    """Copy /out of the payload image into out_dir."""
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{PREFIX}-{os.getpid()}-out-") as tmp:
        _check_run(["debugfs", "-R", f"rdump /out {tmp}", str(fs_image)])
        shutil.copytree(Path(tmp) / "out", out_dir, dirs_exist_ok=True)


def _check_run(argv: Sequence[str]) -> None:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True, check=False)
    except FileNotFoundError as exc:
        raise VmError(f"{argv[0]} is not installed (run `make deps`)") from exc
    if proc.returncode != 0:
        raise VmError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")


def _tail(text: str, lines: int = 40) -> str:
    return "\n".join(text.splitlines()[-lines:])


def cleanup_stale() -> list[str]:
    """Kill qemu processes and remove temp dirs of earlier runs whose process is gone."""
    removed: list[str] = []
    owner_re = re.compile(rf"{PREFIX}-(\d+)")
    for proc_dir in Path("/proc").iterdir():
        if not proc_dir.name.isdigit():
            continue
        try:
            argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if not argv or not argv[0].endswith(b"qemu-system-x86_64") or b"-name" not in argv:
            continue
        name = argv[argv.index(b"-name") + 1].decode(errors="replace")
        owner = owner_re.fullmatch(name)
        if owner and not pid_exists(int(owner.group(1))):
            with contextlib.suppress(ProcessLookupError):
                os.kill(int(proc_dir.name), signal.SIGKILL)
            removed.append(f"qemu pid {proc_dir.name} ({name})")
    for entry in Path(tempfile.gettempdir()).glob(f"{PREFIX}-*-*"):
        owner = owner_re.match(entry.name)
        if owner and entry.is_dir() and not pid_exists(int(owner.group(1))):
            shutil.rmtree(entry, ignore_errors=True)
            removed.append(str(entry))
    return removed


def main(argv: Sequence[str] | None = None) -> int:
    """CLI: build the image if needed, run CMD in a VM, print its output, return its exit code."""
    parser = argparse.ArgumentParser(
        description="Run a command in the vipkeeper lab VM (Debian cloud kernel, ip_vs).",
        epilog="example: vmrun.py -p runtime=runtime -- 'modprobe ip_vs && ipvsadm -Ln'",
    )
    parser.add_argument("--build-only", action="store_true", help="build the image and stop")
    parser.add_argument(
        "-p", "--payload", action="append", default=[], metavar="NAME=PATH",
        help="copy a host file or directory to /payload/NAME in the VM (repeatable)",
    )  # fmt: skip
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds for CMD in the VM")
    parser.add_argument("--console", action="store_true", help="also print the serial console")
    parser.add_argument("command", nargs="*", help="shell command (words are joined with spaces)")
    args = parser.parse_args(argv)
    try:
        img = ensure_image()
        if args.build_only:
            print(f"image: {img.disk.parent}")
            return 0
        if not args.command:
            parser.error("give a command after --, or --build-only")
        payload: dict[str, Path] = {}
        for item in args.payload:
            name, sep, path = item.partition("=")
            if not sep:
                parser.error(f"--payload {item!r}: expected NAME=PATH")
            payload[name] = Path(path)
        res = run_in_vm(" ".join(args.command), payload, args.timeout, image=img)
    except (ImageError, VmError, ValueError, OSError) as exc:
        print(f"vmrun: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("vmrun: interrupted (the VM was stopped)", file=sys.stderr)
        return 130
    if args.console:
        sys.stdout.write(res.console)
    sys.stdout.write(res.output)
    sys.stdout.flush()
    print(f"vmrun: exit code {res.exit_code}, {res.seconds:.1f} s in the VM", file=sys.stderr)
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
