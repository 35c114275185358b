"""The ablation design of notebook 05 and the numbers its sentences are made from (no training)."""
import numpy as np
import pandas as pd
import pytest

from nbutils.analysis import ablations
from nbutils.analysis.ablations import BASE_LABEL, NMI

REGROUP = {"encoder": "effnet-lite0", "encoder_options": {"image_size": 64}}


def test_one_factor_at_a_time_around_the_base_plus_interactions():
    factors = {"encoder": ["raw", "effnet-lite0"], "clustering": ["kmeans", "gmm", "random"],
               "n_clusters": ["threshold", "auto"], "loss": ["ce", "focal"]}
    cells = ablations.design(factors, REGROUP, interactions=[["n_clusters", "clustering"]])
    labels = [c.label for c in cells]
    assert labels[0] == BASE_LABEL and len(set(labels)) == len(labels)
    assert {"encoder=raw", "clustering=gmm", "clustering=random", "n_clusters=auto", "loss=focal"} <= set(labels)
    assert "clustering=gmm, n_clusters=auto" in labels  # from the interaction
    assert "clustering=random, n_clusters=auto" not in labels  # Regrouper refuses it
    assert len(cells) == 1 + 1 + 2 + 1 + 1 + 1  # base, encoder, clustering, n_clusters, loss, gmm x auto
    focal = next(c for c in cells if c.label == "loss=focal")
    assert focal.entry == {"name": "rg-focal", "encoder": "effnet-lite0", "encoder_options": {"image_size": 64},
                           "clustering": "kmeans", "n_clusters": "threshold", "aggregate": "max"}
    assert next(c for c in cells if c.label == "encoder=raw").entry["encoder_options"] == {}
    assert [c.label for c in ablations.one_factor(cells, "clustering")] == [BASE_LABEL, "clustering=gmm",
                                                                           "clustering=random"]


@pytest.mark.parametrize("factors, interactions, message", [
    ({"encoders": ["raw"]}, [], "unknown factor 'encoders'; valid: encoder, clustering"),
    ({"encoder": ["dino"]}, [], "unknown encoder 'dino'; valid: clip"),
    ({"loss": ["ldam"]}, [], "unknown loss 'ldam'; valid: ce, wce, focal"),
    ({"n_clusters": ["many"]}, [], "n_clusters must be 'threshold', 'ratio', 'auto'"),
    ({"encoder": ["raw"]}, [["encoder", "clustering"]], "missing: \\['clustering'\\]"),
])
def test_a_wrong_factor_level_or_interaction_fails_up_front(factors, interactions, message):
    with pytest.raises(ValueError, match=message):
        ablations.design(factors, REGROUP, interactions)


def fake_rows(effects: dict[str, list[float]], nmis: dict[str, list[float]], ce: list[float]) -> pd.DataFrame:
    """Rows of task 't': CE's metric 'm' per seed, and each cell's CE value + effect, with its NMI."""
    rows = [{"task": "t", "method": "ce", "seed": s, "m": v} for s, v in enumerate(ce)]
    rows += [{"task": "t", "method": cell, "seed": s, "m": ce[s] + d, NMI: nmis[cell][s]}
             for cell, ds in effects.items() for s, d in enumerate(ds)]
    return pd.DataFrame(rows)


def test_clear_of_baseline_compares_t_intervals():
    rows = fake_rows({"up": [0.5, 0.52, 0.54], "near": [0.0, 0.01, -0.01]},
                     {"up": [0.5] * 3, "near": [0.4] * 3}, ce=[0.1, 0.12, 0.14])
    table = ablations.clear_of_baseline(rows, "t", ["up", "near"], "m")
    assert list(table.index) == ["up", "near"] and list(table["vs_ce"]) == ["above", "overlap"]
    t = 4.302652729749464  # t(0.975, 2): half-width = t * std / sqrt(n)
    assert table.loc["up", "low"] == pytest.approx(0.64 - t * 0.04 / np.sqrt(3))  # up: 0.60, 0.64, 0.68
    assert table.attrs["baseline"]["high"] == pytest.approx(0.12 + t * 0.02 / np.sqrt(3))
    assert "1 RG cell(s) have intervals wholly above ce 12.0" in ablations.goal_sentence(table, "t", "m")


