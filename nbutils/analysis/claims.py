"""The regrouping papers' claims judged on a run's numbers: "holds", "does not hold" or "inconclusive".

Inputs are result rows (columns task, method, seed and metric columns such as ``ba``,
``macro_ap``, ``ap/<class>``, as ``metrics.evaluate`` writes them), optionally the test-image
bootstrap replicates of every run (``metrics.bootstrap_runs``: the same resampled test sets for
every run, so differences stay paired) and, for the synchronous-learning claim, per-epoch
histories (``train.fit``'s rows with ``epoch`` and ``<quantity>/<class>``, plus task, method, seed).

Every verdict comes with its effect size and an interval (columns effect, low, high) OF THE SAME
STATISTIC that decides it, and the unit of that effect (column unit): "points" (AP or BA
differences times 100) or "ln ratio" (the asynchrony). The rank claim also carries Kendall's tau
(columns kendall_tau, tau_low, tau_high), a description that does not decide its verdict.

Pairwise claims ("method a beats method b on a metric", ``compare``). Runs of a and b are
paired by seed, d_s = a_s - b_s, effect = mean of d. Every interval of this module, of
``convergence`` and of ``ablations`` comes from one function, ``effect_interval``, which adds the
two sources of noise with the degrees of freedom each is known to:
- training: the seed-to-seed variance of d, s^2 / n, estimated from n seeds (n - 1 d.o.f.);
- the finite test set: se_images^2, the variance over the B test-image bootstrap replicates of the
  seed-mean difference (``metrics.bootstrap_runs``: the same resampled test sets for every run).
  It is given B - 1 d.o.f., the Monte Carlo precision of B replicates (B = 500: known well). This
  treats the bootstrap variance as the test set's sampling variance; what it ignores is that the
  bootstrap itself is computed from ONE test set (its error as an estimate of the variance over
  test sets is not counted) and that the part of the image noise that differs between seeds is
  already in s^2 (counted twice: slightly conservative). The image part is one draw shared by all
  seeds: it does not shrink with more seeds, only with more test images.
se = sqrt(s^2 / n + se_images^2) with Welch-Satterthwaite d.o.f.
df = se^4 / ((s^2 / n)^2 / (n - 1) + se_images^4 / (B - 1)), interval = effect ± h with
h = max(t(0.975, df) * se, t(0.975, n - 1) * s / sqrt(n)) (``half_width``): never narrower than the
seeds' own t-interval. The guard is there because WS's d.o.f. are themselves estimated: when s^2
comes out small by chance they grow, t shrinks, and the interval narrows exactly when it is already
too narrow; with 3 seeds whose spread dominates (seed std 10x the image part) WS alone covered 92.9%,
at 2 seeds 88%, and adding a noise source must not narrow an interval. Without replicates it is the
t-interval over seeds (df = n - 1). ``tests/test_coverage.py`` simulates 4,000 studies per case at
the measured magnitudes (9:1: seed std 0.3-0.5 points, image part 0.35; 50:1: seed std 2-4, image
part 2.0; the image part dominating; the seeds dominating), with 3 and 8 seeds: this interval covers
the true effect in 94.7-95.9% of them; the old rule, the whole se times t(0.975, n - 1) (t = 4.3 at 3
seeds multiplying the well-measured image part too), covered 97.4-100% in ten of the twelve cases.
Then
- "holds" when low > 0 (a one-sided test of a > b at 2.5%);
- "does not hold" when high < min_effect (default 0.01, one point of AP/BA on the 0-1 scale):
  even the optimistic bound is below the smallest gain worth the name;
- "inconclusive" otherwise, and ALWAYS with one shared seed or with zero seed-to-seed spread
  (identical differences on every seed say nothing about training noise: did the seed change
  anything?). Zero spread therefore never "holds".
The claims table keeps the parts of the interval (columns se_seeds, se_images, df; se_images NaN
without replicates) so that ``convergence.decide_lines`` can say what would decide a claim.

Rank claim ("BA and AP rank methods differently", ``rankings_disagree``). What the papers say is
a statement about named pairs: a rebalancing method raises BA over its baseline while it lowers
AP (the long regrouping paper, Table 1: RUSC against CE on both binary data sets; the short one,
Table 1: WCE's BA is the best while its class-wise APs are worse; the long paper's Table 2: WCE
against CE). So the claim is tested on the pairs ``NAMED_SWAPS`` (RUSC - CE and WCE - CE) that
the run holds. For each pair, paired by seed as in ``compare``: the BA gain g = BA(a) - BA(b)
and the AP loss l = AP(b) - AP(a), where AP is the metric the paper's table shows (a binary
task: the AP of its positive, minority class; a multiclass task: macro AP, the mean of the
class-wise APs). The pair swaps when both g > 0 and l > 0; its swap statistic is min(g, l)
(positive exactly when it swaps), with lower bound min(low_g, low_l) and upper bound
min(high_g, high_l) (an intersection-union test: each part at the full level). Over the m pairs
run, the lower bounds are one-sided at 2.5% / m (Bonferroni, which is Holm's first step: for
"at least one pair swaps" Holm and Bonferroni decide alike; the detail lists every pair Holm's
procedure rejects), the upper bounds uncorrected. The claims row shows the LARGEST swap over
the pairs: effect = max of the pairs' statistics, low = max of their corrected lower bounds,
high = max of their upper bounds (points). Then
- "holds" when low > 0: some named pair raises BA and lowers AP beyond the noise, with the
  chance of a false "holds" at most 2.5% however many pairs are named;
- "does not hold" when high < min_effect: no named pair can swap by min_effect or more;
- "inconclusive" otherwise, and "not run" when no named pair was run.
Kendall's tau-b between the methods' mean BA and mean AP over every method the run holds
describes the two rankings as a whole (1 = same order, -1 = reversed). Its interval is the
2.5-97.5% percentile interval over a bootstrap that resamples TEST IMAGES (replicate r of
``metrics.bootstrap_runs`` for every run: the same resampled test set for all) and, only when
there are at least ``MIN_BOOT_SEEDS`` seeds, seeds as well; with fewer seeds a seed bootstrap
has a handful of distinct resamples (10 with 3 seeds) and is not used, so the interval covers
the test set's noise and not the training noise, and without replicates there is no interval.

Synchronous learning ("RG learns classes more synchronously", ``sync_claim``): the per-epoch
spread of each class's training representations (the paper's Fig. 5 measure, on the labels the
model is trained on: ``target_spread/<k>``; or on the hidden fine classes: ``spread/<class>``),
summarised by ``asynchrony``: the std across classes of ln(spread_t / spread_0), averaged over
the trained epochs, in natural-log units (not points: 0.35 is two classes whose contraction so
far differs by a factor exp(0.7) = 2). The effect is asynchrony(CE) - asynchrony(RG), paired by
seed as in ``compare``.
A claim whose methods or history were not run is "not run", with the reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy import stats

RUN_COLUMNS = ("task", "method", "seed")
COLUMNS = ["claim", "metric", "effect", "low", "high", "spread", "n_seeds", "verdict", "detail",
           "unit", "kendall_tau", "tau_low", "tau_high", "se_seeds", "se_images", "df"]
INTERVAL_PARTS = ("se_seeds", "se_images", "df")  # the parts of a row's interval (``EffectInterval``)
LEVEL = 0.95
POINTS, LN_RATIO = "points", "ln ratio"  # the units of the claims' effects (column unit)
# (rebalancing method, its baseline): the pairs whose BA-up-AP-down swap the papers name
NAMED_SWAPS = (("rusc", "ce"), ("wce", "ce"))
MIN_BOOT_SEEDS = 8  # fewer seeds: Kendall tau's bootstrap resamples test images only
MIN_CURVE_ROWS = 2  # the untrained row and one epoch: see asynchrony
NEEDS_EPOCHS = "not run: needs >= 1 trained epoch and the untrained row"
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


def image_differences(replicates: Replicates | None, metric: str, method_a: str, method_b: str,
                      seeds: Sequence[int]) -> np.ndarray | None:
    """(B,) the seed-mean of a - b on each test-image bootstrap replicate (None without replicates)."""
    if replicates is None:
        return None
    return np.mean([replicate_values(replicates, method_a, s, metric) - replicate_values(replicates, method_b, s, metric)
                    for s in seeds], axis=0)


@dataclass(frozen=True)
class EffectInterval:
    """A mean effect with its interval and the parts it is made of (``effect_interval``).

    se_seeds: s / sqrt(n) (NaN with one seed); se_images: the std over test-image bootstrap
    replicates of the seed-mean (NaN without them); df: the Welch-Satterthwaite degrees of freedom
    (n - 1 over seeds alone, B - 1 over images alone); low, high NaN where there is no interval."""

    mean: float
    low: float
    high: float
    df: float
    se_seeds: float
    se_images: float
    n_seeds: int
    n_boot: int = 0
    level: float = LEVEL

    @property
    def se(self) -> float:
        return float(np.sqrt(np.nansum([self.se_seeds ** 2, self.se_images ** 2])))

    @property
    def source(self) -> str:
        """'seeds + images', 'seeds' or 'images' (one seed): what the interval covers."""
        seeds, images = np.isfinite(self.se_seeds), np.isfinite(self.se_images)
        return "seeds + images" if seeds and images else "images" if images else "seeds"

    def describe(self) -> str:
        """What the interval is, in a few words, for every sentence that prints it."""
        return {"seeds + images": f"{self.level:.0%} interval over seeds and held-out images, Welch-Satterthwaite d.o.f.",
                "images": f"{self.level:.0%} interval over held-out images only (one seed)",
                "seeds": f"{self.level:.0%} t-interval over seeds"}[self.source]


def describe_source(source: str, level: float = LEVEL) -> str:
    """``EffectInterval.describe`` from a table's ``interval`` column ('seeds + images', 'seeds', 'images')."""
    return EffectInterval(np.nan, np.nan, np.nan, np.nan, 1.0 if "seeds" in source else np.nan,
                          1.0 if "images" in source else np.nan, 0, level=level).describe()


