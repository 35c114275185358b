"""Metrics of the papers (balanced accuracy, per-class AP, AUROC, F1, accuracy), their intervals
over seeds, and a bootstrap over test images.

Scores are always (N, C) class scores (logits or probabilities, C >= 2; a binary task has
C = 2 with class 1 the positive/minority class); labels are (N,) integers in 0..C-1. Every
ranking metric is scikit-learn's, one-vs-rest on column c of the scores.

A class absent from ``y_true`` has no defined AP or AUROC: ``per_class_ap`` gives NaN for it
(scikit-learn would give a misleading 0) and the macro averages skip it, as scikit-learn's
balanced accuracy skips it. Precision, recall and F1 follow scikit-learn with zero_division=0.

Every value is in [0, 1] (or NaN where undefined) by construction, on any CPU. A sum of floats
can round one step past its exact value: scikit-learn's AP of a perfectly ranked class is the
sum of its recall steps, 1.0000000000000002 for some tie patterns, and its NMI of two identical
partitions is a ratio of separately summed entropies. So every metric passes through
:func:`unit_interval` (clip to [0, 1], NaN kept) where it leaves this module: the return of
``per_class_ap``, ``macro_ap``, ``auroc``, ``balanced_accuracy``, ``precision_recall_f1``,
``accuracy_from_confusion``, ``normalized_mutual_info_score``, ``weighted_ap``,
``weighted_auroc``, ``replicate_metrics`` and every number of ``evaluate``'s row. The clip moves
a value by at most that rounding step (a few 1e-16); a larger excursion would be a bug, and
:func:`unit_interval` raises on one beyond 1e-9 rather than hide it. Means of values in [0, 1]
(``summarize``) stay in [0, 1]: rounded addition and division are monotonic.

Intervals (the choice for every results table). A table cell is "mean ± h": the mean over
seeds and the half-width h of its 95% interval. With n >= 2 seeds, h = t(0.975, n - 1) * s / sqrt(n)
(s the sample std over seeds): the interval of the mean over training runs, which is what a
reader compares methods by; it is wide with 2 seeds (t = 12.7) on purpose — two seeds say little.
With one seed there is no spread over training runs, so h is half the width of the 2.5-97.5%
percentile interval over a stratified bootstrap of the test images (``bootstrap_runs``): it
reflects the finite test set only, not training noise, and the table says so. A stratified
bootstrap (resampling within each true class) keeps the test set's class counts, as the
stratified split fixed them.
"""
from __future__ import annotations

import warnings
from typing import Hashable, Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn import metrics as skm

ROUNDING_SLACK = 1e-9  # how far past [0, 1] float rounding can take a metric; more is a bug


def unit_interval(values):
    """``values`` (a float or an array) clipped to [0, 1], NaN kept: a metric that float rounding
    took one step past its range (AP 1.0000000000000002) back inside it. A value beyond
    ``ROUNDING_SLACK`` outside [0, 1] is not rounding, and raises."""
    array = np.asarray(values, dtype=float)
    with np.errstate(invalid="ignore"):
        outside = (array < -ROUNDING_SLACK) | (array > 1 + ROUNDING_SLACK)
    if outside.any():
        raise ValueError(f"a metric is outside [0, 1] by more than rounding: {array[outside][:5].tolist()}")
    clipped = np.clip(array, 0.0, 1.0)  # np.clip keeps NaN
    return float(clipped) if clipped.ndim == 0 else clipped


def check_labels(y_true: np.ndarray, n_classes: int, name: str = "y_true") -> np.ndarray:
    """Labels as a (N,) integer array in 0..n_classes-1, or a clear error."""
    y = np.asarray(y_true)
    if y.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape {y.shape}")
    if not np.issubdtype(y.dtype, np.integer):
        raise TypeError(f"{name} must hold integer class indices, got dtype {y.dtype}; use .astype(int)")
    if len(y) and (y.min() < 0 or y.max() >= n_classes):
        raise ValueError(f"{name} holds labels {sorted(set(y.tolist()) - set(range(n_classes)))} "
                         f"outside 0..{n_classes - 1} ({n_classes} classes)")
    return y


