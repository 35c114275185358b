"""Metrics of the papers (balanced accuracy, per-class AP, AUROC, F1) and mean ± std over seeds.

Scores are always (N, C) class scores (logits or probabilities, C >= 2; a binary task has
C = 2 with class 1 the positive/minority class); labels are (N,) integers in 0..C-1. Every
ranking metric is scikit-learn's, one-vs-rest on column c of the scores.

A class absent from ``y_true`` has no defined AP or AUROC: ``per_class_ap`` gives NaN for it
(scikit-learn would give a misleading 0) and the macro averages skip it, as scikit-learn's
balanced accuracy skips it. Precision, recall and F1 follow scikit-learn with zero_division=0.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from sklearn import metrics as skm


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
    return float(skm.balanced_accuracy_score(y_true, y_pred))


def per_class_ap(y_true: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(C,) one-vs-rest average precision of column c of scores (N, C); NaN for absent classes."""
    y, s = check_scores(y_true, scores)
    n_classes = s.shape[1]
    present = present_classes(y, n_classes)
    ap = np.full(n_classes, np.nan)
    one_hot = np.eye(n_classes, dtype=int)[y]
    ap[present] = skm.average_precision_score(one_hot[:, present], s[:, present], average=None)
    return ap


def macro_ap(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Mean per-class AP over the classes present in y_true."""
    return float(np.nanmean(per_class_ap(y_true, scores)))


def auroc(y_true: np.ndarray, scores: np.ndarray) -> float:
    """Binary: AUROC of class 1's score. Multiclass: macro one-vs-rest AUROC over present classes."""
    y, s = check_scores(y_true, scores)
    present = present_classes(y, s.shape[1])
    if present.sum() < 2:
        raise ValueError(f"AUROC needs at least two classes in y_true, got only class {np.flatnonzero(present)}")
    if s.shape[1] == 2:
        return float(skm.roc_auc_score(y, s[:, 1]))
    one_hot = np.eye(s.shape[1], dtype=int)[y]
    return float(skm.roc_auc_score(one_hot[:, present], s[:, present], average="macro"))


def precision_recall_f1(y_true: np.ndarray, y_pred: np.ndarray,
                        n_classes: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-class precision, recall and F1, each (C,), with zero_division=0; macro = their mean."""
    y_true, y_pred = check_labels(y_true, n_classes), check_labels(y_pred, n_classes, "y_pred")
    if len(y_true) != len(y_pred):
        raise ValueError(f"y_true has {len(y_true)} labels but y_pred has {len(y_pred)}")
    precision, recall, f1, _ = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=np.arange(n_classes), average=None, zero_division=0)
    return precision, recall, f1


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
    Keys: ba, macro_ap, auroc, macro_f1, macro_recall, macro_precision, ap/<class>, f1/<class>,
    recall/<class>, precision/<class> (class names as given) and confusion (list of lists).
    """
    y, s = check_scores(y_true, scores)
    if len(classes) != s.shape[1]:
        raise ValueError(f"scores have {s.shape[1]} columns but {len(classes)} class names were given: {classes}")
    y_pred = s.argmax(axis=1) if y_pred is None else check_labels(y_pred, len(classes), "y_pred")
    ap = per_class_ap(y, s)
    precision, recall, f1 = precision_recall_f1(y, y_pred, len(classes))
    row: dict[str, float | list] = {
        "ba": balanced_accuracy(y, y_pred), "macro_ap": float(np.nanmean(ap)), "auroc": auroc(y, s),
        "macro_f1": float(f1.mean()), "macro_recall": float(recall.mean()),
        "macro_precision": float(precision.mean()),
    }
    for name, values in (("ap", ap), ("f1", f1), ("recall", recall), ("precision", precision)):
        row.update({f"{name}/{c}": float(v) for c, v in zip(classes, values)})
    row["confusion"] = confusion(y, y_pred, len(classes)).tolist()
    return row


def metric_columns(rows: pd.DataFrame, exclude: Sequence[str] = ()) -> list[str]:
    """Numeric columns of a results table other than ``seed``, ``epoch`` and ``exclude``."""
    skip = {"seed", "epoch", *exclude}
    return [c for c in rows.select_dtypes("number").columns if c not in skip]


def summarize(rows: pd.DataFrame, by: Sequence[str] = ("task", "method"),
              metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Mean and std over seeds of each metric, one row per group.

    rows: one row per run (e.g. ``evaluate`` output plus task, method, seed).
    Returns a frame indexed by ``by`` with columns ``<metric>_mean``, ``<metric>_std`` and ``n_runs``.
    std is the sample std (ddof=1, pandas' default) — the estimate the papers' "mean ± std over
    3 runs" most plausibly use; it is NaN for a group of one run. NaN metric values are skipped.
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
    stats = groups[metrics].agg(["mean", "std"])
    stats.columns = [f"{metric}_{stat}" for metric, stat in stats.columns]
    stats["n_runs"] = groups.size()
    return stats


def format_mean_std(summary: pd.DataFrame, metrics: Sequence[str] | None = None,
                    scale: float = 100, digits: int = 1) -> pd.DataFrame:
    """Strings "62.6 ± 2.2" (values times ``scale``) per metric, same index as ``summary``.

    metrics default to every metric of ``summary`` (the output of ``summarize``); a NaN std
    (a single run) prints the mean alone.
    """
    available = [c.removesuffix("_mean") for c in summary.columns if c.endswith("_mean")]
    metrics = available if metrics is None else list(metrics)
    unknown = [m for m in metrics if m not in available]
    if unknown:
        raise ValueError(f"metrics {unknown} not in the summary; available: {available}")

    def cell(mean: float, std: float) -> str:
        text = f"{mean * scale:.{digits}f}"
        return text if np.isnan(std) else f"{text} ± {std * scale:.{digits}f}"

    return pd.DataFrame({m: [cell(a, b) for a, b in zip(summary[f"{m}_mean"], summary[f"{m}_std"])]
                         for m in metrics}, index=summary.index)
