"""The notebooks' figures: 2-D maps of features, image grids, learning curves, score
distributions, CAM overlays and result bars.

Every function returns the ``matplotlib.figure.Figure``; saving it is the caller's job. Single-
panel figures take an optional ``ax`` to draw into. Images are uint8 tensors or arrays
(N, C, H, W) with C = 1 (grey) or 3 (RGB).
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from scipy import stats
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from nbutils.core.metrics import evaluate

PROJECTIONS = ("tsne", "umap")
PANEL_SIZE = (3.6, 3.2)  # inches; four panels fill a notebook's width


# ---------------------------------------------------------------- layout helpers

def panel_grid(n_panels: int, ncols: int = 4, sharey: bool = False) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_panels`` axes, ``ncols`` to a row (unused cells removed)."""
    ncols = min(ncols, n_panels)
    nrows = -(-n_panels // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(PANEL_SIZE[0] * ncols, PANEL_SIZE[1] * nrows),
                             squeeze=False, sharey=sharey, layout="constrained")
    axes = list(axes.flat)
    for ax in axes[n_panels:]:
        fig.delaxes(ax)
    return fig, axes[:n_panels]


def single_panel(ax: Axes | None, size: tuple[float, float] = PANEL_SIZE) -> tuple[Figure, Axes]:
    """``ax`` and its figure, or a new one-panel figure."""
    if ax is not None:
        return ax.figure, ax
    fig, ax = plt.subplots(figsize=size, layout="constrained")
    return fig, ax


def image_grid(nrows: int, ncols: int, cell: float = 1.2) -> tuple[Figure, np.ndarray]:
    """A figure of (nrows, ncols) image axes without ticks (row labels go in ``set_ylabel``)."""
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols + 1.2, cell * nrows + 0.5),
                             squeeze=False, layout="constrained")
    for ax in axes.flat:
        ax.set_xticks([])
        ax.set_yticks([])
    return fig, axes


def as_numpy_images(images: torch.Tensor | np.ndarray, name: str = "images") -> np.ndarray:
    """uint8 images (N, C, H, W) with C in {1, 3} as a numpy array, or a clear error."""
    array = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
    if array.ndim != 4 or array.shape[1] not in (1, 3) or array.dtype != np.uint8:
        raise ValueError(f"{name} must be uint8 (N, C, H, W) with C = 1 or 3, got {array.dtype} {array.shape}")
    return array


def show_image(ax: Axes, image: np.ndarray) -> None:
    """Draw one uint8 image (C, H, W): grey with a grey colour map, RGB as is."""
    if image.shape[0] == 1:
        ax.imshow(image[0], cmap="gray", vmin=0, vmax=255)
    else:
        ax.imshow(image.transpose(1, 2, 0))


def palette(n: int) -> list:
    return sns.color_palette("tab10" if n <= 10 else "husl", n)


# ---------------------------------------------------------------- feature maps

def project_2d(features: np.ndarray, method: str = "tsne", seed: int = 0,
               max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """2-D map of features (N, D) by t-SNE or UMAP, on at most ``max_points`` points.

    Returns (idx (M,), points (M, 2)): idx are the sorted positions of the points kept (a random
    subsample drawn with ``seed`` when N > max_points), so ``labels[idx]`` colours the map.
    t-SNE runs on the first 50 principal components when D > 50 (the usual speed-up).
    Timing on 2 CPU cores: t-SNE of 5,000 points takes about a minute; the first UMAP call in
    a process compiles numba code for about 40 s. Both are deterministic for a given seed.
    """
    x = np.asarray(features, dtype=np.float32)
    if x.ndim != 2 or len(x) < 4:
        raise ValueError(f"features must be (N, D) with N >= 4, got shape {x.shape}")
    if method not in PROJECTIONS:
        raise ValueError(f"unknown projection {method!r}; valid: {', '.join(PROJECTIONS)}")
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(x), max_points, replace=False)) if len(x) > max_points else np.arange(len(x))
    x = x[idx]
    if method == "tsne":
        n_components = min(50, len(x))
        if x.shape[1] > n_components:
            x = PCA(n_components, random_state=seed).fit_transform(x)
        points = TSNE(2, perplexity=min(30.0, (len(x) - 1) / 3), init="pca", random_state=seed).fit_transform(x)
    else:
        import umap  # imported here: loading numba takes seconds that t-SNE users need not wait
        points = umap.UMAP(n_components=2, n_neighbors=min(15, len(x) - 1), random_state=seed,
                           n_jobs=1).fit_transform(x)
    return idx, points.astype(np.float32)


