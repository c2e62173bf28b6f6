#!/usr/bin/env python3
"""The runtime's tests inside booted lab hosts, on the python3 of each Debian release.

    runtime_hosts.py --run bullseye='tests/daemon tests/interop' --run trixie='tests/daemon'

The runtime supports Python 3.9 to 3.13. Debian 11 (bullseye) ships 3.9 and Debian 13 (trixie)
3.13, so a lab host of each (tests/lab, docs/lab.md) tests the floor and the ceiling with the
interpreter users run, next to the release's own keepalived as the reference peer:

1. the runtime's wheel is built from this checkout (a scratch copy, no tests);
2. per release, its dependencies and the test tools of tests/requirements.txt are downloaded
   by the release's own python3 and pip (systemd-nspawn on the cached base tree, with this
   machine's network), so that environment markers and Requires-Python are judged by the very
   interpreter that runs them; cached in --cache until runtime/pyproject.toml,
   tests/requirements.txt or the base tree change;
3. one lab with a host per release boots (`lab.py up`, no client, owned by this process);
4. into each host, over SSH: the wheels, runtime/tests and runtime/pyproject.toml (the pytest
   settings), not runtime/src; then, as root in the host's login session (the container's
   capabilities, seccomp filter and cgroup): the python3 version check, a venv of that python3,
   an offline `pip install --no-index` and pytest with the PYTEST_ARGS of --run;
5. the lab is torn down, whatever happened.

It fails unless every host ran the expected Python and its pytest passed with no failure, no
error and no skip (a test skipped here did not run on that interpreter: it is not a pass).
Stdlib only, like the rest of tests/lab.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

sys.path.insert(0, str(Path(__file__).resolve().parent))

from vklab import core, procs
from vklab.rootfs import LAB_PACKAGES, RELEASES, check_release, ensure_rootfs
from vklab.state import StateDir

ROOT = Path(__file__).resolve().parents[2]
RUNTIME = ROOT / "runtime"
REQUIREMENTS = ROOT / "tests" / "requirements.txt"
TEST_TOOLS = ("pytest", "pytest-timeout", "hypothesis", "aiosmtpd")
# Bump when what goes into a release's wheelhouse changes in a way the stamp cannot see.
WHEELHOUSE_VERSION = 1
# In the host: everything under one directory of root's, away from the test's own /tmp use.
HOST_DIR = "/root/vk"
# The host script exits with this when its python3 is not the release's (never a test result).
WRONG_PYTHON = 90


class HostsError(Exception):
    """A step failed before the tests could give a verdict; the message says which."""


@dataclass(frozen=True)
class Run:
    """One host to test: a Debian release, the Python it must run, the pytest arguments."""

    release: str
    python: str
    pytest_args: tuple[str, ...]


@dataclass(frozen=True)
class Summary:
    """What pytest's junit XML says about one host's run."""

    tests: int
    failures: int
    errors: int
    skipped: int

    @property
    def passed(self) -> int:
        """Tests that ran and passed."""
        return self.tests - self.failures - self.errors - self.skipped

    def line(self) -> str:
        """One line, pytest's words."""
        return (
            f"{self.passed} passed, {self.failures} failed, {self.errors} errors, "
            f"{self.skipped} skipped"
        )


def parse_run(text: str) -> Run:
    """--run RELEASE=PYTEST_ARGS (shell words); the Python is the release's (vklab.rootfs)."""
    release, sep, args = text.partition("=")
    if not sep or not args.strip():
        raise argparse.ArgumentTypeError(
            f"--run {text!r}: use RELEASE='PYTEST ARGS', e.g. bullseye='tests/daemon'"
        )
    try:
        rel = check_release(release.strip())
    except Exception as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return Run(rel.name, rel.python, tuple(shlex.split(args)))


def parse_junit(xml: str) -> Summary:
    """Sum the testsuite counters of a pytest --junitxml file."""
    root = ET.fromstring(xml)  # our own pytest's output, from our own host
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    if not suites:
        raise HostsError("the junit XML has no testsuite")

    def total(attr: str) -> int:
        return sum(int(s.get(attr, "0")) for s in suites)

    return Summary(total("tests"), total("failures"), total("errors"), total("skipped"))


