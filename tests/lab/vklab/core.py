"""Bring a named lab up, tear it down, report on it, and sweep what aborted runs left.

Lifecycle rule: a piece is written to state.json *before* it is created (the bridge) or right
after it is spawned (each nspawn pid), so `down` can always undo it. `down` only signals
processes recorded in the state, or carrying the lab's marker, after checking pid + start time.

A lab is stale (removed by `down --stale` and by every `up`) when its `up` died before
finishing, when its owner process (`up --owner-pid`, used by tests) is gone, or when one of its
containers died. A lab brought up without an owner is meant to outlive `up` (the demo) and is
never stale while its containers run.
"""

from __future__ import annotations

import fcntl
import ipaddress
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, suppress
from dataclasses import dataclass, replace
from pathlib import Path

from vklab import inventory, network, procs
from vklab.procs import MARKER, Proc
from vklab.rootfs import DEFAULT_RELEASE, LAB_PACKAGES, check_release, ensure_rootfs
from vklab.state import NAME_RE, STARTING, UP, Host, LabState, StateDir, all_labs, state_root

Say = Callable[[str], None]
MAX_LBS = 30
CLIENT_OCTET = 50
STOP_GRACE = 20.0


class LabError(Exception):
    """A lab operation failed; the message says what and where to look."""


def say_stderr(msg: str) -> None:
    """Default progress printer."""
    print(msg, file=sys.stderr, flush=True)


def validate_name(name: str) -> None:
    """Lab names become host names (NAME-lb1): lower-case letters, digits and dashes."""
    if not NAME_RE.match(name):
        raise LabError(
            f"invalid lab name {name!r}: use 1-32 lower-case letters, digits or dashes, "
            "starting with a letter"
        )


def plan_hosts(
    name: str,
    index: int,
    lbs: int,
    client: bool,
    releases: Sequence[str] = (DEFAULT_RELEASE,),
) -> tuple[Host, ...]:
    """NAME-lb1..lbN at .11.., NAME-client at .50 of 10.213.INDEX.0/24.

    lbI runs the I-th of RELEASES (the list repeats when shorter), the client the first one.
    """
    if not 1 <= lbs <= MAX_LBS:
        raise LabError(f"--lbs must be between 1 and {MAX_LBS}, not {lbs}")
    if not releases:
        raise LabError("--releases must name at least one Debian release")
    hosts = [
        Host(
            f"{name}-lb{i}",
            "lb",
            f"10.213.{index}.{10 + i}",
            release=releases[(i - 1) % len(releases)],
        )
        for i in range(1, lbs + 1)
    ]
    if client:
        hosts.append(
            Host(f"{name}-client", "client", f"10.213.{index}.{CLIENT_OCTET}", release=releases[0])
        )
    return tuple(hosts)


def _shape(hosts: Sequence[Host]) -> tuple[int, bool, tuple[str, ...]]:
    """What `up` compares to reuse a running lab: lbs, client, each host's release."""
    return (
        sum(h.group == "lb" for h in hosts),
        any(h.group == "client" for h in hosts),
        tuple(h.release for h in hosts),
    )


@contextmanager
def _flock(path: Path, *, wait: bool, say: Say | None = None) -> Iterator[bool]:
    """Hold an exclusive lock on PATH; yields False (without waiting) when busy and not WAIT."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as fh:  # non-inheritable: nspawn children never hold it
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if not wait:
                yield False
                return
            if say:
                say(f"lab: waiting for another lab command holding {path}")
            fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield True
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _lab_lock(
    name: str, *, wait: bool = True, say: Say | None = None
) -> AbstractContextManager[bool]:
    return _flock(state_root() / ".locks" / f"{name}.lock", wait=wait, say=say)


def _global_lock() -> AbstractContextManager[bool]:
    return _flock(state_root() / ".locks" / ".global.lock", wait=True)


# ---------------------------------------------------------------- health


def ssh_banner(address: str, timeout: float = 2.0) -> bool:
    """True when sshd answers on ADDRESS:22 with its banner."""
    try:
        with socket.create_connection((address, 22), timeout=timeout) as s:
            s.settimeout(timeout)
            return s.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def host_running(host: Host, lab: str) -> bool:
    """The host's nspawn and its container init both still run."""
    return all(p is not None and procs.is_ours(p, lab) for p in (host.nspawn, host.init))


