"""The claims' rules on synthetic data where the truth is known.

- The rank claim ("BA and AP rank methods differently") on the papers' named pairs: it must say
  *holds* in most replicates of a clear swap (RUSC raising BA and lowering AP over CE, as in the long
  paper's Table 1) and rarely where no pair swaps or where every method is the same (its false
  *holds* rate is at most 2.5% by construction).
- The synchrony measure on synthetic features whose classes contract at known epochs: a class that
  contracts later falls later, the asynchrony sees it, and neither a common growth of the features
  nor measuring the share of the total variation instead of the paper's raw distance moves it.
"""
import numpy as np
import pandas as pd
import pytest

from nbutils.analysis.claims import asynchrony, asynchrony_table, contraction_table, judge_claims, rankings_disagree
from nbutils.analysis.diagnostics import class_spread

REPLICATES = 40
# true (BA, positive-class AP) of each method; seed noise is added per run
CLEAR_SWAP = {"ce": (0.70, 0.60), "wce": (0.76, 0.56), "rusc": (0.85, 0.40), "rg": (0.74, 0.66), "ros": (0.72, 0.62)}
NO_SWAP = {"ce": (0.70, 0.60), "wce": (0.76, 0.64), "rusc": (0.78, 0.63), "rg": (0.74, 0.66), "ros": (0.72, 0.62)}
ALL_SAME = {m: (0.70, 0.60) for m in CLEAR_SWAP}


def replicate_rows(means: dict, noise: float, rng: np.random.Generator, seeds: int = 3) -> pd.DataFrame:
    """Result rows of a binary task: BA and the positive class's AP with Gaussian seed noise."""
    rows = []
    for method, (ba, ap) in means.items():
        for seed in range(seeds):
            pos = ap + noise * rng.normal()
            rows.append({"task": "t", "method": method, "seed": seed, "ba": ba + noise * rng.normal(),
                         "ap/rest": 0.99, "ap/pos": pos, "macro_ap": (0.99 + pos) / 2})
    return pd.DataFrame(rows)


def image_replicates(rows: pd.DataFrame, sd: float, rng: np.random.Generator, n: int = 100) -> dict:
    """Test-image bootstrap stand-ins: each run's metrics plus noise shared by replicate index
    (the same resampled test set moves every run alike, as metrics.bootstrap_runs)."""
    shared = rng.normal(0, sd, n)
    return {(r["method"], r["seed"]): {m: r[m] + shared + rng.normal(0, sd / 2, n) for m in ("ba", "ap/pos", "macro_ap")}
            for r in rows.to_dict("records")}


def holds_rate(means: dict, noise: float, with_images: bool = False) -> float:
    rng = np.random.default_rng(24)
    verdicts = []
    for _ in range(REPLICATES):
        rows = replicate_rows(means, noise, rng)
        replicates = image_replicates(rows, noise / 2, rng) if with_images else None
        verdicts.append(rankings_disagree(rows, "t", replicates, n_boot=20, ap_metric="ap/pos")["verdict"])
    return float(np.mean([v == "holds" for v in verdicts]))


@pytest.mark.parametrize("with_images", [False, True])
def test_a_clear_swap_holds_in_most_replicates(with_images):
    assert holds_rate(CLEAR_SWAP, noise=0.015, with_images=with_images) >= 0.8  # measured: 0.95-1.0


@pytest.mark.parametrize("means", [NO_SWAP, ALL_SAME], ids=["no swap", "all the same"])
def test_no_swap_rarely_holds(means):
    assert holds_rate(means, noise=0.015) <= 0.05  # measured: 0


def test_judge_claims_tests_a_binary_tasks_positive_class_ap():
    table = judge_claims(replicate_rows(CLEAR_SWAP, 0.015, np.random.default_rng(1)), "t", ["pos"]).set_index("claim")
    row = table.loc["BA and AP rank methods differently"]
    assert row["verdict"] == "holds" and "ap/pos loss" in row["metric"]


def test_the_old_all_pairs_rule_could_not_hold_where_the_named_pairs_do():
    """14 methods as in the study, RUSC clearly swapping with CE: the named pairs decide."""
    rng = np.random.default_rng(0)
    many = {**CLEAR_SWAP, **{f"m{i}": (0.70 + 0.01 * i, 0.62 - 0.01 * i) for i in range(9)}}
    result = rankings_disagree(replicate_rows(many, 0.02, rng), "t", ap_metric="ap/pos")
    assert result["verdict"] == "holds" and "2 named pair(s)" in result["detail"]


# ---------------------------------------------------------------- synchrony on synthetic features

