"""The notify FIFO under a running daemon: its user can read it, a planted name is refused.

keepalived gives a FIFO it creates to the FIFO's user (`vrrp_notify_fifo PATH USER [GROUP]`,
else the default script user), so that the reader script, which runs as that user, can open
it; and it opens the name without following a symlink, using only a FIFO it or that user owns.
"""

from __future__ import annotations

import os
import pwd
import stat
from pathlib import Path

import pytest
from daemon.vkd import config, instance_conf, start_vipkeeper
from netlab import NetLab, wait_for

pytestmark = pytest.mark.netns
ADV = 0.1
NOBODY = pwd.getpwnam("nobody")


def _public_dir(lab: NetLab) -> Path:
    """A sticky, world-writable directory in the lab's work tree that `nobody` can reach."""
    work = Path(lab.workdir)
    work.chmod(0o711)
    pub = work / "pub"
    pub.mkdir()
    pub.chmod(0o1777)
    return pub


def test_the_fifo_is_given_to_its_user_whose_reader_script_reads_it(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    pub = _public_dir(lab)
    out = pub / "fifo.out"
    reader = pub / "reader.sh"
    reader.write_text(f'#!/bin/sh\nwhile read -r line; do echo "$line" >> {out}; done < "$1"\n')
    reader.chmod(0o755)
    fifo = pub / "vrrp.fifo"
    globals_ = (
        f"vrrp_notify_fifo {fifo} nobody nogroup\n  vrrp_notify_fifo_script {reader} nobody nogroup"
    )
    va = start_vipkeeper(lab, a, config(instance_conf(version=3, advert=ADV), globals_=globals_))
    assert va.wait_state("MASTER", 3) is not None, va.log()
    st = fifo.lstat()
    assert stat.S_ISFIFO(st.st_mode)
    assert (st.st_uid, stat.S_IMODE(st.st_mode)) == (NOBODY.pw_uid, 0o640), va.log()
    # The reader runs as nobody and could open the FIFO: the lines arrive.
    assert wait_for(lambda: out.exists() and 'INSTANCE "VI_1" MASTER 100' in out.read_text(), 3), (
        va.log()
    )
    assert out.stat().st_uid == NOBODY.pw_uid  # written by the reader, as nobody
    assert va.stop() == 0


def test_a_planted_symlink_is_refused_and_its_target_untouched(lab: NetLab) -> None:
    a = lab.add_node("a", addrs=["10.213.1.1/24"])
    pub = _public_dir(lab)
    victim = Path(lab.workdir) / "shadow"  # stands for a root-owned file such as /etc/shadow
    victim.write_text("root:*:19000:0:99999:7:::\n")
    fifo = pub / "vrrp.fifo"
    fifo.symlink_to(victim)
    os.lchown(fifo, NOBODY.pw_uid, NOBODY.pw_gid)  # planted by another user
    globals_ = f"vrrp_notify_fifo {fifo}\n  notify_fifo {pub / 'plain'}"
    (pub / "plain").write_text("")  # a regular file planted under the other FIFO's name
    va = start_vipkeeper(lab, a, config(instance_conf(version=3, advert=ADV), globals_=globals_))
    assert va.wait_state("MASTER", 3) is not None, va.log()
    log = va.log()
    assert f"vrrp_notify_fifo {fifo}: cannot open: a symlink (not followed)" in log, log
    assert f"notify_fifo {pub / 'plain'} is not a FIFO owned by uid 0" in log, log
    assert victim.read_text() == "root:*:19000:0:99999:7:::\n"
    assert (pub / "plain").read_text() == ""
    assert fifo.is_symlink()
    assert va.stop() == 0
    assert victim.read_text() == "root:*:19000:0:99999:7:::\n"  # nor at STOP
