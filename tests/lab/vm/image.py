"""The lab VM image: Debian bookworm with the cloud kernel (which has ip_vs), built once and cached.

    from image import ensure_image
    img = ensure_image()  # VmImage(kernel, initrd, disk) in /var/cache/vipkeeper-lab/vm-<key>/

The machine's own kernel lacks IPVS, so IPVS tests boot this image with qemu (see vmrun.py).
The cache key hashes every input (suite, mirror, packages, wheels, guest files, BUILD_VERSION):
a changed recipe builds a new image next to the old one. A build runs in a temporary directory
under an exclusive lock and is renamed into place at the end, so a reader sees a complete image
or none, and a killed build is removed by the next one. The disk is never written after the
build (read-only file; each VM run writes to its own copy-on-write overlay). Stdlib only.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# the tests' shared helpers (runtime/tests/procs.py)
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "runtime" / "tests"))
from procs import pid_exists

# Bump when anything below changes the image in a way the key does not already capture.
BUILD_VERSION = 1
SUITE = "bookworm"
MIRROR = os.environ.get("VIPKEEPER_LAB_MIRROR", "http://deb.debian.org/debian")
CACHE_ROOT = Path(os.environ.get("VIPKEEPER_LAB_CACHE", "/var/cache/vipkeeper-lab"))
DISK_SIZE = "1500M"
NSPAWN_PROPAGATE = Path("/run/systemd/nspawn/propagate")
HOST_PIP = Path(__file__).resolve().parents[3] / ".venv" / "bin" / "pip"

# Installed by debootstrap itself.
BASE_PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "iproute2",
    "python3",
    "python3-venv",
    "ipvsadm",
    "nftables",
    "iputils-ping",
    "curl",
    "procps",
    "kmod",
)
# Installed by apt inside the tree afterwards, with service starts forbidden (policy-rc.d).
LATE_PACKAGES: tuple[str, ...] = ("linux-image-cloud-amd64", "keepalived")
# Downloaded on the host from PyPI (the VM has no network), installed offline into /opt/venv.
# Debian's python3-pyroute2 is too old for IPVS.
WHEELS: tuple[str, ...] = (
    "pyroute2==0.9.7",
    "pytest==9.2.0",
    "pytest-timeout==2.4.0",
    "hypothesis==6.170.15",
)
# Units that would only slow the boot down; the VM boots straight to vk-lab.target anyway.
MASKED_UNITS: tuple[str, ...] = (
    "apt-daily.timer",
    "apt-daily-upgrade.timer",
    "dpkg-db-backup.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "systemd-tmpfiles-clean.timer",
    "getty@tty1.service",
    "serial-getty@ttyS0.service",
    "systemd-networkd-wait-online.service",
    "systemd-timesyncd.service",
    "systemd-update-utmp.service",
    "systemd-update-utmp-runlevel.service",
    # No hardware to manage: device nodes come from devtmpfs, modules are loaded by name.
    "systemd-udevd.service",
    "systemd-udev-trigger.service",
    "systemd-udev-settle.service",
    "systemd-udevd-control.socket",
    "systemd-udevd-kernel.socket",
    # Mounts and helpers a throwaway test VM does not use.
    "proc-sys-fs-binfmt_misc.automount",
    "systemd-binfmt.service",
    "sys-kernel-config.mount",
    "sys-kernel-debug.mount",
    "sys-kernel-tracing.mount",
    "sys-fs-fuse-connections.mount",
    "dev-hugepages.mount",
    "modprobe@dm_mod.service",
    "modprobe@efi_pstore.service",
    "modprobe@loop.service",
    "modprobe@fuse.service",
    "modprobe@configfs.service",
    "systemd-journal-flush.service",
    "systemd-random-seed.service",
    "systemd-pstore.service",
    "systemd-repart.service",
    "systemd-firstboot.service",
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
)
# Generators that find nothing to do in this VM: each one is an exec at every boot.
MASKED_GENERATORS: tuple[str, ...] = (
    "systemd-bless-boot-generator",
    "systemd-cryptsetup-generator",
    "systemd-getty-generator",
    "systemd-gpt-auto-generator",
    "systemd-hibernate-resume-generator",
    "systemd-integritysetup-generator",
    "systemd-rc-local-generator",
    "systemd-system-update-generator",
    "systemd-sysv-generator",
    "systemd-veritysetup-generator",
)
# The initramfs only needs the virtio disk (ext4 is built in): a small one unpacks fast.
# Written before the kernel is installed, so its postinst builds the small initramfs.
INITRAMFS_FILES: dict[str, tuple[str, int]] = {
    "etc/initramfs-tools/conf.d/vk-lab.conf": ("MODULES=list\n", 0o644),
    "usr/share/initramfs-tools/modules.d/vk-lab": ("virtio_pci\nvirtio_blk\n", 0o644),
}

PAYLOAD_LABEL = "vkpayload"  # the payload disk is found by its ext4 label (no udev needed)
RESULT_DIR = ".vk"  # under the payload mount: timeout (in), output and exit_code (out)
EXIT_MARKER = "VK-PAYLOAD-EXIT="

# The guest side of the payload protocol (see vmrun.py): mount the payload disk, run run.sh
# under a timeout, keep its output and exit code on that disk, print a marker, power off.
GUEST_RUNNER = f"""#!/bin/bash
# vipkeeper lab VM: run the payload at boot, record the result on the payload disk, power off.
mkdir -p /payload
if ! mount -t ext4 LABEL={PAYLOAD_LABEL} /payload; then
    echo "{EXIT_MARKER}255 (no payload disk)" >/dev/ttyS0
    exit 1
