"""Run inside the lab VM: program a keepalived.conf's virtual servers through IPVS with vipkeeper.

    python ipvs_oracle.py CONF OUTDIR

Writes OUTDIR/vipkeeper.txt (`ipvsadm -Ln` while running) and OUTDIR/oracle.json: whether
reading the kernel back gives the desired table, whether a same-config reload sends no
operation, and whether stop removes every service.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys

from vipkeeper.config import load
from vipkeeper.lvs.ipvs import IpvsDataplane
from vipkeeper.lvs.manager import LvsManager
from vipkeeper.lvs.reconcile import plan


async def main(conf: str, out: str) -> None:
    result = load(conf)
    errors = [str(d) for d in result.diagnostics if str(d.severity) == "error"]
    backend = await IpvsDataplane.open()
    mgr = LvsManager(result.config, backend=backend, bootstrap=1e6)
    await mgr.start()
    table = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=True).stdout
    with open(f"{out}/vipkeeper.txt", "w") as fh:
        fh.write(table)
    readback = await backend.read()
    leftover = plan(mgr.desired(), readback)
    before = mgr.reconciles
    await mgr.apply(load(conf).config)
    reload_ops = mgr.reconciles - before
    await mgr.stop()
    after = subprocess.run(["ipvsadm", "-Ln"], capture_output=True, text=True, check=True).stdout
    report = {
        "config_errors": errors,
        "readback_ops": [repr(op) for op in leftover],
        "readback": {str(k): repr(v) for k, v in readback.items()},
        "reload_reconciles": reload_ops,
        "services_after_stop": [
            ln for ln in after.splitlines() if ln.startswith(("TCP", "UDP", "FWM", "SCTP"))
        ],
        "errors": mgr.errors,
    }
    with open(f"{out}/oracle.json", "w") as fh:
        json.dump(report, fh)


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
