import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nbutils.claims import COLUMNS, asynchrony, asynchrony_table, compare, gains_over, judge_claims, rankings_disagree


def rows_from(values: dict[str, dict[str, list[float]]], task: str = "t") -> pd.DataFrame:
    """Result rows from {method: {metric: per-seed values}}, seeds 0, 1, ..."""
    return pd.DataFrame([{"task": task, "method": method, "seed": seed, **{m: v[seed] for m, v in metrics.items()}}
                         for method, metrics in values.items()
                         for seed in range(len(next(iter(metrics.values()))))])


def two_methods(a: list[float], b: list[float]) -> pd.DataFrame:
    return rows_from({"rg": {"ap/mel": a}, "ce": {"ap/mel": b}})


def test_clear_win_on_every_seed_holds_with_hand_checked_numbers():
    result = compare(two_methods([0.60, 0.62, 0.64], [0.50, 0.51, 0.52]), "ap/mel", "rg", "ce", "t")
    # differences 0.10, 0.11, 0.12: mean 0.11, std 0.01, 95% CI 0.11 ± 4.303 * 0.01 / sqrt(3)
    assert result["verdict"] == "holds"
    assert result["effect"] == pytest.approx(0.11)
    assert result["spread"] == pytest.approx(0.01)
    assert result["n_seeds"] == 3
    assert result["low"] == pytest.approx(0.11 - 4.302653 * 0.01 / np.sqrt(3))
    low, high = stats.ttest_1samp([0.10, 0.11, 0.12], 0).confidence_interval(0.95)
    assert (result["low"], result["high"]) == pytest.approx((low, high))


def test_clear_loss_does_not_hold():
    result = compare(two_methods([0.40, 0.41, 0.43], [0.50, 0.51, 0.52]), "ap/mel", "rg", "ce", "t")
    assert result["verdict"] == "does not hold"
    assert result["effect"] == pytest.approx(-0.0966667, abs=1e-6)


def test_tight_null_effect_does_not_hold_but_only_below_min_effect():
    rows = two_methods([0.501, 0.509, 0.520], [0.500, 0.510, 0.520])  # differences +0.001, -0.001, 0
    assert compare(rows, "ap/mel", "rg", "ce", "t")["verdict"] == "does not hold"
    assert compare(rows, "ap/mel", "rg", "ce", "t", min_effect=0.0)["verdict"] == "inconclusive"


def test_noisy_difference_is_inconclusive():
    result = compare(two_methods([0.70, 0.45, 0.62], [0.50, 0.55, 0.52]), "ap/mel", "rg", "ce", "t")
    assert result["verdict"] == "inconclusive"
    assert result["effect"] > 0


def test_two_seeds_need_a_large_steady_gain():
    # n = 2: t quantile 12.7, so the mean must exceed 12.7 * std / sqrt(2) = 9.0 std
    assert compare(two_methods([0.60, 0.62], [0.50, 0.51]), "ap/mel", "rg", "ce", "t")["verdict"] == "holds"
    assert compare(two_methods([0.60, 0.56], [0.50, 0.51]), "ap/mel", "rg", "ce", "t")["verdict"] == "inconclusive"


def test_zero_spread_is_inconclusive_never_holds():
    # the old rule: std 0 -> interval [0.1, 0.1] -> "holds"; identical seeds say nothing about noise
    result = compare(two_methods([0.60, 0.60, 0.60], [0.50, 0.50, 0.50]), "ap/mel", "rg", "ce", "t")
    assert result["verdict"] == "inconclusive" and result["spread"] == 0 and "same difference" in result["detail"]


def test_one_seed_is_inconclusive():
    result = compare(two_methods([0.9], [0.1]), "ap/mel", "rg", "ce", "t")
    assert result["verdict"] == "inconclusive" and result["n_seeds"] == 1 and np.isnan(result["spread"])


def test_pairs_only_shared_seeds():
    rows = two_methods([0.60, 0.62, 0.64], [0.50, 0.51, 0.52])
    rows = rows[~((rows["method"] == "rg") & (rows["seed"] == 0))]
    result = compare(rows, "ap/mel", "rg", "ce", "t")
    assert result["n_seeds"] == 2 and result["effect"] == pytest.approx(0.115)


def test_missing_method_is_not_run_not_an_error():
    result = compare(two_methods([0.6], [0.5]), "ap/mel", "rg", "rg-random", "t")
    assert result["verdict"] == "not run" and result["n_seeds"] == 0
    assert "rg-random" in result["detail"] and "['ce', 'rg']" in result["detail"]


def test_bad_rows_give_clear_errors():
    rows = two_methods([0.6, 0.7], [0.5, 0.5])
    with pytest.raises(ValueError, match="task 'x' not in rows"):
        compare(rows, "ap/mel", "rg", "ce", "x")
    with pytest.raises(ValueError, match=r"lack columns \['ap/df'\]"):
        compare(rows, "ap/df", "rg", "ce", "t")
    with pytest.raises(ValueError, match="one row per run"):
        compare(pd.concat([rows, rows]), "ap/mel", "rg", "ce", "t")