def half_width(se_seeds, n_seeds, se_images=np.nan, n_boot=0, level: float = LEVEL):
    """(half-width, Welch-Satterthwaite df) of the interval of ``effect_interval`` from its parts
    (NaN se: that part is absent); arrays broadcast. half = max(t(df) * se, t(n - 1) * se_seeds):
    never narrower than the seeds' own t-interval (module docstring: a noise source added must not
    narrow the interval, and at 2-3 seeds WS's estimated df alone under-covers when seeds dominate)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        parts = [(np.asarray(se_seeds, float) ** 2, np.asarray(n_seeds, float) - 1),
                 (np.asarray(se_images, float) ** 2, np.asarray(n_boot, float) - 1)]
        variance = sum(np.nan_to_num(v) for v, _ in parts)
        df = variance ** 2 / sum(np.nan_to_num(v ** 2 / k) for v, k in parts)
        quantile = (1 + level) / 2
        seeds_alone = np.nan_to_num(stats.t.ppf(quantile, parts[0][1]) * np.sqrt(parts[0][0]))
        return np.maximum(stats.t.ppf(quantile, df) * np.sqrt(variance), seeds_alone), df


def effect_interval(diffs: np.ndarray, image_diffs: np.ndarray | None = None, level: float = LEVEL) -> EffectInterval:
    """The interval of every effect (module docstring): the mean of ``diffs`` (n,) (per-seed paired
    differences, or per-seed values) with its ``level`` interval over seeds and, when
    ``image_diffs`` (B,) (the test-image bootstrap replicates of the seed-mean) are given, test
    images, combined by Welch-Satterthwaite: s^2 / n on n - 1 d.o.f. and var(image_diffs) on B - 1.

    The image part's B - 1 d.o.f. are the Monte Carlo precision of B replicates: it ignores that the
    bootstrap variance is itself measured on one test set, and counts the image noise that differs
    between seeds twice (it is in s^2 too), which errs on the wide side. One seed: the image part
    alone, if given, else no interval. Zero seed spread (identical differences): no interval, as
    ``compare`` judges it (identical seeds say nothing about training noise). NaN values of
    image_diffs (a resample where the metric is undefined) are left out.
    Many studies at once: diffs (..., n) and image_diffs (..., B) give an EffectInterval of arrays
    (..., ) (n_boot: the fewest finite replicates of a study), as ``tests/test_coverage.py`` uses it."""
    d = np.asarray(diffs, dtype=float)
    n = d.shape[-1]
    batch = d.ndim > 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = d.mean(axis=-1) if n else np.full(d.shape[:-1], np.nan)
        se_seeds = d.std(axis=-1, ddof=1) / np.sqrt(n) if n >= 2 else np.full(d.shape[:-1], np.nan)
        if image_diffs is None:
            n_boot, se_images = np.zeros(d.shape[:-1]), np.full(d.shape[:-1], np.nan)
        else:
            images = np.asarray(image_diffs, dtype=float)
            n_boot = np.isfinite(images).sum(axis=-1)
            if np.any(n_boot < 2):
                raise ValueError(f"image_diffs need at least 2 finite bootstrap values, got {np.min(n_boot)}")
            se_images = np.nanstd(images, axis=-1, ddof=1)
        half, df = half_width(se_seeds, n, se_images, n_boot, level)
        variance = np.nan_to_num(se_seeds ** 2) + np.nan_to_num(se_images ** 2)
        no_interval = ((n == 0) | (variance == 0) | (n == 1 and image_diffs is None)
                       | ((np.ptp(d, axis=-1) == 0) if n >= 2 else False))
        low, high, df = (np.where(no_interval, np.nan, x) for x in (mean - half, mean + half, df))
    values = (mean, low, high, df, se_seeds, se_images)
    if not batch:
        values = tuple(float(v) for v in values)
    return EffectInterval(*values, n, int(np.min(n_boot)), level)


def interval_parts(effect: EffectInterval) -> dict[str, float]:
    """The claims table's columns se_seeds, se_images, df of an interval (NaN where it has none)."""
    if not np.isfinite(effect.low):
        return dict.fromkeys(INTERVAL_PARTS, np.nan)
    return dict(se_seeds=effect.se_seeds, se_images=effect.se_images, df=effect.df)


