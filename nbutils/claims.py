"""The regrouping papers' claims judged on a run's numbers: "holds", "does not hold" or "inconclusive".

Inputs are result rows (columns task, method, seed and metric columns such as ``ba``,
``macro_ap``, ``ap/<class>``, as ``metrics.evaluate`` writes them) and, for the synchronous
learning claim, per-epoch histories (``train.fit``'s rows with ``epoch`` and ``val_ap/<class>``,
plus task, method and seed).

One decision rule serves every claim "method a beats method b on a metric". Rows of a and b
are paired by seed, d_s = a_s - b_s, and [low, high] is the two-sided (1 - 2 alpha) t-interval
of the mean of d (alpha = 0.05: the 90% interval, i.e. two one-sided 95% bounds):
- "holds" when low > 0: a beats b by more than the seed-to-seed noise explains
  (the same as a one-sided paired t-test, p < alpha);
- "does not hold" when high < min_effect: even the optimistic bound of the gain is below the
  smallest gain worth the name (default 0.01, one point of AP/BA on the 0-1 scale);
  this covers both "a is clearly worse" and "a is clearly no better";
- "inconclusive" otherwise, and always with a single shared seed (no spread to judge by).
With 2 seeds the t quantile is 6.3, so only a large, steady gain "holds"; with 3 it is 2.9.
A claim whose methods or history were not run is "not run", with the reason.
"""
from __future__ import annotations

from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd
from scipy import stats

RUN_COLUMNS = ("task", "method", "seed")
COLUMNS = ["claim", "metric", "effect", "spread", "n_seeds", "verdict", "detail"]


def check_rows(rows: pd.DataFrame, task: str, metrics: Sequence[str] = ()) -> None:
    """Raise a clear error unless rows have the run columns and ``metrics``, hold ``task``, one row per run."""
    missing = [c for c in (*RUN_COLUMNS, *metrics) if c not in rows.columns]
    if missing:
        raise ValueError(f"rows lack columns {missing}; they have {list(rows.columns)}")
    if task not in set(rows["task"]):
        raise ValueError(f"task {task!r} not in rows; tasks are {sorted(set(rows['task']))}")
    counts = rows.groupby(list(RUN_COLUMNS)).size()
    if (counts > 1).any():
        raise ValueError(f"rows hold several rows for one run {counts[counts > 1].index[0]}; keep one row per run")


def paired_differences(rows: pd.DataFrame, metric: str, method_a: str, method_b: str, task: str) -> pd.Series:
    """a - b on ``metric`` for each seed where both methods have a value on ``task``; indexed by seed."""
    check_rows(rows, task, metrics=(metric,))
    table = rows[rows["task"] == task].pivot(index="seed", columns="method", values=metric)
    if method_a not in table or method_b not in table:
        return pd.Series(dtype=float, name=metric)
    return (table[method_a] - table[method_b]).dropna().rename(metric)


def t_interval(diffs: np.ndarray, alpha: float = 0.05) -> tuple[float, float]:
    """Two-sided (1 - 2 alpha) t-interval (low, high) of the mean of paired differences (n >= 2)."""
    half = stats.t.ppf(1 - alpha, len(diffs) - 1) * np.std(diffs, ddof=1) / np.sqrt(len(diffs))
    return float(np.mean(diffs) - half), float(np.mean(diffs) + half)


def compare(rows: pd.DataFrame, metric: str, method_a: str, method_b: str, task: str,
            alpha: float = 0.05, min_effect: float = 0.01) -> dict:
    """Does ``method_a`` beat ``method_b`` on ``metric`` for ``task``? Paired by seed.

    Returns a dict: metric, method_a, method_b, task, effect (mean of a - b), spread (std of
    a - b over seeds, ddof=1), n_seeds, low, high (the interval of the module docstring),
    p_value (one-sided paired t-test of a > b; NaN for < 2 seeds or zero spread), verdict, detail.
    """
    diffs = paired_differences(rows, metric, method_a, method_b, task)
    n = len(diffs)
    result = dict(metric=metric, method_a=method_a, method_b=method_b, task=task, effect=np.nan,
                  spread=np.nan, n_seeds=n, low=np.nan, high=np.nan, p_value=np.nan)
    if n == 0:
        ran = sorted(set(rows.loc[(rows["task"] == task) & rows[metric].notna(), "method"]))
        return result | dict(verdict="not run", detail=f"no seed has {metric} for both {method_a!r} and "
                                                        f"{method_b!r} on {task!r}; methods with results: {ran}")
    d = diffs.to_numpy(dtype=float)
    summary = f"{method_a} - {method_b} on {metric} over {n} seed(s): mean {d.mean():+.3f}"
    result.update(effect=float(d.mean()))
    if n == 1:
        return result | dict(verdict="inconclusive", detail=f"{summary}; one shared seed gives no spread to judge by")
    spread = float(d.std(ddof=1))
    low, high = t_interval(d, alpha)
    p_value = float(stats.t.sf(d.mean() / (spread / np.sqrt(n)), n - 1)) if spread > 0 else np.nan
    result.update(spread=spread, low=low, high=high, p_value=p_value)
    summary += f", std {spread:.3f}, {1 - 2 * alpha:.0%} CI [{low:+.3f}, {high:+.3f}]"
    if low > 0:
        verdict, why = "holds", "the interval lies above 0"
    elif high < min_effect:
        verdict, why = "does not hold", f"the interval lies below the smallest gain worth claiming ({min_effect})"
    else:
        verdict, why = "inconclusive", f"the interval reaches from 0 or below to {min_effect} or above"
    return result | dict(verdict=verdict, detail=f"{summary}; {why}")