def test_nmi_gain_correlation_reads_the_cells_order():
    cells = [ablations.Cell(name, {}, {}) for name in ("a", "b", "c", "d")]
    effects = {"a": [0.0, 0.01, 0.0, 0.0, 0.01], "b": [0.1, 0.11, 0.1, 0.1, 0.11], "c": [0.2, 0.2, 0.21, 0.2, 0.2],
               "d": [0.3, 0.31, 0.3, 0.3, 0.31]}
    nmis = {"a": [0.1] * 5, "b": [0.2] * 5, "c": [0.3] * 5, "d": [0.4] * 5}
    ce = [0.1, 0.2, 0.3, 0.2, 0.1]
    corr = ablations.nmi_gain_correlation(fake_rows(effects, nmis, ce), "t", cells, "m", n_boot=50)
    assert corr["rho"] == pytest.approx(1.0) and corr["low"] == pytest.approx(1.0) and corr["n_cells"] == 4
    assert "interval above 0" in ablations.correlation_sentence(corr, "t")
    reversed_nmi = {k: v for k, v in zip(nmis, reversed(list(nmis.values())))}
    corr = ablations.nmi_gain_correlation(fake_rows(effects, reversed_nmi, ce), "t", cells, "m", n_boot=50)
    assert corr["rho"] == pytest.approx(-1.0)
    three = {k: v[:3] for k, v in effects.items()}  # 3 seeds: 10 distinct resamples, no interval
    corr = ablations.nmi_gain_correlation(fake_rows(three, {k: v[:3] for k, v in nmis.items()}, ce[:3]), "t", cells, "m")
    assert corr["rho"] == pytest.approx(1.0) and np.isnan(corr["low"])
    assert "cannot vary enough to give an interval" in ablations.correlation_sentence(corr, "t")
    too_few = ablations.nmi_gain_correlation(fake_rows(effects, nmis, ce), "t", cells[:2], "m")
    assert np.isnan(too_few["rho"]) and "too few cells" in ablations.correlation_sentence(too_few, "t")


def test_ranked_sentence_says_whether_the_top_two_intervals_overlap():
    values = pd.DataFrame({"mean": [0.5, 0.8], "low": [0.45, 0.7], "high": [0.55, 0.9]}, index=["raw", "simclr"])
    text = ablations.ranked_sentence(values, "cluster NMI", "t")
    assert text.index("`simclr` 0.800") < text.index("`raw` 0.500") and "do not overlap: `simclr` leads" in text
    values.loc["raw", "high"] = 0.75
    assert "the intervals of the first two overlap." in ablations.ranked_sentence(values, "cluster NMI", "t")


def test_clip_without_weights_is_reported_not_run(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    usable, missing = ablations.available_encoders(["raw", "clip"], {"clip": {"pretrained": "/nonexistent.pt"}})
    assert usable == ["raw"] and "clip" in missing and "/nonexistent.pt" in missing["clip"]


def test_one_seed_has_no_interval_so_nothing_is_ranked_or_cleared():
    values = pd.DataFrame({"mean": [0.5, 0.8], "low": [np.nan, np.nan], "high": [np.nan, np.nan]}, index=["a", "b"])
    assert "without an interval (one seed) the order is not judged" in ablations.ranked_sentence(values, "x", "t")
    rows = fake_rows({"up": [0.5]}, {"up": [0.5]}, ce=[0.1])
    table = ablations.clear_of_baseline(rows, "t", ["up"], "m")
    assert list(table["vs_ce"]) == ["no interval"]
    assert "with one seed there are no intervals to compare" in ablations.goal_sentence(table, "t", "m")


def test_the_k_by_aggregation_grid_holds_only_cells_with_the_other_factors_at_base():
    factors = {"n_clusters": ["threshold", 2], "aggregate": ["max", "sum"], "loss": ["ce", "wce"]}
    cells = ablations.design(factors, REGROUP, interactions=[["n_clusters", "aggregate"]])
    grid = [c.label for c in ablations.cells_varying(cells, ["n_clusters", "aggregate"])]
    assert grid == [BASE_LABEL, "n_clusters=2", "aggregate=sum", "n_clusters=2, aggregate=sum"]


def test_clear_of_baseline_adds_the_test_image_part_when_replicates_are_given():
    from nbutils.analysis.claims import effect_interval
    rows = fake_rows({"up": [0.5, 0.52, 0.54]}, {"up": [0.5] * 3}, ce=[0.1, 0.12, 0.14])
    rng = np.random.default_rng(0)
    shared = rng.normal(0, 0.05, 300)  # one test set: the same resamples for every run
    replicates = {(r["method"], r["seed"]): {"m": r["m"] + shared} for r in rows.to_dict("records")}
    seeds = ablations.clear_of_baseline(rows, "t", ["up"], "m")
    both = ablations.clear_of_baseline(rows, "t", ["up"], "m", replicates=replicates)
    expected = effect_interval(np.array([0.60, 0.64, 0.68]), np.mean([0.60, 0.64, 0.68]) + shared)
    assert both.loc["up", "low"] == pytest.approx(expected.low) and both.loc["up", "low"] < seeds.loc["up", "low"]
    assert "over seeds and held-out images, Welch-Satterthwaite" in both.attrs["interval"]
    assert "(95% interval over seeds and held-out images, Welch-Satterthwaite d.o.f.: " in \
        ablations.goal_sentence(both, "t", "m")
    assert "(95% t-interval over seeds: " in ablations.goal_sentence(seeds, "t", "m")