def compare(rows: pd.DataFrame, metric: str, method_a: str, method_b: str, task: str,
            replicates: Replicates | None = None, level: float = LEVEL, min_effect: float = 0.01) -> dict:
    """Does ``method_a`` beat ``method_b`` on ``metric`` for ``task``? Paired by seed (module docstring).

    replicates: test-image bootstrap values of each (method, seed) run of this task (optional).
    Returns a dict: metric, method_a, method_b, task, effect (mean of a - b), low, high (the
    ``level`` interval, ``effect_interval``), spread (std of a - b over seeds, ddof=1), n_seeds,
    verdict, detail, and the interval's parts se_seeds, se_images (NaN without replicates), df.
    """
    diffs = paired_differences(rows, metric, method_a, method_b, task)
    n = len(diffs)
    result = dict(metric=metric, method_a=method_a, method_b=method_b, task=task, effect=np.nan,
                  low=np.nan, high=np.nan, spread=np.nan, n_seeds=n, **dict.fromkeys(INTERVAL_PARTS, np.nan))
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
    effect = effect_interval(d, image_differences(replicates, metric, method_a, method_b, diffs.index), level)
    low, high = effect.low, effect.high
    result.update(low=low, high=high, **interval_parts(effect))
    summary += f", std {spread:.3f}, {effect.describe()} (df {effect.df:.0f}) [{low:+.3f}, {high:+.3f}]"
    if low > 0:
        verdict, why = "holds", "the interval lies above 0"
    elif high < min_effect:
        verdict, why = "does not hold", f"the interval lies below the smallest gain worth claiming ({min_effect})"
    else:
        verdict, why = "inconclusive", f"the interval reaches from 0 or below to {min_effect} or above"
    return result | dict(verdict=verdict, detail=f"{summary}; {why}")


