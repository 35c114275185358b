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
                     "(+2.0 [-7.0, +11.0]), focal (-4.7 [-6.1, -3.2]) (changes: 95% t-interval over seeds).")
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


def replicates_of(table: pd.DataFrame, image_std: float, rng_seed: int = 0, b: int = 400) -> dict:
    """{task: {(method, seed): {metric: (B,)}}}: each run's value plus one shared test-set draw per replicate
    (the same resampled test sets for every run) and a little run-specific noise."""
    rng = np.random.default_rng(rng_seed)
    shared = rng.normal(0, image_std, b)
    return {"t": {(r["method"], r["seed"]): {m: r[m] + shared * (1 + (r["method"] != "ce")) + rng.normal(0, 1e-4, b)
                                             for m in ("ap/pos", "auroc")} for r in table.to_dict("records")}}


def test_the_length_grid_uses_the_claims_interval_when_replicates_are_given():
    from nbutils.analysis.claims import effect_interval
    short = rows({"ce": [0.80, 0.82, 0.81], "rg": [0.70, 0.73, 0.71]})
    long = rows({"ce": [0.85, 0.86, 0.84], "rg": [0.87, 0.89, 0.86]}, 0.01)
    reps = {24: replicates_of(long, 0.01)}
    table = convergence.length_table({8: short, 24: long}, replicates=reps).set_index("epochs")
    assert table.loc[8, "interval"] == "seeds" and table.loc[24, "interval"] == "seeds + images"
    diffs = 100 * (np.array([0.87, 0.89, 0.86]) - [0.85, 0.86, 0.84])
    images = 100 * np.mean([reps[24]["t"]["rg", s]["ap/pos"] - reps[24]["t"]["ce", s]["ap/pos"] for s in range(3)], 0)
    expected = effect_interval(diffs, images)
    assert table.loc[24, "minority_ap_low"] == pytest.approx(expected.low)
    assert table.loc[24, "minority_ap_high"] - table.loc[24, "minority_ap_low"] > 2 * 4.30 * diffs.std(ddof=1) / np.sqrt(3)
    assert "| task | effect (a - b; 95% intervals: seeds, seeds + images (column interval)) |" in \
        convergence.length_markdown(table.reset_index())
    only_long = convergence.length_table({24: long}, replicates=reps)
    assert "over seeds and held-out images, Welch-Satterthwaite" in convergence.length_markdown(only_long)


def test_the_level_table_adds_the_image_part_of_a_change_when_both_lengths_have_replicates():
    mid = rows({"ce": [0.85, 0.86, 0.84]})
    long = rows({"ce": [0.852, 0.858, 0.842]})
    seeds_only = convergence.level_table({24: mid, 48: long}).set_index("epochs")
    reps = {24: replicates_of(mid, 0.01, rng_seed=1), 48: replicates_of(long, 0.01, rng_seed=2)}
    both = convergence.level_table({24: mid, 48: long}, replicates=reps).set_index("epochs")
    assert seeds_only.loc[24, "interval"] == "seeds" and both.loc[24, "interval"] == "seeds + images"
    assert both.loc[24, "change"] == pytest.approx(seeds_only.loc[24, "change"])
    assert both.loc[24, "change_high"] - both.loc[24, "change_low"] > seeds_only.loc[24, "change_high"] - \
        seeds_only.loc[24, "change_low"]
    assert "(changes: 95% interval over seeds and held-out images" in convergence.level_lines(both.reset_index(), 48)


def test_replicates_round_trip_through_one_npz(tmp_path):
    from nbutils.core.metrics import load_replicates, save_replicates
    reps = {"tshirt-9to1": {("ce", 0): {"ap/T-shirt/top": np.linspace(0, 1, 5), "auroc": np.full(5, 0.9)},
                            ("rg", 1): {"ap/T-shirt/top": np.array([0.1, np.nan, 0.3, 0.4, 0.5])}},
            "tshirt-50to1": {("ce", 2): {"ba": np.arange(5, dtype=float)}}}
    save_replicates(tmp_path / "replicates.npz", reps)
    back = load_replicates(tmp_path / "replicates.npz")
    assert {t: set(r) for t, r in back.items()} == {t: set(r) for t, r in reps.items()}
    for task, runs in reps.items():
        for run, values in runs.items():
            assert set(back[task][run]) == set(values)
            for metric, array in values.items():
                np.testing.assert_array_equal(back[task][run][metric], array)
                assert back[task][run][metric].dtype == float