def verdict(run: Run, rc: int, summary: Summary | None) -> str | None:
    """Why this host's run is not a pass, or None when it is."""
    if rc == WRONG_PYTHON:
        return f"python3 in the {run.release} host is not Python {run.python}"
    if summary is None:
        return f"pytest left no junit XML (exit code {rc})"
    if summary.tests == 0:
        return "no test ran"
    if summary.failures or summary.errors:
        return f"{summary.failures} failed, {summary.errors} errors"
    if summary.skipped:
        return f"{summary.skipped} skipped: a skip is not a pass on Python {run.python}"
    if rc != 0:
        return f"pytest exited with {rc}"
    return None


def test_tool_specs(requirements: str) -> list[str]:
    """The pins of the TEST_TOOLS (pytest, pytest-timeout, hypothesis, aiosmtpd) in
    tests/requirements.txt."""
    specs = []
    for raw in requirements.splitlines():
        line = raw.split("#", 1)[0].strip()
        m = re.match(r"^([A-Za-z0-9_.-]+)\s*([<>=!~].*)?$", line)
        if m and m.group(1).lower() in TEST_TOOLS:
            specs.append(line.replace(" ", ""))
    missing = set(TEST_TOOLS) - {re.split(r"[<>=!~]", s)[0].lower() for s in specs}
    if missing:
        raise HostsError(f"tests/requirements.txt names no {', '.join(sorted(missing))}")
    return specs


def host_script(run: Run, specs: Sequence[str]) -> str:
    """What runs in the host, as root: check the Python, make the venv, run pytest."""
    pins = " ".join(shlex.quote(s) for s in ["vipkeeper[metrics]", *specs])
    args = " ".join(shlex.quote(a) for a in run.pytest_args)
    return f"""set -eu
cd {HOST_DIR}
have=$(python3 -c 'import sys; print("%d.%d" % sys.version_info[:2])')
echo ">> $(. /etc/os-release && echo "$PRETTY_NAME"): $(python3 -V) at $(readlink -f "$(command -v python3)"), $(keepalived --version 2>&1 | head -n1)"
if [ "$have" != {shlex.quote(run.python)} ]; then
    echo "python3 here is $have, not {run.python}" >&2
    exit {WRONG_PYTHON}
fi
python3 -m venv venv
venv/bin/pip install -q --disable-pip-version-check --no-index --find-links wheels {pins}
venv/bin/python - <<'EOF'
import os, sys, vipkeeper
real = os.path.realpath(sys.executable)
assert real.startswith("/usr/bin/python3"), real  # Debian's python3, not another one
assert "%d.%d" % sys.version_info[:2] == {run.python!r}, sys.version
assert vipkeeper.__file__.startswith("{HOST_DIR}/venv/"), vipkeeper.__file__  # the wheel's
EOF
echo ">> $(venv/bin/pip freeze --disable-pip-version-check | tr '\\n' ' ')"
cd runtime
exec ../venv/bin/python -m pytest -p no:cacheprovider -q -rfEs --junitxml={HOST_DIR}/junit.xml {args}
"""  # noqa: E501


# ---------------------------------------------------------------- wheels


def _copy_runtime_source(dest: Path) -> None:
    skip = shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__", ".*")
    shutil.copytree(RUNTIME, dest, ignore=skip)


def build_runtime_wheel(out: Path) -> Path:
    """The vipkeeper wheel of this checkout (pure Python: one for every release)."""
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="vk-rth-src-") as tmp:
        src = Path(tmp) / "runtime"
        _copy_runtime_source(src)
        cmd = [sys.executable, "-m", "pip", "wheel", "-q", "--disable-pip-version-check"]
        _check([*cmd, "--no-deps", "--wheel-dir", str(out), str(src)], "building the wheel")
    (wheel,) = out.glob("vipkeeper-*.whl")
    return wheel


def _check(cmd: Sequence[str], what: str, timeout: float = 900) -> None:
    res = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout)
    if res.returncode != 0:
        raise HostsError(f"{what} failed ({res.returncode}):\n{res.stdout}{res.stderr}")


