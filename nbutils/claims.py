"""The regrouping papers' claims judged on a run's numbers: "holds", "does not hold" or "inconclusive".

Inputs are result rows (columns task, method, seed and metric columns such as ``ba``,
``macro_ap``, ``ap/<class>``, as ``metrics.evaluate`` writes them), optionally the test-image
bootstrap replicates of every run (``metrics.bootstrap_runs``: the same resampled test sets for
every run, so differences stay paired) and, for the synchronous-learning claim, per-epoch
histories (``train.fit``'s rows with ``epoch`` and ``<quantity>/<class>``, plus task, method, seed).

Every verdict comes with its effect size and a 95% interval (columns effect, low, high).

Pairwise claims ("method a beats method b on a metric", ``compare``). Runs of a and b are
paired by seed, d_s = a_s - b_s, effect = mean of d. Its standard error adds the two sources of
noise: training (the seed-to-seed variance of d, s^2 / n) and the finite test set (the variance
over test-image bootstrap replicates of the seed-mean difference, when replicates are given):
se = sqrt(s^2 / n + se_images^2), interval = effect ± t(0.975, n - 1) * se. Then
- "holds" when low > 0 (a one-sided test of a > b at 2.5%);
- "does not hold" when high < min_effect (default 0.01, one point of AP/BA on the 0-1 scale):
  even the optimistic bound is below the smallest gain worth the name;
- "inconclusive" otherwise, and ALWAYS with one shared seed or with zero seed-to-seed spread
  (identical differences on every seed say nothing about training noise: did the seed change
  anything?). Zero spread therefore never "holds".
With 2 seeds the t quantile is 12.7, so only a large, steady gain "holds"; with 3 it is 4.3.

Rank claim ("BA and AP rank methods differently", ``rankings_disagree``). Effect: Kendall's
tau-b between the methods' mean BA and mean macro AP (1 = same order, -1 = reversed); its
interval is the 2.5-97.5% percentile interval of tau over a two-level bootstrap that resamples
seeds (the same seeds for every method) and, when replicates are given, test images. The verdict
comes from pairwise intervals of the same form as ``compare``'s, on BA and on macro AP, for
every pair of methods:
- "holds" when some pair is ordered one way by BA and the other way by AP, both intervals
  excluding 0, with Bonferroni-corrected intervals (level 1 - 0.05 / number of pairs), so the
  chance of a false "holds" is at most 5% however many methods run;
- "does not hold" when every pair's swap beyond min_effect is excluded by its (uncorrected) 95%
  intervals (an intersection-union test: each pair must be shown not to swap);
- "inconclusive" otherwise: e.g. when the methods are too close to tell apart on either metric.
A claim whose methods or history were not run is "not run", with the reason.
"""
from __future__ import annotations

from itertools import combinations
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

RUN_COLUMNS = ("task", "method", "seed")
COLUMNS = ["claim", "metric", "effect", "low", "high", "spread", "n_seeds", "verdict", "detail"]
LEVEL = 0.95
NEEDS_EPOCHS = "not run: needs >= 2 epochs"
MIN_CURVE_ROWS = 3  # first, last and at least one row between: see asynchrony
# (method, seed) -> {metric: (B,) values over the test-image bootstrap replicates}
Replicates = Mapping[tuple[str, int], Mapping[str, np.ndarray]]


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


def seed_table(rows: pd.DataFrame, metric: str, task: str) -> pd.DataFrame:
    """(seeds, methods) values of ``metric`` on ``task``."""
    check_rows(rows, task, metrics=(metric,))
    return rows[rows["task"] == task].pivot(index="seed", columns="method", values=metric)


def paired_differences(rows: pd.DataFrame, metric: str, method_a: str, method_b: str, task: str) -> pd.Series:
    """a - b on ``metric`` for each seed where both methods have a value on ``task``; indexed by seed."""
    table = seed_table(rows, metric, task)
    if method_a not in table or method_b not in table:
        return pd.Series(dtype=float, name=metric)
    return (table[method_a] - table[method_b]).dropna().rename(metric)


def replicate_values(replicates: Replicates, method: str, seed: int, metric: str) -> np.ndarray:
    """(B,) bootstrap values of ``metric`` for one run; a "mean of m1, m2" metric averages its parts."""
    run = replicates[(method, seed)]
    parts = metric.removeprefix("mean of ").split(", ") if metric.startswith("mean of ") else [metric]
    return np.mean([run[p] for p in parts], axis=0)