# ---------------------------------------------------------------- synchronous learning

def asynchrony(curves: np.ndarray) -> float:
    """How unevenly classes contract: 0 when every class's spread has shrunk by the same factor at
    every epoch.

    curves: (E, C) a positive per-class quantity over E rows, the first before any training: the
    spread of each class's representations around its centre (``diagnostics.class_spread``, the
    paper's Fig. 5). Each class's curve becomes ln(v_t / v_first), how much it has contracted
    (negative) or spread out so far, in natural-log units; the statistic is the std across
    classes of that (ddof=0) averaged over the rows after the first. Nothing is rescaled to 0..1:
    a class that barely contracts while another contracts tenfold is asynchronous, as in the
    paper's reading of Fig. 5 (binary labels: the majority concentrates fast, the minority late).
    A common factor on every class's value at an epoch (features that grow in size, or the share
    of the total variation instead of the paper's raw mean squared distance) cancels, so the value
    is the same on either measure. Columns that are not finite and positive in every row (a class
    absent from this run) are left out; NaN when fewer than two remain or fewer than
    ``MIN_CURVE_ROWS`` rows (the untrained row and one epoch).
    """
    v = np.asarray(curves, dtype=float)
    if v.ndim != 2 or v.shape[1] < 2:
        raise ValueError(f"curves must be (epochs, classes) with at least 2 classes, got shape {v.shape}")
    if v.shape[0] < MIN_CURVE_ROWS:
        return float("nan")
    with np.errstate(divide="ignore", invalid="ignore"):
        usable = (np.isfinite(v) & (v > 0)).all(axis=0)
        if usable.sum() < 2:
            return float("nan")
        contraction = np.log(v[1:, usable]) - np.log(v[0, usable])
    return float(contraction.std(axis=1).mean())


def asynchrony_table(history: pd.DataFrame, quantity: str = "val_ap") -> pd.DataFrame:
    """One row per run (task, method, seed) with its ``asynchrony`` over epochs of ``<quantity>/<class>``
    and ``n_epochs``, the number of history rows of the run. Columns a run does not have (NaN,
    as ``target_spread/<k>`` beyond a method's number of training labels) are left out per run."""
    missing = [c for c in (*RUN_COLUMNS, "epoch") if c not in history.columns]
    if missing:
        raise ValueError(f"history lacks columns {missing}; it needs {list(RUN_COLUMNS)}, epoch "
                         f"and one {quantity}/<class> column per class")
    columns = [c for c in history.columns if c.startswith(f"{quantity}/")]
    if len(columns) < 2:
        raise ValueError(f"history has {columns} as {quantity}/<class> columns; it needs one per class (>= 2)")
    runs = history.sort_values("epoch").groupby(list(RUN_COLUMNS), sort=False)
    table = runs[columns].apply(lambda run: asynchrony(run.dropna(axis=1, how="all").to_numpy())
                                if run.notna().any().sum() >= 2 else np.nan)
    return table.rename("asynchrony").to_frame().assign(n_epochs=runs.size()).reset_index()


