"""runtime_hosts.py's verdict: a wrong Python, a skip or no test at all is never a pass."""

from __future__ import annotations

import argparse

import labhelpers  # noqa: F401  (puts tests/lab on sys.path)
import pytest
import runtime_hosts as rh

JUNIT = (
    '<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests">'
    '<testsuite name="pytest" errors="{e}" failures="{f}" skipped="{s}" tests="{t}" '
    'time="3.5"></testsuite></testsuites>'
)
BULLSEYE = rh.Run("bullseye", "3.9", ("tests/daemon",))


def _summary(t: int = 10, f: int = 0, e: int = 0, s: int = 0) -> rh.Summary:
    return rh.parse_junit(JUNIT.format(t=t, f=f, e=e, s=s))


def test_run_takes_the_python_of_the_release() -> None:
    run = rh.parse_run("trixie=tests/interop -k 'not slow'")
    assert run == rh.Run("trixie", "3.13", ("tests/interop", "-k", "not slow"))
    assert rh.parse_run("bullseye=tests").python == "3.9"


@pytest.mark.parametrize("text", ["bullseye", "bullseye=", "jessie=tests", "=tests"])
def test_run_refuses_what_it_cannot_test(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        rh.parse_run(text)


def test_junit_counters_are_read() -> None:
    summary = _summary(t=12, f=1, e=2, s=3)
    assert (summary.tests, summary.failures, summary.errors, summary.skipped) == (12, 1, 2, 3)
    assert summary.passed == 6
    assert summary.line() == "6 passed, 1 failed, 2 errors, 3 skipped"


def test_only_a_clean_run_on_the_right_python_passes() -> None:
    assert rh.verdict(BULLSEYE, 0, _summary()) is None
    assert "not Python 3.9" in (rh.verdict(BULLSEYE, rh.WRONG_PYTHON, None) or "")
    assert "skip" in (rh.verdict(BULLSEYE, 0, _summary(s=1)) or "")
    assert rh.verdict(BULLSEYE, 1, _summary(f=1)) == "1 failed, 0 errors"
    assert rh.verdict(BULLSEYE, 1, _summary(e=1)) == "0 failed, 1 errors"
    assert rh.verdict(BULLSEYE, 5, _summary(t=0)) == "no test ran"
    assert "no junit" in (rh.verdict(BULLSEYE, 2, None) or "")
    assert "exited with 3" in (rh.verdict(BULLSEYE, 3, _summary()) or "")


def test_the_test_tools_come_from_tests_requirements() -> None:
    text = (
        "ansible-core>=2.18\npytest>=8.0\npytest-timeout>=2.3  # x\nhypothesis >= 6.100\n"
        "aiosmtpd>=1.4  # y\n"
    )
    assert rh.test_tool_specs(text) == [
        "pytest>=8.0",
        "pytest-timeout>=2.3",
        "hypothesis>=6.100",
        "aiosmtpd>=1.4",
    ]
    with pytest.raises(rh.HostsError, match="aiosmtpd, hypothesis"):
        rh.test_tool_specs("pytest>=8.0\npytest-timeout>=2.3\n")


def test_the_host_script_checks_the_python_before_anything_else() -> None:
    script = rh.host_script(BULLSEYE, ["pytest>=8.0"])
    assert script.index('[ "$have" != 3.9 ]') < script.index("python3 -m venv")
    assert f"exit {rh.WRONG_PYTHON}" in script
    assert "--no-index" in script and "'vipkeeper[metrics]' 'pytest>=8.0'" in script
    assert script.rstrip().endswith("tests/daemon")
