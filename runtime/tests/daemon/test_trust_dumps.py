"""Issue #15 "trust as root": the dumps, the control socket and the metrics endpoint.

The dump tests play a real attacker: an unprivileged process (uid 65534, through setpriv)
plants symlinks in a sticky, world-writable dump directory (what /tmp is) at every name the
daemon used to write, pointing at a file of root's. The daemon then dumps on its signals and on
the control socket's `dump`; the victim must stay untouched and each dump must land as a
regular root-only file. (fs.protected_symlinks, when the kernel enforces it, blocks root from
following another user's symlink in a sticky directory; the daemon must not rely on it.)
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from daemon.vkd import Vipkeeper, config, instance_conf, start_vipkeeper
from netlab import NetLab, Node, wait_for

from vipkeeper.daemon import dumps
from vipkeeper.daemon.control import MAX_REQUEST, request

NOBODY = 65534
VICTIM_TEXT = "root's precious file\n"
DUMPS = (
    (signal.SIGUSR1, dumps.DATA_FILE, "VRRP Instance = VI_1"),
    (signal.SIGUSR2, dumps.STATS_FILE, "Advertisements:"),
    (signal.SIGRTMIN + 2, dumps.JSON_FILE, '"name": "VI_1"'),
)


def as_nobody(*argv: str) -> None:
    """Run a command as an unprivileged user (the attacker)."""
    subprocess.run(
        ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", *argv],
        check=True,
        capture_output=True,
    )


def shared_tmp(parent: Path) -> tuple[Path, Path]:
    """A /tmp-like directory (root's, mode 1777) under `parent`, and a victim file of root's."""
    shared = parent / "shared-tmp"
    shared.mkdir()
    shared.chmod(0o1777)
    victim = parent / "victim"
    victim.write_text(VICTIM_TEXT)
    victim.chmod(0o644)
    return shared, victim


def regular_root_file(path: Path) -> bool:
    """Whether `path` itself (not a symlink's target) is a regular file of root's."""
    try:
        st = path.lstat()
    except FileNotFoundError:
        return False
    return stat.S_ISREG(st.st_mode) and st.st_uid == 0


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


# ---------------------------------------------------------------- dumps through the daemon


@pytest.mark.netns
def test_dumps_never_follow_a_planted_symlink(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    Path(lab.workdir).chmod(0o711)  # under /tmp: the attacker may pass through, not list
    shared, victim = shared_tmp(Path(lab.workdir))
    conf = config(instance_conf(priority=150, version=3, advert=0.1))
    va = start_vipkeeper(lab, a, conf, "--dump-dir", str(shared))
    assert va.wait_state("MASTER", 2) is not None
    pid = va.status()["pid"]
    planted: list[Path] = []
    for _sig, name, _text in DUMPS:
        # The final name, and the temporary name the daemon used to write first (.NAME.PID).
        for link in (shared / name, shared / f".{name}.{pid}"):
            as_nobody("ln", "-s", str(victim), str(link))
            planted.append(link)
    for sig, name, text in DUMPS:
        va.signal(sig)
        landed = wait_for(lambda n=name: regular_root_file(shared / n), 3)
        assert landed is not None, f"{name} is still the planted symlink\n{va.log()}"
        assert text in (shared / name).read_text()
    assert victim.read_text() == VICTIM_TEXT, "a dump was written through a planted symlink"
    # The control socket's dump, over symlinks planted again at the final names.
    for _sig, name, _text in DUMPS:
        (shared / name).unlink()
        as_nobody("ln", "-s", str(victim), str(shared / name))
    answer = request(va.sock, {"command": "dump"})
    assert answer["ok"], answer
    assert sorted(answer["files"]) == sorted(str(shared / n) for _s, n, _t in DUMPS)
    assert victim.read_text() == VICTIM_TEXT
    for _sig, name, _text in DUMPS:
        st = (shared / name).lstat()
        assert stat.S_ISREG(st.st_mode) and st.st_uid == 0, name
        assert stat.S_IMODE(st.st_mode) == 0o600, f"{name}: {stat.S_IMODE(st.st_mode):o}"
    # The old predictable temporary names were never used, and nothing else was left behind.
    for link in planted[1::2]:
        assert link.is_symlink() and os.readlink(link) == str(victim)
    left = {p.name for p in shared.iterdir()}
    assert left == {n for _s, n, _t in DUMPS} | {p.name for p in planted[1::2]}
    assert "Traceback" not in va.log()


@pytest.mark.netns
def test_an_unsafe_dump_directory_is_refused_and_said_so(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    open_dir = Path(lab.workdir) / "open"
    open_dir.mkdir()
    open_dir.chmod(0o777)  # anyone may rename or delete the dump once written
    conf = config(instance_conf(priority=150, version=3, advert=0.1))
    va = start_vipkeeper(lab, a, conf, "--dump-dir", str(open_dir))
    answer = request(va.sock, {"command": "dump"})
    assert answer["ok"] is False and answer["files"] == [], answer
    assert list(open_dir.iterdir()) == []
    expected = (
        f"dump keepalived.data not written: {open_dir} (mode 0777) is writable by other users"
        " without the sticky bit: not writing dumps"
    )
    assert wait_for(lambda: expected in va.log(), 2) is not None, va.log()
    assert va.alive()


# ---------------------------------------------------------------- write_dump itself


@pytest.mark.root  # files owned by root and nobody
def test_write_dump_replaces_an_attackers_file_and_ignores_the_umask(tmp_path: Path) -> None:
    shared, victim = shared_tmp(tmp_path)
    planted = shared / dumps.STATS_FILE
    planted.write_text("planted\n")  # a file of the attacker's: made here, then given away
    os.chown(planted, NOBODY, NOBODY)
    planted.chmod(0o666)
    with (shared / dumps.STATS_FILE).open() as held:  # the attacker keeps the old file open
        with umask(0):
            path = dumps.write_dump(str(shared), dumps.STATS_FILE, "counters\n")
        assert held.read() == "planted\n", "a reader of the old file must not see the new dump"
    assert path == str(shared / dumps.STATS_FILE)
    st = os.lstat(path)
    assert stat.S_ISREG(st.st_mode) and st.st_uid == 0 and stat.S_IMODE(st.st_mode) == 0o600
    assert Path(path).read_text() == "counters\n"
    assert victim.read_text() == VICTIM_TEXT
    assert [p.name for p in shared.iterdir()] == [dumps.STATS_FILE]


@pytest.mark.parametrize(
    ("mode", "owner", "cause"),
    [
        (0o777, 0, "(mode 0777) is writable by other users without the sticky bit"),
        (0o775, 0, "(mode 0775) is writable by other users without the sticky bit"),
        (0o755, NOBODY, f"is owned by uid {NOBODY}, not root"),
    ],
)
@pytest.mark.root  # files owned by root and nobody
def test_write_dump_refuses_a_directory_others_control(
    tmp_path: Path, mode: int, owner: int, cause: str
) -> None:
    target = tmp_path / "dumps"
    target.mkdir()
    target.chmod(mode)
    os.chown(target, owner, owner)
    with pytest.raises(OSError, match="not writing dumps") as caught:
        dumps.write_dump(str(target), dumps.DATA_FILE, "data\n")
    assert f"{target} {cause}" in str(caught.value)
    assert list(target.iterdir()) == []


def test_write_dump_into_a_directory_at_the_dump_name_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / dumps.DATA_FILE).mkdir()
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path / dumps.DATA_FILE))):
        dumps.write_dump(str(tmp_path), dumps.DATA_FILE, "data\n")
    assert [p.name for p in tmp_path.iterdir()] == [dumps.DATA_FILE], "no temporary file left"


def test_write_dump_creates_a_missing_directory_root_only(tmp_path: Path) -> None:
    target = tmp_path / "run" / "vipkeeper"
    with umask(0):
        dumps.write_dump(str(target), dumps.JSON_FILE, "{}\n")
    assert stat.S_IMODE(target.stat().st_mode) == dumps.DIR_MODE
    assert (target / dumps.JSON_FILE).read_text() == "{}\n"


def test_write_dump_names_a_dump_directory_it_cannot_use(tmp_path: Path) -> None:
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    with pytest.raises(OSError, match=re.escape(f"dump directory {not_a_dir}: Not a directory")):
        dumps.write_dump(str(not_a_dir), dumps.DATA_FILE, "data\n")


# ---------------------------------------------------------------- the control socket


def raw_exchange(path: str, data: bytes) -> bytes:
    """Send raw bytes to the control socket, then read its whole answer."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(10)
        sock.connect(path)
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        with contextlib.suppress(ConnectionResetError):  # the daemon left bytes unread
            while chunk := sock.recv(65536):
                chunks.append(chunk)
    return b"".join(chunks)


@pytest.mark.netns
def test_an_overlong_control_request_gets_an_error_answer(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=0.1)))
    too_long = f"request longer than {MAX_REQUEST} bytes"
    # Through the client, one line of 70 kB.
    answer = request(va.sock, {"command": "status", "pad": "x" * 70_000})
    assert answer == {"ok": False, "error": too_long}
    # Raw: 1 MB without a newline, and a line one byte over the limit.
    status = b'{"command": "status"}'
    for data in (b"{" * 1_000_000, status.ljust(MAX_REQUEST + 1) + b"\n"):
        assert json.loads(raw_exchange(va.sock, data)) == {"ok": False, "error": too_long}
    # A line exactly at the limit is read and answered.
    assert json.loads(raw_exchange(va.sock, status.ljust(MAX_REQUEST) + b"\n"))["ok"] is True
    # JSON nested beyond the parser's recursion limit, and bytes that are not UTF-8.
    for data in (b"[" * 60_000 + b"\n", b"\xc3\x28\n"):
        answer = json.loads(raw_exchange(va.sock, data))
        assert answer["ok"] is False and answer["error"].startswith("bad request: not JSON")
    assert va.status()["ok"] and va.alive()
    assert "Traceback" not in va.log() and "Unhandled exception" not in va.log(), va.log()