def test_asynchrony_by_hand():
    same = np.array([[0.1, 0.5], [0.3, 0.7], [0.5, 0.9]])  # both classes gain 0.4 at the same pace
    assert asynchrony(same) == pytest.approx(0.0)
    # progress class 0: 0, 1, 1; class 1: 0, 0, 1 -> std across classes 0, 0.5, 0 -> mean 1/6
    assert asynchrony(np.array([[0.2, 0.1], [0.9, 0.1], [0.9, 0.5]])) == pytest.approx(1 / 6)
    # a falling quantity (representation spread) gives the same progress
    assert asynchrony(np.array([[5.0, 3.0], [1.0, 3.0], [1.0, 1.0]])) == pytest.approx(1 / 6)
    assert np.isnan(asynchrony(np.array([[0.2, 0.1], [0.9, 0.1]])))  # one class never moves
    with pytest.raises(ValueError, match="at least 2 classes"):
        asynchrony(np.zeros((3, 1)))


def test_short_run_asynchrony_is_nan_and_the_claim_is_not_run():
    assert np.isnan(asynchrony(np.zeros((1, 3))))  # one epoch: no exception
    # two rows: every class goes from progress 0 to 1, which would read as perfect synchrony
    assert np.isnan(asynchrony(np.array([[0.1, 0.5, 0.2], [0.9, 0.6, 0.8]])))
    short = pd.DataFrame([row for row in history("ce", 2, lag=4) + history("rg", 2, lag=0) if row["epoch"] == 0])
    assert asynchrony_table(short)["n_epochs"].eq(1).all()
    table = judge_claims(paper_like_rows(), "t", ["mel"], short).set_index("claim")
    assert table.loc["RG learns classes more synchronously", "verdict"] == "not run: needs >= 2 epochs"


def history(method: str, seeds: int, lag: float) -> list[dict]:
    """Per-epoch AP of a majority class learnt at once and a minority class learnt ``lag`` later."""
    epochs = np.arange(6)
    return [{"task": "t", "method": method, "seed": seed, "epoch": e,
             "val_ap/nv": 0.9 + 0.09 * min(e, 1), "val_ap/mel": 0.1 + 0.5 * min(e / (1 + lag + 0.1 * seed), 1)}
            for seed in range(seeds) for e in epochs]


def test_asynchrony_table_one_row_per_run():
    shuffled = pd.DataFrame(history("ce", 2, lag=4) + history("rg", 2, lag=0)).sample(frac=1, random_state=0)
    table = asynchrony_table(shuffled)
    assert len(table) == 4 and list(table.columns) == ["task", "method", "seed", "asynchrony", "n_epochs"]
    ce0 = table[(table["method"] == "ce") & (table["seed"] == 0)]["asynchrony"].item()
    # progress nv: 0,1,1,1,1,1; mel: 0,.2,.4,.6,.8,1 -> |diff|/2 = 0,.4,.3,.2,.1,0 -> mean 1/6
    assert ce0 == pytest.approx(1 / 6)


def paper_like_rows() -> pd.DataFrame:
    """RG clearly above CE and random regrouping on mel AP; RUS has the best BA but the worst macro AP."""
    columns = ("ba", "macro_ap", "ap/mel", "ap/df")
    return rows_from({
        "ce": dict(zip(columns, ([.55, .56, .57], [.60, .61, .62], [.50, .51, .52], [.40, .42, .41]))),
        "rg": dict(zip(columns, ([.58, .60, .59], [.66, .67, .68], [.60, .62, .64], [.41, .40, .42]))),
        "rg-random": dict(zip(columns, ([.55, .57, .56], [.58, .60, .59], [.48, .50, .49], [.40, .41, .42]))),
        "rus": dict(zip(columns, ([.66, .67, .68], [.40, .41, .43], [.30, .31, .30], [.20, .20, .20]))),
    })


def test_judge_claims_on_a_run_where_every_claim_holds():
    sync = pd.DataFrame(history("ce", 3, lag=4) + history("rg", 3, lag=0))
    table = judge_claims(paper_like_rows(), "t", ["mel"], sync)
    assert list(table.columns) == COLUMNS and len(table) == 4
    assert list(table["verdict"]) == ["holds"] * 4
    assert table.loc[0, "effect"] == pytest.approx(0.11)
    assert table.loc[0, "metric"] == "ap/mel"
    assert table.loc[2, "effect"] == pytest.approx(0.13)
    assert table.loc[3, "effect"] > 0  # asynchrony(CE) - asynchrony(RG)
    # BA order rus > rg > ce = rg-random ... vs AP order rg > ce > rg-random > rus
    assert "rg/rus" in table.loc[1, "detail"] and table.loc[1, "effect"] < 0
    assert table[["effect", "low", "high"]].notna().all().all()  # every verdict has its effect and interval
    assert (table["low"] <= table["effect"]).all() and (table["effect"] <= table["high"]).all()


