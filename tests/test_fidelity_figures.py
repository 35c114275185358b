"""The papers' figures as notebook 02 and 03 draw them: Fig. 7's histogram is of the
score its AP ranks, Fig. 5 is drawn on the labels each model is trained on, and the BA-against-AP
figure uses the AP of the papers' tables."""
import matplotlib
import numpy as np
import pandas as pd
from matplotlib.colors import to_rgb

from nbutils.analysis import plots
from nbutils.core.metrics import evaluate
from nbutils.methods.regroup import aggregate

matplotlib.use("Agg")
BINS = np.linspace(0, 1, 26)


def heights(ax, i: int) -> np.ndarray:
    """The bar heights of the i-th ``hist(histtype='stepfilled')`` drawn on ``ax``."""
    return ax.patches[i].get_xy()[1:2 * len(BINS) - 1:2, 1]


def regrouped_scores(seed: int = 0):
    """Max-aggregated scores of a 5-way model (4 pseudo-classes of 'rest', 1 of 'pos'): rows sum to < 1."""
    rng = np.random.default_rng(seed)
    labels = np.repeat([0, 1], [160, 40])
    logits = rng.normal(size=(200, 5)) + 2.0 * np.eye(5)[np.where(labels == 1, 4, rng.integers(0, 4, 200))]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    return aggregate(probabilities, np.array([0, 0, 0, 0, 1]), "max"), labels


def test_fig7_histogram_is_the_score_the_title_ap_ranks():
    scores, labels = regrouped_scores()
    ax, = plots.score_distributions({"rg": (scores, labels)}, ["rest", "pos"]).axes
    p1 = scores[:, 1]
    for i, keep in enumerate((labels == 0, labels == 1)):
        np.testing.assert_allclose(heights(ax, i), np.histogram(p1[keep], BINS, density=True)[0])
    # the share of the two aggregated scores (the old x axis) is another histogram
    share = scores[:, 1] / scores.sum(1)
    assert not np.allclose(heights(ax, 1), np.histogram(share[labels == 1], BINS, density=True)[0])
    assert ax.get_title() == f"rg: BA {evaluate(labels, scores, ['rest', 'pos'])['ba']:.3f}, " \
                             f"AP {evaluate(labels, scores, ['rest', 'pos'])['ap/pos']:.3f}"
    # rows that do not sum to 1: argmax picks 'pos' below 0.5 for some images, so 0.5 is not its rule
    assert ((scores.argmax(1) == 1) & (p1 < 0.5)).any()
    assert ax.get_legend().get_texts()[-1].get_text() == "0.5 (argmax can pick it below)"


def test_fig7_line_is_the_argmax_rule_where_scores_sum_to_one():
    rng = np.random.default_rng(1)
    p = rng.random(50)
    scores, labels = np.c_[1 - p, p], (rng.random(50) < p).astype(int)
    ax, = plots.score_distributions({"ce": (scores, labels)}, ["rest", "pos"]).axes
    np.testing.assert_allclose(heights(ax, 1), np.histogram(p[labels == 1], BINS, density=True)[0])
    assert [t.get_text() for t in ax.get_legend().get_texts()][-1] == "argmax rule"


def test_fig5_on_training_labels_one_line_per_label_and_seed_coloured_by_task_class():
    """CE: 2 labels (the task classes); RG: the minority (class 1) and 3 pseudo-classes of class 0,
    numbered by class then cluster (regroup.Regrouper), on 2 seeds."""
    rows = []
    for seed in (0, 1):
        for epoch in range(3):
            rows.append({"method": "ce", "seed": seed, "epoch": epoch,
                         "target_spread/0": 1 - 0.3 * epoch, "target_spread/1": 1.0})
            rows.append({"method": "rg", "seed": seed, "epoch": epoch,
                         **{f"target_spread/{k}": 1 - 0.2 * epoch for k in range(4)}})
    history = pd.DataFrame(rows)
    mappings = {("ce", 0): None, ("ce", 1): None, ("rg", 0): np.array([0, 0, 0, 1]), ("rg", 1): np.array([0, 0, 0, 1])}
    fig = plots.target_curves(history, mappings, ["rest", "pos"], title="Fig. 5")
    ce, rg = fig.axes[:2]
    assert ce.get_title() == "ce (2 training labels)" and rg.get_title() == "rg (4 training labels)"
    assert len(ce.lines) == 2 * 2 and len(rg.lines) == 4 * 2  # not averaged over seeds
    red = to_rgb("tab:red")
    assert sum(to_rgb(line.get_color()) == red for line in rg.lines) == 2  # the minority's label, per seed
    assert sum(to_rgb(line.get_color()) == red for line in ce.lines) == 2
    np.testing.assert_allclose(ce.lines[0].get_ydata(), [1.0, 0.7, 0.4])  # majority first, minority on top


def test_ba_against_the_ap_of_the_papers_tables():
    summary = pd.DataFrame({"method": ["ce", "rusc"], "ba_mean": [0.7, 0.85], "ba_std": [0.01, 0.01],
                            "ap/pos_mean": [0.6, 0.4], "ap/pos_std": [0.02, 0.02]})
    ax, = plots.ba_vs_ap(summary, ap="ap/pos").axes
    assert ax.get_ylabel() == "ap/pos" and "Kendall tau -1.00" in ax.get_title()