def stale_reason(sd: StateDir) -> str | None:
    """Why this lab is a leftover, or None while it is in use. Caller holds the lab lock."""
    if not sd.exists():
        return "no state file (an up died before recording anything)"
    st = sd.load()
    if st.phase == STARTING:
        return f"its up (pid {st.creator.pid}) died before finishing"
    if st.owner is not None and not procs.alive(st.owner):
        return f"its owner pid {st.owner.pid} is gone"
    dead = [h.name for h in st.hosts if not host_running(h, st.name)]
    if dead:
        return f"container(s) not running: {', '.join(dead)}"
    if not network.link_exists(st.bridge):
        return f"its bridge {st.bridge} is gone"
    return None


# ---------------------------------------------------------------- teardown


def _propagate_dir(host: str) -> Path:
    return Path("/run/systemd/nspawn/propagate") / host


def _teardown(name: str, say: Say) -> None:
    """Remove everything of lab NAME that the state (or the marker) names. Caller holds the lock."""
    sd = StateDir(name)
    st = sd.load() if sd.exists() else None
    hosts = st.hosts if st else ()
    nspawns = [h.nspawn for h in hosts if h.nspawn]
    running = [p for p in nspawns if procs.is_ours(p, name)]
    if running:
        say(f"lab {name}: shutting down {len(running)} container(s)")
    survivors = procs.stop(running, name, grace=STOP_GRACE)
    # A killed nspawn leaves its container's init running (reparented): kill it, which ends
    # the whole container (its pid namespace). Processes that only carry the marker were
    # spawned by an up that died before it could record them.
    inits = [h.init for h in hosts if h.init] + procs.marked(name)
    for p in inits:
        procs.signal_verified(p, name, signal.SIGKILL)
    survivors += procs.wait_gone(inits, 10)
    if survivors:
        raise LabError(
            f"lab {name}: pids {[p.pid for p in survivors]} survived SIGKILL; "
            f"state kept in {sd.path}"
        )
    bridge = st.bridge if st else network.bridge_name(name)
    network.delete_bridge(bridge)
    for h in hosts:
        with suppress(OSError):
            _propagate_dir(h.name).rmdir()
    if sd.path.exists():
        shutil.rmtree(sd.path)


def down(name: str, say: Say = say_stderr) -> bool:
    """Tear lab NAME down; False when there was nothing to remove."""
    validate_name(name)
    with _lab_lock(name, say=say):
        sd = StateDir(name)
        found = (
            sd.path.exists()
            or network.link_exists(network.bridge_name(name))
            or bool(procs.marked(name))
        )
        if found:
            _teardown(name, say)
            say(f"lab {name}: down")
        return found


def down_stale(say: Say = say_stderr, keep: str | None = None) -> list[str]:
    """Remove leftovers of aborted or abandoned labs; return their names."""
    removed = []
    for sd in all_labs():
        if sd.name == keep or not NAME_RE.match(sd.name):
            continue
        with _lab_lock(sd.name, wait=False) as got:
            if not got:  # an up or down is working on it right now
                continue
            reason = stale_reason(sd)
            if reason:
                say(f"lab {sd.name}: stale ({reason}); removing it")
                _teardown(sd.name, say)
                removed.append(sd.name)
    with _global_lock():
        claimed = {st.bridge for st in (sd.try_load() for sd in all_labs()) if st}
        for bridge in network.lab_bridges():
            if bridge not in claimed:
                say(f"lab: removing orphan bridge {bridge}")
                network.delete_bridge(bridge)
                removed.append(bridge)
    labs = {sd.name for sd in all_labs()}
    for p in procs.marked():
        lab = procs.environ(p.pid).get(MARKER, "")
        if lab and lab not in labs and lab != keep:
            say(f"lab: stopping orphan process {p.pid} of lab {lab}")
            procs.stop([p], lab, grace=STOP_GRACE)
            removed.append(f"pid {p.pid}")
    return removed


# ---------------------------------------------------------------- up


@dataclass
class _Boot:
    """A container while it boots."""

    host: Host
    popen: subprocess.Popen[bytes]
    configured: bool = False
    ready: bool = False