def embedding_map(points: np.ndarray, labels: np.ndarray, label_names: Sequence[str], ax: Axes | None = None,
                  title: str = "", legend: bool = True) -> Figure:
    """Scatter of points (M, 2) coloured by labels (M,) in 0..len(label_names)-1.

    Larger classes are drawn first, so a minority class stays visible on top.
    """
    points, labels = np.asarray(points), np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or len(points) != len(labels):
        raise ValueError(f"need points (M, 2) and labels (M,), got {points.shape} and {labels.shape}")
    if len(labels) and (labels.min() < 0 or labels.max() >= len(label_names)):
        raise ValueError(f"labels run {labels.min()}..{labels.max()} but {len(label_names)} label_names were given")
    fig, ax = single_panel(ax)
    colors = palette(len(label_names))
    counts = np.bincount(labels, minlength=len(label_names))
    for c in sorted(np.flatnonzero(counts), key=lambda c: -counts[c]):
        keep = labels == c
        ax.scatter(points[keep, 0], points[keep, 1], s=5, alpha=0.7, color=colors[c], linewidths=0,
                   label=f"{label_names[c]} ({counts[c]})")
    ax.set(xlabel="dimension 1", ylabel="dimension 2", title=title, xticks=[], yticks=[])
    if legend:
        ax.legend(markerscale=3, fontsize="small", loc="best")
    return fig


def embedding_maps(panels: Mapping[str, tuple[np.ndarray, np.ndarray]], label_names: Sequence[str],
                   suptitle: str = "") -> Figure:
    """One panel per representation {name: (points (M, 2), labels (M,))} (the papers' Fig. 3),
    with one legend for the row, on the last panel."""
    fig, axes = panel_grid(len(panels))
    for ax, (name, (points, labels)) in zip(axes, panels.items()):
        embedding_map(points, labels, label_names, ax=ax, title=name, legend=False)
    axes[-1].legend(markerscale=3, fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1))
    fig.suptitle(suptitle)
    return fig


# ---------------------------------------------------------------- image grids

def reconstruction_grid(originals: torch.Tensor | np.ndarray, reconstructions: torch.Tensor | np.ndarray,
                        n: int = 8, title: str = "Autoencoder reconstructions") -> Figure:
    """The first ``n`` originals (top row) above their reconstructions (bottom row) (Fig. 4)."""
    originals = as_numpy_images(originals, "originals")
    reconstructions = as_numpy_images(reconstructions, "reconstructions")
    if originals.shape != reconstructions.shape:
        raise ValueError(f"originals {originals.shape} and reconstructions {reconstructions.shape} differ in shape")
    n = min(n, len(originals))
    fig, axes = image_grid(2, n)
    for row, (name, images) in enumerate((("original", originals), ("reconstruction", reconstructions))):
        for j in range(n):
            show_image(axes[row, j], images[j])
        axes[row, 0].set_ylabel(name)
    fig.suptitle(title)
    return fig


def cam_grid(images: torch.Tensor | np.ndarray, maps_by_method: Mapping[str, np.ndarray], title: str = "",
             alpha: float = 0.5) -> Figure:
    """Images (top row) and, one row per method, their CAMs (N, H, W) in [0, 1] as a jet heat
    map over the grey image; columns are images. A colour bar gives the CAM scale."""
    images = as_numpy_images(images)
    for method, maps in maps_by_method.items():
        if np.shape(maps) != (len(images), *images.shape[2:]):
            raise ValueError(f"maps of {method!r} have shape {np.shape(maps)}; need (N, H, W) = "
                             f"{(len(images), *images.shape[2:])}, one per image")
    fig, axes = image_grid(1 + len(maps_by_method), len(images))
    grey = images.mean(axis=1)
    heat = None
    for j, image in enumerate(images):
        show_image(axes[0, j], image)
        for row, maps in enumerate(maps_by_method.values(), start=1):
            axes[row, j].imshow(grey[j], cmap="gray", vmin=0, vmax=255)
            heat = axes[row, j].imshow(maps[j], cmap="jet", alpha=alpha, vmin=0, vmax=1)
    for row, name in enumerate(["image", *maps_by_method]):
        axes[row, 0].set_ylabel(name)
    if heat is not None:
        fig.colorbar(heat, ax=axes, shrink=0.6, label="activation (normalised)")
    fig.suptitle(title)
    return fig