def contraction_table(history: pd.DataFrame, quantity: str = "target_spread",
                      mappings: Mapping[tuple[str, int], np.ndarray | None] | None = None) -> pd.DataFrame:
    """How much and how early each class contracted, one row per run (task, method, seed) and
    class: ``class`` (the task-class index a training label ``<quantity>/<k>`` belongs to, by
    ``mappings[(method, seed)]``, None or absent: k itself; for non-integer suffixes such as
    ``spread/<fine class>``, the suffix), ``n_labels`` (its training labels), ``ln_contraction``
    (ln(v_last / v_first), the mean over its labels: -0.69 = halved) and ``halving_epoch`` (the
    first epoch at which that mean has fallen by ln 2, NaN if never): the paper's reading of
    Fig. 5, a class whose representations concentrate later halves later."""
    columns = [c for c in history.columns if c.startswith(f"{quantity}/")]
    if not columns:
        raise ValueError(f"history has no {quantity}/<class> columns; it has {list(history.columns)}")
    records = []
    for (task, method, seed), run in history.sort_values("epoch").groupby(list(RUN_COLUMNS), sort=False):
        present = [c for c in columns if run[c].notna().all() and (run[c] > 0).all()]
        if len(run) < MIN_CURVE_ROWS or not present:
            continue
        mapping = (mappings or {}).get((method, seed))
        groups: dict = {}
        for column in present:
            suffix = column.removeprefix(f"{quantity}/")
            key = int(mapping[int(suffix)]) if mapping is not None and suffix.isdigit() else \
                int(suffix) if suffix.isdigit() else suffix
            groups.setdefault(key, []).append(column)
        for key, members in groups.items():
            curve = np.log(run[members].to_numpy(float)).mean(1)
            curve = curve - curve[0]
            fallen = np.flatnonzero(curve <= -np.log(2))
            records.append({"task": task, "method": method, "seed": seed, "class": key, "n_labels": len(members),
                            "ln_contraction": float(curve[-1]),
                            "halving_epoch": float(run["epoch"].to_numpy()[fallen[0]]) if len(fallen) else np.nan})
    return pd.DataFrame(records, columns=["task", "method", "seed", "class", "n_labels", "ln_contraction",
                                          "halving_epoch"])


def claim_row(claim: str, result: dict, unit: str = POINTS) -> dict:
    """A ``compare`` result as a row of the claims table."""
    return empty_row(claim, result["metric"], unit) | {k: result[k] for k in (*COLUMNS[2:9], *INTERVAL_PARTS)}


def empty_row(claim: str, metric: str, unit: str) -> dict:
    """A claims-table row with no effect measured yet."""
    return dict(claim=claim, metric=metric, effect=np.nan, low=np.nan, high=np.nan, spread=np.nan, n_seeds=0,
                verdict="", detail="", unit=unit, kendall_tau=np.nan, tau_low=np.nan, tau_high=np.nan,
                **dict.fromkeys(INTERVAL_PARTS, np.nan))


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


# ---------------------------------------------------------------- the rank claim

def task_ap_metric(rows: pd.DataFrame, task: str, minority: str) -> str:
    """The AP the papers' tables set beside BA: a binary task's positive (minority) class's AP
    (``minority``, a column of rows), a multiclass task's macro AP."""
    part = rows[rows["task"] == task]
    n_classes = sum(1 for c in part.columns if c.startswith("ap/") and part[c].notna().any())
    return minority if n_classes == 2 else "macro_ap"


def one_sided_p(diffs: np.ndarray, image_diffs: np.ndarray | None = None) -> float:
    """p-value of "the mean of the paired differences is > 0", read from ``effect_interval``'s rule:
    the larger of the WS test's and the seeds' own t-test's, so p < alpha exactly when the one-sided
    bound at alpha lies above 0; 1 without spread (one seed, identical seeds)."""
    if len(diffs) < 2 or np.ptp(diffs) == 0:
        return 1.0
    effect = effect_interval(diffs, image_diffs)
    return float(max(stats.t.sf(effect.mean / effect.se, effect.df),
                     stats.t.sf(effect.mean / effect.se_seeds, effect.n_seeds - 1)))


def holm(p_values: Sequence[float], alpha: float) -> list[bool]:
    """Holm's step-down procedure: which hypotheses are rejected at family-wise level ``alpha``."""
    order = np.argsort(p_values, kind="stable")
    rejected = [False] * len(p_values)
    for step, i in enumerate(order):
        if p_values[i] > alpha / (len(p_values) - step):
            break
        rejected[i] = True
    return rejected


