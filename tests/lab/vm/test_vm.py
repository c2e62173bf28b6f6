"""The lab VM runs IPVS for real: ipvsadm, pyroute2's IPVS API and keepalived inside Debian's
cloud kernel, with the base disk untouched and the VM always stopped."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from image import VmImage, ensure_image
from vmrun import PREFIX, VmError, VmResult, cleanup_stale, run_in_vm

pytestmark = [pytest.mark.vm, pytest.mark.slow]

# The run's result, its $VK_OUT files, and the base disk (mtime, sha256) before and after.
IpvsRun = tuple[VmResult, Path, tuple[float, str], tuple[float, str]]

VIP = "10.213.250.1"
REALS = ("10.213.250.11", "10.213.250.12")

# Programs the same NAT service as the ipvsadm commands below, through pyroute2's IPVS API.
# IPVSDest defaults to DR (fwd_method 3): NAT (masquerading) is 0 and must be set explicitly.
PYROUTE2_SCRIPT = f"""
import json, socket
from pyroute2 import IPVS, IPVSDest, IPVSService

ipvs = IPVS()
svc = IPVSService(addr="{VIP}", port=80, protocol=socket.IPPROTO_TCP, sched_name="wrr")
ipvs.service("add", service=svc)
for weight, addr in enumerate({list(REALS)!r}, start=1):
    ipvs.dest("add", service=svc, dest=IPVSDest(addr=addr, port=80, weight=weight, fwd_method=0))
# Read back the raw attributes: IPVSDest.from_message() (0.9.7) leaves fwd_method at its
# default 3 whatever the kernel says.
dump = []
for msg in ipvs.service("dump"):
    s = IPVSService.from_message(msg)
    dests = [d.get("IPVS_CMD_ATTR_DEST") for d in ipvs.dest("dump", service=s)]
    attrs = ("ADDR", "PORT", "WEIGHT", "FWD_METHOD")
    dump.append({{
        "addr": s["addr"], "port": s["port"], "sched": s["sched_name"],
        "dests": sorted([d.get("IPVS_DEST_ATTR_" + a) for a in attrs] for d in dests),
    }})
print(json.dumps(dump))
ipvs.close()
"""

KEEPALIVED_CONF = f"""
global_defs {{
    router_id vk_vm_test
}}
virtual_server {VIP} 80 {{
    delay_loop 2
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server {REALS[0]} 80 {{
        weight 1
    }}
    real_server {REALS[1]} 80 {{
        weight 2
    }}
}}
"""

# One boot covers ipvsadm, pyroute2 and keepalived; each step leaves its evidence in $VK_OUT.
GUEST_SCRIPT = f"""
set -u
cd "$VK_OUT"
uname -r >kernel.txt
modprobe ip_vs && grep -c '^ip_vs ' /proc/modules >ip_vs_loaded.txt
ipvsadm -A -t {VIP}:80 -s wrr
ipvsadm -a -t {VIP}:80 -r {REALS[0]}:80 -m -w 1
ipvsadm -a -t {VIP}:80 -r {REALS[1]}:80 -m -w 2
ipvsadm -Ln >ipvsadm.txt
ipvsadm -C
python /payload/program.py >pyroute2.json
ipvsadm -Ln >pyroute2.txt
ipvsadm -C
keepalived -t -f /payload/keepalived.conf >keepalived_t.txt 2>&1; echo $? >keepalived_t.rc
printf 'virtual_server {VIP} 80 {{\\n  lb_kind BOGUS\\n' >bad.conf
keepalived -t -f bad.conf >keepalived_bad.txt 2>&1; echo $? >keepalived_bad.rc
keepalived -n -C -D -f /payload/keepalived.conf -p /run/vk-ka.pid -c /run/vk-ka-chk.pid &
ka=$!
for _ in $(seq 100); do
    [ "$(ipvsadm -Ln | grep -c Masq)" = 2 ] && break
    sleep 0.2
done
ipvsadm -Ln >keepalived.txt
kill $ka; wait $ka
find /payload/pkg | sort >pkg.txt
PYTHONPATH=/payload/pkg python -c 'import vkmod; print(vkmod.ANSWER)' >pkg_import.txt
echo done
exit 7
"""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _ipvs_table(text: str) -> list[str]:
    """The service and real-server lines of `ipvsadm -Ln`, blanks squeezed (no traffic here)."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    return [line for line in lines if line.startswith(("TCP ", "UDP ", "FWM ", "-> ")) and
            not line.startswith("-> RemoteAddress")]  # fmt: skip