def cluster_montage(images: torch.Tensor | np.ndarray, pseudo_labels: np.ndarray, mapping: Sequence[int],
                    class_names: Sequence[str], n_per_cluster: int = 8, seed: int = 0,
                    title: str = "Pseudo-classes from regrouping") -> Figure:
    """One row per pseudo-class k: up to ``n_per_cluster`` random members, labelled by its
    task class ``class_names[mapping[k]]`` and its size. pseudo_labels (N,) in 0..K-1."""
    images, pseudo_labels, mapping = as_numpy_images(images), np.asarray(pseudo_labels), np.asarray(mapping)
    if len(pseudo_labels) != len(images):
        raise ValueError(f"{len(pseudo_labels)} pseudo_labels for {len(images)} images; need one per image")
    if pseudo_labels.min() < 0 or pseudo_labels.max() >= len(mapping):
        raise ValueError(f"pseudo_labels run {pseudo_labels.min()}..{pseudo_labels.max()} but mapping has "
                         f"{len(mapping)} pseudo-classes")
    rng = np.random.default_rng(seed)
    fig, axes = image_grid(len(mapping), n_per_cluster)
    for k, task_class in enumerate(mapping):
        members = np.flatnonzero(pseudo_labels == k)
        shown = rng.choice(members, min(n_per_cluster, len(members)), replace=False)
        for j, i in enumerate(np.sort(shown)):
            show_image(axes[k, j], images[i])
        axes[k, 0].set_ylabel(f"{class_names[task_class]} #{k}\nn={len(members)}", fontsize="small")
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------- training curves and scores

def learning_curves(history: pd.DataFrame, quantity: str = "val_ap", class_names: Sequence[str] | None = None,
                    ylabel: str = "validation AP", title: str = "") -> Figure:
    """One panel per method, one line per class of the columns ``<quantity>/<class>`` over
    ``epoch`` (Figs. 5 and 6); with several seeds, the mean and a ± std band.

    history: rows of ``train.fit`` histories with a ``method`` column (and ``seed``).
    """
    prefix = quantity.rstrip("/") + "/"
    if class_names is None:
        class_names = [c.removeprefix(prefix) for c in history.columns if c.startswith(prefix)]
    columns = [prefix + c for c in class_names]
    missing = [c for c in ("method", "epoch", *columns) if c not in history.columns]
    if missing or not columns:
        raise ValueError(f"history lacks columns {missing or [prefix + '<class>']}; "
                         f"it has {list(history.columns)}")
    long = history.melt(id_vars=["method", "epoch"], value_vars=columns, var_name="class")
    long["class"] = long["class"].str.removeprefix(prefix)
    methods = list(dict.fromkeys(history["method"]))
    fig, axes = panel_grid(len(methods), sharey=True)
    for ax, method in zip(axes, methods):
        sns.lineplot(data=long[long["method"] == method], x="epoch", y="value", hue="class",
                     hue_order=list(class_names), palette=palette(len(class_names)), errorbar="sd",
                     ax=ax, legend=ax is axes[-1])
        ax.set(title=method, xlabel="epoch", ylabel=ylabel)
    sns.move_legend(axes[-1], "upper left", bbox_to_anchor=(1.02, 1), title="class", fontsize="small")
    fig.suptitle(title)
    return fig


def positive_share(scores: np.ndarray, positive: int = 1) -> np.ndarray:
    """(N,) the positive class's share of the two class scores (N, 2) of a binary task:
    ``scores[:, positive] / scores.sum(1)``. It is the softmax probability when the scores sum
    to 1, and it reaches 0.5 exactly where argmax over the class scores switches class — so a
    line at 0.5 is the decision rule of the results tables also for aggregated regrouping scores
    (max over pseudo-classes), whose rows do not sum to 1."""
    scores = np.asarray(scores, dtype=float)
    if scores.ndim != 2 or scores.shape[1] != 2 or positive not in (0, 1):
        raise ValueError(f"need class scores (N, 2) of a binary task and positive in {{0, 1}}, got shape "
                         f"{scores.shape} and positive={positive!r}; use a result's test_scores")
    if scores.min() < 0 or not (scores.sum(1) > 0).all():
        raise ValueError("class scores must be >= 0 with a positive sum in every row (probabilities or "
                         "their aggregates), e.g. Result.test_scores")
    return scores[:, positive] / scores.sum(1)


