"""Script security on the LVS side: MISC_CHECK, notify_up/down, quorum_up/down, the FIFO script.

keepalived (check/check_data.c check_check_script_security, check/check_misc.c
check_misc_script_security) vets these when it loads a config: with enable_script_security,
one running as root whose file (or a directory above it) a user other than root can change
is freed and never run; a MISC_CHECK so refused is removed from its real server. Scripts
without a user of their own run as script_user, else keepalived_script, else root.

The insecure scripts are owned by nobody, in a root-owned directory, and write a marker file.
LvsManager runs on the fake dataplane; the scripts are real processes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from ipaddress import ip_address
from pathlib import Path

import pytest

from vipkeeper.config.model import (
    Config,
    GlobalDefs,
    MiscCheck,
    RealServer,
    ScriptCommand,
    TcpCheck,
    VirtualServer,
)
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.manager import LvsManager

NOBODY = 65534
pytestmark = pytest.mark.root  # files owned by nobody, scripts run as root
NEVER = 1e6  # checkers never run on their own
VIP = ip_address("10.213.2.100")


@pytest.fixture
def tree() -> Iterator[Path]:
    """A root-owned 0755 directory for scripts and markers."""
    if os.geteuid() != 0:
        pytest.fail("these tests need root (files owned by nobody, scripts run as root)")
    root = Path(tempfile.mkdtemp(prefix="vklvs-"))
    root.chmod(0o755)
    try:
        yield root
    finally:
        shutil.rmtree(root)


def script(path: Path, body: str, uid: int = 0) -> ScriptCommand:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    os.chown(path, uid, 0)
    return ScriptCommand(command=str(path), argv=(str(path),))


def secure(**gd: object) -> GlobalDefs:
    return GlobalDefs(script_user="root", enable_script_security=True, **gd)  # type: ignore[arg-type]


def server(n: int, *checkers: object, **kw: object) -> RealServer:
    return RealServer(
        address=ip_address(f"10.213.1.{n}"),
        port=8080,
        weight=1,
        checkers=checkers or (TcpCheck(),),  # type: ignore[arg-type]
        **kw,  # type: ignore[arg-type]
    )


def service(*servers: RealServer, **kw: object) -> VirtualServer:
    return VirtualServer(address=VIP, port=80, lb_algo="wrr", real_servers=servers, **kw)  # type: ignore[arg-type]


def test_insecure_misc_check_is_removed_and_never_runs(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker, good_marker = tree / "misc.ran", tree / "good.ran"
    evil = script(tree / "misc.sh", f"touch {marker}\n", uid=NOBODY)
    good = script(tree / "good.sh", f"touch {good_marker}\n")
    config = Config(
        global_defs=secure(),
        virtual_servers=(
            service(
                server(11, MiscCheck(misc_path=evil, delay_loop=0.05)),
                server(12, MiscCheck(misc_path=good, delay_loop=0.05)),
            ),
        ),
    )

    async def run() -> None:
        mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=0.01)
        caplog.set_level(logging.ERROR)
        await mgr.start()
        bad, fine = mgr.virtual_servers[0].servers
        assert bad.loops == [], "the refused MISC_CHECK has no checker: it can never run"
        assert len(fine.loops) == 1
        assert any("refused by script security" in why for why in bad.unsupported)
        for _ in range(250):  # the secure one runs (deadline 5 s)
            if good_marker.exists():
                break
            await asyncio.sleep(0.02)
        await mgr.stop()

    asyncio.run(run())
    assert good_marker.exists()
    assert not marker.exists()
    text = caplog.text
    assert "real_server [10.213.1.11]:tcp:8080" in text and "MISC_CHECK" in text
    assert f"'{evil.argv[0]}' is owned by uid {NOBODY}, not root" in text


def test_insecure_notify_up_down_and_quorum_scripts_never_run(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    markers = {k: tree / f"{k}.ran" for k in ("down", "quorum_down", "good_down")}
    down = script(tree / "down.sh", f"touch {markers['down']}\n", uid=NOBODY)
    qdown = script(tree / "qdown.sh", f"touch {markers['quorum_down']}\n", uid=NOBODY)
    good = script(tree / "gdown.sh", f"touch {markers['good_down']}\n")
    config = Config(
        global_defs=secure(),
        virtual_servers=(
            service(server(11, notify_down=down), server(12, notify_down=good), quorum_down=qdown),
        ),
    )

    async def run() -> None:
        mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=NEVER)
        caplog.set_level(logging.WARNING)
        await mgr.start()
        for srv in mgr.virtual_servers[0].servers:  # both servers fail: quorum is lost
            srv.loops[0].up = False
            mgr.server_changed(srv)
        await mgr.stop()  # waits for every notify it started

    asyncio.run(run())
    assert markers["good_down"].exists(), "the secure notify_down ran"
    assert not markers["down"].exists(), "the insecure notify_down ran"
    assert not markers["quorum_down"].exists(), "the insecure quorum_down ran"
    text = caplog.text
    assert "notify_down" in text and "quorum_down" in text
    assert text.count(f"is owned by uid {NOBODY}, not root") >= 2


def test_insecure_lvs_notify_fifo_script_is_never_started(
    tree: Path, caplog: pytest.LogCaptureFixture
) -> None:
    marker = tree / "fifo.ran"
    evil = script(tree / "fifo.sh", f'touch {marker}\nexec cat "$1"\n', uid=NOBODY)
    gd = secure(lvs_notify_fifo=str(tree / "lvs.fifo"), lvs_notify_fifo_script=evil)
    config = Config(global_defs=gd, virtual_servers=(service(server(11)),))

    async def run() -> None:
        mgr = LvsManager(config, backend=FakeDataplane(), bootstrap=NEVER)
        caplog.set_level(logging.ERROR)
        await mgr.start()
        assert mgr._fifo_proc is None, "the refused FIFO script was started"
        await mgr.stop()

    asyncio.run(run())
    assert not marker.exists()
    assert "global_defs lvs_notify_fifo_script" in caplog.text


# Run in a private mount namespace whose /etc/passwd has a keepalived_script user: the LVS
# manager, with no script_user, runs its MISC_CHECK as that user (keepalived's default).
FALLBACK = """
import asyncio, sys
from ipaddress import ip_address
from pathlib import Path
from vipkeeper.config.model import (
    Config, GlobalDefs, MiscCheck, RealServer, ScriptCommand, VirtualServer)
