"""nbutils.publish turns a run folder into a committable report; docs/update_readme.py writes the
README's findings from it; the README's study numbers are the committed report's numbers."""
from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from nbutils.publish import learning_curves, publish

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "docs" / "results" / "study"


def fake_run(root: Path) -> Path:
    """A run folder as nbutils.run leaves it: summary.json, tables, a figure, results with histories."""
    run = root / "study" / "r1"
    (run / "tables").mkdir(parents=True)
    (run / "figures").mkdir()
    (run / "figures" / "fig.png").write_bytes(b"\x89PNG fake")
    (run / "summary.json").write_text(json.dumps({
        "notebooks": [{"notebook": "03_benchmark.ipynb", "status": "ok", "seconds": 120.0}],
        "provenance": {"command": "python -m nbutils.run params/study.yaml", "git": {"commit": "abc1234def"},
                       "device": {"cpu": "Test CPU", "cores": 2}, "wall_seconds": 600.0, "packages": {"torch": "2"}}}))
    pd.DataFrame({"method": ["ce", "rg"], "ba": ["80.0 ± 1.0", "82.0 ± 2.0"], "macro_ap": ["70.0 ± 1.0", "71.0 ± 1.5"],
                  "ap/rest": ["99.0 ± 0.1", "99.1 ± 0.1"], "ap/T-shirt/top": ["40.0 ± 1.0", "45.0 ± 1.2"]}
                 ).to_csv(run / "tables" / "summary_t.csv", index=False)
    pd.DataFrame({"task": ["t", "t"], "claim": ["RG beats CE on minority AP", "random regrouping does worse"],
                  "metric": ["ap", "ap"], "effect": [0.05, 0.001], "low": [0.02, -0.01], "high": [0.08, 0.012],
                  "spread": [0.01, 0.01], "n_seeds": [3, 3], "verdict": ["holds", "inconclusive"], "detail": ["", ""]}
                 ).to_csv(run / "tables" / "claims.csv", index=False)
    pd.DataFrame({"task": ["t"] * 6, "method": ["ce"] * 3 + ["rus"] * 3, "seed": [0, 1, 2] * 2,
                  "ba": [0.80, 0.82, 0.81, 0.5, 0.5, 0.5], "macro_ap": [0.70, 0.71, 0.72, 0.5, 0.52, 0.48],
                  "ap/rest": [0.99] * 6, "ap/T-shirt/top": [0.40, 0.41, 0.42, 0.1, 0.12, 0.08]}
                 ).to_csv(run / "tables" / "benchmark_rows.csv", index=False)
    for method, base in (("ce", 0.30), ("rg", 0.40), ("ros", 0.5)):
        for seed in range(3):
            folder = run / "results" / "t" / method / f"k{seed}-seed{seed}"
            folder.mkdir(parents=True)
            (folder / "row.json").write_text(json.dumps({"task": "t", "method": method, "seed": seed}))
            pd.DataFrame({"epoch": [0, 1, 2, 3], "val_ap/rest": [0.9] * 4,
                          "val_ap/T-shirt/top": [base + 0.05 * e + 0.01 * seed for e in range(4)]}
                         ).to_csv(folder / "history.csv", index=False)
            np.save(folder / "test_scores.npy", np.zeros((2, 2)))
    return run


def test_learning_curves_average_the_smallest_class_over_seeds(tmp_path):
    curves = learning_curves(fake_run(tmp_path), ["ce", "rg"])
    assert set(curves["method"]) == {"ce", "rg"} and set(curves["class"]) == {"T-shirt/top"}
    ce = curves[curves["method"] == "ce"].set_index("epoch")
    np.testing.assert_allclose(ce["mean"], [0.31, 0.36, 0.41, 0.46])  # base + 0.05 e + mean(0, .01, .02)
    assert (ce["n_seeds"] == 3).all() and (ce["half"] > 0).all()


def test_publish_writes_a_report_without_scores_or_models(tmp_path):
    readme = publish(fake_run(tmp_path), tmp_path / "out")
    text = readme.read_text()
    for expected in ("python -m nbutils.run params/study.yaml", "abc1234def", "10.0 min wall", "45.0 ± 1.2",
                     "RG beats CE on minority AP: **holds**", "learning_curves.png", "ranking at epoch 4",
                     "1 of 2 methods learnt; not above chance: rus", "ce 1.0, rus 2.0"):
        assert expected in text, expected
    out = tmp_path / "out"
    assert (out / "tables" / "summary_t.md").is_file() and (out / "learning_curves.csv").is_file()
    assert (out / "figures" / "fig.png").is_file()
    assert not list(out.rglob("*.npy")) and not list(out.rglob("*.pt"))


