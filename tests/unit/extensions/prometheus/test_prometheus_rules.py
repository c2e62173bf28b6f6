"""The shipped Prometheus alert rules: `promtool check rules` and `promtool test rules`.

promtool comes with Debian's `prometheus` package, which `make deps` installs. Without it
these tests fail: a skip would let rules that Prometheus refuses, or alerts that never fire,
pass unnoticed.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
RULES = HERE.parents[3] / "extensions" / "prometheus" / "vipkeeper-alerts.yml"
TESTS = HERE / "vipkeeper-alerts.test.yml"
ALERTS = {
    "VipkeeperSplitBrain",
    "VipkeeperVipHeldTwice",
    "VipkeeperVipConflict",
    "VipkeeperNoMaster",
    "VipkeeperVipNotHeld",
    "VipkeeperFlapping",
    "VipkeeperScriptFailing",
    "VipkeeperTrackProcessDown",
    "VipkeeperSendErrors",
    "VipkeeperReloadFailed",
    "VipkeeperDown",
    "VipkeeperNotReporting",
}


def _promtool(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is missing: install Debian's prometheus package (make deps)")
    return subprocess.run(
        [promtool, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_the_rules_are_valid() -> None:
    result = _promtool("check", "rules", str(RULES), cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"SUCCESS: {len(ALERTS)} rules found" in result.stdout, result.stdout


def test_every_alert_fires_and_resolves_on_recorded_series() -> None:
    result = _promtool("test", "rules", TESTS.name, cwd=HERE)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout, result.stdout


def test_every_alert_is_tested_firing() -> None:
    """Each rule of the file appears in the recorded tests with an alert expected to fire."""
    rules = RULES.read_text()
    tests = TESTS.read_text()
    for alert in ALERTS:
        assert f"- alert: {alert}\n" in rules, alert
        fired = tests.split(f"alertname: {alert}\n")[1:]
        assert any(part.lstrip().startswith("exp_alerts:\n") for part in fired), alert
    assert rules.count("- alert: ") == len(ALERTS)