def _nspawn_cmd(st: LabState, sd: StateDir, host: Host) -> list[str]:
    return [
        "systemd-nspawn",
        "--quiet",
        f"--directory={host.base or st.base}",
        f"--machine={host.name}",
        f"--hostname={host.name}",
        "--register=no",
        "--keep-unit",
        f"--network-bridge={st.bridge}",
        "--volatile=overlay",
        f"--setenv={MARKER}={st.name}",
        f"--bind-ro={sd.authorized_keys}:/root/.ssh/authorized_keys",
        f"--bind-ro={sd.hosts_file}:/etc/hosts",
        "--console=read-only",
        "--boot",
    ]


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no console log)"


def _write_files(sd: StateDir, st: LabState) -> None:
    sd.inventory.write_text(inventory.render_inventory(st, sd.key))
    sd.ssh_config.write_text(inventory.render_ssh_config(st, sd.key))


def _prepare(sd: StateDir, st: LabState) -> None:
    """Key pair, authorized_keys and hosts file, before any container starts."""
    if not sd.key.exists():
        subprocess.run(
            [
                "ssh-keygen",
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-C",
                f"vipkeeper-lab-{st.name}",
                "-f",
                str(sd.key),
            ],
            check=True,
            capture_output=True,
        )
    sd.authorized_keys.write_text(sd.key.with_suffix(".pub").read_text())
    sd.authorized_keys.chmod(0o600)
    sd.hosts_file.write_text(inventory.render_hosts(st))
    sd.hosts_file.chmod(0o644)
    _write_files(sd, st)


def _ssh_ok(sd: StateDir, host: Host) -> bool:
    try:
        res = subprocess.run(
            [
                "ssh",
                "-F",
                str(sd.ssh_config),
                "-o",
                "BatchMode=yes",
                "-o",
                "ConnectTimeout=5",
                host.name,
                "true",
            ],
            capture_output=True,
            check=False,
            timeout=30,
        )
    except subprocess.TimeoutExpired:
        return False
    return res.returncode == 0


def _boot(sd: StateDir, st: LabState, timeout: float, say: Say) -> LabState:
    """Start every container, give each its address, wait until SSH with the lab key works."""
    started = time.monotonic()
    boots: list[_Boot] = []
    env = {**os.environ, MARKER: st.name}
    for host in st.hosts:
        with sd.console_log(host.name).open("wb") as console:
            popen = subprocess.Popen(
                _nspawn_cmd(st, sd, host),
                stdin=subprocess.DEVNULL,
                stdout=console,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us, not the containers
                env=env,
            )
        me = procs.proc_of(popen.pid)
        if me is None:
            raise LabError(f"{host.name}: nspawn exited at once; see {sd.console_log(host.name)}")
        st = st.with_host(replace(host, nspawn=me))
        sd.save(st)
        boots.append(_Boot(host, popen))
    say(f"lab {st.name}: booting {len(boots)} container(s) on {st.bridge} ({st.network})")
    deadline = started + timeout
    while not all(b.ready for b in boots):
        if time.monotonic() > deadline:
            late = [b.host.name for b in boots if not b.ready]
            raise LabError(
                f"lab {st.name}: {', '.join(late)} not reachable by SSH after {timeout:.0f}s; "
                f"console logs in {sd.path}"
            )
        for b in boots:
            if b.ready:
                continue
            code = b.popen.poll()
            log = sd.console_log(b.host.name)
            if code is not None:
                raise LabError(
                    f"{b.host.name}: systemd-nspawn exited with {code} during boot; "
                    f"console log {log}:\n{_tail(log)}"
                )
            host = next(h for h in st.hosts if h.name == b.host.name)
            init = host.init
            if init is None:
                pid = procs.container_init(b.popen.pid)
                init = procs.proc_of(pid) if pid else None
                if init is None or not procs.is_ours(init, st.name):
                    continue
                host = replace(host, init=init)
                st = st.with_host(host)
                sd.save(st)
            if not b.configured:
                try:
                    network.nsenter_ip(init.pid, "addr", "replace", f"{host.address}/24",
                                       "dev", inventory.INTERFACE)  # fmt: skip
                    network.nsenter_ip(init.pid, "link", "set", inventory.INTERFACE, "up")
                except network.NetworkError:
                    continue  # host0 not moved into the container yet
                b.configured = True
            if ssh_banner(host.address, timeout=1.0) and _ssh_ok(sd, host):
                b.ready = True
                say(f"lab {st.name}: {host.name} {host.address} ({host.release}) up, ssh ok "
                    f"({time.monotonic() - started:.1f}s)")  # fmt: skip
        time.sleep(0.3)
    return st