@pytest.fixture(scope="module")
def image() -> VmImage:
    """The cached VM image (built on first use: several minutes)."""
    if os.geteuid() != 0:
        pytest.fail("the VM image build needs root (debootstrap)")  # never a silent skip
    return ensure_image()


@pytest.fixture(scope="module")
def ipvs_run(
    image: VmImage, tmp_path_factory: pytest.TempPathFactory, vm_timings: list[str]
) -> IpvsRun:
    """One VM run of GUEST_SCRIPT, with the base disk's (mtime, sha256) before and after."""
    before = (image.disk.stat().st_mtime, _sha256(image.disk))
    staging = tmp_path_factory.mktemp("payload")
    (staging / "program.py").write_text(PYROUTE2_SCRIPT)
    (staging / "keepalived.conf").write_text(KEEPALIVED_CONF)
    pkg = staging / "pkg"
    (pkg / "__pycache__").mkdir(parents=True)
    (pkg / "vkmod.py").write_text("ANSWER = 42\n")
    (pkg / "__pycache__" / "vkmod.cpython-311.pyc").write_bytes(b"not for the VM")
    out = tmp_path_factory.mktemp("out")
    payload = {
        "program.py": staging / "program.py",
        "keepalived.conf": staging / "keepalived.conf",
        "pkg": pkg,
    }
    res = run_in_vm(GUEST_SCRIPT, payload, timeout=120, out_dir=out, image=image)
    vm_timings.append(f"boot + ipvsadm + pyroute2 + keepalived + power-off: {res.seconds:.1f} s")
    after = (image.disk.stat().st_mtime, _sha256(image.disk))
    return res, out, before, after


def test_script_exit_code_and_output_come_back(ipvs_run: IpvsRun) -> None:
    res, _, _, _ = ipvs_run
    assert res.exit_code == 7, res.output + res.console[-2000:]
    assert res.output.strip().endswith("done"), res.output


def test_payload_directory_arrives_without_host_caches(ipvs_run: IpvsRun) -> None:
    _, out, _, _ = ipvs_run
    assert (out / "pkg.txt").read_text().split() == ["/payload/pkg", "/payload/pkg/vkmod.py"]
    assert (out / "pkg_import.txt").read_text().strip() == "42"


def test_vm_runs_the_cloud_kernel_with_ip_vs(ipvs_run: IpvsRun) -> None:
    _, out, _, _ = ipvs_run
    assert (out / "kernel.txt").read_text().strip().endswith("-cloud-amd64")
    assert (out / "ip_vs_loaded.txt").read_text().strip() == "1"


def test_ipvsadm_programs_a_nat_service(ipvs_run: IpvsRun) -> None:
    _, out, _, _ = ipvs_run
    table = _ipvs_table((out / "ipvsadm.txt").read_text())
    assert table == [
        f"TCP {VIP}:80 wrr",
        f"-> {REALS[0]}:80 Masq 1 0 0",
        f"-> {REALS[1]}:80 Masq 2 0 0",
    ]


def test_pyroute2_programs_the_same_table(ipvs_run: IpvsRun) -> None:
    _, out, _, _ = ipvs_run
    dump = json.loads((out / "pyroute2.json").read_text())
    assert dump == [
        {
            "addr": VIP,
            "port": 80,
            "sched": "wrr",
            "dests": [[REALS[0], 80, 1, 0], [REALS[1], 80, 2, 0]],
        }
    ]
    assert _ipvs_table((out / "pyroute2.txt").read_text()) == _ipvs_table(
        (out / "ipvsadm.txt").read_text()
    )


def test_keepalived_checks_config_and_programs_ipvs(
    ipvs_run: IpvsRun,
) -> None:
    _, out, _, _ = ipvs_run
    assert (out / "keepalived_t.rc").read_text().strip() == "0", (
        out / "keepalived_t.txt"
    ).read_text()
    assert (out / "keepalived_bad.rc").read_text().strip() != "0"
    assert "unknown [BOGUS] routing method" in (out / "keepalived_bad.txt").read_text()
    assert sorted(_ipvs_table((out / "keepalived.txt").read_text())) == sorted(
        _ipvs_table((out / "ipvsadm.txt").read_text())
    )


