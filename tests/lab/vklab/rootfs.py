"""The lab's base root filesystem: a debootstrap'd Debian, built once and cached outside the clone.

    from vklab.rootfs import LAB_PACKAGES, ensure_rootfs
    base = ensure_rootfs(LAB_PACKAGES)  # bookworm: /var/cache/vipkeeper-lab/rootfs-<key>
    base = ensure_rootfs(LAB_PACKAGES, suite="trixie")  # one tree per release (RELEASES)

The cache key hashes the suite (the Debian release), mirror, package list, configure step and
BUILD_VERSION, so another release or a changed list builds a new tree next to the old one. A
build runs in a temporary directory under an exclusive lock and is renamed into place at the
end: a reader sees a complete tree or none, and two concurrent runs never both build. A build that
was killed is removed by the next one. Stdlib only: the lab must not depend on the runtime.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

# Bump when configure_lab_host (or anything else that shapes the tree) changes.
BUILD_VERSION = 1


@dataclass(frozen=True)
class Release:
    """A Debian release the lab can boot: its codename, version and default python3."""

    name: str
    version: str
    python: str


# The releases the roles support (docs/quickstart.md). Debian's archive (deb.debian.org) serves
# all three, signed by keys in the debian-archive-keyring of a Debian 12 machine.
RELEASES: dict[str, Release] = {
    r.name: r
    for r in (
        Release("bullseye", "11", "3.9"),
        Release("bookworm", "12", "3.11"),
        Release("trixie", "13", "3.13"),
    )
}
DEFAULT_RELEASE = "bookworm"
SUITE = DEFAULT_RELEASE
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_CACHE = Path("/var/cache/vipkeeper-lab")

# What the lab hosts need without internet: systemd + sshd for Ansible, and what the molecule
# scenarios and the demo install or use (nginx, keepalived, nftables, probes, python3-apt so
# that the apt module works offline). The same names exist in bullseye, bookworm and trixie
# (trixie's nginx-light is a transitional package that pulls nginx; all three are merged-/usr).
LAB_PACKAGES: tuple[str, ...] = (
    "systemd",
    "systemd-sysv",
    "dbus",
    "libnss-myhostname",
    "iproute2",
    "python3",
    "python3-venv",
    "python3-apt",
    "openssh-server",
    "nginx-light",
    "keepalived",
    "nftables",
    "curl",
    "iputils-ping",
    "arping",
    "procps",
    "sudo",
    "ca-certificates",
    "less",
    "tcpdump",
    "netcat-openbsd",
)

Progress = Callable[[str], None]
Configure = Callable[[Path], None]


def _say(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def check_release(name: str) -> Release:
    """The Release called NAME, or RootfsError naming the ones the lab knows."""
    try:
        return RELEASES[name]
    except KeyError:
        known = ", ".join(RELEASES)
        raise RootfsError(f"unknown Debian release {name!r}: the lab boots {known}") from None


def cache_dir() -> Path:
    """Where base trees live: $VIPKEEPER_LAB_CACHE or /var/cache/vipkeeper-lab."""
    return Path(os.environ.get("VIPKEEPER_LAB_CACHE", str(DEFAULT_CACHE)))


def rootfs_key(
    packages: Sequence[str], suite: str, mirror: str, configure: Configure | None
) -> str:
    """Short stable hash naming one base tree."""
    ident = {
        "version": BUILD_VERSION,
        "suite": suite,
        "mirror": mirror,
        "packages": sorted(set(packages)),
        "configure": configure.__qualname__ if configure else None,
    }
    return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:12]


def configure_lab_host(root: Path) -> None:
    """Shape a fresh tree into a lab host: key-only root SSH, per-boot identity, quiet services."""
    etc = root / "etc"
    # Identity comes from each container, not from the shared base: nspawn sets the hostname
    # (--hostname) and a random container uuid that systemd takes as machine-id when it is empty.
    (etc / "hostname").unlink(missing_ok=True)
    (etc / "machine-id").write_text("")
    (root / "var/lib/dbus/machine-id").unlink(missing_ok=True)
    # sshd: host keys are made at each boot (inside the container's own overlay), root logs in
    # by key only. ssh.service runs `sshd -t` first, so the key step must come before it.
    for key in (etc / "ssh").glob("ssh_host_*"):
        key.unlink()
    (etc / "ssh/sshd_config.d").mkdir(parents=True, exist_ok=True)
    (etc / "ssh/sshd_config.d/vipkeeper-lab.conf").write_text(
        "# vipkeeper lab: root by key only, one host key made at boot.\n"
        "HostKey /etc/ssh/ssh_host_ed25519_key\n"
        "PermitRootLogin prohibit-password\n"
        "PasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\n"
        "UseDNS no\n"
    )
    dropin = etc / "systemd/system/ssh.service.d"
    dropin.mkdir(parents=True, exist_ok=True)
    (dropin / "vipkeeper-lab-hostkey.conf").write_text(
        "[Service]\n"
        "ExecStartPre=\n"
        "ExecStartPre=/bin/sh -c 'test -s /etc/ssh/ssh_host_ed25519_key"
        ' || ssh-keygen -q -t ed25519 -N "" -f /etc/ssh/ssh_host_ed25519_key\'\n'
        "ExecStartPre=/usr/sbin/sshd -t\n"
    )
    ssh_dir = root / "root/.ssh"
    ssh_dir.mkdir(mode=0o700, exist_ok=True)
    ssh_dir.chmod(0o700)
    # Root has no password (locked '*' from debootstrap); keep it that way.
    # keepalived is installed for the scenarios but must not start at boot; apt timers must not
    # grab the dpkg lock under Ansible (the hosts have no internet anyway).
    units = ["keepalived.service", "apt-daily.timer", "apt-daily-upgrade.timer"]
    present = [u for u in units if _unit_exists(root, u)]
    if present:
        _run(["systemctl", f"--root={root}", "--quiet", "disable", *present])
    _run(["systemctl", f"--root={root}", "--quiet", "mask", "systemd-networkd-wait-online.service"])


def _unit_exists(root: Path, unit: str) -> bool:
    return any((root / d / unit).exists() for d in ("lib/systemd/system", "usr/lib/systemd/system"))


def _run(cmd: Sequence[str]) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if res.returncode != 0:
        raise RootfsError(f"{' '.join(cmd)} failed ({res.returncode}): {res.stderr.strip()}")


class RootfsError(Exception):
    """Building the base tree failed; the message says which step and where the log is."""


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            _say(f"rootfs: waiting for another build to finish ({path})")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def mounts_under(path: Path) -> list[str]:
    """Mount points at or below PATH in this mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    found = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), line.split()[4])
        if point == prefix or point.startswith(prefix + "/"):
            found.append(point)
    return sorted(found, key=len, reverse=True)


