import numpy as np
import pandas as pd
import pytest
from scipy import stats

from nbutils.analysis.claims import (
    COLUMNS,
    NEEDS_EPOCHS,
    asynchrony,
    asynchrony_table,
    bootstrap_tau,
    compare,
    gains_over,
    holm,
    judge_claims,
    rankings_disagree,
    task_ap_metric,
)


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
    """std across classes of ln(v_t / v_0), mean over the rows after the first (no 0..1 rescaling)."""
    same = np.array([[0.8, 0.4], [0.4, 0.2], [0.2, 0.1]])  # both classes halve every epoch
    assert asynchrony(same) == pytest.approx(0.0)
    # class 0 halves at epoch 1, class 1 at epoch 2: ln ratios (ln .5, 0) then (ln .5, ln .5)
    # -> std across classes ln(2)/2 then 0 -> mean ln(2)/4
    assert asynchrony(np.array([[0.8, 0.4], [0.4, 0.4], [0.4, 0.2]])) == pytest.approx(np.log(2) / 4)
    # a class that barely contracts is asynchronous however its curve would rescale to 0..1
    assert asynchrony(np.array([[1.0, 1.0], [0.1, 0.99], [0.01, 0.98]])) == pytest.approx(
        (abs(np.log(0.1) - np.log(0.99)) / 2 + abs(np.log(0.01) - np.log(0.98)) / 2) / 2)
    # the untrained row and one epoch suffice: the contraction after it differs between classes
    assert asynchrony(np.array([[0.8, 0.4], [0.4, 0.4]])) == pytest.approx(np.log(2) / 2)
    # a common factor at each epoch (features that grow; total variation vs raw distance) cancels
    curves = np.array([[0.8, 0.4, 0.6], [0.4, 0.4, 0.3], [0.1, 0.3, 0.2]])
    assert asynchrony(curves * np.array([[1.0], [3.0], [10.0]])) == pytest.approx(asynchrony(curves))
    # absent classes (NaN) and classes with a zero spread are left out; NaN when < 2 remain
    assert asynchrony(np.c_[same, np.full(3, np.nan)]) == pytest.approx(0.0)
    assert np.isnan(asynchrony(np.array([[0.2, np.nan], [0.1, np.nan]])))
    with pytest.raises(ValueError, match="at least 2 classes"):
        asynchrony(np.zeros((3, 1)))


def test_short_run_asynchrony_is_nan_and_the_claim_is_not_run():
    assert np.isnan(asynchrony(np.ones((1, 3))))  # the untrained row alone: no exception
    short = pd.DataFrame([row for row in history("ce", 2, lag=4) + history("rg", 2, lag=0) if row["epoch"] == 0])
    assert asynchrony_table(short)["n_epochs"].eq(1).all()
    table = judge_claims(paper_like_rows(), "t", ["mel"], short).set_index("claim")
    assert table.loc["RG learns classes more synchronously", "verdict"] == NEEDS_EPOCHS


def history(method: str, seeds: int, lag: float) -> list[dict]:
    """Per-epoch spread of a majority class that contracts tenfold at once and of a minority
    class that contracts as much ``lag`` epochs later (spread 1 at epoch 0)."""
    epochs = np.arange(6)
    return [{"task": "t", "method": method, "seed": seed, "epoch": e,
             "val_ap/nv": 10.0 ** -min(e, 1), "val_ap/mel": 10.0 ** -min(e / (1 + lag + 0.1 * seed), 1)}
            for seed in range(seeds) for e in epochs]


def test_asynchrony_table_one_row_per_run():
    shuffled = pd.DataFrame(history("ce", 2, lag=4) + history("rg", 2, lag=0)).sample(frac=1, random_state=0)
    table = asynchrony_table(shuffled)
    assert len(table) == 4 and list(table.columns) == ["task", "method", "seed", "asynchrony", "n_epochs"]
    ce0 = table[(table["method"] == "ce") & (table["seed"] == 0)]["asynchrony"].item()
    # ln spread nv: 0, -L, -L, -L, -L, -L; mel: 0, -L/5, -2L/5, ..., -L (L = ln 10) -> std |diff| / 2
    # over epochs 1..5: L/2 * (4 + 3 + 2 + 1 + 0) / 5 / 5 = 0.2 L
    assert ce0 == pytest.approx(0.2 * np.log(10))
    rg = table[table["method"] == "rg"]["asynchrony"]
    assert (rg < 0.05).all()  # lag 0 (seed 1: 1.1 epochs): nearly synchronous