fi
res=/payload/{RESULT_DIR}
mkdir -p "$res"
limit=$(cat "$res/timeout" 2>/dev/null || echo 600)
export PATH=/opt/venv/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 VK_PAYLOAD=/payload VK_RESULT_DIR="$res" PYTHONDONTWRITEBYTECODE=1
cd /payload
timeout -k 5 "$limit" /bin/bash /payload/run.sh </dev/null >"$res/output" 2>&1
rc=$?
echo "$rc" >"$res/exit_code"
sync
umount /payload
echo "{EXIT_MARKER}$rc" >/dev/ttyS0
exit 0
"""

GUEST_SERVICE = """[Unit]
Description=vipkeeper lab payload
DefaultDependencies=no
Requires=sysinit.target
After=sysinit.target systemd-modules-load.service
SuccessAction=poweroff-immediate
FailureAction=poweroff-immediate

[Service]
Type=oneshot
ExecStart=/usr/local/sbin/vk-payload-run
StandardOutput=journal
StandardError=journal
"""

GUEST_TARGET = """[Unit]
Description=vipkeeper lab VM (runs the payload, then powers off)
Requires=sysinit.target vk-payload.service
After=sysinit.target
AllowIsolate=yes
"""

GUEST_FILES: dict[str, tuple[str, int]] = {
    "usr/local/sbin/vk-payload-run": (GUEST_RUNNER, 0o755),
    "etc/systemd/system/vk-payload.service": (GUEST_SERVICE, 0o644),
    "etc/systemd/system/vk-lab.target": (GUEST_TARGET, 0o644),
    "etc/hostname": ("vk-vm\n", 0o644),
    "etc/hosts": ("127.0.0.1 localhost\n127.0.1.1 vk-vm\n::1 localhost\n", 0o644),
    "etc/fstab": (
        "# root comes from the kernel command line; the payload runner mounts vdb\n",
        0o644,
    ),
    "etc/modules-load.d/vk-lab.conf": ("ip_vs\n", 0o644),
    "etc/systemd/journald.conf.d/vk-lab.conf": ("[Journal]\nStorage=volatile\n", 0o644),
}


class ImageError(RuntimeError):
    """The VM image could not be built; the message says which step failed and why."""


@dataclass(frozen=True)
class VmImage:
    """A built image: kernel and initrd for -kernel/-initrd, and the raw ext4 root disk."""

    kernel: Path
    initrd: Path
    disk: Path


def image_key() -> str:
    """A short hash of every input that shapes the image."""
    recipe = {
        "version": BUILD_VERSION,
        "suite": SUITE,
        "mirror": MIRROR,
        "base": BASE_PACKAGES,
        "late": LATE_PACKAGES,
        "wheels": WHEELS,
        "masked": MASKED_UNITS,
        "generators": MASKED_GENERATORS,
        "files": GUEST_FILES,
        "initramfs": INITRAMFS_FILES,
        "size": DISK_SIZE,
    }
    blob = json.dumps(recipe, sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def image_dir(cache_root: Path = CACHE_ROOT) -> Path:
    """Where the image for the current recipe lives (built or not)."""
    return cache_root / f"vm-{image_key()}"


def _image_in(path: Path) -> VmImage:
    return VmImage(path / "vmlinuz", path / "initrd.img", path / "disk.img")


def ensure_image(cache_root: Path = CACHE_ROOT) -> VmImage:
    """Return the cached image, building it first (under a lock) when it is missing."""
    final = image_dir(cache_root)
    if (final / "manifest.json").is_file():
        return _image_in(final)
    cache_root.mkdir(parents=True, exist_ok=True)
    with _locked(cache_root / "vm-build.lock"):
        if (final / "manifest.json").is_file():  # built by a concurrent run meanwhile
            return _image_in(final)
        _remove_stale_builds(cache_root)
        work = cache_root / f".vm-build-{image_key()}-{os.getpid()}"
        try:
            _build(work)
            os.rename(work / "image", final)
            _remove_other_images(cache_root, keep=final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
            # systemd-nspawn leaves an empty mount-propagation directory per machine name.
            with contextlib.suppress(OSError):
                (NSPAWN_PROPAGATE / _machine_name()).rmdir()
    return _image_in(final)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _progress(f"waiting for another build to finish ({path})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _remove_stale_builds(cache_root: Path) -> None:
    """Remove temporary build directories whose builder is gone (we hold the lock)."""
    for entry in cache_root.glob(".vm-build-*-*"):
        pid = entry.name.rsplit("-", 1)[-1]
        if pid.isdigit() and not pid_exists(int(pid)):
            _progress(f"removing an aborted build: {entry}")
            shutil.rmtree(entry, ignore_errors=True)


def _remove_other_images(cache_root: Path, keep: Path) -> None:
    """Drop images of older recipes (a running VM keeps its open disk until it exits)."""
    for entry in cache_root.glob("vm-*"):
        if entry != keep and (entry / "manifest.json").is_file():
            _progress(f"removing an image of an older recipe: {entry}")
            shutil.rmtree(entry, ignore_errors=True)


def _machine_name() -> str:
    return f"vk-vmbuild-{os.getpid()}"


def _progress(msg: str) -> None:
    print(f">> vm image: {msg}", file=sys.stderr, flush=True)


def _run(step: str, argv: Sequence[str], log: Path, timeout: float) -> None:
    """Run one build step, its output appended to `log`; fail with the log's tail."""
    started = time.monotonic()
    with log.open("a") as out:
        out.write(f"\n$ {' '.join(argv)}\n")
        out.flush()
        try:
            proc = subprocess.run(
                list(argv), stdout=out, stderr=subprocess.STDOUT, timeout=timeout, check=False
            )
        except FileNotFoundError as exc:
            raise ImageError(f"{step}: {argv[0]} is not installed (run `make deps`)") from exc
        except subprocess.TimeoutExpired as exc:
            raise ImageError(f"{step}: no result after {timeout:.0f} s (log: {log})") from exc
    if proc.returncode != 0:
        tail = "".join(log.read_text(errors="replace").splitlines(keepends=True)[-25:])
        raise ImageError(f"{step} failed with exit code {proc.returncode}:\n{tail}")
    _progress(f"{step}: done in {time.monotonic() - started:.0f} s")