def check_scores(y_true: np.ndarray, scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y_true (N,), scores (N, C)) checked for shape, C >= 2, NaNs and label range."""
    s = np.asarray(scores, dtype=float)
    if s.ndim != 2 or s.shape[1] < 2:
        raise ValueError(f"scores must be (N, C) class scores with C >= 2, got shape {s.shape}; "
                         "for a binary task pass both columns, e.g. np.stack([1 - p, p], axis=1)")
    if np.isnan(s).any():
        raise ValueError(f"scores contain {int(np.isnan(s).sum())} NaN values (diverged training?)")
    if len(s) == 0:
        raise ValueError("scores are empty: nothing to evaluate")
    y = check_labels(y_true, s.shape[1])
    if len(y) != len(s):
        raise ValueError(f"y_true has {len(y)} labels but scores has {len(s)} rows")
    return y, s


def present_classes(y_true: np.ndarray, n_classes: int) -> np.ndarray:
    """(C,) bool: which classes occur in y_true."""
    return np.bincount(y_true, minlength=n_classes) > 0


def balanced_accuracy(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """Mean per-class recall over the classes present in y_true (scikit-learn's)."""
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"y_true {y_true.shape} and y_pred {y_pred.shape} must have the same shape")
    return unit_interval(skm.balanced_accuracy_score(y_true, y_pred))