def length_run(root: Path, epochs: int, minority: dict[str, list[float]]) -> Path:
    """Trainings of a run of params/study.yaml with ``epochs=`` (as ``--train-only`` leaves them)."""
    run = root / "study" / f"e{epochs}"
    run.mkdir(parents=True)
    (run / "params.yaml").write_text(f"notebooks:\n- path: notebooks/03_benchmark.ipynb\n  parameters: {{epochs: {epochs}}}\n")
    for method, values in minority.items():
        for seed, value in enumerate(values):
            folder = run / "results" / "t" / method / f"k-seed{seed}"
            folder.mkdir(parents=True)
            (folder / "row.json").write_text(json.dumps({"task": "t", "method": method, "seed": seed, "auroc": 0.9,
                                                         "ap/rest": 0.99, "ap/T-shirt/top": value}))
    return run


def test_publish_sets_the_papers_effects_at_each_training_length_side_by_side(tmp_path):
    run = fake_run(tmp_path)
    (run / "params.yaml").write_text("notebooks:\n- path: notebooks/03_benchmark.ipynb\n  parameters: {epochs: 24}\n")
    for seed, (ce, rg) in enumerate(((0.80, 0.83), (0.81, 0.84), (0.82, 0.86))):
        for method, value in (("ce", ce), ("rg", rg)):
            row = run / "results" / "t" / method / f"k{seed}-seed{seed}" / "row.json"
            row.write_text(json.dumps({"task": "t", "method": method, "seed": seed, "auroc": 0.9,
                                       "ap/rest": 0.99, "ap/T-shirt/top": value}))
    short = length_run(tmp_path, 8, {"ce": [0.80, 0.81, 0.82], "rg": [0.70, 0.72, 0.71]})
    text = publish(run, tmp_path / "out", length_runs=[short]).read_text()
    assert "## Does the answer depend on the training length?" in text
    row = next(line for line in text.splitlines() if line.startswith("| t | rg - ce |"))
    assert row.startswith("| t | rg - ce | -10.0 [") and "(a < b)" in row and "+3.3 [" in row and row.endswith("| yes |")
    table = pd.read_csv(tmp_path / "out" / "tables" / "training_length.csv")
    assert sorted(table["epochs"]) == [8, 24]
    assert "## Did every model plateau?" in text and (tmp_path / "out" / "tables" / "plateau.csv").is_file()


def test_publish_refuses_an_unfinished_run_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match="summary.json"):
        publish(tmp_path, tmp_path / "out")


def load_update_readme():
    spec = importlib.util.spec_from_file_location("update_readme", REPO / "docs" / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_study_block_sorts_claims_by_verdict_and_quotes_the_tables(tmp_path):
    run = fake_run(tmp_path)
    block = load_update_readme().study_block(run)
    assert "**Agrees with the papers** (1 of 2)" in block and "**Undecided" in block
    assert "| rg | 82.0 ± 2.0 | 71.0 ± 1.5 | 45.0 ± 1.2 |" in block
    assert "10 min wall on Test CPU" in block


@pytest.mark.skipif(not STUDY.is_dir(), reason="no committed study report")
def test_every_number_in_the_readme_study_block_is_in_the_committed_report():
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- study:start -->", 1)[1].split("<!-- study:end -->", 1)[0]
    assert block.strip() == load_update_readme().study_block(STUDY).strip(), \
        "README study block is stale: run python docs/update_readme.py --study docs/results/study"
    tables = "\n".join(p.read_text() for p in (STUDY / "tables").glob("*.csv"))
    numbers = re.findall(r"\d+\.\d ± \d+\.\d", block)
    assert numbers, "the study block quotes no number"
    for number in numbers:
        assert number in tables, number


ABLATIONS = REPO / "docs" / "results" / "ablations"


@pytest.mark.skipif(not ABLATIONS.is_dir(), reason="no committed ablation report")
def test_the_readme_ablation_block_is_regenerated_from_the_committed_report():
    readme = (REPO / "README.md").read_text()
    block = readme.split("<!-- ablations:start -->", 1)[1].split("<!-- ablations:end -->", 1)[0]
    assert block.strip() == load_update_readme().ablations_block(ABLATIONS).strip(), \
        "README ablation block is stale: run python docs/update_readme.py --ablations docs/results/ablations"


def test_a_run_without_summary_tables_shows_its_small_tables_and_links_the_large_ones(tmp_path):
    run = fake_run(tmp_path)
    for path in (run / "tables").glob("summary_*.csv"):
        path.unlink()
    pd.DataFrame({"cell": ["k=2", "k=5"], "mean": [0.123456, 0.2]}).to_csv(run / "tables" / "clear_of_ce_t.csv", index=False)
    pd.DataFrame({"x": range(100)}).to_csv(run / "tables" / "ablation_rows.csv", index=False)
    text = publish(run, tmp_path / "out").read_text()
    assert "## Tables" in text and "| k=2 | 0.1235 |" in text
    assert "100 rows: [tables/ablation_rows.csv](tables/ablation_rows.csv)" in text
