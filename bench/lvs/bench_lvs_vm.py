"""Run bench_lvs.py inside the lab VM (Debian's cloud kernel: IPVS, so keepalived can run too).

    .venv/bin/python bench/lvs/bench_lvs_vm.py [bench_lvs.py options]

The VM is emulated (qemu tcg), so its figures compare vipkeeper with keepalived inside the
same VM; they are not comparable with figures taken on the host.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab" / "vm"))

from vmrun import run_in_vm


def main() -> int:
    extra = sys.argv[1:] or ["--keepalived", "--backend", "ipvs"]
    script = (
        "modprobe ip_vs\n"
        "export PYTHONPATH=/payload/runtime/src\n"
        f"python /payload/bench/lvs/bench_lvs.py {shlex.join(extra)}\n"
    )
    payload = {"runtime": ROOT / "runtime", "bench": ROOT / "bench"}
    res = run_in_vm(script, payload, timeout=900)
    print(res.output)
    return res.exit_code


if __name__ == "__main__":
    sys.exit(main())