def score_distributions(scores_by_method: Mapping[str, tuple[np.ndarray, np.ndarray]],
                        class_names: Sequence[str], positive: int = 1,
                        title: str = "Scores of the positive class") -> Figure:
    """Per method, histograms (each normalised to density) of the positive class's score p1 =
    ``scores[:, positive]`` for positive and negative test images, with 0.5 marked, and BA and
    the positive class's AP in the panel title (the regrouping paper's Fig. 7).

    scores_by_method: {method: (class scores (N, 2), labels (N,) in {0, 1})}, the scores the
        results tables use (``Result.test_scores``: aggregated over pseudo-classes for regrouping).
    The histogram shows the very score the title's AP ranks (``metrics.evaluate``'s AP of the
    positive column), so a better-separated histogram is a higher AP. BA is ``evaluate``'s too
    (argmax over the class scores). Where every row of scores sums to 1 (softmax, or sum
    aggregation) argmax picks the positive class exactly when p1 >= 0.5, and the line is labelled
    "argmax rule"; with max aggregation the rows sum to less than 1 and argmax can pick the
    positive class below 0.5 (p1 >= the largest pseudo-class score of the other class), so the
    line is only the paper's threshold ("By default, we set the decision threshold as 0.5").
    """
    fig, axes = panel_grid(len(scores_by_method), sharey=False)
    bins = np.linspace(0, 1, 26)
    for ax, (method, (scores, labels)) in zip(axes, scores_by_method.items()):
        labels = np.asarray(labels)
        if labels.shape != (len(scores),) or not set(np.unique(labels)) <= {0, 1}:
            raise ValueError(f"{method}: need binary labels (N,) in {{0, 1}} for the {len(scores)} rows of "
                             f"scores, got shape {labels.shape}")
        positive_share(scores, positive)  # checks the shape and sign of the scores
        p1 = np.asarray(scores, dtype=float)[:, positive]
        row = evaluate(labels, np.asarray(scores, dtype=float), list(class_names))
        for name, keep, color in (("negatives", labels != positive, "tab:blue"),
                                  ("positives", labels == positive, "tab:red")):
            ax.hist(p1[keep], bins=bins, density=True, histtype="stepfilled", alpha=0.45, color=color,
                    edgecolor=color, label=f"{name} ({keep.sum()})")
        sums_to_one = np.allclose(np.asarray(scores, dtype=float).sum(1), 1.0, atol=1e-4)
        ax.axvline(0.5, color="black", linestyle="--",
                   label="argmax rule" if sums_to_one else "0.5 (argmax can pick it below)")
        ax.set(title=f"{method}: BA {row['ba']:.3f}, AP {row[f'ap/{class_names[positive]}']:.3f}",
               xlabel=f"score of '{class_names[positive]}' (the score AP ranks)", ylabel="density")
        ax.legend(fontsize="small")  # every panel: what its 0.5 line is depends on its scores
    fig.suptitle(title)
    return fig


