"""Mutation checks: each fault of tests/mutations.py, put into nbutils on its own, fails the
suite's tests named for it (run in a pytest subprocess with NBUTILS_MUTATION=<fault>), and those
same tests pass without a fault — so each failure is the fault's doing."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mutations import FAULTS

ROOT = Path(__file__).resolve().parent.parent


def run_pytest(test_ids: list[str], fault: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "NBUTILS_MUTATION"}
    if fault:
        env["NBUTILS_MUTATION"] = fault
    return subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *test_ids],
                          cwd=ROOT, env=env, capture_output=True, text=True)


def test_the_named_tests_pass_without_a_fault():
    test_ids = sorted({t for fault in FAULTS.values() for t in fault.tests})
    done = run_pytest(test_ids, None)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.mark.parametrize("fault", list(FAULTS))
def test_the_suite_notices_the_fault(fault):
    done = run_pytest(list(FAULTS[fault].tests), fault)
    # exit code 1: tests ran and failed (2-4 would be an error of the run itself, not a verdict)
    assert done.returncode == 1, f"{fault} went unnoticed:\n" + done.stdout[-3000:] + done.stderr[-3000:]
    failed = [line.split()[1] for line in done.stdout.splitlines() if line.startswith("FAILED ")]
    assert failed and all(any(f.startswith(t) for t in FAULTS[fault].tests) for f in failed), done.stdout[-3000:]