from vipkeeper.lvs.dataplane import FakeDataplane
from vipkeeper.lvs.manager import LvsManager

path, out = sys.argv[1], Path(sys.argv[2])
cmd = ScriptCommand(command=path, argv=(path,))
rs = RealServer(address=ip_address("10.213.1.11"), port=8080, weight=1,
                checkers=(MiscCheck(misc_path=cmd, delay_loop=0.05),))
vs = VirtualServer(address=ip_address("10.213.2.100"), port=80, lb_algo="wrr", real_servers=(rs,))

async def main() -> None:
    mgr = LvsManager(Config(global_defs=GlobalDefs(), virtual_servers=(vs,)),
                     backend=FakeDataplane(), bootstrap=0.01)
    await mgr.start()
    for _ in range(250):
        if out.exists() and out.read_text().strip():
            break
        await asyncio.sleep(0.02)
    await mgr.stop()

asyncio.run(main())
"""


def test_lvs_scripts_fall_back_to_keepalived_script(tree: Path) -> None:
    uid = 64123
    passwd = tree / "passwd"
    passwd.write_text(
        Path("/etc/passwd").read_text()
        + f"keepalived_script:x:{uid}:{uid}::/nonexistent:/usr/sbin/nologin\n"
    )
    outdir = tree / "out"
    outdir.mkdir(mode=0o777)
    outdir.chmod(0o777)
    out = outdir / "uid"
    check = script(tree / "whoami.sh", f"id -u > {out}\n")
    wrapped = [
        "unshare", "-m", "--propagation", "private", "sh", "-c",
        'mount --bind "$0" /etc/passwd && exec "$@"', str(passwd),
        sys.executable, "-c", FALLBACK, check.argv[0], str(out),
    ]  # fmt: skip
    proc = subprocess.run(wrapped, capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert out.read_text().strip() == str(uid), "the MISC_CHECK did not run as keepalived_script"
