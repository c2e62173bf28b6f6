"""The notify FIFO (vipkeeper.fifo): created for its user, never through a planted name.

Real files in a sticky, world-writable directory like /tmp, where another user can plant a
symlink, a regular file or a FIFO of their own under the FIFO's name before the daemon starts.
"""

from __future__ import annotations

import os
import pwd
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from vipkeeper.fifo import FifoError, NotifyFifo

NOBODY = pwd.getpwnam("nobody")


@pytest.fixture
def sticky(tmp_path: Path) -> Path:
    """A directory like /tmp: world-writable with the sticky bit."""
    d = tmp_path / "tmp"
    d.mkdir()
    d.chmod(0o1777)
    return d


@pytest.fixture
def umask_077() -> Iterator[None]:
    old = os.umask(0o077)
    try:
        yield
    finally:
        os.umask(old)


def test_a_missing_fifo_is_created_for_its_owner_0640(sticky: Path, umask_077: None) -> None:
    path = sticky / "notify.fifo"
    fifo = NotifyFifo(str(path), (NOBODY.pw_uid, NOBODY.pw_gid))
    fifo.open()
    try:
        st = path.lstat()
        assert stat.S_ISFIFO(st.st_mode)
        assert (st.st_uid, st.st_gid) == (NOBODY.pw_uid, NOBODY.pw_gid)
        assert stat.S_IMODE(st.st_mode) == 0o640  # whatever the umask; not world-readable
        reader = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        try:
            fifo.write('INSTANCE "VI_1" MASTER 100')
            fifo.write("RS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n")  # already ended
            assert fifo.pending() > 0
            assert os.read(reader, 4096) == (
                b'INSTANCE "VI_1" MASTER 100\nRS [10.0.0.2]:tcp:80 [10.0.0.1]:tcp:80 UP\n'
            )
        finally:
            os.close(reader)
    finally:
        fifo.close()


def test_without_an_owner_it_is_roots(sticky: Path) -> None:
    path = sticky / "notify.fifo"
    fifo = NotifyFifo(str(path))
    fifo.open()
    fifo.close()
    st = path.lstat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (os.geteuid(), 0o640)


def test_a_planted_symlink_is_never_followed(sticky: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("root's file\n")
    path = sticky / "notify.fifo"
    path.symlink_to(victim)
    fifo = NotifyFifo(str(path), what="vrrp_notify_fifo")
    with pytest.raises(FifoError, match=r"vrrp_notify_fifo .*notify.fifo: cannot open: a symlink"):
        fifo.open()
    assert not fifo.is_open
    fifo.write("INSTANCE x")  # a FIFO that is not open writes nothing
    assert victim.read_text() == "root's file\n"
    assert path.is_symlink()  # left alone: not ours to remove


def test_a_symlink_to_a_fifo_is_not_followed_either(sticky: Path, tmp_path: Path) -> None:
    real = tmp_path / "real.fifo"
    os.mkfifo(real)
    path = sticky / "notify.fifo"
    path.symlink_to(real)
    with pytest.raises(FifoError, match="a symlink"):
        NotifyFifo(str(path)).open()


def test_a_planted_regular_file_is_refused_and_not_written(sticky: Path) -> None:
    path = sticky / "notify.fifo"
    path.write_text("")
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    fifo = NotifyFifo(str(path), (NOBODY.pw_uid, NOBODY.pw_gid))  # even one of its user
    with pytest.raises(FifoError, match="is not a FIFO owned by uid"):
        fifo.open()
    assert path.read_text() == ""


@pytest.mark.root  # gives the FIFO to another user
def test_another_users_fifo_is_refused(sticky: Path) -> None:
    path = sticky / "notify.fifo"
    os.mkfifo(path)
    os.chmod(path, 0o666)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    with pytest.raises(FifoError, match=f"is a FIFO owned by uid {NOBODY.pw_uid}: not a FIFO"):
        NotifyFifo(str(path)).open()  # owner: root only
    assert stat.S_IMODE(path.lstat().st_mode) == 0o666  # not changed


def test_an_existing_fifo_of_its_user_is_used_as_it_is(sticky: Path) -> None:
    path = sticky / "notify.fifo"
    os.mkfifo(path, 0o600)
    os.chown(path, NOBODY.pw_uid, NOBODY.pw_gid)
    fifo = NotifyFifo(str(path), (NOBODY.pw_uid, NOBODY.pw_gid))
    fifo.open()
    fifo.close()
    st = path.lstat()
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY.pw_uid, 0o600)  # not changed


def test_a_missing_directory_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(FifoError, match=r"lvs_notify_fifo .*/nodir/f: cannot create: No such file"):
        NotifyFifo(str(tmp_path / "nodir" / "f"), what="lvs_notify_fifo").open()


def test_a_full_fifo_drops_the_line_with_a_warning(
    sticky: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fifo = NotifyFifo(str(sticky / "f"))
    fifo.open()
    try:
        line = "x" * 4000
        for _ in range(100):  # 400 kB: more than a pipe holds
            fifo.write(line)
        assert any("is full; dropped" in r.getMessage() for r in caplog.records)
    finally:
        fifo.close()
