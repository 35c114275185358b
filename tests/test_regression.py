"""Papermill run of every notebook with params/ci.yaml: each runs to the end and writes its
figures, tables and metrics, and the metrics are in range with every method of the file present.
The run is the session's ``ci_run`` (tests/conftest.py), with the Ray executor when Ray is
installed: the last test checks that its plan is every training the notebooks loaded.

No trained number is compared with a stored value: a 2-epoch run on 600 images is chaotic, and
float rounding that differs between CPUs moves its metrics by more than any tolerance that would
still catch a regression (tests/README.md has the measurements). Whether methods behave is
checked by relation in tests/test_behaviour.py, and by fault in tests/test_mutations.py.
"""
import json
import math
from pathlib import Path

import pandas as pd
import pytest
import yaml

from nbutils.run import planned_trainings
from nbutils.runs.folder import read_run_metrics, read_summary
from nbutils.runs.parameters import plan

ROOT = Path(__file__).resolve().parent.parent
CI = yaml.safe_load((ROOT / "params" / "ci.yaml").read_text())


def expected_benchmark_runs() -> list[tuple[str, str]]:
    """(task, method) pairs the benchmark notebook must report: every method of params/ci.yaml on
    every task, except rg-oracle where a task has no hidden fine labels (a long tail)."""
    benchmark = next(nb for nb in CI["notebooks"] if nb["path"].endswith("03_benchmark.ipynb"))
    methods = [m if isinstance(m, str) else m["name"] for m in benchmark["parameters"]["methods"]]
    return [(task, method) for task, spec in CI["parameters"]["tasks"].items() for method in methods
            if not (method == "rg-oracle" and "positive" not in spec)]


@pytest.fixture(scope="module")
def run(ci_run) -> Path:
    """The session's one run of params/ci.yaml (tests/conftest.py: with --executor ray when Ray is
    installed, so the plan test below reads the same run)."""
    return ci_run.dir


@pytest.mark.slow
def test_every_notebook_runs_to_the_end(run):
    summary, _ = read_summary(run)
    assert [r["status"] for r in summary] == ["ok"] * len(CI["notebooks"])
    assert len(list(run.glob("*.ipynb"))) == len(CI["notebooks"])


@pytest.mark.slow
def test_every_notebook_writes_its_figures_tables_and_metrics(run):
    figures = list((run / "figures").glob("*.png"))
    assert len(figures) >= 10 and all(f.stat().st_size > 1000 for f in figures)
    tables = {p.name for p in (run / "tables").glob("*.csv")}
    assert {"benchmark_rows.csv", "claims.csv", "encoder_cluster_quality.csv"} <= tables, tables
    metric_files = list((run / "metrics").glob("*.json"))
    assert len(metric_files) == len(CI["notebooks"]) and all(json.loads(p.read_text()) for p in metric_files)


def undefined(key: str, value) -> bool:
    """A metric the notebooks leave undefined on purpose: the CAM centre mass of a model whose
    maps are all empty (a collapsed 2-epoch model; nbutils.analysis.diagnostics.centre_mass gives NaN)."""
    return key.startswith("cams/centre_mass/") and (value is None or value != value)


@pytest.mark.slow
def test_every_metric_is_a_finite_fraction(run):
    metrics = read_run_metrics(run)
    bad = {k: v for k, v in metrics.items() if not undefined(k, v)
           and not (isinstance(v, (int, float)) and math.isfinite(v) and 0 <= v <= 1)}
    assert metrics and not bad, f"out of [0, 1] or not finite: {bad}"
    assert sum(undefined(k, v) for k, v in metrics.items()) < len([k for k in metrics if k.startswith("cams/")])


@pytest.mark.slow
def test_every_method_of_the_parameter_file_is_reported_on_every_task(run):
    metrics = read_run_metrics(run)
    missing = [f"benchmark/{task}/{method}/{m}" for task, method in expected_benchmark_runs()
               for m in ("ba", "macro_ap") if f"benchmark/{task}/{method}/{m}" not in metrics]
    assert not missing, f"missing: {missing}"
    rows = pd.read_csv(run / "tables" / "benchmark_rows.csv")
    assert sorted(zip(rows.task, rows.method)) == sorted(expected_benchmark_runs())
    if "warning" in rows:
        assert not rows.warning.fillna("").str.contains("diverged").any(), rows[["task", "method", "warning"]]


@pytest.mark.slow
def test_the_plan_is_every_training_the_notebooks_load(ci_run):
    """params/ci.yaml with --executor ray: the notebooks' run_cached calls (recorded in their kernels)
    ask for exactly the plan's results, and every one was finished by the sweep before they ran."""
    pytest.importorskip("ray")
    assert ci_run.executor == "ray"
    run_dir = ci_run.dir
    name, jobs = plan(ROOT / "params" / "ci.yaml", [])
    trainings = planned_trainings(jobs, run_dir)
    planned = {t.key for t in trainings}
    assert all(t.is_finished(run_dir) for t in trainings)  # notebook 02's with its callbacks' columns
    assert any(t.callbacks for t in trainings)
    calls = [json.loads(line) for line in ci_run.record.read_text().splitlines()]
    assert {c["key"] for c in calls} == planned
    assert all(c["finished_before"] for c in calls)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trainings"]["finished"] == len(planned) and not summary["trainings"]["failed"]