def features(contract_at: list[int], epochs: int = 6, per_class: int = 150, dim: int = 16, seed: int = 0,
             growth: float = 1.0) -> list[tuple[np.ndarray, np.ndarray]]:
    """(features (N, D), labels (N,)) for epochs 0..``epochs``: class c's points lie around a fixed
    centre at their initial spread until epoch ``contract_at[c]`` and at a fifth of it from then on;
    every feature is multiplied by ``growth ** epoch`` (features that grow in size)."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 3, (len(contract_at), dim))
    noise = rng.normal(size=(len(contract_at), per_class, dim))
    labels = np.repeat(np.arange(len(contract_at)), per_class)
    out = []
    for epoch in range(epochs + 1):
        scale = np.array([1.0 if epoch < at else 0.2 for at in contract_at])[:, None, None]
        x = (centres[:, None, :] + scale * noise).reshape(-1, dim) * growth ** epoch
        out.append((x, labels))
    return out


def curves(epochs: list[tuple[np.ndarray, np.ndarray]], raw: bool = False) -> np.ndarray:
    """(E, C) each class's share of the total variation (diagnostics.class_spread), or with ``raw``
    the paper's mean squared distance to the class centre."""
    if raw:
        return np.array([[((x[y == c] - x[y == c].mean(0)) ** 2).sum(1).mean() for c in np.unique(y)]
                         for x, y in epochs])
    return np.array([class_spread(x, y, len(np.unique(y))) for x, y in epochs])


def history(values: np.ndarray, method: str, seed: int, quantity: str = "target_spread") -> pd.DataFrame:
    return pd.DataFrame({"task": "t", "method": method, "seed": seed, "epoch": np.arange(len(values)),
                         **{f"{quantity}/{k}": values[:, k] for k in range(values.shape[1])}})


def test_a_class_whose_features_contract_later_falls_later():
    late = curves(features([1, 4]))
    table = contraction_table(history(late, "ce", 0)).set_index("class")
    assert table.loc[0, "halving_epoch"] == 1 and table.loc[1, "halving_epoch"] == 4
    assert table.loc[0, "ln_contraction"] == pytest.approx(table.loc[1, "ln_contraction"], abs=0.05)
    assert (late[1:4, 1] > 0.9 * late[0, 1]).all() and (late[4:, 1] < 0.1 * late[0, 1]).all()


def test_asynchrony_sees_a_late_class_and_not_a_synchronous_pair():
    late, together = asynchrony(curves(features([1, 4]))), asynchrony(curves(features([1, 1])))
    assert together == pytest.approx(0.0, abs=1e-9)
    # ln(0.04) = -3.2 between the classes for epochs 1-3, 0 after: std |diff| / 2 = 1.6, on 3 of 6 epochs
    assert late == pytest.approx(np.log(25) / 2 * 3 / 6, rel=0.05)
    assert asynchrony(curves(features([1, 6]))) > late > asynchrony(curves(features([1, 2])))


def test_growing_features_and_the_papers_raw_distance_give_the_same_asynchrony():
    """The paper's raw distance rises with features that grow in size (every class's curve goes up);
    the share of the total variation does not, and the asynchrony is the same on either."""
    grown = features([1, 4], growth=1.5)
    raw, share = curves(grown, raw=True), curves(grown)
    assert (raw[-1] > raw[0]).all()  # read naively, the raw curves say no class contracted
    np.testing.assert_allclose(share, curves(features([1, 4])), rtol=1e-9)
    assert asynchrony(raw) == pytest.approx(asynchrony(share), rel=1e-9)


def test_the_synchrony_claim_on_training_labels_holds_when_rg_contracts_together():
    """CE: the majority (label 0) contracts at once, the minority (label 1) late; RG: the minority
    and three pseudo-classes contract together; 3 seeds (different features)."""
    rows = pd.DataFrame([{"task": "t", "method": m, "seed": s, "ba": 0.7, "macro_ap": 0.6, "ap/rest": 0.9,
                          "ap/pos": 0.5 + 0.01 * s} for m in ("ce", "rg") for s in range(3)])
    sync = pd.concat([history(curves(features([1, 4], seed=s)), "ce", s) for s in range(3)]
                     + [history(curves(features([1, 1, 1, 1], seed=s)), "rg", s) for s in range(3)], ignore_index=True)
    table = asynchrony_table(sync, "target_spread")
    assert (table.loc[table["method"] == "rg", "asynchrony"] < 1e-6).all()
    claim = judge_claims(rows, "t", ["pos"], sync, sync_quantity="target_spread").set_index("claim").loc[
        "RG learns classes more synchronously"]
    assert claim["verdict"] == "holds" and claim["unit"] == "ln ratio"
    assert claim["effect"] == pytest.approx(np.log(25) / 4, rel=0.1)