def target_curves(history: pd.DataFrame, mappings: Mapping[tuple[str, int], np.ndarray | None],
                  class_names: Sequence[str], quantity: str = "target_spread", ylabel: str = "spread",
                  title: str = "", minority: int | None = None) -> Figure:
    """The paper's Fig. 5 on the labels each model is trained on: one panel per method, one thin
    line per training label k (``<quantity>/<k>``) and seed over ``epoch``, coloured by the task
    class label k belongs to (``mappings[(method, seed)][k]``; None: k is the task class itself,
    as for a binary model). Seeds are not averaged: a pseudo-class k of one seed's clustering is
    not the k of another's. ``minority``: the task class drawn in red on top (default: the last).
    history: rows with ``method``, ``seed``, ``epoch`` and the ``<quantity>/<k>`` columns."""
    prefix = quantity.rstrip("/") + "/"
    columns = [c for c in history.columns if c.startswith(prefix)]
    missing = [c for c in ("method", "seed", "epoch") if c not in history.columns]
    if missing or not columns:
        raise ValueError(f"history lacks columns {missing or [prefix + '<k>']}; it has {list(history.columns)}")
    minority = len(class_names) - 1 if minority is None else minority
    colors = {c: ("tab:red" if c == minority else color)
              for c, color in enumerate(sns.color_palette("Blues_d", len(class_names)))}
    methods = list(dict.fromkeys(history["method"]))
    fig, axes = panel_grid(len(methods), sharey=True)
    for ax, method in zip(axes, methods):
        part = history[history["method"] == method]
        n_targets = 0
        for seed, run in part.groupby("seed"):
            run = run.sort_values("epoch")
            present = [c for c in columns if run[c].notna().any()]
            mapping = mappings.get((method, seed))
            mapping = np.arange(len(present)) if mapping is None else np.asarray(mapping)
            n_targets = max(n_targets, len(present))
            for column in sorted(present, key=lambda c: mapping[int(c.removeprefix(prefix))] == minority):
                k = int(column.removeprefix(prefix))
                ax.plot(run["epoch"], run[column], color=colors[int(mapping[k])], alpha=0.9,
                        linewidth=1.2 if mapping[k] == minority else 0.8)
        ax.set(title=f"{method} ({n_targets} training labels)", xlabel="epoch", ylabel=ylabel)
    handles = [plt.Line2D([], [], color=colors[c], label=name) for c, name in enumerate(class_names)]
    axes[-1].legend(handles=handles, title="task class of the label", fontsize="small", loc="upper left",
                    bbox_to_anchor=(1.02, 1))
    fig.suptitle(title)
    return fig


# ---------------------------------------------------------------- result tables

def one_task(table: pd.DataFrame) -> pd.DataFrame:
    """``table`` with ``method`` as a column, or an error when it mixes tasks."""
    table = table.reset_index() if "method" not in table.columns else table
    if "method" not in table.columns:
        raise ValueError(f"need a 'method' column or index level; columns are {list(table.columns)}")
    if "task" in table.columns and table["task"].nunique() > 1:
        raise ValueError(f"table mixes tasks {sorted(table['task'].unique())}; select one, e.g. "
                         "table[table['task'] == name]")
    return table


def grouped_bars(ax: Axes, means: pd.DataFrame, stds: pd.DataFrame, ylabel: str, title: str) -> None:
    """Bars of means (G, S) ± stds: one group per row on the x axis, one coloured bar per column."""
    n_groups, n_series = means.shape
    width = 0.8 / n_series
    x = np.arange(n_groups)
    for j, (column, color) in enumerate(zip(means.columns, palette(n_series))):
        ax.bar(x + (j - (n_series - 1) / 2) * width, means[column], width, yerr=stds[column], capsize=2,
               color=color, label=str(column))
    ax.set_xticks(x, [str(g) for g in means.index], rotation=45 if n_groups > 4 else 0,
                  ha="right" if n_groups > 4 else "center")
    ax.set(xlabel="method", ylabel=ylabel, title=title)
    ax.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))