def swap_test(tables: Mapping[str, pd.DataFrame], method: str, baseline: str, ap_metric: str,
              replicates: Replicates | None, level: float, n_pairs: int) -> dict | None:
    """One named pair: BA gain and AP loss of ``method`` over ``baseline``, paired by seed; the
    swap statistic min(gain, loss) with its bounds (module docstring). tables: (seeds, methods)
    values of "ba" and ``ap_metric`` (``seed_table``). None when the pair was not run."""
    if any(name not in tables[m] for name in (method, baseline) for m in ("ba", ap_metric)):
        return None
    both = pd.concat([tables[m][[method, baseline]].add_prefix(m) for m in ("ba", ap_metric)], axis=1).dropna()
    seeds = list(both.index)
    if not seeds:
        return None
    parts = {"BA gain": (both["ba" + method] - both["ba" + baseline]).to_numpy(float),
             "AP loss": (both[ap_metric + baseline] - both[ap_metric + method]).to_numpy(float)}
    images = {"BA gain": image_differences(replicates, "ba", method, baseline, seeds),
              "AP loss": image_differences(replicates, ap_metric, baseline, method, seeds)}
    corrected, bounds, effects = 1 - (1 - level) / n_pairs, {}, {}
    for name, d in parts.items():
        if len(d) < 2 or np.ptp(d) == 0:  # no spread to judge by: no bound
            bounds[name] = (-np.inf, np.inf)
        else:
            effects[name] = effect_interval(d, images[name], level)
            bounds[name] = (effect_interval(d, images[name], corrected).low, effects[name].high)
    means = {k: float(np.mean(d)) for k, d in parts.items()}
    binding = min(bounds, key=lambda k: bounds[k][0])  # the part whose lower bound is the pair's
    return dict(pair=f"{method} - {baseline}", n_seeds=len(seeds), means=means, bounds=bounds,
                effect=min(means.values()), low=min(b[0] for b in bounds.values()),
                high=min(b[1] for b in bounds.values()), binding=effects.get(binding),
                p=max(one_sided_p(d, images[k]) for k, d in parts.items()))


def bootstrap_tau(values: dict[str, np.ndarray], replicates: dict[str, np.ndarray] | None,
                  n_boot: int, rng: np.random.Generator, min_seeds: int = MIN_BOOT_SEEDS) -> tuple[np.ndarray, str]:
    """(taus, what was resampled): Kendall tau between the BA and AP method means over bootstrap
    resamples. values[m]: (S, M) per seed for m in ("ba", "ap"); replicates[m]: (S, M, B)
    test-image bootstrap values. Resample r takes test-image replicate r of every run (the same
    resampled test set for all, r < min(B, n_boot)) and, with at least ``min_seeds`` seeds, seeds
    too (shared by every method). Without replicates, seeds alone when there are enough of them,
    else no resample at all (an empty array): a few seeds have too few distinct resamples."""
    n_seeds = values["ba"].shape[0]
    by_seed = n_seeds >= min_seeds
    if replicates is None and not by_seed:
        return np.empty(0), f"no interval: no test-image replicates and {n_seeds} seed(s) (< {min_seeds})"
    n = n_boot if replicates is None else min(n_boot, replicates["ba"].shape[2])
    taus = np.empty(n)
    for r in range(n):
        seeds = rng.integers(n_seeds, size=n_seeds) if by_seed else np.arange(n_seeds)
        ba, ap = ((values[m][seeds] if replicates is None else replicates[m][seeds, :, r]).mean(0) for m in ("ba", "ap"))
        taus[r] = stats.kendalltau(ba, ap).statistic
    source = ("held-out images and seeds" if replicates is not None and by_seed else "held-out images" if replicates is not None
              else "seeds")
    return taus, f"{n} resamples of {source}" + ("" if by_seed else f" (seeds not resampled: {n_seeds} < {min_seeds})")


def kendall(tables: Mapping[str, pd.DataFrame], ap_metric: str, replicates: Replicates | None, level: float,
            n_boot: int, seed: int) -> tuple[float, float, float, str]:
    """(tau, low, high, sentence) of BA against ``ap_metric`` over the methods run on every seed;
    tables: (seeds, methods) values of "ba" and ``ap_metric`` (``seed_table``)."""
    complete = tables["ba"].notna() & tables[ap_metric].notna()
    methods = [m for m in complete.columns if complete[m].all()]
    left_out = sorted(set(complete.columns) - set(methods))
    if len(methods) < 2:
        return np.nan, np.nan, np.nan, f"Kendall tau not measured: {len(methods)} method(s) on every seed"
    values = {k: tables[m][methods].to_numpy(dtype=float) for k, m in (("ba", "ba"), ("ap", ap_metric))}
    tau = float(stats.kendalltau(values["ba"].mean(0), values["ap"].mean(0)).statistic)
    seeds = list(complete.index)
    reps = None if replicates is None else {
        k: np.array([[replicate_values(replicates, method, s, m) for method in methods] for s in seeds])
        for k, m in (("ba", "ba"), ("ap", ap_metric))}
    taus, source = bootstrap_tau(values, reps, n_boot, np.random.default_rng(seed))
    low, high = (np.nanquantile(taus, [(1 - level) / 2, (1 + level) / 2]) if np.isfinite(taus).any()
                 else (np.nan, np.nan))
    text = (f"Kendall tau of BA vs {ap_metric} over {len(methods)} methods {tau:+.2f}"
            + (f", {level:.0%} bootstrap interval [{low:+.2f}, {high:+.2f}] ({source})" if np.isfinite(low)
               else f" ({source})") + " — describes, does not decide"
            + (f"; left out (not on every seed): {left_out}" if left_out else ""))
    return tau, float(low), float(high), text


