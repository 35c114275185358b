"""Papermill regression run: every notebook with params/ci.yaml, its metrics compared with the
committed reference (tests/reference/README.md says why the tolerance is what it is and how to
refresh the reference)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from nbutils.report import compare_metrics, read_run_metrics

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = ROOT / "tests" / "reference" / "ci_metrics.json"
TOLERANCE = 0.05  # AP, agreement and the other averaged metrics
THRESHOLDED_TOLERANCE = 0.15  # BA (an argmax on a small test set) and CAM centre mass


def tolerance(key: str) -> float:
    """Allowed absolute difference for one metric (tests/reference/README.md says why)."""
    return THRESHOLDED_TOLERANCE if key.endswith("/ba") or key.startswith("cams/") else TOLERANCE


def reference() -> dict:
    return json.loads(REFERENCE.read_text())


@pytest.mark.slow
def test_every_notebook_runs_and_matches_the_reference(tmp_path):
    env = {**os.environ, "CI": "1"}
    done = subprocess.run([sys.executable, "-m", "nbutils.run", "params/ci.yaml", "--runs", str(tmp_path),
                           "--run-id", "regression"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    run = tmp_path / "ci" / "regression"
    summary = json.loads((run / "summary.json").read_text())
    assert [r["status"] for r in summary] == ["ok"] * 4
    assert len(list((run / "figures").glob("*.png"))) >= 10
    problems = compare_metrics(read_run_metrics(run), reference(), tolerance)
    assert not problems, "\n".join(problems)


def test_a_deliberately_broken_method_fails_the_comparison():
    ref = reference()
    broken = dict(ref)
    key = next(k for k in ref if k.startswith("benchmark/") and "/rg/" in k and k.endswith("macro_ap"))
    broken[key] = ref[key] - 0.2  # what a regression in regrouping would look like
    problems = compare_metrics(broken, ref, tolerance)
    assert len(problems) == 1 and key in problems[0]
    assert compare_metrics(ref, ref, tolerance) == []
    dropped = {k: v for k, v in ref.items() if k != key}
    assert compare_metrics(dropped, ref, tolerance) == [f"missing: {key}"]


def test_a_collapsed_balanced_accuracy_fails_the_comparison():
    ref = reference()
    key = next(k for k in ref if k.startswith("benchmark/") and "/ros/" in k and k.endswith("/ba"))
    collapsed = {**ref, key: ref[key] - 0.2}  # what a sampler that stopped balancing does to BA
    assert [p.split(":")[0] for p in compare_metrics(collapsed, ref, tolerance)] == [key]