def test_asynchrony_table_leaves_out_the_targets_a_run_does_not_have():
    """target_spread/<k>: a binary CE run has 2 targets, an RG run K + 1; concatenated, the other
    runs' columns are NaN."""
    ce = pd.DataFrame({"task": "t", "method": "ce", "seed": 0, "epoch": [0, 1, 2],
                       "target_spread/0": [1.0, 0.1, 0.1], "target_spread/1": [1.0, 1.0, 0.1]})
    rg = pd.DataFrame({"task": "t", "method": "rg", "seed": 0, "epoch": [0, 1, 2],
                       **{f"target_spread/{k}": [1.0, 0.3, 0.1] for k in range(4)}})
    table = asynchrony_table(pd.concat([ce, rg], ignore_index=True), "target_spread").set_index("method")
    assert table.loc["ce", "asynchrony"] == pytest.approx(np.log(10) / 4)
    assert table.loc["rg", "asynchrony"] == pytest.approx(0.0)


def paper_like_rows() -> pd.DataFrame:
    """RG clearly above CE and random regrouping on mel AP; RUSC has the best BA but the worst mel AP."""
    columns = ("ba", "macro_ap", "ap/mel", "ap/df")
    return rows_from({
        "ce": dict(zip(columns, ([.55, .56, .57], [.60, .61, .62], [.50, .51, .52], [.40, .42, .41]))),
        "rg": dict(zip(columns, ([.58, .60, .59], [.66, .67, .68], [.60, .62, .64], [.41, .40, .42]))),
        "rg-random": dict(zip(columns, ([.55, .57, .56], [.58, .60, .59], [.48, .50, .49], [.40, .41, .42]))),
        "rusc": dict(zip(columns, ([.66, .68, .67], [.40, .41, .43], [.30, .31, .30], [.20, .20, .20]))),
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
    # RUSC - CE: BA gain 0.11, mel AP loss 0.207 (two AP columns: a binary task's positive-class AP)
    assert table.loc[1, "effect"] == pytest.approx(0.11) and "rusc - ce" in table.loc[1, "detail"]
    assert "ap/mel" in table.loc[1, "metric"] and np.isfinite(table.loc[1, "kendall_tau"])
    assert list(table["unit"]) == ["points", "points", "points", "ln ratio"]
    assert table[["effect", "low", "high"]].notna().all().all()  # every verdict has its effect and interval
    assert (table["low"] <= table["effect"]).all() and (table["effect"] <= table["high"]).all()


def test_judge_claims_reports_what_was_not_run():
    rows = paper_like_rows()
    table = judge_claims(rows[rows["method"] != "rg-random"], "t", ["mel"])
    assert list(table["verdict"]) == ["holds", "holds", "not run", "not run"]
    only_ce = judge_claims(rows[rows["method"] == "ce"], "t", ["mel"], pd.DataFrame(history("ce", 2, lag=4)))
    assert list(only_ce["verdict"]) == ["not run"] * 4
    assert "sync_table" in table.loc[3, "detail"]
    assert "none of the named pairs" in only_ce.loc[1, "detail"]


def test_several_minority_classes_use_their_mean_ap():
    table = judge_claims(paper_like_rows(), "t", ["mel", "df"])
    assert table.loc[0, "metric"] == "mean of ap/mel, ap/df"
    assert table.loc[0, "effect"] == pytest.approx((0.11 + 0.0) / 2)
    with pytest.raises(ValueError, match="classes with AP columns: \\['mel', 'df'\\]"):
        judge_claims(paper_like_rows(), "t", ["akiec"])


def named_rows(means: dict[str, tuple[float, float]], noise: float, seeds: int = 3, rng_seed: int = 0,
               classes: int = 2) -> pd.DataFrame:
    """Methods {name: (true BA, true AP)} plus independent Gaussian seed noise: ``ap/pos`` (the
    positive class of a binary task) and ``macro_ap`` carry the AP; with ``classes`` > 2 more AP columns."""
    rng = np.random.default_rng(rng_seed)
    rows = {}
    for method, (ba, ap) in means.items():
        values = {"ba": ba + noise * rng.normal(size=seeds), "ap/pos": ap + noise * rng.normal(size=seeds)}
        values["macro_ap"] = values["ap/pos"]
        values.update({f"ap/c{k}": np.full(seeds, 0.9) for k in range(classes - 1)})
        rows[method] = {k: list(v) for k, v in values.items()}
    return rows_from(rows)


SWAP = {"ce": (0.70, 0.60), "wce": (0.80, 0.55), "rusc": (0.85, 0.40), "rg": (0.74, 0.66)}
NO_SWAP = {"ce": (0.70, 0.60), "wce": (0.80, 0.65), "rusc": (0.85, 0.70), "rg": (0.74, 0.66)}
SAME = {m: (0.70, 0.60) for m in SWAP}


@pytest.mark.parametrize("rng_seed", range(5))
def test_a_clear_swap_of_a_named_pair_holds(rng_seed):
    result = rankings_disagree(named_rows(SWAP, noise=0.01, rng_seed=rng_seed), "t", ap_metric="ap/pos")
    assert result["verdict"] == "holds" and result["low"] > 0
    assert result["effect"] == pytest.approx(0.15, abs=0.03)  # rusc: min(BA gain .15, AP loss .20)
    assert "(swaps, Holm)" in result["detail"]


@pytest.mark.parametrize("rng_seed", range(5))
def test_rebalancing_that_raises_both_does_not_hold(rng_seed):
    result = rankings_disagree(named_rows(NO_SWAP, noise=0.005, rng_seed=rng_seed), "t", ap_metric="ap/pos")
    assert result["verdict"] == "does not hold" and result["high"] < 0.01


@pytest.mark.parametrize("rng_seed", range(5))
def test_pure_noise_is_inconclusive(rng_seed):
    result = rankings_disagree(named_rows(SAME, noise=0.05, rng_seed=rng_seed), "t", ap_metric="ap/pos")
    assert result["verdict"] == "inconclusive" and result["low"] <= result["effect"] <= result["high"]


def test_the_verdict_is_read_from_the_interval_it_prints():
    for means, noise in ((SWAP, 0.01), (NO_SWAP, 0.005), (SAME, 0.05), (SWAP, 0.08)):
        for rng_seed in range(4):
            r = rankings_disagree(named_rows(means, noise, rng_seed=rng_seed), "t", ap_metric="ap/pos")
            assert (r["verdict"] == "holds") == (r["low"] > 0)
            assert (r["verdict"] == "does not hold") == (r["high"] < 0.01 and not r["low"] > 0)


def test_many_methods_do_not_dilute_the_test_and_kendall_tau_does_not_decide():
    """The old rule needed one of 91 pairs to swap under Bonferroni; the named pairs are 2 however
    many methods run, and a reversed overall ranking without a named swap decides nothing."""
    many = {**SWAP, **{f"m{i}": (0.6 + 0.01 * i, 0.7 - 0.01 * i) for i in range(12)}}
    result = rankings_disagree(named_rows(many, noise=0.01), "t", ap_metric="ap/pos")
    assert result["verdict"] == "holds" and "2 named pair(s)" in result["detail"]
    reversed_ = rankings_disagree(named_rows({f"m{i}": (0.6 + 0.05 * i, 0.9 - 0.05 * i) for i in range(5)}, 0.005),
                                  "t", ap_metric="ap/pos")
    assert reversed_["verdict"] == "not run" and reversed_["kendall_tau"] == pytest.approx(-1.0)


def test_zero_spread_pairs_are_inconclusive():
    assert rankings_disagree(named_rows(SWAP, noise=0.0), "t", ap_metric="ap/pos")["verdict"] == "inconclusive"


def test_holm_steps_down():
    assert holm([0.01, 0.04, 0.03], 0.05) == [True, False, False]  # 0.03 > 0.05 / 2
    assert holm([0.001, 0.02], 0.05) == [True, True]  # 0.02 <= 0.05 / 1 once the first is rejected
    assert holm([0.06, 0.001], 0.05) == [False, True]


def test_the_rank_claim_uses_the_ap_of_the_papers_tables():
    binary = named_rows(SWAP, noise=0.01)  # ap/pos and ap/c0: two classes
    assert task_ap_metric(binary, "t", "ap/pos") == "ap/pos"
    multiclass = named_rows(SWAP, noise=0.01, classes=4)
    assert task_ap_metric(multiclass, "t", "ap/pos") == "macro_ap"


def test_kendall_tau_bootstrap_resamples_test_images_and_seeds_only_when_enough():
    rows = named_rows(SWAP, noise=0.01)
    replicates = {(r["method"], r["seed"]): {m: r[m] + np.random.default_rng(i).normal(0, 0.03, 100)
                                             for m in ("ba", "macro_ap", "ap/pos")}
                  for i, r in enumerate(rows.to_dict("records"))}
    with_images = rankings_disagree(rows, "t", replicates, ap_metric="ap/pos")
    assert with_images["tau_low"] < with_images["tau_high"]
    assert "100 resamples of held-out images (seeds not resampled: 3 < 8)" in with_images["detail"]
    values = {"ba": rows.pivot(index="seed", columns="method", values="ba").to_numpy(),
              "ap": rows.pivot(index="seed", columns="method", values="ap/pos").to_numpy()}
    reps = {k: np.stack([[replicates[(m, s)][c] for m in sorted(SWAP)] for s in range(3)])
            for k, c in (("ba", "ba"), ("ap", "ap/pos"))}
    taus, _ = bootstrap_tau(values, reps, 100, np.random.default_rng(0))
    assert len(np.unique(taus)) >= 3  # the resamples vary
    seeds_only = rankings_disagree(rows, "t", ap_metric="ap/pos")
    assert np.isnan(seeds_only["tau_low"]) and "no interval" in seeds_only["detail"]
    many_seeds = rankings_disagree(named_rows(SWAP, noise=0.01, seeds=10), "t", ap_metric="ap/pos", n_boot=200)
    assert many_seeds["tau_low"] <= many_seeds["kendall_tau"] <= many_seeds["tau_high"]
    assert "200 resamples of seeds" in many_seeds["detail"]


def test_test_image_replicates_widen_the_intervals():
    rows = two_methods([0.60, 0.62, 0.64], [0.50, 0.51, 0.52])
    rng = np.random.default_rng(0)
    replicates = {(m, s): {"ap/mel": v + rng.normal(0, 0.2, size=200)}
                  for m, s, v in zip(rows["method"], rows["seed"], rows["ap/mel"])}
    seeds_only = compare(rows, "ap/mel", "rg", "ce", "t")
    both = compare(rows, "ap/mel", "rg", "ce", "t", replicates)
    assert both["high"] - both["low"] > 2 * (seeds_only["high"] - seeds_only["low"])
    assert both["verdict"] == "inconclusive" and "held-out images" in both["detail"]


def test_gains_over_compares_each_method_with_the_baseline():
    gains = gains_over(paper_like_rows(), "t", ["rusc", "rg", "absent"], "ce", ["ba", "macro_ap"])
    assert list(zip(gains["method_a"], gains["metric"])) == [("rusc", "ba"), ("rusc", "macro_ap"), ("rg", "ba"), ("rg", "macro_ap")]
    # rg - ce on macro AP is +0.06 on every seed: zero spread, so inconclusive
    assert list(gains["verdict"]) == ["holds", "does not hold", "holds", "inconclusive"]


def test_the_rg_claims_give_aurocs_paired_difference_beside_the_minority_ap():
    from nbutils.analysis.claims import judge_claims
    rows = pd.DataFrame([{"task": "t", "method": m, "seed": s, "ba": 0.8, "macro_ap": 0.7, "ap/rest": 0.99,
                          "ap/pos": ap + 0.01 * s, "auroc": auc + 0.001 * s * (m == "rg")}
                         for m, ap, auc in (("ce", 0.5, 0.95), ("rg", 0.55, 0.96), ("rg-random", 0.52, 0.955))
                         for s in range(3)])
    table = judge_claims(rows, "t", ["pos"]).set_index("claim")
    assert "AUROC rg - ce: +0.011 [" in table.loc["RG raises minority-class AP over CE", "detail"]
    assert "AUROC rg - rg-random: +0.006 [" in table.loc["Random regrouping does not give RG's gain", "detail"]


def test_effect_interval_by_hand_welch_satterthwaite():
    from nbutils.analysis.claims import effect_interval
    d = np.array([0.10, 0.11, 0.12])
    images = np.random.default_rng(0).normal(0.11, 0.02, size=500)  # the image part dominates
    effect = effect_interval(d, images)
    v_s, v_i = d.var(ddof=1) / 3, images.var(ddof=1)
    df = (v_s + v_i) ** 2 / (v_s ** 2 / 2 + v_i ** 2 / 499)
    assert effect.df == pytest.approx(df) and 2 < effect.df < 499
    assert effect.se_seeds == pytest.approx(np.sqrt(v_s)) and effect.se_images == pytest.approx(np.sqrt(v_i))
    half = stats.t.ppf(0.975, df) * np.sqrt(v_s + v_i)
    assert half > stats.t.ppf(0.975, 2) * np.sqrt(v_s)  # wider than the seeds' own t-interval: WS decides
    assert (effect.low, effect.high) == pytest.approx((0.11 - half, 0.11 + half))
    assert effect.n_seeds == 3 and effect.n_boot == 500
    assert "seeds and held-out images, Welch-Satterthwaite" in effect.describe()
    # the image part is not multiplied by t(2) = 4.3: narrower than today's rule
    assert half < 4.302653 * np.sqrt(v_s + v_i)
    # a small image part: WS alone would be narrower than the seeds' t-interval; it never is
    small = effect_interval(d, np.random.default_rng(0).normal(0.11, 0.004, size=500))
    seeds_alone = stats.t.ppf(0.975, 2) * 0.01 / np.sqrt(3)
    assert stats.t.ppf(0.975, small.df) * small.se < seeds_alone
    assert small.high - small.mean == pytest.approx(seeds_alone)


def test_effect_interval_without_images_is_the_t_interval_and_its_edge_cases():
    from nbutils.analysis.claims import effect_interval
    seeds_only = effect_interval(np.array([0.10, 0.11, 0.12]))
    low, high = stats.ttest_1samp([0.10, 0.11, 0.12], 0).confidence_interval(0.95)
    assert (seeds_only.low, seeds_only.high) == pytest.approx((low, high)) and seeds_only.df == 2
    assert np.isnan(seeds_only.se_images) and seeds_only.describe() == "95% t-interval over seeds"
    images = np.array([0.0, 0.02, -0.02, 0.01, -0.01])
    one = effect_interval(np.array([0.05]), images)  # one seed: the image part alone, B - 1 d.o.f.
    assert one.df == 4 and one.high - one.mean == pytest.approx(stats.t.ppf(0.975, 4) * images.std(ddof=1))
    assert np.isnan(one.se_seeds) and "held-out images only" in one.describe()
    assert np.isnan(effect_interval(np.array([0.05])).low)  # one seed, no images: no interval
    same = effect_interval(np.array([0.1, 0.1, 0.1]), images)  # zero spread: no interval, as compare
    assert same.mean == pytest.approx(0.1) and np.isnan(same.low) and np.isnan(same.high)
    assert np.isnan(effect_interval(np.array([])).mean)
    with_nan = effect_interval(np.array([0.10, 0.11, 0.12]), np.r_[images, np.nan])
    assert with_nan.n_boot == 5


def test_compare_and_the_claims_table_keep_the_parts_of_the_interval():
    rows = two_methods([0.60, 0.62, 0.64], [0.50, 0.51, 0.52])
    rng = np.random.default_rng(0)
    replicates = {(m, s): {"ap/mel": v + rng.normal(0, 0.01, size=300)}
                  for m, s, v in zip(rows["method"], rows["seed"], rows["ap/mel"])}
    result = compare(rows, "ap/mel", "rg", "ce", "t", replicates)
    diffs = np.mean([replicates[("rg", s)]["ap/mel"] - replicates[("ce", s)]["ap/mel"] for s in range(3)], axis=0)
    assert result["se_images"] == pytest.approx(diffs.std(ddof=1))
    assert result["se_seeds"] == pytest.approx(0.01 / np.sqrt(3)) and 2 < result["df"] < 299
    assert "Welch-Satterthwaite d.o.f." in result["detail"]
    seeds_only = compare(rows, "ap/mel", "rg", "ce", "t")
    assert seeds_only["df"] == 2 and np.isnan(seeds_only["se_images"]) and "t-interval over seeds" in seeds_only["detail"]
    table = judge_claims(paper_like_rows(), "t", ["mel"])
    assert {"se_seeds", "se_images", "df"} <= set(table.columns)
    has_interval = table["low"].notna()
    assert table.loc[has_interval, ["se_seeds", "df"]].notna().all().all()


def test_aurocs_interval_has_its_test_image_part():
    rows = pd.DataFrame([{"task": "t", "method": m, "seed": s, "ba": 0.8, "macro_ap": 0.7, "ap/rest": 0.99,
                          "ap/pos": ap + 0.01 * s, "auroc": auc + 0.001 * s * (m == "rg")}
                         for m, ap, auc in (("ce", 0.5, 0.95), ("rg", 0.55, 0.96), ("rg-random", 0.52, 0.955))
                         for s in range(3)])
    rng = np.random.default_rng(1)
    replicates = {(r["method"], r["seed"]): {"auroc": r["auroc"] + rng.normal(0, 0.02, 200),
                                             "ap/pos": r["ap/pos"] + rng.normal(0, 0.02, 200),
                                             "ba": np.full(200, 0.8), "macro_ap": np.full(200, 0.7)}
                  for r in rows.to_dict("records")}
    detail = judge_claims(rows, "t", ["pos"], replicates=replicates).loc[0, "detail"]
    auroc = detail[detail.index("AUROC rg - ce"):]
    assert "over seeds and held-out images" in auroc
    low, high = (float(x) for x in auroc[auroc.index("[") + 1:auroc.index("]")].split(", "))
    assert high - low > 0.02  # the seeds alone give +0.011 [+0.009, +0.013]


def test_the_one_sided_p_agrees_with_the_interval():
    from nbutils.analysis.claims import effect_interval, one_sided_p
    rng = np.random.default_rng(3)
    for _ in range(50):
        d = rng.normal(0.01, 0.01, 3)
        images = rng.normal(d.mean(), rng.choice([0.001, 0.01]), 300)
        low = effect_interval(d, images, level=0.95).low
        assert (one_sided_p(d, images) < 0.025) == (low > 0)


def test_the_rg_claims_are_also_judged_on_auroc():
    rows = paper_like_rows()
    rows["auroc"] = rows["ap/mel"] / 2 + 0.5  # AUROC moves with the minority AP here
    table = judge_claims(rows, "t", ["mel"]).set_index("claim")
    assert list(table.index) == ["RG raises minority-class AP over CE", "RG raises AUROC over CE",
                                 "BA and AP rank methods differently", "Random regrouping does not give RG's gain",
                                 "Random regrouping does not give RG's AUROC gain", "RG learns classes more synchronously"]
    for claim, other in (("RG raises AUROC over CE", "ce"), ("Random regrouping does not give RG's AUROC gain", "rg-random")):
        expected = compare(rows, "auroc", "rg", other, "t")
        assert table.loc[claim, "effect"] == pytest.approx(expected["effect"])
        assert (table.loc[claim, "metric"], table.loc[claim, "verdict"]) == ("auroc", expected["verdict"])
