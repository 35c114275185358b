"""The convergence checks of a study's report (nbutils.analysis.convergence): exact, no training involved."""
import json

import numpy as np
import pandas as pd
import pytest

from nbutils.analysis import convergence


def curves(values: dict[str, list[list[float]]]) -> pd.DataFrame:
    """method -> per seed, validation AP by epoch -> the table of convergence.validation_curves."""
    return pd.DataFrame([{"task": "t", "method": m, "seed": s, "epoch": e + 1, "val_ap": v}
                         for m, seeds in values.items() for s, curve in enumerate(seeds) for e, v in enumerate(curve)])


def test_a_curve_that_still_rises_over_its_last_quarter_has_not_plateaued():
    flat = [[0.5, 0.7, 0.80, 0.800, 0.801, 0.802, 0.803, 0.804]] * 2
    rising = [[0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.62, 0.64], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.62, 0.66]]
    table = convergence.plateau_table(curves({"ce": flat, "rg": rising})).set_index("method")
    assert table.loc["ce", "plateaued"] and not table.loc["rg", "plateaued"]
    assert table.loc["rg", "from_epoch"] == 6 and table.loc["rg", "epochs"] == 8
    assert table.loc["rg", "change"] == pytest.approx(100 * (0.65 - 0.6))
    assert table.loc["ce", "change"] == pytest.approx(100 * (0.804 - 0.802))
    assert "1 of 2 methods plateaued" in convergence.plateau_lines(table.reset_index())
    assert "still moving: rg (+5.0 since epoch 6)" in convergence.plateau_lines(table.reset_index())


def rows(effects: dict[str, list[float]], auroc_shift: float = 0.0) -> pd.DataFrame:
    """Rows of a one-vs-rest task: method -> minority AP per seed."""
    return pd.DataFrame([{"task": "t", "method": m, "seed": s, "ap/rest": 0.99, "ap/pos": v,
                          "auroc": 0.9 + auroc_shift * (m != "ce")} for m, vs in effects.items() for s, v in enumerate(vs)])


def test_the_length_table_shows_an_answer_that_flips_with_the_training_length():
    short = rows({"ce": [0.80, 0.82, 0.81], "rg": [0.70, 0.73, 0.71], "rg-oracle": [0.75, 0.76, 0.78]})
    long = rows({"ce": [0.85, 0.86, 0.84], "rg": [0.87, 0.89, 0.86], "rg-oracle": [0.86, 0.87, 0.85]}, 0.01)
    table = convergence.length_table({8: short, 24: long})
    rg = table[table["contrast"] == "rg - ce"].set_index("epochs")
    assert rg.loc[8, "minority_ap"] == pytest.approx(100 * (0.71333333 - 0.81)) and rg.loc[8, "verdict"] == "a < b"
    assert rg.loc[24, "minority_ap"] == pytest.approx(2 + 1 / 3) and rg.loc[24, "verdict"] == "a > b"
    assert rg.loc[24, "auroc"] == pytest.approx(1.0)
    diffs = 100 * (np.array([0.87, 0.89, 0.86]) - [0.85, 0.86, 0.84])
    half = 4.302652729911275 * diffs.std(ddof=1) / np.sqrt(3)
    assert rg.loc[24, "minority_ap_low"] == pytest.approx(diffs.mean() - half)
    assert set(table["contrast"]) == {"rg - ce", "rg-oracle - ce"}  # no rg-random: its contrast is left out
    markdown = convergence.length_markdown(table)
    assert "| t | rg - ce | -9.7" in markdown and markdown.splitlines()[2].endswith("| yes |")