def up(
    name: str,
    *,
    lbs: int = 2,
    client: bool = True,
    owner: Proc | None = None,
    timeout: float = 120.0,
    releases: Sequence[str] = (DEFAULT_RELEASE,),
    say: Say = say_stderr,
) -> StateDir:
    """Bring lab NAME up, or reuse it when it runs with that shape; return its state dir.

    RELEASES are Debian codenames (vklab.rootfs.RELEASES): lbI runs the I-th, the client the first.
    """
    validate_name(name)
    releases = tuple(releases)
    if not releases:
        raise LabError("--releases must name at least one Debian release")
    for release in releases:
        check_release(release)
    if os.geteuid() != 0:
        raise LabError("the lab needs root (network bridge, systemd-nspawn)")
    for tool in ("systemd-nspawn", "debootstrap", "nsenter", "ssh", "ssh-keygen", "ip"):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} not found: run `make deps` (tests/tools/bootstrap.sh)")
    bases = {r: ensure_rootfs(LAB_PACKAGES, suite=r, progress=say) for r in dict.fromkeys(releases)}
    down_stale(say, keep=name)
    with _lab_lock(name, say=say):
        sd = StateDir(name)
        reason = stale_reason(sd) if sd.path.exists() else None
        if sd.exists() and reason is None:
            st = sd.load()
            shape = _shape(st.hosts)
            if shape != _shape(plan_hosts(name, st.subnet_index, lbs, client, releases)):
                raise LabError(
                    f"lab {name} already runs with {shape[0]} lb(s), client={shape[1]}, "
                    f"releases {','.join(shape[2])}; run `lab.py down {name}` first"
                )
            if owner != st.owner:  # the last up decides whose lifetime bounds the lab
                st = replace(st, owner=owner)
                sd.save(st)
            _write_files(sd, st)
            say(f"lab {name}: already up, reusing it")
            return sd
        if sd.path.exists() or network.link_exists(network.bridge_name(name)):
            say(f"lab {name}: removing a broken earlier instance ({reason})")
            _teardown(name, say)
        try:
            with _global_lock():
                others = (o.try_load() for o in all_labs())
                taken = {o.subnet_index for o in others if o}
                index = network.pick_subnet(taken)
                me = procs.proc_of(os.getpid())
                assert me is not None
                st = LabState(
                    name=name,
                    phase=STARTING,
                    bridge=network.bridge_name(name),
                    subnet_index=index,
                    base=str(bases[releases[0]]),
                    creator=me,
                    owner=owner,
                    hosts=tuple(
                        replace(h, base=str(bases[h.release]))
                        for h in plan_hosts(name, index, lbs, client, releases)
                    ),
                )
                sd.save(st)  # recorded before the bridge exists
                _prepare(sd, st)
                network.create_bridge(
                    st.bridge, ipaddress.IPv4Interface(f"{st.controller_address}/24")
                )
            st = _boot(sd, st, timeout, say)
            st = replace(st, phase=UP)
            sd.save(st)
            _write_files(sd, st)
        except BaseException as exc:
            # Ctrl-C, SIGTERM or a failure: undo what exists, without being interrupted again.
            old = signal.pthread_sigmask(
                signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
            )
            try:
                why = "interrupted" if isinstance(exc, KeyboardInterrupt) else "failed"
                say(f"lab {name}: up {why}; tearing down what was created")
                _teardown(name, say)
            finally:
                signal.pthread_sigmask(signal.SIG_SETMASK, old)
            raise
    say(f"lab {name}: up ({len(st.hosts)} hosts); inventory {sd.inventory}")
    say(f"lab {name}: explore with `tests/lab/lab.py ssh {name} lb1`, remove with "
        f"`tests/lab/lab.py down {name}`")  # fmt: skip
    return sd


# ---------------------------------------------------------------- status


@dataclass(frozen=True)
class HostStatus:
    """One row of `lab.py status`."""

    host: Host
    running: bool
    ssh: bool


def status(name: str) -> tuple[LabState, list[HostStatus]] | None:
    """Current state of lab NAME, or None when it does not exist."""
    validate_name(name)
    st = StateDir(name).try_load()
    if st is None:
        return None
    rows = [HostStatus(h, host_running(h, name), ssh_banner(h.address, 1.0)) for h in st.hosts]
    return st, rows
