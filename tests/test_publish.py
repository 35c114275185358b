"""nbutils.publish turns a run folder into a committable report; docs/update_readme.py writes
docs/results.md's blocks and the README's findings table from it; the numbers of both are the
committed reports' numbers. The README also stays short and its links resolve."""
from __future__ import annotations

import importlib.util
import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from nbutils.publish import learning_curves, publish

REPO = Path(__file__).resolve().parent.parent
STUDY = REPO / "docs" / "results" / "study"
ABLATIONS = REPO / "docs" / "results" / "ablations"
README = REPO / "README.md"
RESULTS = REPO / "docs" / "results.md"
README_MAX_LINES = 250


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
    assert "### Has each method converged at this run's length?" in text
    levels = pd.read_csv(tmp_path / "out" / "tables" / "training_length_levels.csv").set_index(["method", "epochs"])
    assert levels.loc[("ce", 8), "change"] == pytest.approx(0.0, abs=1e-9) and levels.loc[("ce", 8), "converged"]
    assert levels.loc[("rg", 8), "change"] == pytest.approx(100 * (0.8433333 - 0.71), abs=1e-4)
    assert "| t | rg | 71.0 ± 1.0 | 84.3 ± 1.5 | +13.3 [" in text
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


def generated_block(path: Path, name: str) -> str:
    """What lies between ``<!-- name:start -->`` and ``<!-- name:end -->`` in ``path``."""
    text = path.read_text()
    assert f"<!-- {name}:start -->" in text and f"<!-- {name}:end -->" in text, f"{path.name} lacks the {name} markers"
    return text.split(f"<!-- {name}:start -->", 1)[1].split(f"<!-- {name}:end -->", 1)[0]


@pytest.mark.skipif(not STUDY.is_dir(), reason="no committed study report")
def test_every_number_in_the_study_block_is_in_the_committed_report():
    block = generated_block(RESULTS, "study")
    assert block.strip() == load_update_readme().study_block(STUDY).strip(), \
        "docs/results.md's study block is stale: run python docs/update_readme.py --study docs/results/study"
    tables = "\n".join(p.read_text() for p in (STUDY / "tables").glob("*.csv"))
    levels = STUDY / "tables" / "training_length_levels.csv"  # its numbers are floats, formatted here
    tables += "\n".join(f"{r.minority_ap:.1f} ± {r.std:.1f}" for r in pd.read_csv(levels).itertuples()) \
        if levels.is_file() else ""
    numbers = re.findall(r"\d+\.\d ± \d+\.\d", block)
    assert numbers, "the study block quotes no number"
    for number in numbers:
        assert number in tables, number


@pytest.mark.skipif(not ABLATIONS.is_dir(), reason="no committed ablation report")
def test_the_ablation_block_is_regenerated_from_the_committed_report():
    block = generated_block(RESULTS, "ablations")
    assert block.strip() == load_update_readme().ablations_block(ABLATIONS).strip(), \
        "docs/results.md's ablation block is stale: run python docs/update_readme.py --ablations docs/results/ablations"


@pytest.mark.skipif(not STUDY.is_dir(), reason="no committed study report")
def test_the_readme_findings_are_the_committed_claims_table():
    block = generated_block(README, "findings")
    update_readme = load_update_readme()
    assert block.strip() == update_readme.findings_block(STUDY, ABLATIONS if ABLATIONS.is_dir() else None).strip(), \
        "README findings are stale: run python docs/update_readme.py --study docs/results/study"
    claims = pd.read_csv(STUDY / "tables" / "claims.csv")
    lines = block.splitlines()
    first = next(i for i, line in enumerate(lines) if line.startswith("| "))
    table = [line for line in itertools.takewhile(lambda line: line.startswith("|"), lines[first:])
             if line.startswith("| ")]
    assert len(table) == 1 + claims["claim"].nunique(), "one header and one row per claim"
    tasks = list(claims["task"].unique())
    assert table[0] == f"| the papers' claim (contrast, unit) | {' | '.join(tasks)} |", "one column per task"
    for claim in claims.itertuples():  # each cell recomputed here from the CSV, in the unit the row names
        row = next(line for line in table if line.startswith(f"| {claim.claim} ("))
        cell = row.strip("| ").split(" | ")[1 + tasks.index(claim.task)]
        if np.isnan(claim.effect):
            assert cell == claim.verdict
            continue
        scale, digits = (100, 1) if "points" in row else (1, 3)
        interval = "" if np.isnan(claim.low) else f" [{claim.low * scale:+.{digits}f}, {claim.high * scale:+.{digits}f}]"
        assert cell == f"{claim.effect * scale:+.{digits}f}{interval} ({claim.verdict})", (claim.claim, claim.task)
    epochs = {nb["parameters"]["epochs"] for nb in yaml.safe_load((STUDY / "params.yaml").read_text())["notebooks"]}
    assert f"{epochs.pop()} epochs, seeds " in block and "docs/results.md" in block
    lengths = STUDY / "tables" / "training_length.csv"
    if lengths.is_file():  # the training-length grid: each effect at each length, recomputed from the CSV
        for r in pd.read_csv(lengths).itertuples():
            row = next(line for line in lines if line.startswith(f"| {r.contrast} | "))
            assert (f"{r.epochs}: {r.minority_ap:+.1f} [{r.minority_ap_low:+.1f}, {r.minority_ap_high:+.1f}]"
                    in row), (r.contrast, r.task, r.epochs)


