import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure
from threadpoolctl import threadpool_limits

from nbutils.analysis import plots
from nbutils.core.metrics import balanced_accuracy, evaluate, summarize
from nbutils.methods.regroup import aggregate


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def two_blobs(n: int = 100, dim: int = 64, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two far-apart Gaussian blobs (n, dim) and their labels (n,)."""
    rng = np.random.default_rng(seed)
    labels = np.arange(n) % 2
    return rng.normal(size=(n, dim)) + 8.0 * labels[:, None], labels


def nearest_neighbour_agreement(points: np.ndarray, labels: np.ndarray) -> float:
    d = ((points[:, None] - points[None]) ** 2).sum(-1)
    np.fill_diagonal(d, np.inf)
    return float((labels[d.argmin(1)] == labels).mean())


def test_tsne_is_deterministic_keeps_blobs_apart_and_subsamples():
    x, y = two_blobs()
    with threadpool_limits(1):  # t-SNE of 40 points gains nothing from threads; on busy cores OpenMP spins for seconds
        idx, points = plots.project_2d(x, "tsne", seed=1, max_points=40)
        again = plots.project_2d(x, "tsne", seed=1, max_points=40)
        other_idx, _ = plots.project_2d(x, "tsne", seed=2, max_points=40)
        all_idx, all_points = plots.project_2d(x[:30], "tsne")
    assert points.shape == (40, 2) and len(set(idx)) == 40 and np.all(np.diff(idx) > 0)
    np.testing.assert_array_equal(idx, again[0])
    np.testing.assert_array_equal(points, again[1])
    assert nearest_neighbour_agreement(points, y[idx]) == 1.0
    assert not np.array_equal(idx, other_idx)
    np.testing.assert_array_equal(all_idx, np.arange(30))  # fewer points than max_points: all kept, in order
    assert all_points.shape == (30, 2)


@pytest.mark.slow
def test_umap_is_deterministic_and_keeps_blobs_apart():
    x, y = two_blobs()
    _, points = plots.project_2d(x, "umap", seed=0)
    np.testing.assert_array_equal(points, plots.project_2d(x, "umap", seed=0)[1])
    assert nearest_neighbour_agreement(points, y) == 1.0


def test_project_2d_rejects_bad_input():
    with pytest.raises(ValueError, match="tsne, umap"):
        plots.project_2d(np.zeros((10, 3)), "pca")
    with pytest.raises(ValueError, match=r"\(N, D\)"):
        plots.project_2d(np.zeros(10))


def test_embedding_map_draws_one_scatter_per_class_largest_first():
    points = np.random.default_rng(0).normal(size=(13, 2))
    labels = np.array([0] * 3 + [1] * 9 + [2])
    fig = plots.embedding_map(points, labels, ["a", "b", "c"], title="t")
    ax, = fig.axes
    assert isinstance(fig, Figure) and ax.get_title() == "t" and ax.get_xlabel()
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["b (9)", "a (3)", "c (1)"]
    np.testing.assert_array_equal(ax.collections[2].get_offsets(), points[12:])
    with pytest.raises(ValueError, match="label_names"):
        plots.embedding_map(points, labels, ["a", "b"])


def test_embedding_maps_one_panel_per_representation_one_legend():
    points, labels = np.zeros((4, 2)), np.array([0, 1, 0, 1])
    fig = plots.embedding_maps({"raw": (points, labels), "CLIP": (points, labels), "AE": (points, labels)},
                               ["neg", "pos"], suptitle="Fig. 3")
    assert [ax.get_title() for ax in fig.axes] == ["raw", "CLIP", "AE"]
    assert [ax.get_legend() is not None for ax in fig.axes] == [False, False, True]


def test_reconstruction_grid_shows_originals_above_reconstructions():
    rng = np.random.default_rng(0)
    originals, reconstructions = (rng.integers(0, 256, (6, 1, 5, 5), dtype=np.uint8) for _ in range(2))
    fig = plots.reconstruction_grid(originals, reconstructions, n=4)
    assert len(fig.axes) == 8
    np.testing.assert_array_equal(fig.axes[1].images[0].get_array(), originals[1, 0])
    np.testing.assert_array_equal(fig.axes[4 + 3].images[0].get_array(), reconstructions[3, 0])
    assert [fig.axes[0].get_ylabel(), fig.axes[4].get_ylabel()] == ["original", "reconstruction"]
    with pytest.raises(ValueError, match="uint8"):
        plots.reconstruction_grid(originals.astype(float), reconstructions)


def test_learning_curves_one_panel_per_method_mean_over_seeds():
    history = pd.DataFrame({"method": ["ce"] * 4 + ["rg"] * 4, "seed": [0, 0, 1, 1] * 2, "epoch": [0, 1] * 4,
                            "val_ap/neg": [0.5, 0.7, 0.7, 0.9, 0, 0, 0, 0],
                            "val_ap/pos": [0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0], "val_ba": 0.0})
    fig = plots.learning_curves(history, "val_ap/", ["neg", "pos"], ylabel="validation AP")
    assert [ax.get_title() for ax in fig.axes] == ["ce", "rg"]
    ce = fig.axes[0]
    assert len(ce.lines) == 2 and ce.get_ylabel() == "validation AP"
    np.testing.assert_allclose(ce.lines[0].get_ydata(), [0.6, 0.8])  # neg: mean of seeds 0 and 1
    np.testing.assert_allclose(ce.lines[1].get_ydata(), [0.2, 0.3])
    assert fig.axes[0].get_legend() is None and fig.axes[1].get_legend() is not None
    # class names default to every <quantity>/<class> column
    assert len(plots.learning_curves(history, "val_ap").axes[0].lines) == 2
    with pytest.raises(ValueError, match="spread/neg"):
        plots.learning_curves(history, "spread", ["neg"])


def test_score_distributions_title_threshold_and_legend():
    scores = np.array([[0.1, 0.9], [0.2, 0.8], [0.7, 0.3], [0.8, 0.2]])
    labels = np.array([1, 0, 1, 0])
    fig = plots.score_distributions({"ce": (scores, labels), "rusc": (scores[::-1], labels)}, ["rest", "pos"])
    assert len(fig.axes) == 2
    # argmax: recall 1/2 on each class; AP by hand: positives ranked 1st and 3rd -> (1/1 + 2/3) / 2
    assert fig.axes[0].get_title() == "ce: BA 0.500, AP 0.833"
    np.testing.assert_array_equal(fig.axes[0].lines[0].get_xdata(), [0.5, 0.5])
    assert [t.get_text() for t in fig.axes[1].get_legend().get_texts()] == ["negatives (2)", "positives (2)",
                                                                            "argmax rule"]
    with pytest.raises(ValueError, match=r"\(N, 2\)"):
        plots.score_distributions({"ce": (scores[:, 1], labels)}, ["rest", "pos"])
    with pytest.raises(ValueError, match=">= 0"):
        plots.score_distributions({"ce": (scores - 0.5, labels)}, ["rest", "pos"])


def test_score_distributions_print_the_ba_and_ap_of_metrics_evaluate_for_aggregated_scores():
    """Regrouping scores: max over pseudo-classes, rows not summing to 1. The old figure
    thresholded the positive score at 0.5, which a 5-way softmax rarely reaches (BA 0.5)."""
    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], [80, 20])
    logits = rng.normal(size=(100, 5)) + 2.0 * np.eye(5)[np.where(labels == 1, 4, rng.integers(0, 4, 100))]
    probabilities = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    scores = aggregate(probabilities, np.array([0, 0, 0, 0, 1]), "max")
    expected = evaluate(labels, scores, ["rest", "pos"])
    assert expected["ba"] > 0.6 and expected["ba"] != balanced_accuracy(labels, (scores[:, 1] >= 0.5).astype(int))
    ax, = plots.score_distributions({"rg": (scores, labels)}, ["rest", "pos"]).axes
    assert ax.get_title() == f"rg: BA {expected['ba']:.3f}, AP {expected['ap/pos']:.3f}"
    share = plots.positive_share(scores)
    np.testing.assert_array_equal(share >= 0.5, scores.argmax(1) == 1)  # the 0.5 line is the argmax rule


def test_cam_grid_rows_are_image_then_methods():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (3, 3, 6, 6), dtype=np.uint8)
    maps = {"gradcam": rng.random((3, 6, 6)), "layercam": rng.random((3, 6, 6))}
    fig = plots.cam_grid(images, maps, title="CAMs")
    assert len(fig.axes) == 3 * 3 + 1  # image grid and its colour bar
    assert [fig.axes[i].get_ylabel() for i in (0, 3, 6)] == ["image", "gradcam", "layercam"]
    assert len(fig.axes[0].images) == 1 and len(fig.axes[4].images) == 2  # overlays: grey image + heat map
    np.testing.assert_array_equal(fig.axes[8].images[1].get_array(), maps["layercam"][2])
    with pytest.raises(ValueError, match="gradcam"):
        plots.cam_grid(images, {"gradcam": rng.random((3, 5, 5))})


def test_cluster_montage_one_row_per_pseudo_class_from_its_members():
    pseudo = np.array([0, 1, 0, 2, 0, 1, 0])
    images = (pseudo * 50).astype(np.uint8)[:, None, None, None].repeat(4, axis=2).repeat(4, axis=3)
    fig = plots.cluster_montage(images, pseudo, mapping=[0, 0, 1], class_names=["neg", "pos"], n_per_cluster=3)
    axes = np.array(fig.axes).reshape(3, 3)
    assert [ax.get_ylabel() for ax in axes[:, 0]] == ["neg #0\nn=4", "neg #1\nn=2", "pos #2\nn=1"]
    assert [len(ax.images) for ax in axes.flat] == [1, 1, 1, 1, 1, 0, 1, 0, 0]
    for k, row in enumerate(axes):
        assert all((ax.images[0].get_array() == 50 * k).all() for ax in row if ax.images)
    with pytest.raises(ValueError, match="mapping"):
        plots.cluster_montage(images, pseudo, mapping=[0, 1], class_names=["neg", "pos"])


def result_rows() -> pd.DataFrame:
    return pd.DataFrame({"task": "t", "method": ["ce", "ce", "rusc", "rusc", "rg", "rg"], "seed": [0, 1] * 3,
                         "ba": [0.6, 0.8, 0.8, 0.8, 0.7, 0.74], "macro_ap": [0.5, 0.5, 0.3, 0.3, 0.8, 0.6],
                         "ap/neg": [0.9, 0.9, 0.5, 0.3, 0.9, 0.9], "ap/pos": [0.1, 0.1, 0.1, 0.3, 0.7, 0.3]})


def test_metric_bars_heights_are_the_summary_means():
    fig = plots.metric_bars(summarize(result_rows(), metrics=["ba", "macro_ap"]))
    ax, = fig.axes
    heights = [p.get_height() for p in ax.patches]
    np.testing.assert_allclose(heights, [0.7, 0.8, 0.72, 0.5, 0.3, 0.7])  # ba of ce, rusc, rg, then macro AP
    assert [t.get_text() for t in ax.get_xticklabels()] == ["ce", "rusc", "rg"]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["ba", "macro_ap"]
    with pytest.raises(ValueError, match="auroc"):
        plots.metric_bars(summarize(result_rows(), metrics=["ba"]), metrics=["auroc"])


def test_per_class_ap_bars_mean_over_seeds():
    fig = plots.per_class_ap_bars(result_rows(), ["neg", "pos"])
    ax, = fig.axes
    np.testing.assert_allclose([p.get_height() for p in ax.patches], [0.9, 0.4, 0.9, 0.1, 0.2, 0.5])
    with pytest.raises(ValueError, match="ap/other"):
        plots.per_class_ap_bars(result_rows(), ["other"])
    with pytest.raises(ValueError, match="mixes tasks"):
        plots.per_class_ap_bars(pd.concat([result_rows(), result_rows().assign(task="u")]), ["neg"])


def test_confusion_matrices_are_row_normalised_and_annotated():
    fig = plots.confusion_matrices({"ce": np.array([[3, 1], [0, 2]]), "rg": np.array([[4, 0], [0, 0]])}, ["a", "b"])
    assert [ax.get_title() for ax in fig.axes] == ["ce", "rg"]
    assert [t.get_text() for t in fig.axes[0].texts] == ["0.75", "0.25", "0.00", "1.00"]
    assert [t.get_text() for t in fig.axes[1].texts] == ["1.00", "0.00"]  # the empty row stays blank
    with pytest.raises(ValueError, match="shape"):
        plots.confusion_matrices({"ce": np.eye(3)}, ["a", "b"])


def test_ba_vs_ap_labels_methods_and_gives_kendall_tau():
    fig = plots.ba_vs_ap(summarize(result_rows(), metrics=["ba", "macro_ap"]))
    ax, = fig.axes
    assert sorted(t.get_text() for t in ax.texts) == ["ce", "rg", "rusc"]
    # BA order ce < rg < rusc, AP order rusc < ce < rg: 1 concordant pair, 2 discordant -> tau = -1/3
    assert ax.get_title().endswith("(Kendall tau -0.33)")
    assert ax.get_xlabel() == "balanced accuracy" and ax.get_ylabel() == "macro AP"