def test_a_method_whose_ap_still_moves_at_twice_the_length_has_not_converged():
    short = rows({"ce": [0.80, 0.82, 0.81], "rg": [0.70, 0.73, 0.71]})
    mid = rows({"ce": [0.85, 0.86, 0.84], "rg": [0.80, 0.81, 0.79], "lmf": [0.80, 0.81, 0.79], "ldam": [0.8, 0.8, 0.8],
                "focal": [0.85, 0.86, 0.84]})
    mid = pd.concat([mid, rows({"ros": [0.8]})])  # one seed: left out at every length
    long = rows({"ce": [0.852, 0.858, 0.842], "rg": [0.84, 0.86, 0.83], "wce": [0.8, 0.8, 0.8], "ros": [0.9],
                 "lmf": [0.78, 0.86, 0.82], "ldam": [0.77, 0.83, 0.80], "focal": [0.80, 0.81, 0.80]})
    table = convergence.level_table({8: short, 24: mid, 48: long}).set_index(["method", "epochs"])
    assert {"wce", "ros"}.isdisjoint(table.index.get_level_values("method"))  # one length only: nothing to compare
    assert table.loc[("ce", 24), "minority_ap"] == pytest.approx(85.0)
    assert table.loc[("ce", 24), "std"] == pytest.approx(1.0)
    assert table.loc[("ce", 24), "change"] == pytest.approx(0.0 + 0.2 / 3) and table.loc[("ce", 24), "converged"]
    assert table.loc[("rg", 24), "change"] == pytest.approx(100 * (0.8433333 - 0.8), abs=1e-4)
    assert not table.loc[("rg", 24), "converged"] and not table.loc[("ce", 8), "converged"]
    assert table.loc[("ce", 48), "converged"] is None and pd.isna(table.loc[("ce", 48), "next_epochs"])
    lines = convergence.level_lines(table.reset_index(), 24)
    assert "2 of 5 methods converged at 24 epochs" in lines
    assert "falling when trained longer (the interval lies below 0: over-fitting): focal (-4.7 [" in lines
    assert "still rising at 24 (the interval lies above 0): rg (+4.3 [" in lines
    assert "within the seeds' spread: lmf (+2.0 [" in lines  # changes -2, +5, +3: the interval covers 0
    assert "still allow more: ce (+0.1 [-0.5, +0.6]), ldam (" in lines and "[-7.5, +7.5])" in lines  # flat on average, not seed by seed
    assert "not trained beyond" not in lines
    lines = convergence.level_lines(table.reset_index(), 48)
    assert lines == ("- **t**: not trained beyond 48, converged at 24 already: ce (+0.1 [-0.5, +0.6]), ldam (+0.0 "
                     "[-7.5, +7.5]); not trained beyond 48, still moving from 24 to 48: rg (+4.3 [+2.9, +5.8]), lmf "
                     "(+2.0 [-7.0, +11.0]), focal (-4.7 [-6.1, -3.2]).")
    markdown = convergence.level_markdown(table.reset_index())
    assert "| t | ce | 81.0 ± 1.0 | 85.0 ± 1.0 | 85.1 ± 0.8 | +4.0 [" in markdown and "(yes) |" in markdown


def test_validation_curves_read_the_smallest_class_of_every_result(tmp_path):
    folder = tmp_path / "results" / "t" / "ce" / "abc-seed0"
    folder.mkdir(parents=True)
    (folder / "row.json").write_text(json.dumps({"task": "t", "method": "ce", "seed": 0}))
    pd.DataFrame({"epoch": [0, 1], "val_ap/rest": [0.9, 0.95], "val_ap/pos": [0.3, 0.5]}).to_csv(folder / "history.csv")
    table = convergence.validation_curves(tmp_path)
    assert table[["epoch", "val_ap"]].values.tolist() == [[1, 0.3], [2, 0.5]]


def test_the_seeds_that_would_decide_a_claim_follow_the_t_interval():
    # mean 0.02, std 0.01: n=2 gives half 12.7 * 0.01 / 1.41 = 0.09; n=3: 0.0248; n=4: 0.0159 < 0.02
    assert convergence.seeds_to_decide(0.02, 0.01) == 4
    assert convergence.seeds_to_decide(-0.004, 0.007) == 4  # below 0.01 once half < 0.014: n = 4 (half 0.0111)
    assert convergence.seeds_to_decide(0.0, 0.5) is None  # half must fall below 1 point: over 200 seeds
    assert convergence.seeds_to_decide(float("nan"), 0.01) is None


def test_a_claim_its_seeds_would_decide_is_said_to_need_test_images_not_seeds():
    claims = pd.DataFrame([{"claim": "c", "task": "t", "verdict": "inconclusive", "effect": -0.002, "spread": 0.001,
                            "n_seeds": 3, "unit": "points"},
                           {"claim": "d", "task": "t", "verdict": "inconclusive", "effect": 0.02, "spread": 0.01,
                            "n_seeds": 3, "unit": "points"}])
    lines = convergence.decide_lines(claims).splitlines()
    assert "needs no more seeds (their part of the interval decides it from 2)" in lines[0]
    assert "needs about 4 seeds." in lines[1]