def _in_tree(root: Path, machine: str, *argv: str, network: bool = False) -> list[str]:
    """A command line that runs `argv` inside the tree with systemd-nspawn (its own pid ns)."""
    cmd = ["systemd-nspawn", "-q", "-D", str(root), f"--machine={machine}"]
    cmd += ["--register=no", "--keep-unit", "--as-pid2"]
    if not network:
        cmd.append("--private-network")
    return [*cmd, "env", "DEBIAN_FRONTEND=noninteractive", *argv]


def _build(work: Path) -> None:
    """Build the image into work/image (kernel, initrd, disk.img, manifest.json)."""
    started = time.monotonic()
    work.mkdir(parents=True)
    root, out, log = work / "root", work / "image", work / "build.log"
    out.mkdir()
    machine = _machine_name()
    _progress(f"building {out.name} in {work} (about 3 minutes; log {log})")

    _progress("debootstrap (about 1-2 minutes)")
    include = ",".join(BASE_PACKAGES)
    argv = ["debootstrap", "--variant=minbase", f"--include={include}", SUITE, str(root), MIRROR]
    _run("debootstrap", argv, log, timeout=1800)

    _write_files(root, INITRAMFS_FILES)
    policy = root / "usr/sbin/policy-rc.d"
    policy.write_text("#!/bin/sh\n# no service starts while the image is built\nexit 101\n")
    policy.chmod(0o755)
    _progress(f"apt-get install {' '.join(LATE_PACKAGES)} (kernel + initramfs, about 1 minute)")
    apt = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *LATE_PACKAGES]
    _run("kernel and keepalived", _in_tree(root, machine, *apt, network=True), log, timeout=1800)

    _progress(f"downloading wheels from PyPI: {' '.join(WHEELS)}")
    wheels = root / "opt/vk-wheels"  # not /tmp: nspawn mounts a tmpfs there
    wheels.mkdir(parents=True)
    pip = [str(HOST_PIP), "download", "-q", "--disable-pip-version-check", "--only-binary=:all:"]
    pip += ["--python-version", "3.11", "--implementation", "cp"]
    pip += ["--platform", "manylinux2014_x86_64", "-d", str(wheels), *WHEELS]
    _run("pip download", pip, log, timeout=600)
    names = [w.split("==")[0] for w in WHEELS]
    venv_script = (
        "python3 -m venv /opt/venv && /opt/venv/bin/pip install -q --disable-pip-version-check "
        f"--no-index --find-links /opt/vk-wheels {' '.join(names)} && "
        "/opt/venv/bin/python -c 'import pyroute2.ipvs, pytest, pytest_timeout, hypothesis'"
    )
    _run("venv /opt/venv", _in_tree(root, machine, "sh", "-c", venv_script), log, timeout=600)
    shutil.rmtree(wheels)

    _progress("configuring the guest (payload unit, masks, apt cache)")
    _configure(root, machine, log)

    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    initrds = sorted((root / "boot").glob("initrd.img-*"))
    if len(kernels) != 1 or len(initrds) != 1:
        raise ImageError(
            f"expected one kernel and one initrd in {root / 'boot'}: {kernels} {initrds}"
        )
    shutil.copy2(kernels[0], out / "vmlinuz")
    shutil.copy2(initrds[0], out / "initrd.img")

    _progress(f"mkfs.ext4 -d (disk {DISK_SIZE})")
    disk = out / "disk.img"
    mkfs = ["mkfs.ext4", "-q", "-L", "vkroot", "-d", str(root), str(disk), DISK_SIZE]
    _run("mkfs.ext4", mkfs, log, timeout=600)
    disk.chmod(0o444)
    manifest = {
        "key": image_key(),
        "kernel": kernels[0].name,
        "built": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "packages": [*BASE_PACKAGES, *LATE_PACKAGES],
        "wheels": WHEELS,
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    _progress(f"built in {time.monotonic() - started:.0f} s")


def _configure(root: Path, machine: str, log: Path) -> None:
    """Install the payload runner, boot straight to it, mask what slows the boot down."""
    _write_files(root, GUEST_FILES)
    system = root / "etc/systemd/system"
    default = system / "default.target"
    default.unlink(missing_ok=True)
    default.symlink_to("/etc/systemd/system/vk-lab.target")
    for unit in MASKED_UNITS:
        link = system / unit
        link.unlink(missing_ok=True)
        link.symlink_to("/dev/null")
    generators = root / "etc/systemd/system-generators"
    generators.mkdir(parents=True, exist_ok=True)
    for name in MASKED_GENERATORS:
        (generators / name).symlink_to("/dev/null")
    (root / "usr/sbin/policy-rc.d").unlink()
    script = "systemctl disable -q keepalived.service nftables.service; apt-get clean"
    _run("configure", _in_tree(root, machine, "sh", "-c", script), log, timeout=300)
    # An empty machine-id: systemd makes a fresh one at each boot, no first-boot setup.
    (root / "etc/machine-id").write_text("")
    shutil.rmtree(root / "var/lib/apt/lists", ignore_errors=True)
    (root / "var/lib/apt/lists/partial").mkdir(parents=True)


def _write_files(root: Path, files: dict[str, tuple[str, int]]) -> None:
    for rel, (text, mode) in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(mode)
