"""The benchmarks under bench/ that run without root still run: they drive the daemon's own
classes with stand-ins, so a change of those classes can break a benchmark in silence (the
daemon row of bench/vrrp once did: its stand-in socket had no ``recv_packet``)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a few seconds: a subprocess runs every figure

BENCH = Path(__file__).resolve().parents[2] / "bench"


def test_bench_vrrp_prints_every_row() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH / "vrrp" / "bench_vrrp.py"), "--seconds", "0.05"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    rows = [line for line in out.splitlines() if line.startswith("| ") and "---" not in line]
    daemon = [r for r in rows if r.startswith("| daemon: BACKUP of 100 instances")]
    assert len(daemon) == 1, out
    # Every figure is a positive rate: a row that measured nothing prints 0.
    for row in rows[1:]:
        cells = [c.strip() for c in row.strip("|").split("|")[1:]]
        if all(c.replace(",", "").replace(".", "").isdigit() for c in cells):
            assert all(float(c.replace(",", "")) > 0 for c in cells), row