def remove_tree(path: Path) -> None:
    """Unmount whatever a killed debootstrap left mounted below PATH, then delete it."""
    for point in mounts_under(path):
        subprocess.run(["umount", "-l", point], check=False, capture_output=True)
    if path.exists():
        subprocess.run(["rm", "-rf", "--one-file-system", str(path)], check=True)


_PER_PACKAGE = re.compile(r"^I: (Retrieving|Validating|Extracting|Unpacking|Configuring) \S+")


def _debootstrap(
    target: Path, packages: Sequence[str], suite: str, mirror: str, log: Path, say: Progress
) -> None:
    debs = target.parent / "debs"
    debs.mkdir(exist_ok=True)
    cmd = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        f"--cache-dir={debs}",
        suite,
        str(target),
        mirror,
    ]
    say(f"rootfs: debootstrap {suite} with {len(packages)} extra packages (about 1-2 min)")
    start = time.monotonic()
    counts: dict[str, int] = {}
    last = start
    with log.open("w") as logf:
        logf.write(" ".join(cmd) + "\n")
        logf.flush()
        proc = subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1
        )
        assert proc.stdout is not None
        try:
            for line in proc.stdout:
                logf.write(line)
                line = line.rstrip()
                m = _PER_PACKAGE.match(line)
                now = time.monotonic()
                if m:
                    step = m.group(1)
                    counts[step] = counts.get(step, 0) + 1
                    if now - last >= 10:
                        last = now
                        say(f"rootfs: [{now - start:4.0f}s] {step.lower()} {counts[step]} packages")
                elif line.startswith(("I: ", "E: ", "W: ")):
                    say(f"rootfs: [{now - start:4.0f}s] {line[3:]}")
            rc = proc.wait()
        except BaseException:
            proc.terminate()  # never delete the tree under a running debootstrap
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            raise
    if rc != 0:
        raise RootfsError(f"debootstrap failed ({rc}); full log: {log}")
    say(f"rootfs: debootstrap done in {time.monotonic() - start:.0f}s")


def ensure_rootfs(
    packages: Sequence[str] = LAB_PACKAGES,
    *,
    suite: str = SUITE,
    mirror: str | None = None,
    cache: Path | None = None,
    configure: Configure | None = configure_lab_host,
    progress: Progress = _say,
) -> Path:
    """Return the cached base tree for PACKAGES, building it (about 1-2 min) when missing."""
    mirror = mirror or os.environ.get("VIPKEEPER_LAB_MIRROR") or DEFAULT_MIRROR
    cache = cache or cache_dir()
    key = rootfs_key(packages, suite, mirror, configure)
    final = cache / f"rootfs-{key}"
    if final.is_dir():
        return final
    with _locked(cache / ".build.lock"):
        if final.is_dir():  # another run built it while we waited
            return final
        # Holding the lock, any leftover build directory is from a killed run.
        for stale in cache.glob(".build-*"):
            progress(f"rootfs: removing an aborted build {stale}")
            remove_tree(stale)
        tmp = cache / f".build-{key}-{os.getpid()}"
        log = cache / f"build-{key}.log"
        try:
            _debootstrap(tmp, packages, suite, mirror, log, progress)
            if configure is not None:
                configure(tmp)
            (tmp / "etc/vipkeeper-lab-rootfs.json").write_text(
                json.dumps({"key": key, "suite": suite, "packages": sorted(packages)}) + "\n"
            )
            os.rename(tmp, final)
        except BaseException:
            remove_tree(tmp)
            raise
    progress(f"rootfs: ready at {final}")
    return final