def test_base_disk_unchanged(ipvs_run: IpvsRun) -> None:
    _, _, before, after = ipvs_run
    assert before == after


def test_guest_timeout_stops_the_script(image: VmImage, vm_timings: list[str]) -> None:
    res = run_in_vm("echo started; sleep 600; echo never", timeout=3, image=image)
    vm_timings.append(f"boot + 3 s guest timeout + power-off: {res.seconds:.1f} s")
    assert res.exit_code == 124
    assert res.timed_out
    assert res.output.strip() == "started"


def test_host_timeout_kills_qemu_and_removes_temp_files(image: VmImage) -> None:
    with pytest.raises(VmError, match="no result within"):
        run_in_vm("sleep 600", timeout=1, image=image, boot_allowance=2)
    assert _qemus_named(f"{PREFIX}-{os.getpid()}") == []
    leftovers = list(Path(tempfile.gettempdir()).glob(f"{PREFIX}-{os.getpid()}-*"))
    assert leftovers == []


def test_payload_name_is_checked(image: VmImage) -> None:
    with pytest.raises(ValueError, match="payload name"):
        run_in_vm("true", {"../x": Path(__file__)}, image=image)
    with pytest.raises(ValueError, match="payload name"):
        run_in_vm("true", {"run.sh": Path(__file__)}, image=image)


def test_cli_build_only_names_the_image(image: VmImage) -> None:
    cli = Path(__file__).with_name("vmrun.py")
    proc = subprocess.run(
        [sys.executable, str(cli), "--build-only"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == f"image: {image.disk.parent}"


def _qemus_named(name: str) -> list[int]:
    pids = []
    for proc_dir in Path("/proc").iterdir():
        if proc_dir.name.isdigit():
            try:
                argv = (proc_dir / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if name.encode() in argv and argv[0].endswith(b"qemu-system-x86_64"):
                pids.append(int(proc_dir.name))
    return pids


def _wait_for(cond: Callable[[], bool], limit: float) -> bool:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if cond():
            return True
        time.sleep(0.1)
    return cond()


def test_killed_runner_takes_qemu_down_and_next_run_cleans_up(image: VmImage) -> None:
    cli = Path(__file__).with_name("vmrun.py")
    runner = subprocess.Popen(
        [sys.executable, str(cli), "--", "sleep 600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    name = f"{PREFIX}-{runner.pid}"
    try:
        assert _wait_for(lambda: _qemus_named(name) != [], 30), "qemu never started"
        runner.kill()  # SIGKILL: the runner cannot clean up after itself
        runner.wait()
        assert _wait_for(lambda: _qemus_named(name) == [], 10), "qemu outlived its runner"
        leftovers = list(Path(tempfile.gettempdir()).glob(f"{name}-*"))
        assert leftovers != []  # the killed runner could not remove its temp dir...
        removed = cleanup_stale()
        assert all(str(p) in removed for p in leftovers)  # ...the next run does
        assert not any(p.exists() for p in leftovers)
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_stops_qemu_and_removes_temp_files(image: VmImage) -> None:
    cli = Path(__file__).with_name("vmrun.py")
    runner = subprocess.Popen(
        [sys.executable, str(cli), "--", "sleep 600"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        # Ctrl-C as a terminal delivers it: a shell's background job (CI may be one) inherits
        # SIGINT ignored, and Python then installs no KeyboardInterrupt handler.
        preexec_fn=_default_sigint,  # noqa: PLW1509 - only resets one signal disposition
    )
    name = f"{PREFIX}-{runner.pid}"
    try:
        assert _wait_for(lambda: _qemus_named(name) != [], 30), "qemu never started"
        runner.send_signal(signal.SIGINT)
        _, err = runner.communicate(timeout=30)
        assert runner.returncode == 130, err
        assert "interrupted" in err
        assert _qemus_named(name) == []
        assert list(Path(tempfile.gettempdir()).glob(f"{name}-*")) == []
    finally:
        if runner.poll() is None:
            runner.kill()
            runner.wait()