def image_se(replicates: Replicates | None, metric: str, method_a: str, method_b: str,
             seeds: Sequence[int]) -> float:
    """Std over test-image bootstrap replicates of the seed-mean of a - b (0 without replicates)."""
    if replicates is None:
        return 0.0
    diffs = [replicate_values(replicates, method_a, s, metric) - replicate_values(replicates, method_b, s, metric)
             for s in seeds]
    return float(np.std(np.mean(diffs, axis=0), ddof=1))


def interval(diffs: np.ndarray, se_images: float = 0.0, level: float = LEVEL) -> tuple[float, float]:
    """Two-sided ``level`` t-interval (low, high) of the mean of paired differences (n >= 2),
    its standard error widened by the test-image bootstrap's ``se_images``."""
    se = np.sqrt(np.var(diffs, ddof=1) / len(diffs) + se_images ** 2)
    half = stats.t.ppf((1 + level) / 2, len(diffs) - 1) * se
    return float(np.mean(diffs) - half), float(np.mean(diffs) + half)


def compare(rows: pd.DataFrame, metric: str, method_a: str, method_b: str, task: str,
            replicates: Replicates | None = None, level: float = LEVEL, min_effect: float = 0.01) -> dict:
    """Does ``method_a`` beat ``method_b`` on ``metric`` for ``task``? Paired by seed (module docstring).

    replicates: test-image bootstrap values of each (method, seed) run of this task (optional).
    Returns a dict: metric, method_a, method_b, task, effect (mean of a - b), low, high (the
    ``level`` interval), spread (std of a - b over seeds, ddof=1), n_seeds, verdict, detail.
    """
    diffs = paired_differences(rows, metric, method_a, method_b, task)
    n = len(diffs)
    result = dict(metric=metric, method_a=method_a, method_b=method_b, task=task, effect=np.nan,
                  low=np.nan, high=np.nan, spread=np.nan, n_seeds=n)
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
    result.update(spread=spread)
    if np.ptp(d) == 0:  # exact: identical values (a std can round to 1e-17)
        return result | dict(verdict="inconclusive", detail=f"{summary}; every seed gave the same difference: "
                                                            "no spread to judge by (did the seed change anything?)")
    low, high = interval(d, image_se(replicates, metric, method_a, method_b, diffs.index), level)
    result.update(low=low, high=high)
    source = "seeds and test images" if replicates is not None else "seeds"
    summary += f", std {spread:.3f}, {level:.0%} interval over {source} [{low:+.3f}, {high:+.3f}]"
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
    change are left out; NaN when fewer than two remain, and NaN for fewer than 3 rows (a short
    run: with only a first and a last row every class's progress is 0 then 1, so the statistic
    would be 0 by construction; 3 rows are the untrained row and 2 epochs).
    """
    v = np.asarray(curves, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ValueError(f"curves must be (epochs, classes) with at least 2 classes, got shape {v.shape}")
    if v.shape[0] < MIN_CURVE_ROWS:
        return float("nan")
    change = v[-1] - v[0]
    moving = np.isfinite(change) & (change != 0)
    if moving.sum() < 2:
        return float("nan")
    progress = (v[:, moving] - v[0, moving]) / change[moving]
    return float(progress.std(axis=1).mean())


def asynchrony_table(history: pd.DataFrame, quantity: str = "val_ap") -> pd.DataFrame:
    """One row per run (task, method, seed) with its ``asynchrony`` over epochs of ``<quantity>/<class>``
    and ``n_epochs``, the number of history rows of the run."""
    missing = [c for c in (*RUN_COLUMNS, "epoch") if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks columns {missing}; it needs {list(RUN_COLUMNS)}, epoch "
                         f"and one {quantity}/<class> column per class")
    columns = [c for c in history.columns if c.startswith(f"{quantity}/")]
    if len(columns) < 2:
        raise ValueError(f"history has {columns} as {quantity}/<class> columns; it needs one per class (>= 2)")
    runs = history.sort_values("epoch").groupby(list(RUN_COLUMNS), sort=False)
    table = runs[columns].apply(lambda run: asynchrony(run.to_numpy())).rename("asynchrony").to_frame()
    return table.assign(n_epochs=runs.size()).reset_index()


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


def pair_intervals(values: np.ndarray, replicates: np.ndarray | None, a: int, b: int,
                   level: float) -> tuple[float, float, float]:
    """(mean, low, high) of method a - method b; values (S, M) per seed, replicates (S, M, B) or None.
    A pair with no spread at all gets the interval (-inf, inf): nothing to judge by."""
    d = values[:, a] - values[:, b]
    se_images = 0.0 if replicates is None else float(np.std((replicates[:, a] - replicates[:, b]).mean(0), ddof=1))
    if np.ptp(d) == 0:
        return float(d.mean()), -np.inf, np.inf
    return (float(d.mean()), *interval(d, se_images, level))


def bootstrap_tau(values: dict[str, np.ndarray], replicates: dict[str, np.ndarray] | None,
                  n_boot: int, rng: np.random.Generator) -> np.ndarray:
    """(n_boot,) Kendall tau between BA and macro-AP method means over a two-level bootstrap:
    seeds resampled (shared by every method), then test images (a replicate index) when given.
    values[m]: (S, M) per seed; replicates[m]: (S, M, B) test-image bootstrap values."""
    n_seeds = values["ba"].shape[0]
    taus = np.empty(n_boot)
    for r in range(n_boot):
        seeds = rng.integers(n_seeds, size=n_seeds)
        if replicates is None:
            ba, ap = (values[m][seeds].mean(0) for m in ("ba", "macro_ap"))
        else:
            image_draw = rng.integers(replicates["ba"].shape[2])
            ba, ap = (replicates[m][seeds, :, image_draw].mean(0) for m in ("ba", "macro_ap"))
        taus[r] = stats.kendalltau(ba, ap).statistic
    return taus


def rankings_disagree(rows: pd.DataFrame, task: str, replicates: Replicates | None = None,
                      level: float = LEVEL, min_effect: float = 0.01, n_boot: int = 1000, seed: int = 0) -> dict:
    """Claim: BA and macro AP rank methods differently. See the module docstring for the rule.

    Uses the methods run on every seed that some method ran (so every pair is paired by seed).
    Returns a claims-table row (``COLUMNS``): effect = Kendall tau-b of the mean rankings,
    low/high its bootstrap interval, spread NaN, n_seeds the shared seeds.
    """
    metrics = ("ba", "macro_ap")
    tables = {m: seed_table(rows, m, task) for m in metrics}
    complete = tables["ba"].notna() & tables["macro_ap"].notna()
    methods = [m for m in complete.columns if complete[m].all()]
    seeds = list(complete.index)
    row = dict(claim="BA and AP rank methods differently", metric="Kendall tau of BA vs macro_ap rankings",
               effect=np.nan, low=np.nan, high=np.nan, spread=np.nan, n_seeds=len(seeds))
    left_out = sorted(set(complete.columns) - set(methods))
    if len(methods) < 2:
        return row | dict(verdict="not run", detail=f"needs two methods with ba and macro_ap on every seed of "
                                                    f"{task!r}; complete: {methods}, incomplete: {left_out}")
    values = {m: tables[m][methods].to_numpy(dtype=float) for m in metrics}
    means = {m: v.mean(0) for m, v in values.items()}
    tau = float(stats.kendalltau(means["ba"], means["macro_ap"]).statistic)
    row.update(effect=tau)
    if len(seeds) < 2:
        return row | dict(verdict="inconclusive", detail=f"Kendall tau {tau:+.2f} over {len(methods)} methods; "
                                                          "one seed gives no spread to judge by")
    reps = None if replicates is None else {
        m: np.array([[replicates[(method, s)][m] for method in methods] for s in seeds]) for m in metrics}
    taus = bootstrap_tau(values, reps, n_boot, np.random.default_rng(seed))
    low, high = np.nanquantile(taus, [(1 - level) / 2, (1 + level) / 2]) if np.isfinite(taus).any() else (np.nan,) * 2
    row.update(low=float(low), high=float(high))
    pairs = list(combinations(range(len(methods)), 2))
    corrected = 1 - (1 - level) / len(pairs)
    swapped, undecided = [], []
    for a, b in pairs:
        name = f"{methods[a]}/{methods[b]}"
        (_, ba_lo, ba_hi), (_, ap_lo, ap_hi) = (pair_intervals(values[m], None if reps is None else reps[m],
                                                               a, b, corrected) for m in metrics)
        if (ba_lo > 0 and ap_hi < 0) or (ba_hi < 0 and ap_lo > 0):
            swapped.append(name)
            continue
        (_, ba_lo, ba_hi), (_, ap_lo, ap_hi) = (pair_intervals(values[m], None if reps is None else reps[m],
                                                               a, b, level) for m in metrics)
        a_over_b_excluded = ba_hi < min_effect or ap_lo > -min_effect
        b_over_a_excluded = ba_lo > -min_effect or ap_hi < min_effect
        if not (a_over_b_excluded and b_over_a_excluded):
            undecided.append(name)
    source = "seeds and test images" if replicates is not None else "seeds"
    detail = (f"Kendall tau {tau:+.2f} over {len(methods)} methods, {level:.0%} bootstrap interval over {source} "
              f"[{low:+.2f}, {high:+.2f}]; {len(swapped)} of {len(pairs)} pairs swap beyond the noise "
              f"(Bonferroni-corrected) {swapped}; {len(undecided)} pairs undecided {undecided[:10]}"
              + ("..." if len(undecided) > 10 else "") + (f"; left out (not on every seed): {left_out}" if left_out else ""))
    verdict = "holds" if swapped else "inconclusive" if undecided else "does not hold"
    return row | dict(verdict=verdict, detail=detail)


def sync_claim(sync_table: pd.DataFrame | None, task: str, quantity: str, rg: str, ce: str,
               level: float, min_effect: float) -> dict:
    """Claims-table row of "RG learns classes more synchronously": asynchrony(CE) - asynchrony(RG)."""
    claim, metric = "RG learns classes more synchronously", f"asynchrony of {quantity}/<class> over epochs"
    empty = dict(claim=claim, metric=metric, effect=np.nan, low=np.nan, high=np.nan, spread=np.nan, n_seeds=0)
    if sync_table is None:
        return empty | dict(verdict="not run", detail="no per-epoch history (sync_table) was given")
    runs = asynchrony_table(sync_table, quantity)
    runs = runs[runs["task"] == task]
    if runs.empty:
        return empty | dict(verdict="not run", detail=f"sync_table has no history for {task!r}")
    if runs["n_epochs"].max() < MIN_CURVE_ROWS:
        return empty | dict(verdict=NEEDS_EPOCHS, detail=f"the history of {task!r} has {runs['n_epochs'].max()} "
                                                         f"row(s): progress over epochs needs {MIN_CURVE_ROWS} "
                                                         "(the untrained row and 2 epochs)")
    return claim_row(claim, compare(runs, "asynchrony", ce, rg, task, level=level, min_effect=min_effect)
                     | dict(metric=metric))


def judge_claims(rows: pd.DataFrame, task: str, minority_classes: Sequence[str],
                 sync_table: pd.DataFrame | None = None, *, replicates: Replicates | None = None,
                 rg: str = "rg", ce: str = "ce", rg_random: str = "rg-random", sync_quantity: str = "val_ap",
                 level: float = LEVEL, min_effect: float = 0.01, n_boot: int = 1000) -> pd.DataFrame:
    """The claims table of one task: one row per claim with columns ``COLUMNS``.

    rows: result rows (task, method, seed, ba, macro_ap, ap/<class>, ...).
    minority_classes: class names whose AP claims 1 and 3 use (their mean when several).
    sync_table: per-epoch history rows (task, method, seed, epoch, <sync_quantity>/<class>) for claim 4.
    replicates: {(method, seed): {metric: (B,)}} test-image bootstrap values of this task's runs
    (``metrics.bootstrap_runs``); they add the test set's noise to every interval.
    rg, ce, rg_random: the method names of regrouping, plain cross-entropy and random regrouping.
    effect, low and high of claims 1, 3 and 4 are the mean over seeds of the paired difference
    and its interval, oriented so that a positive effect supports the claim: claim 4's is
    asynchrony(CE) - asynchrony(RG) (see ``asynchrony``). Claim 2's effect is the Kendall tau
    between the BA and macro-AP rankings (low supports the claim) and its spread is NaN.
    """
    check_rows(rows, task)
    with_minority, minority = minority_ap(rows, minority_classes)
    options = dict(level=level, min_effect=min_effect)
    table = [
        claim_row("RG raises minority-class AP over CE",
                  compare(with_minority, minority, rg, ce, task, replicates, **options)),
        rankings_disagree(rows, task, replicates, n_boot=n_boot, **options),
        claim_row("Random regrouping does not give RG's gain",
                  compare(with_minority, minority, rg, rg_random, task, replicates, **options)),
        sync_claim(sync_table, task, sync_quantity, rg, ce, **options),
    ]
    return pd.DataFrame(table, columns=COLUMNS)


def gains_over(rows: pd.DataFrame, task: str, methods: Sequence[str], baseline: str, metrics: Sequence[str],
               replicates: Replicates | None = None, level: float = LEVEL, min_effect: float = 0.01) -> pd.DataFrame:
    """``compare(method, baseline)`` on each metric for each of ``methods`` run on ``task``: one row
    per (method, metric) with effect, low, high, n_seeds and verdict ("holds" = a gain)."""
    ran = set(rows.loc[rows["task"] == task, "method"])
    results = [compare(rows, metric, method, baseline, task, replicates, level, min_effect)
               for method in methods if method in ran and method != baseline for metric in metrics]
    return pd.DataFrame(results, columns=["method_a", "method_b", "metric", "effect", "low", "high",
                                          "n_seeds", "verdict", "detail"])