def test_the_committed_9_to_1_rg_ce_claim_with_the_image_part_on_its_own_degrees_of_freedom():
    """claims.csv (study3): mean -0.18, seed std 0.148 points over 3 seeds, image part 0.341 worked back
    from its old interval [-1.7, +1.3]; with WS d.o.f. it is [-0.87, +0.51]: below 1 point."""
    from nbutils.analysis.claims import half_width
    half, df = half_width(0.148 / np.sqrt(3), 3, 0.341, 500)
    assert 250 < df < 320 and (-0.18 - half, -0.18 + half) == pytest.approx((-0.87, 0.51), abs=0.01)


def test_the_image_part_does_not_shrink_with_seeds_so_positives_decide_instead():
    # mean +0.4 points, seed std 0.2, image part 1.0: 200 seeds leave +-1.96 points, wider than the room
    assert convergence.seeds_to_decide(0.004, 0.002, se_images=0.01) is None
    assert convergence.seeds_to_decide(0.004, 0.002) == 3  # over seeds alone it would look decided
    assert not convergence.images_alone_decide(0.004, 0.01)
    more = convergence.positives_to_decide(0.004, 0.002, 3, 0.01, positives=100)
    # room: the interval must lie below 1 point, half < 0.6 points: se ~0.6 / 1.99, image se ~0.28 at 3 seeds
    assert 1200 < more < 1500
    from nbutils.analysis.claims import half_width
    half = lambda p: float(half_width(0.002 / np.sqrt(3), 3, 0.01 * np.sqrt(100 / p), 500)[0])  # noqa: E731
    assert 0.004 + half(more) < 0.01 <= 0.004 + half(more - 1)
    assert convergence.positives_to_decide(0.004, 0.002, 3, 0.01) == pytest.approx(more / 100, abs=0.01)
    # seed std 0.3 at 3 seeds: the seeds' own t-interval is already too wide, no test split decides it
    assert convergence.positives_to_decide(0.004, 0.003, 3, 0.01, positives=100) is None
    # the seeds' part shrinks: a claim whose image part is small is decided by seeds, counted with it
    assert convergence.seeds_to_decide(0.02, 0.01, se_images=0.002) == 4  # as over seeds alone: the image part is small
    assert convergence.seeds_to_decide(0.02, 0.01, se_images=0.0095) == 8  # a larger one needs more seeds


def test_decide_lines_reads_the_image_part_and_names_the_positives():
    claims = pd.DataFrame([{"claim": "c", "task": "t", "verdict": "inconclusive", "effect": 0.004, "spread": 0.002,
                            "n_seeds": 3, "unit": "points", "se_seeds": 0.0017, "se_images": 0.01, "df": 400.0},
                           {"claim": "d", "task": "t", "verdict": "inconclusive", "effect": 0.02, "spread": 0.01,
                            "n_seeds": 3, "unit": "points", "se_seeds": 0.0058, "se_images": 0.0095, "df": 30.0}])
    lines = convergence.decide_lines(claims, positives={"t": 100}).splitlines()
    assert "more held-out images, not seeds: the image part alone is ±2.0 points however many seeds" in lines[0]
    assert "held-out positives (now 100) would at 3 seeds" in lines[0]
    assert "Welch-Satterthwaite" in lines[0] and "image se 1.0" in lines[0]
    wide = convergence.decide_lines(claims.assign(spread=0.003), positives=100).splitlines()[0]
    assert "it needs more seeds and a larger test split" in wide
    assert "needs about 8 seeds (at this test split" in lines[1]
    assert "times the held-out positives" in convergence.decide_lines(claims).splitlines()[0]