def test_the_findings_block_sets_each_claim_by_task(tmp_path):
    run = fake_run(tmp_path)
    (run / "params.yaml").write_text(
        "notebooks:\n- path: notebooks/03_benchmark.ipynb\n  parameters: {epochs: 24, seeds: [0, 1, 2], "
        "arch: cnn, width: 16, tasks: {t: {dataset: fashion-mnist, positive: T-shirt/top, ratio: 50}}}\n")
    block = load_update_readme().findings_block(run, None)
    assert "| the papers' claim (contrast, unit) | t |" in block
    assert "| RG beats CE on minority AP (points) | +5.0 [+2.0, +8.0] (holds) |" in block
    assert "| random regrouping does worse (points) | +0.1 [-1.0, +1.2] (inconclusive) |" in block
    assert "24 epochs, seeds 0, 1, 2" in block and "T-shirt/top vs rest of fashion-mnist, 50:1" in block
    assert "2 methods" in block and "abc1234" in block and "Can any RG variant" not in block


@pytest.mark.skipif(not (STUDY.is_dir() and ABLATIONS.is_dir()), reason="no committed reports")
def test_the_command_lines_rewrite_both_files_as_committed(tmp_path, monkeypatch):
    """--study and --ablations write docs/results.md's block and the README's findings; run on copies of
    the two files, they change nothing (the committed files are what the reports give). The run-folder
    form writes docs/results.md's demo block and leaves the README alone."""
    update_readme = load_update_readme()
    docs = tmp_path / "docs"  # the repository's layout, so that the written links are the committed ones
    for report in (STUDY, ABLATIONS):
        shutil.copytree(report, docs / "results" / report.name, ignore=shutil.ignore_patterns("*.png", "html"))
    (docs / "gallery").mkdir()
    readme, results = tmp_path / "README.md", docs / "results.md"
    readme.write_text(README.read_text())
    results.write_text(RESULTS.read_text())
    for name, value in (("README", readme), ("RESULTS", results), ("DOCS", docs),
                        ("STUDY", docs / "results" / "study"), ("ABLATIONS", docs / "results" / "ablations")):
        monkeypatch.setattr(update_readme, name, value)
    update_readme.main_study(docs / "results" / "study")
    update_readme.main_ablations(docs / "results" / "ablations")
    assert readme.read_text() == README.read_text(), "README stale: run python docs/update_readme.py --study ..."
    assert results.read_text() == RESULTS.read_text(), "docs/results.md stale: run python docs/update_readme.py ..."

    run = fake_run(tmp_path / "runs")
    summary = run / "tables" / "summary_t.csv"
    pd.read_csv(summary).assign(macro_f1=["60.0 ± 1.0", "61.0 ± 1.0"]).to_csv(summary, index=False)
    update_readme.main(run)
    assert readme.read_text() == README.read_text()
    demo = generated_block(results, "results")
    assert "| rg | 82.0 ± 2.0 | 71.0 ± 1.5 | 45.0 ± 1.2 | 61.0 ± 1.0 |" in demo and "RG beats CE on minority AP" in demo
    assert generated_block(results, "study") == generated_block(RESULTS, "study")


def heading_anchors(markdown: str) -> set[str]:
    """GitHub's anchors of a Markdown file's headings: lower case, punctuation dropped, spaces as hyphens."""
    return {re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
            for line in markdown.splitlines() if line.startswith("#")}


def relative_links(page: Path) -> list[str]:
    """The targets of a Markdown page's links and images that are not URLs (code blocks left out)."""
    text = re.sub(r"```.*?```", "", page.read_text(), flags=re.S)
    return [t for t in re.findall(r"\]\(([^)\s]+)\)", text) if not re.match(r"[a-z]+:", t)]


def test_the_readme_is_read_in_five_minutes():
    lines = README.read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines: move tables to docs/ (at most {README_MAX_LINES})"


@pytest.mark.parametrize("page", ["README.md", "docs/results.md", "docs/cluster.md", "docs/data.md",
                                  "docs/performance.md"])
def test_every_relative_link_resolves(page):
    page = REPO / page
    for target in relative_links(page):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        assert file.exists(), f"{page.relative_to(REPO)} links to {target}, which does not exist"
        if anchor and file.suffix == ".md":
            assert anchor in heading_anchors(file.read_text()), f"{page.relative_to(REPO)}: no heading #{anchor} in {path}"


def test_a_run_without_summary_tables_shows_its_small_tables_and_links_the_large_ones(tmp_path):
    run = fake_run(tmp_path)
    for path in (run / "tables").glob("summary_*.csv"):
        path.unlink()
    pd.DataFrame({"cell": ["k=2", "k=5"], "mean": [0.123456, 0.2]}).to_csv(run / "tables" / "clear_of_ce_t.csv", index=False)
    pd.DataFrame({"x": range(100)}).to_csv(run / "tables" / "ablation_rows.csv", index=False)
    text = publish(run, tmp_path / "out").read_text()
    assert "## Tables" in text and "| k=2 | 0.1235 |" in text
    assert "100 rows: [tables/ablation_rows.csv](tables/ablation_rows.csv)" in text
