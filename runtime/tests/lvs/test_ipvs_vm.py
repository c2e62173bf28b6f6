"""IPVS dataplane against a real kernel, in the lab VM (Debian's cloud kernel has ip_vs).

One boot runs:
- the oracle: keepalived and vipkeeper each program the same keepalived.conf; the sorted
  `ipvsadm -Ln` tables must be identical (forwarding methods, weights, schedulers,
  persistence); vipkeeper reads back what it wrote, a same-config reload changes nothing,
  and stop removes every service;
- test_director_lab.py with the IPVS backend: distribution by weight, a failed server stops
  getting connections, reload keeps an open connection, the sorry server on quorum loss,
  DR forwarding to real servers that hold the VIP, and open DR flows that stay on their
  server while the pool changes (the behaviour the nftables DR flow sets copy).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

RUNTIME = Path(__file__).resolve().parents[2]
VM_DIR = RUNTIME.parent / "tests" / "lab" / "vm"
if str(VM_DIR) not in sys.path:
    sys.path.insert(0, str(VM_DIR))

from vmrun import run_in_vm

# The VM is emulated (tcg) and shares the machine's cores: allow for a slow boot.
pytestmark = [pytest.mark.vm, pytest.mark.slow, pytest.mark.keepalived, pytest.mark.timeout(1200)]

ORACLE_CONF = """
global_defs {
    router_id vk_oracle
}
virtual_server 10.213.250.1 80 {
    lb_algo wrr
    lb_kind NAT
    protocol TCP
    real_server 10.213.250.11 8080 {
        weight 3
    }
    real_server 10.213.250.12 8080 {
        weight 1
    }
}
virtual_server 10.213.250.1 53 {
    lb_algo sh
    lb_kind DR
    protocol UDP
    persistence_timeout 300
    persistence_granularity 255.255.255.0
    real_server 10.213.250.11 53 {
        weight 2
    }
    real_server 10.213.250.13 53 {
    }
}
virtual_server 10.213.250.2 443 {
    lb_algo lc
    lb_kind NAT
    protocol TCP
    real_server 10.213.250.14 443 {
        weight 7
        lvs_method TUN
    }
    real_server 10.213.250.15 8443 {
        weight 0
    }
}
virtual_server fwmark 7 {
    lb_algo rr
    lb_kind DR
    real_server 10.213.250.16 0 {
        weight 5
    }
}
virtual_server fd00:213::1 80 {
    lb_algo wlc
    lb_kind NAT
    protocol TCP
    real_server fd00:213::11 80 {
        weight 2
    }
}
"""
EXPECTED_DESTS = 8

GUEST = f"""
set -u
cd "$VK_OUT"
export PYTHONPATH=/payload/runtime/src
modprobe ip_vs
keepalived -n -C -D -f /payload/oracle.conf -p /run/vk-ka.pid -c /run/vk-kc.pid &
ka=$!
for _ in $(seq 150); do
    [ "$(ipvsadm -Ln | grep -c -- '->.*[0-9] *$')" -ge {EXPECTED_DESTS} ] && break
    sleep 0.2
done
sleep 0.5
ipvsadm -Ln >keepalived.txt
kill $ka; wait $ka
ipvsadm -C
python /payload/runtime/tests/lvs/ipvs_oracle.py /payload/oracle.conf "$VK_OUT" >oracle.log 2>&1
echo $? >oracle.rc
cd /payload/runtime
VIPKEEPER_LVS_BACKEND=ipvs python -m pytest -q -p no:cacheprovider \\
    tests/lvs/test_director_lab.py >"$VK_OUT/director.txt" 2>&1
echo $? >"$VK_OUT/director.rc"
"""


def table(text: str) -> list[str]:
    """Service and destination lines of `ipvsadm -Ln`, blanks squeezed, sorted."""
    lines = [" ".join(line.split()) for line in text.splitlines()]
    keep = [
        ln
        for ln in lines
        if ln.startswith(("TCP ", "UDP ", "FWM ", "SCTP ", "-> "))
        and not ln.startswith("-> RemoteAddress")
    ]
    return sorted(keep)


@pytest.fixture(scope="module")
def vm_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    staging = tmp_path_factory.mktemp("payload")
    (staging / "oracle.conf").write_text(ORACLE_CONF)
    out = tmp_path_factory.mktemp("out")
    payload = {"runtime": RUNTIME, "oracle.conf": staging / "oracle.conf"}
    # tcg at load 12: the oracle plus the three director tests took about 520 s in the guest
    res = run_in_vm(GUEST, payload, timeout=800, out_dir=out)
    assert res.exit_code == 0, res.output + res.console[-3000:]
    return out


def test_vipkeeper_programs_the_same_ipvs_table_as_keepalived(vm_out: Path) -> None:
    assert (vm_out / "oracle.rc").read_text().strip() == "0", (vm_out / "oracle.log").read_text()
    theirs = table((vm_out / "keepalived.txt").read_text())
    ours = table((vm_out / "vipkeeper.txt").read_text())
    assert len([ln for ln in theirs if ln.startswith("->")]) == EXPECTED_DESTS, theirs
    assert ours == theirs


def test_readback_reload_and_stop(vm_out: Path) -> None:
    report = json.loads((vm_out / "oracle.json").read_text())
    assert report["config_errors"] == []
    assert report["errors"] == []
    assert report["readback_ops"] == []  # the kernel holds exactly what vipkeeper wanted
    assert report["reload_reconciles"] == 0  # same config: not one netlink change
    assert report["services_after_stop"] == []


def test_director_behaviour_with_ipvs(vm_out: Path) -> None:
    text = (vm_out / "director.txt").read_text()
    assert (vm_out / "director.rc").read_text().strip() == "0", text
    assert "3 passed" in text, text
