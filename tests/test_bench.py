"""The benchmarks in bench/: their shared helpers, and a smoke run of each script with --quick."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))

import harness  # noqa: E402

# script -> (section title, table columns, table rows in --quick)
SCRIPTS = {
    "loop_vs_ceiling": ("Training loop vs ceiling", ["arch", "px", "batch", "precision", "steps", "loop img/s",
                                                     "ceiling img/s", "loop / ceiling", "per-round range"], 2),
    "amp": ("Mixed precision vs float32", ["arch", "px", "batch", "steps", "fp32 loop img/s", "bfloat16 loop img/s",
                                           "loop speed-up", "ceiling speed-up", "fp32 loop / ceiling",
                                           "bfloat16 loop / ceiling", "auto picks"], 1),
    "loop_vs_conventional": ("Training loop vs conventional DataLoader",
                             ["arch", "px", "batch", "steps", "workers", "loop img/s", "conventional img/s",
                              "loop / conventional", "per-round range", "data only: loop img/s", "data only: conventional img/s",
                              "data only: loop / conventional"], 4),
    "encoders": ("Encoders and their cache", ["encoder", "options", "N", "D", "encode img/s",
                                              "cache hit img/s", "hit speed-up"], 4),
    "regrouping": ("Regrouping: clustering time", ["N", "D", "kmeans", "minibatch-kmeans", "gmm",
                                                   "agglomerative", "spectral", "random"], 1),
    "memory_format": ("Memory layout: contiguous vs channels-last",
                      ["workload", "px", "batch", "contiguous img/s", "channels-last img/s",
                       "channels-last / contiguous", "per-round range"], 2),
    "compile": ("torch.compile against eager mode",
                ["arch", "px", "batch", "backend", "first compiled step s", "eager img/s", "compiled img/s", "compiled / eager",
                 "break-even steps"], 1),
    "simclr": ("Self-supervised encoder: SimCLR training time", ["px", "width", "N", "epochs", "seconds", "train img/s",
                                                                "cache hit s"], 1),
    "demo": ("Notebook runs: time and memory", ["notebook", "status", "seconds", "peak tree RSS GiB"], 2),
    "held_out_eval": ("Held-out evaluation against training", ["task", "method", "seed", "held-out images", "score s",
                                                               "bootstrap s", "training s", "share of training"], 1),
    "check_time": ("A wrong name: the runner's up-front check", ["command", "CPU s", "bare python CPU s", "check / bare",
                                                                "per-round range", "torch, sklearn, scipy imported"], 1),
}


def test_interleave_alternates_sides_after_one_warm_up_round():
    calls = []
    sides = {"a": lambda: calls.append("a") or len(calls), "b": lambda: calls.append("b") or len(calls)}
    results = harness.interleave(sides, repeats=2)
    assert calls == ["a", "b", "a", "b", "a", "b"]
    assert results == {"a": [3, 5], "b": [4, 6]}  # the warm-up round's values are dropped


def test_median_ratio_takes_the_median_of_per_round_ratios():
    assert harness.median_ratio([2.0, 4.0, 9.0], [1.0, 1.0, 3.0]) == 3.0  # ratios 2, 4, 3


def test_ratio_range_gives_the_lowest_and_highest_per_round_ratio():
    assert harness.ratio_range([2.0, 4.0, 9.0], [1.0, 1.0, 3.0]) == "2.00-4.00"


def test_markdown_table_formats_numbers():
    table = harness.markdown_table([{"name": "x", "value": 0.12345}, {"name": "y", "value": 12345.6}])
    assert table == "| name | value |\n|---|---|\n| x | 0.123 |\n| y | 12,346 |"


def test_report_appends_a_section_with_command_machine_and_load(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("OMP_WAIT_POLICY", "PASSIVE")
    path = tmp_path / "RESULTS.md"
    for value in (1, 2):
        harness.report(path, "Title", [{"k": value}], device="cpu", load_before="1.00 / 1.00 / 1.00")
    text = path.read_text()
    assert text.count("## Title") == 2
    assert "| k |\n|---|\n| 1 |" in text and "| k |\n|---|\n| 2 |" in text
    assert re.search(r"- date: \d{4}-\d\d-\d\dT", text)
    assert "- command: `python " in text and "cores, torch " in text
    assert "device cpu, OMP_WAIT_POLICY=PASSIVE" in text
    assert "- load average (1/5/15 min): 1.00 / 1.00 / 1.00 before" in text


def test_peaks_by_notebook_takes_the_largest_sample_while_each_notebook_runs():
    import demo
    lines = [(1.0, "running a.ipynb ...\n"), (5.0, "  ok in 4.0 s\n"), (6.0, "running b.ipynb ...\n")]
    samples = [(0.5, 10), (2.0, 30), (5.5, 20), (7.0, 25), (8.0, 5)]
    assert demo.peaks_by_notebook(lines, samples) == {"a.ipynb": 30, "b.ipynb": 25}


def test_gaussian_mixture_has_a_ten_percent_minority():
    import regrouping
    embeddings, labels = regrouping.gaussian_mixture(200, 4)
    assert embeddings.shape == (200, 4) and embeddings.dtype.name == "float32"
    assert labels.sum() == 20 and set(labels) == {0, 1}


@pytest.fixture(scope="module")
def quick_runs(tmp_path_factory):
    """Every script run with --quick at once (each into its own results file):
    name -> (process, results file, output file)."""
    folder = tmp_path_factory.mktemp("bench")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "NBUTILS_QUIET": "1"}
    runs = {}
    for name in SCRIPTS:
        results, log = folder / f"{name}.md", folder / f"{name}.log"
        command = [sys.executable, f"bench/{name}.py", "--quick", "--threads", "1", "--results", str(results)]
        with open(log, "w") as out:
            runs[name] = (subprocess.Popen(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT),
                          results, log)
    for process, _, _ in runs.values():
        process.wait(timeout=180)
    return runs


@pytest.mark.slow
@pytest.mark.parametrize("name", list(SCRIPTS))
def test_quick_run_appends_its_table(quick_runs, name):
    process, results, log = quick_runs[name]
    assert process.returncode == 0, log.read_text()
    title, columns, n_rows = SCRIPTS[name]
    text = results.read_text()
    assert f"## {title}" in text
    assert f"- command: `python bench/{name}.py --quick --threads 1 --results {results}`" in text
    assert "- machine: " in text and "- load average (1/5/15 min): " in text
    header = "| " + " | ".join(columns) + " |"
    assert header in text, text
    rows = [line.strip("| ").split(" | ") for line in text.splitlines() if line.startswith("| ")][1:]
    assert len(rows) == n_rows, text
    for row in rows:  # rates and ratios are positive numbers
        for column, value in zip(columns, row):
            if "img/s" in column or " / " in column or "speed-up" in column:
                assert float(value.replace(",", "")) > 0, (column, value)


def test_study_time_attributes_each_training_to_the_notebook_it_ran_in(tmp_path):
    import json
    from datetime import datetime, timezone

    import study_time

    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    run = tmp_path / "study" / "r1"
    run.mkdir(parents=True)
    (run / "summary.json").write_text(json.dumps({
        "notebooks": [{"notebook": "01_motivation.ipynb", "seconds": 100.0, "status": "ok"},
                      {"notebook": "03_benchmark.ipynb", "seconds": 300.0, "status": "ok"}],
        "provenance": {"started": start.isoformat()}}))
    for name, method, written, seconds in (("a", "ce", 50, 40.0), ("b", "rg", 150, 60.0), ("c", "ce", 390, 80.0)):
        folder = run / "results" / "t" / method / f"{name}-seed0"
        folder.mkdir(parents=True)
        (folder / "row.json").write_text(json.dumps({"task": "t", "method": method, "seed": 0, "wall_time": seconds}))
        os.utime(folder / "row.json", (start.timestamp() + written,) * 2)
    done = study_time.trainings(run)
    table = {row["notebook"]: row for row in study_time.by_notebook(run, done)}
    assert (table["01_motivation"]["trainings"], table["01_motivation"]["training s"]) == (1, 40.0)
    assert (table["03_benchmark"]["trainings"], table["03_benchmark"]["rest s"]) == (2, 160.0)
    assert table["all"]["training share"] == 180.0 / 400.0
    assert [r["method"] for r in study_time.by_method(done)] == ["ce", "rg"]