def asynchrony(curves: np.ndarray) -> float:
    """How unevenly classes learn: 0 when every class progresses at the same pace.

    curves: (E, C) a per-class quantity over E epochs (e.g. validation AP, or the spread of a
    class's representations around its centre), first row ideally before any training.
    Each class's curve becomes its progress (v_t - v_first) / (v_last - v_first), 0 at the start
    and 1 at the end whether the quantity rises or falls; the statistic is the std across
    classes of that progress (ddof=0), averaged over epochs. Classes whose curve does not
    change are left out; NaN when fewer than two remain.
    """
    v = np.asarray(curves, dtype=float)
    if v.ndim != 2 or v.shape[0] < 2 or v.shape[1] < 2:
        raise ValueError(f"curves must be (epochs, classes) with at least 2 of each, got shape {v.shape}")
    change = v[-1] - v[0]
    moving = np.isfinite(change) & (change != 0)
    if moving.sum() < 2:
        return float("nan")
    progress = (v[:, moving] - v[0, moving]) / change[moving]
    return float(progress.std(axis=1).mean())


def asynchrony_table(history: pd.DataFrame, quantity: str = "val_ap") -> pd.DataFrame:
    """One row per run (task, method, seed) with its ``asynchrony`` over epochs of ``<quantity>/<class>``."""
    missing = [c for c in (*RUN_COLUMNS, "epoch") if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks columns {missing}; it needs {list(RUN_COLUMNS)}, epoch "
                         f"and one {quantity}/<class> column per class")
    columns = [c for c in history.columns if c.startswith(f"{quantity}/")]
    if len(columns) < 2:
        raise ValueError(f"history has {columns} as {quantity}/<class> columns; it needs one per class (>= 2)")
    runs = history.sort_values("epoch").groupby(list(RUN_COLUMNS), sort=False)
    table = runs[columns].apply(lambda run: asynchrony(run.to_numpy()))
    return table.rename("asynchrony").reset_index()


def claim_row(claim: str, result: dict) -> dict:
    """A ``compare`` result as a row of the claims table."""
    return {"claim": claim} | {k: result[k] for k in COLUMNS[1:]}


def minority_ap(rows: pd.DataFrame, minority_classes: Sequence[str]) -> tuple[pd.DataFrame, str]:
    """rows with a column for the AP of the minority class (mean over several), and its name."""
    columns = [f"ap/{c}" for c in minority_classes]
    unknown = [c for c in columns if c not in rows.columns]
    if not columns or unknown:
        known = [c.removeprefix("ap/") for c in rows.columns if c.startswith("ap/")]
        raise ValueError(f"minority classes {list(minority_classes)} need columns {unknown or 'ap/<class>'}; "
                         f"classes with AP columns: {known}")
    if len(columns) == 1:
        return rows, columns[0]
    name = "mean of " + ", ".join(columns)
    return rows.assign(**{name: rows[columns].mean(axis=1)}), name