def per_class_ap(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(C,) one-vs-rest average precision of column c of scores (N, C); NaN for absent classes."""
    y, s = check_scores(y_true, scores)
    n_classes = s.shape[1]
    present = present_classes(y, n_classes)
    ap = np.full(n_classes, np.nan)
    one_hot = np.eye(n_classes, dtype=int)[y]
    ap[present] = skm.average_precision_score(one_hot[:, present], s[:, present], average=None)
    return unit_interval(ap)


def macro_ap(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mean per-class AP over the classes present in y_true."""
    return unit_interval(np.nanmean(per_class_ap(y_true, scores)))


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Binary: AUROC of class 1's score. Multiclass: macro one-vs-rest AUROC over present classes."""
    y, s = check_scores(y_true, scores)
    present = present_classes(y, s.shape[1])
    if present.sum() < 2:
        raise ValueError(f"AUROC needs at least two classes in y_true, got only class {np.flatnonzero(present)}")
    if s.shape[1] == 2:
        return unit_interval(skm.roc_auc_score(y, s[:, 1]))
    one_hot = np.eye(s.shape[1], dtype=int)[y]
    return unit_interval(skm.roc_auc_score(one_hot[:, present], s[:, present], average="macro"))


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1, each (C,), with zero_division=0; macro = their mean."""
    y_true, y_pred = check_labels(y_true, n_classes), check_labels(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), average=None, zero_division=0)
    return unit_interval(precision), unit_interval(recall), unit_interval(f1)


def confusion(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """(C, C) counts: row = true class, column = predicted class."""
    y_true, y_pred = check_labels(y_true, n_classes), check_labels(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    return skm.confusion_matrix(y_true, y_pred, labels=np.arange(n_classes))


def evaluate(y_true: np.ndarray, scores: np.ndarray, classes: list[str],
             y_pred: np.ndarray | None = None) -> dict[str, float | list]:
    """Every metric of one run as a flat dict, ready to be a row of a results table.

    y_true: (N,) int; scores: (N, C) with C == len(classes); y_pred: (N,) int, default argmax of scores.
    Keys: ba, accuracy, macro_ap, auroc, macro_f1, macro_recall, macro_precision, ap/<class>, f1/<class>,
    recall/<class>, precision/<class> (class names as given) and confusion (list of lists).
    """
    y, s = check_scores(y_true, scores)
    if len(classes) != s.shape[1]:
        raise ValueError(f"scores have {s.shape[1]} columns but {len(classes)} class names were given: {classes}")
    y_pred = s.argmax(axis=1) if y_pred is None else check_labels(y_pred, len(classes), "y_pred")
    ap = per_class_ap(y, s)
    precision, recall, f1 = precision_recall_f1(y, y_pred, len(classes))
    matrix = confusion(y, y_pred, len(classes))
    row: dict[str, float | list] = {
        "ba": balanced_accuracy(y, y_pred), "accuracy": accuracy_from_confusion(matrix),
        "macro_ap": float(np.nanmean(ap)), "auroc": auroc(y, s),
        "macro_f1": float(f1.mean()), "macro_recall": float(recall.mean()),
        "macro_precision": float(precision.mean()),
    }
    for name, values in (("ap", ap), ("f1", f1), ("recall", recall), ("precision", precision)):
        row.update({f"{name}/{c}": float(v) for c, v in zip(classes, values)})
    row = {key: unit_interval(value) for key, value in row.items()}  # every metric leaves in [0, 1]
    row["confusion"] = matrix.tolist()
    return row


def accuracy_from_confusion(matrix: np.ndarray | list) -> float:
    """Fraction of correct predictions from a (C, C) confusion matrix (the LMF paper's accuracy)."""
    m = np.asarray(matrix, dtype=float)
    return unit_interval(np.trace(m) / m.sum())


def normalized_mutual_info_score(labels_true: np.ndarray, labels_pred: np.ndarray) -> float:
    """scikit-learn's NMI (arithmetic normalisation) kept in [0, 1]: its ratio of separately
    summed entropies is 1.0000000000000002 for some identical partitions."""
    return unit_interval(skm.normalized_mutual_info_score(labels_true, labels_pred))


def metric_columns(rows: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric columns of a results table other than ``seed``, ``epoch`` and ``exclude``."""
    skip = {"seed", "epoch", *exclude}
    return [c for c in rows.select_dtypes("number").columns if c not in skip]


def summarize(rows: pd.DataFrame, by: Sequence[str] = ("task", "method"),
              metrics: Sequence[str] | None = None, level: float = 0.95) -> pd.DataFrame:
    """Mean and std over seeds of each metric, one row per group.

    rows: one row per run (e.g. ``evaluate`` output plus task, method, seed).
    Returns a frame indexed by ``by`` with columns ``<metric>_mean``, ``<metric>_std``,
    ``<metric>_half`` and ``n_runs``. std is the sample std (ddof=1, pandas' default) — the
    estimate the papers' "mean ± std over 3 runs" most plausibly use; half is the half-width of
    the ``level`` t-interval of the mean over seeds (module docstring). Both are NaN for a group
    of one run (``with_image_intervals`` fills half from a test-image bootstrap). NaN metric
    values are skipped.
    """
    by = list(by)
    missing = [c for c in by if c not in rows.columns]
    if missing:
        raise ValueError(f"group columns {missing} not in rows; columns are {list(rows.columns)}")
    metrics = metric_columns(rows, by) if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in rows.columns]
    if unknown:
        raise ValueError(f"metrics {unknown} not in rows; numeric columns are {metric_columns(rows, by)}")
    groups = rows.groupby(by, sort=False)
    table = groups[metrics].agg(["mean", "std"])
    table.columns = [f"{metric}_{stat}" for metric, stat in table.columns]
    counts = groups[metrics].count()
    for metric in metrics:
        table[f"{metric}_half"] = t_half_width(table[f"{metric}_std"], counts[metric], level)
    table["n_runs"] = groups.size()
    return table[[f"{m}_{stat}" for m in metrics for stat in ("mean", "std", "half")] + ["n_runs"]]


def t_half_width(std: pd.Series | np.ndarray, n: pd.Series | np.ndarray, level: float = 0.95) -> np.ndarray:
    """Half-width t(1/2 + level/2, n - 1) * std / sqrt(n) of the interval of a mean of n values (NaN for n < 2)."""
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        quantile = stats.t.ppf((1 + level) / 2, np.where(n >= 2, n - 1, np.nan))
        return np.asarray(quantile * np.asarray(std, dtype=float) / np.sqrt(n))


def format_mean_std(summary: pd.DataFrame, metrics: Sequence[str] | None = None,
                    scale: float = 100, digits: int = 1, spread: str = "std") -> pd.DataFrame:
    """Strings "62.6 ± 2.2" (values times ``scale``) per metric, same index as ``summary``.

    metrics default to every metric of ``summary`` (the output of ``summarize``); spread "std"
    prints ± the std over seeds, "half" ± the half-width of the 95% interval (``summarize``'s
    ``_half``; the module docstring says which interval). A NaN spread prints the mean alone.
    """
    if spread not in ("std", "half"):
        raise ValueError(f"spread must be 'std' or 'half', got {spread!r}")
    available = [c.removesuffix("_mean") for c in summary.columns if c.endswith("_mean")]
    metrics = available if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise ValueError(f"metrics {unknown} not in the summary; available: {available}")

    def cell(mean: float, std: float) -> str:
        text = f"{mean * scale:.{digits}f}"
        return text if np.isnan(std) else f"{text} ± {std * scale:.{digits}f}"

    return pd.DataFrame({m: [cell(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_{spread}"])]
                         for m in metrics}, index=summary.index)


def stratified_weights(labels: np.ndarray, n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot, N) counts of each test image in a stratified bootstrap: within each true class,
    as many draws with replacement as the class has images."""
    y = np.asarray(labels)
    weights = np.zeros((n_boot, len(y)))
    for c in np.unique(y):
        members = np.flatnonzero(y == c)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), size=n_boot)
    return weights


def weighted_ap(relevant: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B,) average precision of ``score`` (N,) for the (N,) bool ``relevant`` under each row of
    ``weights`` (B, N) (sample counts): scikit-learn's AP, sum over thresholds of
    (R_k - R_(k-1)) * P_k, with tied scores forming one threshold. NaN where no relevant weight."""
    order = np.argsort(-score, kind="mergesort")
    s, rel, w = score[order], relevant[order].astype(float), weights[:, order]
    last_of_tie = np.r_[np.flatnonzero(np.diff(s) != 0), len(s) - 1]
    tp, fp = np.cumsum(w * rel, axis=1)[:, last_of_tie], np.cumsum(w * (1 - rel), axis=1)[:, last_of_tie]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(tp + fp > 0, tp / (tp + fp), 0.0)
        recall = tp / tp[:, -1:]
    gain = np.diff(np.concatenate([np.zeros((len(w), 1)), recall], axis=1), axis=1)
    return unit_interval((gain * precision).sum(axis=1))


def weighted_auroc(relevant: np.ndarray, score: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """(B,) area under the ROC curve of ``score`` (N,) for the (N,) bool ``relevant`` under each row
    of ``weights`` (B, N) (sample counts): the weighted share of (relevant, other) pairs the score
    orders correctly, ties counting one half, as scikit-learn's roc_auc_score on the resampled set.
    NaN where the relevant or the other samples have no weight."""
    order = np.argsort(score, kind="mergesort")
    s, rel, w = score[order], relevant[order].astype(float), weights[:, order]
    starts = np.r_[0, np.flatnonzero(np.diff(s) != 0) + 1]  # one group per tied score, ascending
    positive, negative = np.add.reduceat(w * rel, starts, axis=1), np.add.reduceat(w * (1 - rel), starts, axis=1)
    below = np.cumsum(negative, axis=1) - negative  # other samples scored strictly lower
    pairs = positive.sum(axis=1) * negative.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return unit_interval(np.where(pairs > 0, (positive * (below + 0.5 * negative)).sum(axis=1) / pairs, np.nan))


def replicate_metrics(labels: np.ndarray, scores: np.ndarray, classes: Sequence[str],
                      weights: np.ndarray) -> dict[str, np.ndarray]:
    """``evaluate``'s numeric metrics of one run under each row of ``weights`` (B, N): {name: (B,)}.
    labels (N,), scores (N, C); predictions are the argmax, as in ``evaluate``; AUROC as ``auroc``
    (binary: class 1's score; else the macro one-vs-rest over the classes with weight)."""
    y, s = check_scores(labels, scores)
    one_hot = np.eye(len(classes))[y]
    predicted = np.eye(len(classes))[s.argmax(axis=1)]
    tp, support, n_predicted = weights @ (one_hot * predicted), weights @ one_hot, weights @ predicted
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, tp / support, np.nan)
        precision = np.where(n_predicted > 0, tp / n_predicted, 0.0)
        f1 = np.where(support + n_predicted > 0, 2 * tp / (support + n_predicted), 0.0)
    ap = np.stack([weighted_ap(y == c, s[:, c], weights) for c in range(len(classes))], axis=1)
    if len(classes) == 2:
        auc = weighted_auroc(y == 1, s[:, 1], weights)
    else:
        with warnings.catch_warnings():  # a resample without some class: NaN, skipped by the mean
            warnings.simplefilter("ignore", RuntimeWarning)
            auc = np.nanmean(np.stack([weighted_auroc(y == c, s[:, c], weights) for c in range(len(classes))], axis=1),
                             axis=1)
    values = {"ba": np.nanmean(recall, axis=1), "accuracy": tp.sum(axis=1) / weights.sum(axis=1), "auroc": auc,
              "macro_ap": np.nanmean(ap, axis=1), "macro_f1": f1.mean(axis=1),
              "macro_recall": np.nan_to_num(recall).mean(axis=1), "macro_precision": precision.mean(axis=1)}
    for name, per_class in (("ap", ap), ("f1", f1), ("recall", recall), ("precision", precision)):
        values.update({f"{name}/{c}": per_class[:, i] for i, c in enumerate(classes)})
    return {name: unit_interval(v) for name, v in values.items()}


def bootstrap_runs(labels: np.ndarray, run_scores: Mapping[Hashable, np.ndarray], classes: Sequence[str],
                   n_boot: int = 500, seed: int = 0) -> dict[Hashable, dict[str, np.ndarray]]:
    """Every run's metrics over the SAME ``n_boot`` stratified bootstrap resamples of the test set,
    so differences between runs stay paired: {run key: {metric: (n_boot,)}}.

    labels: (N,) test labels; run_scores: {key, e.g. (method, seed): (N, C) test scores}."""
    weights = stratified_weights(labels, n_boot, np.random.default_rng(seed))
    return {key: replicate_metrics(labels, scores, classes, weights) for key, scores in run_scores.items()}


def with_image_intervals(summary: pd.DataFrame, rows: pd.DataFrame,
                         replicates: Mapping[tuple[str, int], Mapping[str, np.ndarray]],
                         level: float = 0.95) -> pd.DataFrame:
    """``summarize`` output of one task by method, with ``<metric>_half`` of single-run methods
    filled from the test-image bootstrap: half the width of its central ``level`` percentile
    interval. rows: that task's result rows (to find each single run's seed); replicates: from
    ``bootstrap_runs`` keyed by (method, seed). Methods with 2+ runs keep the t-interval."""
    filled = summary.copy()
    metrics = [c.removesuffix("_half") for c in summary.columns if c.endswith("_half")]
    for method in summary.index[summary["n_runs"] == 1]:
        seed = rows.loc[rows["method"] == method, "seed"].item()
        for metric in metrics:
            low, high = np.nanquantile(replicates[(method, seed)][metric], [(1 - level) / 2, (1 + level) / 2])
            filled.loc[method, f"{metric}_half"] = (high - low) / 2
    return filled


def interval_table(rows: pd.DataFrame, metrics: Sequence[str], replicates: Mapping | None = None,
                   level: float = 0.95, scale: float = 100, digits: int = 1) -> pd.DataFrame:
    """One task's "mean ± half-width of the ``level`` interval" strings per method and metric
    (percentages): a t-interval over seeds, or the test-image bootstrap for a single-run method
    when ``replicates`` (``bootstrap_runs``, keyed by (method, seed)) are given."""
    summary = summarize(rows, by=("method",), metrics=metrics, level=level)
    if replicates is not None:
        summary = with_image_intervals(summary, rows, replicates, level)
    return format_mean_std(summary, metrics, scale=scale, digits=digits, spread="half")


def save_replicates(path, replicates: Mapping[str, Mapping[tuple[str, int], Mapping[str, np.ndarray]]]) -> None:
    """Write test-image bootstrap replicates {task: {(method, seed): {metric: (B,) float}}} (``bootstrap_runs``
    per task) to one ``.npz``: array ``r<i>`` per (task, method, seed, metric), named in the JSON ``index``
    (no pickle, so :func:`load_replicates` reads it with ``allow_pickle=False``)."""
    import json

    index, arrays = [], {}
    for task, runs in replicates.items():
        for (method, seed), values in runs.items():
            for metric, array in values.items():
                arrays[f"r{len(index)}"] = np.asarray(array, dtype=float)
                index.append([str(task), str(method), int(seed), str(metric)])
    np.savez_compressed(path, index=np.array(json.dumps(index)), **arrays)


def load_replicates(path) -> dict[str, dict[tuple[str, int], dict[str, np.ndarray]]]:
    """The replicates :func:`save_replicates` wrote: {task: {(method, seed): {metric: (B,) float}}}."""
    import json

    with np.load(path, allow_pickle=False) as archive:
        replicates: dict = {}
        for i, (task, method, seed, metric) in enumerate(json.loads(str(archive["index"]))):
            replicates.setdefault(task, {}).setdefault((method, int(seed)), {})[metric] = archive[f"r{i}"]
    return replicates