def demote_answer(vk: Vipkeeper, **fields: object) -> dict[str, object]:
    return request(vk.sock, {"command": "demote", **fields})


@pytest.mark.netns
def test_control_numbers_are_json_numbers_not_booleans(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    va = start_vipkeeper(lab, a, config(instance_conf(priority=150, version=3, advert=0.1)))
    assert va.wait_state("MASTER", 2) is not None
    bad_hold = "hold must be a number of seconds, 0..3600"
    for hold in (True, False, "5", None, [5], -1, 3601):
        assert demote_answer(va, instance="VI_1", hold=hold) == {"ok": False, "error": bad_hold}
    for instance in (1, True, None, ["VI_1"]):
        answer = demote_answer(va, instance=instance, hold=5)
        assert answer["ok"] is False and "instance must be a string" in str(answer["error"])
    assert va.state() == "MASTER", "no refused request demoted the master"
    assert va.instance()["counters"]["released_master"] == 0
    answer = demote_answer(va, instance="VI_1", hold=0.5)
    assert answer == {"ok": True, "instance": "VI_1", "hold": 0.5}


# ---------------------------------------------------------------- the metrics endpoint


def listeners(node: Node, port: int) -> list[str]:
    """Local addresses of the TCP sockets listening on `port` in the node."""
    out = node.run(["ss", "-Hltn", f"sport = :{port}"]).stdout
    return sorted(line.split()[3] for line in out.splitlines() if line.strip())


def fetch(node: Node, url: str) -> subprocess.CompletedProcess[str]:
    """GET `url` from inside the node (returncode != 0 when it cannot connect)."""
    script = (
        "import sys, urllib.request;"
        "print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode())"
    )
    return node.run([sys.executable, "-c", script, url], check=False)


@pytest.mark.netns
def test_metrics_without_an_address_stay_on_the_loopback(lab: NetLab) -> None:
    nodes = {
        "9650": lab.add_node("a", addrs=["10.213.1.1/24"]),
        ":9650": lab.add_node("b", addrs=["10.213.1.2/24"]),
        "[::]:9650": lab.add_node("c", addrs=["10.213.1.3/24"]),
    }
    bound = {"9650": ["127.0.0.1:9650"], ":9650": ["127.0.0.1:9650"], "[::]:9650": ["*:9650"]}
    conf = config(instance_conf(priority=150, version=3, advert=0.1))
    for listen, node in nodes.items():
        vk = start_vipkeeper(lab, node, conf, "--metrics", listen)
        found = wait_for(lambda n=node: listeners(n, 9650), 5)
        assert found is not None, f"--metrics {listen}: nothing listens\n{vk.log()}"
        assert listeners(node, 9650) == bound[listen], listen
    a, b, c = nodes.values()
    for node in (a, b):
        assert "vipkeeper_vrrp_state" in fetch(node, "http://127.0.0.1:9650/metrics").stdout
    # From another host: refused where no address was given, served where [::] was.
    for target in ("10.213.1.1", "10.213.1.2"):
        assert fetch(c, f"http://{target}:9650/metrics").returncode != 0, target
    assert "vipkeeper_vrrp_state" in fetch(a, "http://10.213.1.3:9650/metrics").stdout