def rankings_disagree(rows: pd.DataFrame, task: str, replicates: Replicates | None = None,
                      level: float = LEVEL, min_effect: float = 0.01, n_boot: int = 1000, seed: int = 0,
                      ap_metric: str = "macro_ap", pairs: Sequence[tuple[str, str]] = NAMED_SWAPS) -> dict:
    """Claim: BA and AP rank methods differently, tested on the papers' named pairs (module docstring).

    ap_metric: the AP column set beside BA (``task_ap_metric``: a binary task's positive-class AP,
    else macro AP). pairs: (rebalancing method, baseline) pairs, default ``NAMED_SWAPS``.
    Returns a claims-table row (``COLUMNS``): effect, low, high the largest swap statistic over
    the pairs run and its bounds (points on the 0-1 scale, as every AP/BA effect), n_seeds the
    fewest shared seeds of a pair, kendall_tau/tau_low/tau_high the description.
    """
    row = empty_row("BA and AP rank methods differently",
                    f"swap: min(BA gain, {ap_metric} loss) of {', '.join(f'{a} over {b}' for a, b in pairs)}", POINTS)
    tables = {m: seed_table(rows, m, task) for m in ("ba", ap_metric)}
    tau, tau_low, tau_high, tau_text = kendall(tables, ap_metric, replicates, level, n_boot, seed)
    row.update(kendall_tau=tau, tau_low=tau_low, tau_high=tau_high)
    ran = [(a, b) for a, b in pairs if swap_test(tables, a, b, ap_metric, None, level, 1) is not None]
    tests = [swap_test(tables, a, b, ap_metric, replicates, level, len(ran)) for a, b in ran]
    if not tests:
        return row | dict(verdict="not run", detail=f"none of the named pairs {[f'{a} - {b}' for a, b in pairs]} "
                                                    f"was run on {task!r}; {tau_text}")
    rejected = holm([t["p"] for t in tests], (1 - level) / 2)
    row.update(effect=max(t["effect"] for t in tests), low=max(t["low"] for t in tests),
               high=max(t["high"] for t in tests), n_seeds=min(t["n_seeds"] for t in tests))
    binding = max(tests, key=lambda t: t["low"])["binding"]  # the part whose bound is the row's low
    if binding is not None and np.isfinite(row["low"]):
        row.update(interval_parts(binding))
    source = ("seeds and held-out images, Welch-Satterthwaite d.o.f." if replicates is not None
              else "seeds (t-intervals)")
    lines = [f"{t['pair']} over {t['n_seeds']} seed(s): BA gain {t['means']['BA gain']:+.3f}, "
             f"{ap_metric} loss {t['means']['AP loss']:+.3f}, swap {t['effect']:+.3f} "
             f"[{t['low']:+.3f}, {t['high']:+.3f}], p {t['p']:.3g}" + (" (swaps, Holm)" if r else "")
             for t, r in zip(tests, rejected)]
    if row["low"] > 0:
        verdict, why = "holds", "a named pair raises BA and lowers AP beyond the noise"
    elif row["high"] < min_effect:
        verdict, why = "does not hold", f"no named pair can swap by {min_effect} or more"
    else:
        verdict, why = "inconclusive", "the intervals cannot tell"
    detail = (f"{why}; {len(tests)} named pair(s), intervals over {source}, lower ends one-sided at "
              f"{(1 - level) / 2 / len(tests):.4f} (Bonferroni = Holm's first step): " + "; ".join(lines)
              + f". {tau_text}")
    return row | dict(verdict=verdict, detail=detail)


def sync_claim(sync_table: pd.DataFrame | None, task: str, quantity: str, rg: str, ce: str,
               level: float, min_effect: float) -> dict:
    """Claims-table row of "RG learns classes more synchronously": asynchrony(CE) - asynchrony(RG),
    in natural-log units (``asynchrony``); ``min_effect`` is read in those units (0.01: classes'
    contraction differing by about 1%)."""
    claim, metric = "RG learns classes more synchronously", f"asynchrony of {quantity}/<class> over epochs"
    empty = empty_row(claim, metric, LN_RATIO)
    if sync_table is None:
        return empty | dict(verdict="not run", detail="no per-epoch history (sync_table) was given")
    runs = asynchrony_table(sync_table, quantity)
    runs = runs[runs["task"] == task]
    if runs.empty:
        return empty | dict(verdict="not run", detail=f"sync_table has no history for {task!r}")
    if runs["n_epochs"].max() < MIN_CURVE_ROWS:
        return empty | dict(verdict=NEEDS_EPOCHS, detail=f"the history of {task!r} has {runs['n_epochs'].max()} "
                                                         f"row(s): contraction needs {MIN_CURVE_ROWS} "
                                                         "(the untrained row and 1 epoch)")
    result = compare(runs, "asynchrony", ce, rg, task, level=level, min_effect=min_effect)
    return claim_row(claim, result | dict(metric=metric), LN_RATIO) | dict(
        detail=result["detail"] + " (asynchrony: std across classes of ln(spread_t / spread_0), mean over epochs)")


