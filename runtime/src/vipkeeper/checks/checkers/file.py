"""FILE_CHECK: a track file's number drives the real server (keepalived's rule).

With no weight (or weight 0) the server is down while the value is non-zero. With a weight,
`value * weight` (negated by `reverse`) is added to the configured weight; a product at or
below -254 means down, and the resulting weight is clamped to 0..65535.
"""

from __future__ import annotations

import asyncio

from vipkeeper.checks.checkers.result import CheckResult
from vipkeeper.config.model import FileCheck

WEIGHT_FAULT = -254
WEIGHT_MAX = 65535


def read_value(path: str) -> int:
    """The integer at the start of the file (a missing/empty/garbled file reads as 0)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as fh:
            text = fh.read(64)
    except OSError:
        return 0
    token = text.strip().split(maxsplit=1)
    try:
        return int(token[0]) if token else 0
    except ValueError:
        return 0


def judge_value(check: FileCheck, value: int, base_weight: int) -> CheckResult:
    """The result for a track file value."""
    if not check.weight:
        return CheckResult(value == 0, f"value {value}")
    delta = value * check.weight * (-1 if check.reverse else 1)
    if delta <= WEIGHT_FAULT:
        return CheckResult(False, f"value {value}")
    return CheckResult(True, f"value {value}", max(0, min(WEIGHT_MAX, base_weight + delta)))


async def file_check(check: FileCheck, path: str, base_weight: int) -> CheckResult:
    """Read the file (off the event loop's critical path: it is one small read)."""
    await asyncio.sleep(0)
    return judge_value(check, read_value(path), base_weight)