def wheelhouse_stamp(base: Path, specs: Sequence[str]) -> str:
    """What a release's cached wheelhouse depends on."""
    h = hashlib.sha256()
    for part in (
        str(WHEELHOUSE_VERSION),
        base.name,  # rootfs-<key>: the release, its packages and build
        (RUNTIME / "pyproject.toml").read_text(),
        "\n".join(specs),
        os.environ.get("PIP_INDEX_URL", ""),
    ):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def ensure_wheelhouse(run: Run, base: Path, wheel: Path, specs: Sequence[str], cache: Path) -> Path:
    """The release's dependency wheels, downloaded by its own pip when the cache is stale."""
    house = cache / f"wheels-{run.release}"
    stamp = wheelhouse_stamp(base, specs)
    if (house / ".stamp").is_file() and (house / ".stamp").read_text().strip() == stamp:
        return house
    print(f">> {run.release}: downloading wheels with its python3 {run.python} into {house}",
          flush=True)  # fmt: skip
    shutil.rmtree(house, ignore_errors=True)
    house.mkdir(parents=True)
    pins = " ".join(shlex.quote(s) for s in [f"/vk/in/{wheel.name}[metrics]", *specs])
    script = (
        "set -e; python3 -m venv /tmp/dl; "
        f"/tmp/dl/bin/pip download -q --disable-pip-version-check -d /vk/wheels {pins}"
    )
    env = [f"--setenv={k}={os.environ[k]}" for k in ("PIP_INDEX_URL",) if os.environ.get(k)]
    # The index is reached through this machine's network, so with this machine's trust (a
    # proxy's CA, say): pip's own setting, else the system bundle, bound into the tree.
    ca = Path(os.environ.get("PIP_CERT") or "/etc/ssl/certs/ca-certificates.crt")
    if ca.is_file():
        env += [f"--bind-ro={ca}:/vk/ca.crt", "--setenv=PIP_CERT=/vk/ca.crt"]
    machine = f"vk-rth-dl-{os.getpid()}"
    cmd = [
        "systemd-nspawn",
        "--quiet",
        f"--directory={base}",
        f"--machine={machine}",
        "--register=no",
        "--keep-unit",
        "--volatile=overlay",  # the base stays clean; no --private-network: it needs an index
        "--console=pipe",
        f"--bind-ro={wheel.parent}:/vk/in",
        f"--bind={house}:/vk/wheels",
        *env,
        "/bin/sh",
        "-c",
        script,
    ]
    try:
        _check(cmd, f"pip download in the {run.release} tree")
    finally:
        with contextlib.suppress(OSError):  # nspawn's per-machine directory, left empty
            (Path("/run/systemd/nspawn/propagate") / machine).rmdir()
    for own in house.glob("vipkeeper-*.whl"):
        own.unlink()  # the runtime's wheel travels apart: it changes with every checkout
    (house / ".stamp").write_text(stamp + "\n")
    return house


# ---------------------------------------------------------------- hosts