def with_auroc(row: dict, rows: pd.DataFrame, method_a: str, method_b: str, task: str, level: float,
               replicates: Replicates | None = None) -> dict:
    """A claims row whose detail also gives AUROC's paired difference a - b with its interval
    (``effect_interval``: over seeds, and test images when ``replicates`` hold "auroc"): AUROC
    weighs the whole ranking where AP weighs its top, and the two can tell different stories."""
    if "auroc" not in rows or not {method_a, method_b} <= set(rows.loc[rows["task"] == task, "method"]):
        return row
    diffs = paired_differences(rows, "auroc", method_a, method_b, task)
    d = diffs.to_numpy(dtype=float)
    if len(d) < 2:
        return row
    effect = effect_interval(d, image_differences(replicates, "auroc", method_a, method_b, diffs.index), level)
    if not np.isfinite(effect.low):
        return row | dict(detail=f"{row['detail']}; AUROC {method_a} - {method_b}: {d.mean():+.3f} over {len(d)} "
                                 "seeds (no interval: the same difference on every seed)")
    return row | dict(detail=f"{row['detail']}; AUROC {method_a} - {method_b}: {d.mean():+.3f} "
                             f"[{effect.low:+.3f}, {effect.high:+.3f}] over {len(d)} seeds ({effect.describe()})")


def judge_claims(rows: pd.DataFrame, task: str, minority_classes: Sequence[str],
                 sync_table: pd.DataFrame | None = None, *, replicates: Replicates | None = None,
                 rg: str = "rg", ce: str = "ce", rg_random: str = "rg-random", sync_quantity: str = "val_ap",
                 level: float = LEVEL, min_effect: float = 0.01, n_boot: int = 1000) -> pd.DataFrame:
    """The claims table of one task: one row per claim with columns ``COLUMNS``.

    rows: result rows (task, method, seed, ba, macro_ap, ap/<class>, ...).
    minority_classes: class names whose AP claims 1 and 3 use (their mean when several); on a
    binary task also the AP of the rank claim (a multiclass task's uses macro AP).
    sync_table: per-epoch history rows (task, method, seed, epoch, <sync_quantity>/<class>) for
    claim 4; sync_quantity "target_spread" is the paper's Fig. 5 (the training labels' spread),
    "spread" the hidden fine classes'.
    replicates: {(method, seed): {metric: (B,)}} test-image bootstrap values of this task's runs
    (``metrics.bootstrap_runs``); they add the test set's noise to every interval.
    rg, ce, rg_random: the method names of regrouping, plain cross-entropy and random regrouping.
    The two RG claims are also judged on AUROC (rows "RG raises AUROC over CE" and "Random regrouping
    does not give RG's AUROC gain", when rows have ``auroc``): AUROC weighs the whole ranking, AP its top.
    effect, low and high of every claim are oriented so that a positive effect supports it, and
    the verdict is read from them: the RG claims the mean paired difference (points), the rank claim
    the largest BA-up-AP-down swap of the named pairs (points; Kendall tau in its own columns),
    the synchrony claim asynchrony(CE) - asynchrony(RG) (ln units, see ``asynchrony``).
    """
    check_rows(rows, task)
    with_minority, minority = minority_ap(rows, minority_classes)
    options = dict(level=level, min_effect=min_effect)
    auroc = "auroc" in rows
    table = [
        with_auroc(claim_row("RG raises minority-class AP over CE",
                             compare(with_minority, minority, rg, ce, task, replicates, **options)),
                   rows, rg, ce, task, level, replicates),
        *([claim_row("RG raises AUROC over CE", compare(rows, "auroc", rg, ce, task, replicates, **options))]
          if auroc else []),
        rankings_disagree(with_minority, task, replicates, n_boot=n_boot,
                          ap_metric=task_ap_metric(with_minority, task, minority), **options),
        with_auroc(claim_row("Random regrouping does not give RG's gain",
                             compare(with_minority, minority, rg, rg_random, task, replicates, **options)),
                   rows, rg, rg_random, task, level, replicates),
        *([claim_row("Random regrouping does not give RG's AUROC gain",
                     compare(rows, "auroc", rg, rg_random, task, replicates, **options))] if auroc else []),
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