def test_judge_claims_reports_what_was_not_run():
    rows = paper_like_rows()
    table = judge_claims(rows[rows["method"] != "rg-random"], "t", ["mel"])
    assert list(table["verdict"]) == ["holds", "holds", "not run", "not run"]
    only_ce = judge_claims(rows[rows["method"] == "ce"], "t", ["mel"], pd.DataFrame(history("ce", 2, lag=4)))
    assert list(only_ce["verdict"]) == ["not run"] * 4
    assert "sync_table" in table.loc[3, "detail"]


def test_several_minority_classes_use_their_mean_ap():
    table = judge_claims(paper_like_rows(), "t", ["mel", "df"])
    assert table.loc[0, "metric"] == "mean of ap/mel, ap/df"
    assert table.loc[0, "effect"] == pytest.approx((0.11 + 0.0) / 2)
    with pytest.raises(ValueError, match="classes with AP columns: \\['mel', 'df'\\]"):
        judge_claims(paper_like_rows(), "t", ["akiec"])


def ranked_rows(ba_means, ap_means, noise: float, seeds: int = 3, rng_seed: int = 0) -> pd.DataFrame:
    """Methods m0.. with the given true BA and AP means plus independent Gaussian seed noise."""
    rng = np.random.default_rng(rng_seed)
    return rows_from({f"m{i}": {"ba": list(ba + noise * rng.normal(size=seeds)),
                                "macro_ap": list(ap + noise * rng.normal(size=seeds)), "ap/mel": [0.5] * seeds}
                      for i, (ba, ap) in enumerate(zip(ba_means, ap_means))})


LADDER = [0.5, 0.6, 0.7, 0.8, 0.9]


@pytest.mark.parametrize("rng_seed", range(5))
def test_same_ranking_does_not_hold(rng_seed):
    result = rankings_disagree(ranked_rows(LADDER, LADDER, noise=0.005, rng_seed=rng_seed), "t")
    assert result["verdict"] == "does not hold" and result["effect"] == pytest.approx(1.0)
    assert result["low"] > 0.5


@pytest.mark.parametrize("rng_seed", range(5))
def test_reversed_rankings_hold(rng_seed):
    result = rankings_disagree(ranked_rows(LADDER, LADDER[::-1], noise=0.005, rng_seed=rng_seed), "t")
    assert result["verdict"] == "holds" and result["effect"] == pytest.approx(-1.0) and result["high"] < -0.5


@pytest.mark.parametrize("rng_seed", range(5))
def test_pure_noise_is_inconclusive(rng_seed):
    """The old rule said "holds" or "does not hold" here depending on chance orderings of means."""
    result = rankings_disagree(ranked_rows([0.6] * 5, [0.6] * 5, noise=0.05, rng_seed=rng_seed), "t")
    assert result["verdict"] == "inconclusive"
    assert result["low"] < result["effect"] < result["high"] or np.isnan(result["effect"])


def test_one_swap_among_many_methods_is_not_enough_by_chance():
    """Twenty indistinguishable methods: 190 pairs, none may be called swapped (Bonferroni)."""
    verdicts = [rankings_disagree(ranked_rows([0.6] * 20, [0.6] * 20, noise=0.05, rng_seed=s), "t", n_boot=50)["verdict"]
                for s in range(5)]
    assert verdicts == ["inconclusive"] * 5


def test_zero_spread_rankings_are_inconclusive():
    rows = ranked_rows(LADDER, LADDER[::-1], noise=0.0)
    assert rankings_disagree(rows, "t")["verdict"] == "inconclusive"


def test_test_image_replicates_widen_the_intervals():
    rows = two_methods([0.60, 0.62, 0.64], [0.50, 0.51, 0.52])
    rng = np.random.default_rng(0)
    replicates = {(m, s): {"ap/mel": v + rng.normal(0, 0.2, size=200)}
                  for m, s, v in zip(rows["method"], rows["seed"], rows["ap/mel"])}
    seeds_only = compare(rows, "ap/mel", "rg", "ce", "t")
    both = compare(rows, "ap/mel", "rg", "ce", "t", replicates)
    assert both["high"] - both["low"] > 2 * (seeds_only["high"] - seeds_only["low"])
    assert both["verdict"] == "inconclusive" and "test images" in both["detail"]


def test_gains_over_compares_each_method_with_the_baseline():
    gains = gains_over(paper_like_rows(), "t", ["rus", "rg", "absent"], "ce", ["ba", "macro_ap"])
    assert list(zip(gains["method_a"], gains["metric"])) == [("rus", "ba"), ("rus", "macro_ap"), ("rg", "ba"), ("rg", "macro_ap")]
    # rg - ce on macro AP is +0.06 on every seed: zero spread, so inconclusive
    assert list(gains["verdict"]) == ["holds", "does not hold", "holds", "inconclusive"]