def mean_std_columns(summary: pd.DataFrame, metrics: Sequence[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(means, stds), each (methods, metrics), from a ``metrics.summarize`` table of one task."""
    table = one_task(summary).set_index("method")
    missing = [m for m in metrics if f"{m}_mean" not in table.columns or f"{m}_std" not in table.columns]
    if missing:
        available = [c.removesuffix("_mean") for c in table.columns if c.endswith("_mean")]
        raise ValueError(f"summary lacks metrics {missing}; available: {available}")
    means = table[[f"{m}_mean" for m in metrics]].set_axis(list(metrics), axis=1)
    stds = table[[f"{m}_std" for m in metrics]].set_axis(list(metrics), axis=1)
    return means, stds


def metric_bars(summary: pd.DataFrame, metrics: Sequence[str] = ("ba", "macro_ap"), ax: Axes | None = None,
                title: str = "") -> Figure:
    """Mean ± std over seeds of ``metrics`` per method, grouped by method.

    summary: ``metrics.summarize`` output of one task (``<metric>_mean``, ``<metric>_std``).
    """
    means, stds = mean_std_columns(summary, metrics)
    fig, ax = single_panel(ax, size=(max(4.0, 0.6 * len(means) * len(metrics)), 3.5))
    grouped_bars(ax, means, stds, ylabel="score (mean ± std over seeds)", title=title)
    return fig


def per_class_ap_bars(rows: pd.DataFrame, classes: Sequence[str], ax: Axes | None = None,
                      title: str = "Per-class AP") -> Figure:
    """Mean ± std over seeds of each class's AP (columns ``ap/<class>``) per method.

    rows: result rows of one task (one per run), as ``metrics.evaluate`` writes them.
    """
    rows = one_task(rows)
    columns = [f"ap/{c}" for c in classes]
    missing = [c for c in columns if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack {missing}; AP columns present: {[c for c in rows.columns if c.startswith('ap/')]}")
    groups = rows.groupby("method", sort=False)[columns]
    means, stds = (frame.set_axis(list(classes), axis=1) for frame in (groups.mean(), groups.std()))
    fig, ax = single_panel(ax, size=(max(4.0, 0.5 * len(means) * len(classes)), 3.5))
    grouped_bars(ax, means, stds, ylabel="AP (mean ± std over seeds)", title=title)
    ax.get_legend().set_title("class")
    return fig


def confusion_matrices(matrices: Mapping[str, np.ndarray], class_names: Sequence[str],
                       title: str = "Confusion matrices (rows normalised: recall per true class)") -> Figure:
    """One annotated heat map per method of its (C, C) counts, each row divided by its total
    (row = true class, column = predicted class; an empty row stays blank).

    Drawn with ``imshow`` and ``text`` rather than ``seaborn.heatmap``: seaborn draws the whole
    figure once per heat map (to check whether tick labels overlap), so a grid of n panels costs n
    full draws -- 18 s for 20 methods of 7 classes, the longest step of notebook 03 in CI.
    """
    fig, axes = panel_grid(len(matrices))
    ticks = np.arange(len(class_names))
    for ax, (method, counts) in zip(axes, matrices.items()):
        counts = np.asarray(counts, dtype=float)
        if counts.shape != (len(class_names), len(class_names)):
            raise ValueError(f"matrix of {method!r} has shape {counts.shape}; need "
                             f"{(len(class_names),) * 2} for classes {list(class_names)}")
        totals = counts.sum(axis=1, keepdims=True)
        rates = np.divide(counts, totals, out=np.full_like(counts, np.nan), where=totals > 0)
        ax.imshow(rates, vmin=0, vmax=1, cmap="Blues")
        for (row, column), rate in np.ndenumerate(rates):
            if np.isfinite(rate):
                ax.text(column, row, f"{rate:.2f}", ha="center", va="center", fontsize="small",
                        color="white" if rate > 0.6 else "black")
        ax.set_xticks(ticks, class_names, rotation=90)
        ax.set_yticks(ticks, class_names)
        ax.set(title=method, xlabel="predicted", ylabel="true")
    fig.suptitle(title)
    return fig


def ba_vs_ap(summary: pd.DataFrame, ax: Axes | None = None, title: str = "BA and macro AP rank methods",
             ap: str = "macro_ap") -> Figure:
    """Each method at (mean BA, mean AP) with ± std bars and its name; the title gives Kendall's
    tau between the two rankings (1: same order, -1: reversed).

    summary: ``metrics.summarize`` output of one task (``ba_*`` and ``<ap>_*`` columns); ap: the
    AP column (``claims.task_ap_metric``: a binary task's positive-class AP, as the rank claim).
    """
    means, stds = mean_std_columns(summary, ("ba", ap))
    fig, ax = single_panel(ax, size=(5.0, 4.0))
    ax.errorbar(means["ba"], means[ap], xerr=stds["ba"], yerr=stds[ap], fmt="o",
                capsize=2, ecolor="0.6", elinewidth=0.8, label="method (mean ± std)")
    for method, (ba, value) in means.iterrows():
        ax.annotate(str(method), (ba, value), xytext=(4, 4), textcoords="offset points", fontsize="small")
    tau = stats.kendalltau(means["ba"], means[ap]).statistic if len(means) > 1 else np.nan
    ax.set(xlabel="balanced accuracy", ylabel=ap.replace("_", " ").replace("macro ap", "macro AP"),
           title=f"{title} (Kendall tau {tau:+.2f})")
    ax.legend(fontsize="small", loc="lower right")
    return fig