def rankings_disagree(rows: pd.DataFrame, task: str, alpha: float = 0.05) -> dict:
    """Claim: BA and macro AP can rank methods differently.

    Kendall tau between the methods' mean BA and mean macro AP (the effect). A pair of methods
    swaps "beyond the seed spread" when the paired BA interval and the paired macro-AP interval
    both exclude 0 with opposite signs. Holds if some pair swaps beyond the spread; does not hold
    if the two rankings agree on every pair of means; inconclusive otherwise. With many methods
    some pair can swap by chance (no correction for multiple pairs); the detail names the pairs.
    """
    check_rows(rows, task, metrics=("ba", "macro_ap"))
    done = rows[rows["task"] == task].dropna(subset=["ba", "macro_ap"])
    means = done.groupby("method")[["ba", "macro_ap"]].mean()
    row = dict(claim="BA and AP can rank methods differently", metric="ba vs macro_ap", effect=np.nan,
               spread=np.nan, n_seeds=int(done.groupby("method").size().min()) if len(means) else 0)
    if len(means) < 2:
        return row | dict(verdict="not run", detail=f"needs two methods with ba and macro_ap on {task!r}, "
                                                    f"found {list(means.index)}")
    discordant, swapped = [], []
    for a, b in combinations(means.index, 2):
        ba_order, ap_order = np.sign(means.loc[a] - means.loc[b])
        if ba_order * ap_order < 0:
            discordant.append(f"{a}/{b}")
        bounds = [paired_differences(rows, m, a, b, task).to_numpy() for m in ("ba", "macro_ap")]
        if min(len(d) for d in bounds) < 2:
            continue
        (ba_low, ba_high), (ap_low, ap_high) = (t_interval(d, alpha) for d in bounds)
        if (ba_low > 0 and ap_high < 0) or (ba_high < 0 and ap_low > 0):
            swapped.append(f"{a}/{b}")
    tau = stats.kendalltau(means["ba"], means["macro_ap"]).statistic
    n_pairs = len(means) * (len(means) - 1) // 2
    verdict = "holds" if swapped else "does not hold" if not discordant else "inconclusive"
    detail = (f"Kendall tau {tau:+.2f} over {len(means)} methods; {len(discordant)} of {n_pairs} pairs order "
              f"differently on the means {discordant}, {len(swapped)} beyond the seed spread {swapped}")
    return row | dict(effect=float(tau), verdict=verdict, detail=detail)


def judge_claims(rows: pd.DataFrame, task: str, minority_classes: Sequence[str],
                 sync_table: pd.DataFrame | None = None, *, rg: str = "rg", ce: str = "ce",
                 rg_random: str = "rg-random", sync_quantity: str = "val_ap",
                 alpha: float = 0.05, min_effect: float = 0.01) -> pd.DataFrame:
    """The claims table of one task: one row per claim with columns ``COLUMNS``.

    rows: result rows (task, method, seed, ba, macro_ap, ap/<class>, ...).
    minority_classes: class names whose AP claims 1 and 3 use (their mean when several).
    sync_table: per-epoch history rows (task, method, seed, epoch, <sync_quantity>/<class>) for claim 4.
    rg, ce, rg_random: the method names of regrouping, plain cross-entropy and random regrouping.
    effect and spread of claims 1, 3 and 4 are the mean and std over seeds of the paired
    difference, oriented so that a positive effect supports the claim: claim 4's is
    asynchrony(CE) - asynchrony(RG) (see ``asynchrony``). Claim 2's effect is the Kendall tau
    between the BA and macro-AP rankings (low supports the claim) and its spread is NaN.
    """
    check_rows(rows, task)
    with_minority, minority = minority_ap(rows, minority_classes)
    options = dict(alpha=alpha, min_effect=min_effect)
    table = [
        claim_row("RG raises minority-class AP over CE", compare(with_minority, minority, rg, ce, task, **options)),
        rankings_disagree(rows, task, alpha),
        claim_row("Random regrouping does not give RG's gain",
                  compare(with_minority, minority, rg, rg_random, task, **options)),
    ]
    sync_claim = "RG learns classes more synchronously"
    metric = f"asynchrony of {sync_quantity}/<class> over epochs"
    if sync_table is None:
        table.append(dict(claim=sync_claim, metric=metric, effect=np.nan, spread=np.nan, n_seeds=0,
                          verdict="not run", detail="no per-epoch history (sync_table) was given"))
    else:
        runs = asynchrony_table(sync_table, sync_quantity)
        if task not in set(runs["task"]):
            result = dict(metric="asynchrony", effect=np.nan, spread=np.nan, n_seeds=0, verdict="not run",
                          detail=f"sync_table has no history for {task!r}; tasks: {sorted(set(runs['task']))}")
        else:
            result = compare(runs, "asynchrony", ce, rg, task, **options)
        table.append(claim_row(sync_claim, result | dict(metric=metric)))
    return pd.DataFrame(table, columns=COLUMNS)