def payload(wheel: Path, house: Path) -> bytes:
    """A tar of what a host gets: wheels/, runtime/tests, runtime/pyproject.toml."""

    def clean(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if any(p in ("__pycache__", ".hypothesis", ".pytest_cache") for p in parts):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = "root"
        return info

    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(wheel, f"wheels/{wheel.name}")
        for whl in sorted(house.glob("*.whl")):
            tar.add(whl, f"wheels/{whl.name}")
        tar.add(RUNTIME / "pyproject.toml", "runtime/pyproject.toml")
        tar.add(RUNTIME / "tests", "runtime/tests", filter=clean)
    return buf.getvalue()


def _ssh(sd: StateDir, host: str, *command: str) -> list[str]:
    return ["ssh", "-F", str(sd.ssh_config), "-o", "BatchMode=yes", host, *command]


_PYTEST_SUMMARY = re.compile(r"^=*\s*(\d+ \w+.* in [\d.]+s.*?)\s*=*$")


def _prefixed(stream: Iterable[bytes], prefix: str) -> str:
    """Echo each line with [PREFIX]; return pytest's last summary line ('' when none)."""
    last = ""
    for raw in stream:
        line = raw.decode(errors="replace")
        sys.stdout.write(f"[{prefix}] {line}")
        sys.stdout.flush()
        m = _PYTEST_SUMMARY.match(line.strip())
        if m:
            last = m.group(1)
    return last


@dataclass
class Outcome:
    """One host's result."""

    run: Run
    rc: int = -1
    summary: Summary | None = None
    pytest_line: str = ""
    seconds: float = 0.0
    error: str | None = None

    def failure(self) -> str | None:
        """Why it is not a pass, or None."""
        return self.error or verdict(self.run, self.rc, self.summary)


def run_on_host(
    sd: StateDir, host: str, out: Outcome, blob: bytes, specs: Sequence[str], keep: Path
) -> None:
    """Copy the payload in, run the host script, fetch the junit XML into KEEP; fills OUT."""
    started = time.monotonic()
    try:
        setup = f"rm -rf {HOST_DIR} && mkdir -p {HOST_DIR} && tar -xf - -C {HOST_DIR}"
        res = subprocess.run(
            _ssh(sd, host, setup), input=blob, capture_output=True, check=False, timeout=300
        )
        if res.returncode != 0:
            raise HostsError(f"copying into {host} failed: {res.stderr.decode(errors='replace')}")
        proc = subprocess.Popen(
            _ssh(sd, host, "/bin/bash -s"),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(host_script(out.run, specs).encode())
        proc.stdin.close()
        out.pytest_line = _prefixed(proc.stdout, out.run.release)
        out.rc = proc.wait()
        xml = subprocess.run(
            _ssh(sd, host, f"cat {HOST_DIR}/junit.xml"),
            capture_output=True,
            text=True,
            check=False,
            timeout=60,
        )
        if xml.returncode == 0 and xml.stdout.strip():
            keep.write_text(xml.stdout)
            out.summary = parse_junit(xml.stdout)
    except (HostsError, OSError, subprocess.SubprocessError, ET.ParseError) as exc:
        out.error = str(exc)
    finally:
        out.seconds = time.monotonic() - started


def _interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(signal.Signals(signum).name)


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    p = argparse.ArgumentParser(prog="runtime_hosts.py", description=__doc__.splitlines()[0])
    p.add_argument(
        "--run",
        type=parse_run,
        action="append",
        required=True,
        metavar="RELEASE=PYTEST_ARGS",
        help=f"a host of RELEASE ({', '.join(RELEASES)}) runs pytest with PYTEST_ARGS",
    )
    p.add_argument("--cache", type=Path, default=ROOT / "build" / "runtime-hosts")
    p.add_argument("--parallel", action="store_true", help="run the hosts at the same time")
    p.add_argument("--keep", action="store_true", help="leave the lab up (lab.py down NAME)")
    args = p.parse_args(argv)
    runs: list[Run] = args.run
    if len({r.release for r in runs}) != len(runs):
        p.error("one --run per release")
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _interrupt)
    if os.geteuid() != 0:
        print("runtime_hosts: needs root (containers, namespaces)", file=sys.stderr)
        return 1
    started = time.monotonic()
    name = f"rth-{os.getpid()}"
    outcomes = [Outcome(r) for r in runs]
    lab_up = False
    try:
        specs = test_tool_specs(REQUIREMENTS.read_text())
        bases = {r.release: ensure_rootfs(LAB_PACKAGES, suite=r.release) for r in runs}
        work = Path(tempfile.mkdtemp(prefix="vk-rth-"))
        try:
            wheel = build_runtime_wheel(work / "runtime")
            houses = {
                r.release: ensure_wheelhouse(r, bases[r.release], wheel, specs, args.cache)
                for r in runs
            }
            me = procs.proc_of(os.getpid())
            lab_up = True
            sd = core.up(
                name,
                lbs=len(runs),
                client=False,
                owner=me,
                releases=[r.release for r in runs],
                say=lambda m: print(f">> {m}", flush=True),
            )
            threads = []
            for i, out in enumerate(outcomes, start=1):
                blob = payload(wheel, houses[out.run.release])
                junit = args.cache / f"junit-{out.run.release}.xml"  # per-test times, for budgets
                junit.unlink(missing_ok=True)
                t = threading.Thread(
                    target=run_on_host,
                    args=(sd, f"{name}-lb{i}", out, blob, specs, junit),
                )
                t.start()
                if not args.parallel:
                    t.join()
                threads.append(t)
            for t in threads:
                t.join()
        finally:
            shutil.rmtree(work, ignore_errors=True)
    except KeyboardInterrupt:
        print("runtime_hosts: interrupted", file=sys.stderr)
        return 130
    except (HostsError, core.LabError, OSError, subprocess.SubprocessError) as exc:
        print(f"runtime_hosts: error: {exc}", file=sys.stderr)
        return 1
    finally:
        if lab_up and not args.keep:
            core.down(name, say=lambda m: print(f">> {m}", flush=True))
    print(f">> runtime tests in lab hosts ({time.monotonic() - started:.0f}s in all):")
    bad = 0
    for out in outcomes:
        why = out.failure()
        bad += why is not None
        summary = out.summary.line() if out.summary else "no junit summary"
        status = "ok" if why is None else f"FAILED: {why}"
        print(f"   {out.run.release:<9} Python {out.run.python:<5} {status}: {summary} "
              f"(pytest: {out.pytest_line or '-'}; {out.seconds:.0f}s with the venv)")  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
