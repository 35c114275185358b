"""Ablations of regrouping: which of its choices decide whether it helps (notebook 05).

The long regrouping paper's appendix B ablates the encoder, the clustering, K and the
aggregation one at a time. :func:`design` lays out that one-factor-at-a-time grid around RG's
defaults (every factor at its base level but one), adds the interactions asked for (the full
product of two or more factors, the others at base), and gives every cell a method entry for
``nbutils.methods.registry.run_cached`` and a label that names how it differs from the base. The loss
factor picks the method: ``rg`` (CE on the pseudo-classes), ``rg-wce`` or ``rg-focal``.

The helpers after it read a run's rows back per cell: the cells of one factor, each cell's
cluster NMI beside its minority-AP gain over CE (:func:`gain_vs_nmi`, :func:`plot_gain_vs_nmi`),
how well NMI predicts the gain (:func:`nmi_gain_correlation`), and which cells' intervals clear
CE's (:func:`clear_of_baseline`). Every sentence a notebook prints is made here from those numbers.

Every interval of a mean here is the claims' (``nbutils.analysis.claims.effect_interval``): the gains
over CE come from ``claims.compare`` (over seeds and test images when replicates are given), a cell's
own level over seeds and, with replicates, test images (Welch-Satterthwaite d.o.f.); each sentence says
which. The NMI-gain correlation is a rank statistic, not a mean: its interval is a percentile
bootstrap over seeds (:func:`nmi_gain_correlation`).
"""
from __future__ import annotations

import itertools
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from scipy import stats

from nbutils.analysis.claims import EffectInterval, effect_interval, gains_over
from nbutils.data.imagesets import Task
from nbutils.methods.encoders import ENCODERS, check_encoder_options
from nbutils.methods.registry import Result, check_method, method_spec, not_applicable, run_cached
from nbutils.methods.regroup import AGGREGATIONS, CLUSTERINGS, n_clusters_per_class
from nbutils.methods.settings import RegroupOptions

FACTORS = ("encoder", "clustering", "n_clusters", "aggregate", "loss")
RG_BY_LOSS = {"ce": "rg", "wce": "rg-wce", "focal": "rg-focal"}  # the loss factor -> the RG method
BASE_LABEL = "rg (defaults)"
NMI = "cluster_nmi_within"  # NMI of the majority class's clusters with its hidden fine labels


@dataclass(frozen=True)
class Cell:
    """One setting of every factor: ``levels`` {factor: value}, ``label`` (how it differs from the
    base, or ``BASE_LABEL``) and ``entry`` (the method entry that trains it)."""

    label: str
    levels: dict[str, Any]
    entry: dict[str, Any] = field(hash=False)


def base_levels(regroup: dict[str, Any]) -> dict[str, Any]:
    """The run's regrouping settings (RegroupOptions' defaults filled in) as factor levels, loss 'ce'."""
    options = RegroupOptions(**{k: v for k, v in regroup.items() if k != "encoder_options"})
    return {"encoder": options.encoder, "clustering": options.clustering, "n_clusters": options.n_clusters,
            "aggregate": options.aggregate, "loss": "ce"}


def check_level(factor: str, value: Any) -> None:
    """ValueError naming the valid choices unless ``value`` is a level of ``factor``."""
    valid = {"encoder": list(ENCODERS), "clustering": list(CLUSTERINGS), "aggregate": list(AGGREGATIONS),
             "loss": list(RG_BY_LOSS)}
    if factor not in FACTORS:
        raise ValueError(f"unknown factor {factor!r}; valid: {', '.join(FACTORS)}")
    if factor == "n_clusters":
        if value != "auto":
            n_clusters_per_class(np.array([10, 2]), value)  # raises, naming the valid rules
    elif value not in valid[factor]:
        raise ValueError(f"unknown {factor} {value!r}; valid: {', '.join(map(str, valid[factor]))}")


def label(levels: dict[str, Any], base: dict[str, Any]) -> str:
    """'encoder=simclr, clustering=gmm': the levels that differ from ``base``, in FACTORS order."""
    changed = [f"{f}={levels[f]}" for f in FACTORS if levels[f] != base[f]]
    return ", ".join(changed) or BASE_LABEL


def runnable(levels: dict[str, Any]) -> bool:
    """False for the one combination Regrouper refuses: n_clusters='auto' with random groups."""
    return not (levels["n_clusters"] == "auto" and levels["clustering"] == "random")


def method_entry(levels: dict[str, Any], encoder_options: dict[str, dict]) -> dict[str, Any]:
    """The ``run_cached`` entry of a cell: its RG method with the cell's regrouping options."""
    return {"name": RG_BY_LOSS[levels["loss"]], "encoder": levels["encoder"],
            "encoder_options": dict(encoder_options.get(levels["encoder"], {})),
            "clustering": levels["clustering"], "n_clusters": levels["n_clusters"], "aggregate": levels["aggregate"]}


def design(factors: dict[str, Sequence], regroup: dict[str, Any], interactions: Sequence[Sequence[str]] = (),
           encoder_options: dict[str, dict] | None = None) -> list[Cell]:
    """The cells of a one-factor-at-a-time ablation around ``regroup`` (the base), then the full
    product of each group of factors in ``interactions`` (others at base), without duplicates
    and without the combinations Regrouper refuses (:func:`runnable`).

    factors: {factor: levels}, factor one of FACTORS; a factor left out stays at its base level.
    encoder_options: {encoder: its options} (default: the base encoder's ``regroup['encoder_options']``).
    Checked up front: unknown factors, levels or encoder options are ValueErrors naming the valid ones.
    """
    base = base_levels(regroup)
    options = {base["encoder"]: regroup.get("encoder_options", {}), **(encoder_options or {})}
    for factor, levels in factors.items():
        for value in levels:
            check_level(factor, value)
    for encoder, opts in options.items():
        check_encoder_options(encoder, opts)
    for group in interactions:
        missing = [f for f in group if f not in factors]
        if missing or len(group) < 2:
            raise ValueError(f"interaction {list(group)} needs two or more factors listed in factors "
                             f"({', '.join(factors)}); missing: {missing}")
    settings = [base] + [{**base, factor: value} for factor, levels in factors.items() for value in levels]
    for group in interactions:
        settings += [{**base, **dict(zip(group, values))} for values in itertools.product(*(factors[f] for f in group))]
    cells, seen = [], set()
    for levels in settings:
        key = label(levels, base)
        if key not in seen and runnable(levels):
            seen.add(key)
            cells.append(Cell(key, levels, method_entry(levels, options)))
    return cells


def cells_varying(cells: Sequence[Cell], factors: Sequence[str]) -> list[Cell]:
    """The base cell and the cells that differ from it in ``factors`` only (every other factor at base)."""
    base = next(c for c in cells if c.label == BASE_LABEL).levels
    return [c for c in cells if all(c.levels[f] == base[f] for f in FACTORS if f not in factors)]


def one_factor(cells: Sequence[Cell], factor: str) -> list[Cell]:
    """The base cell and the cells that differ from it in ``factor`` only."""
    return cells_varying(cells, [factor])


def run_all(tasks: dict[str, Task], task_specs: dict[str, dict], cells: Sequence[Cell], baselines: Sequence[str],
            seeds: Sequence[int], run_dir: str | Path, **settings: Any) -> dict[tuple[str, str, int], Result]:
    """Every cell and baseline method x seed x task through ``methods.run_cached`` (finished runs
    load from ``run_dir``): {(task, cell label or method, seed): Result}. Entries are checked before
    anything trains; a baseline a task cannot run (rg-oracle without fine labels) is left out. The
    warning of a run whose argmax is one class for every test image is not repeated: it stays in the
    run's row (column ``warning``), which a notebook counts."""
    entries = {**{c.label: c.entry for c in cells}, **{m: m for m in baselines}}
    for entry in entries.values():
        check_method(entry, **settings)
    with warnings.catch_warnings():  # each row keeps its warning; at 50:1 most runs' argmax is one class
        warnings.filterwarnings("ignore", message=".*collapsed: predicts one class", category=UserWarning)
        return {(name, key, seed): run_cached(task, task_specs[name], entry, seed, run_dir, **settings)
                for name, task in tasks.items() for key, entry in entries.items()
                if not_applicable(method_spec(entry)[0], task) is None for seed in seeds}


def result_rows(results: dict[tuple[str, str, int], Result], cells: Sequence[Cell]) -> pd.DataFrame:
    """One row per result of :func:`run_all`, its ``method`` the cell's label (so the interval and
    gain helpers of ``nbutils.core.metrics`` and ``nbutils.analysis.claims`` treat a cell as a method), with a
    column ``level/<factor>`` per factor for the cells (empty for the baselines)."""
    levels = {c.label: c.levels for c in cells}
    return pd.DataFrame([{**r.row, "method": label, **{f"level/{f}": str(v) for f, v in levels.get(label, {}).items()}}
                         for (_, label, _), r in results.items()])


def gain_vs_nmi(rows: pd.DataFrame, task: str, cells: Sequence[Cell], metric: str, baseline: str = "ce",
                replicates: Any = None) -> pd.DataFrame:
    """Per cell: mean cluster NMI (``NMI`` column, over seeds) beside its gain over ``baseline`` on
    ``metric`` (paired by seed, ``claims.compare``: effect, low, high, verdict)."""
    gains = gains_over(rows, task, [c.label for c in cells], baseline, [metric], replicates).set_index("method_a")
    nmi = rows[rows.task == task].groupby("method")[NMI].mean()
    table = pd.DataFrame([{"cell": c.label, **{f: c.levels[f] for f in FACTORS}, "nmi": nmi.get(c.label, np.nan)}
                          for c in cells if c.label in gains.index]).set_index("cell")
    return table.join(gains[["effect", "low", "high", "n_seeds", "verdict"]])


MIN_BOOT_SEEDS = 5  # fewest seeds whose bootstrap resamples vary enough for a percentile interval


def nmi_gain_correlation(rows: pd.DataFrame, task: str, cells: Sequence[Cell], metric: str,
                         baseline: str = "ce", n_boot: int = 2000, seed: int = 0) -> dict[str, float]:
    """Spearman's rho between the cells' mean NMI and mean gain over ``baseline`` on ``metric``,
    with a 95% percentile interval from resampling seeds (the same seeds for every cell, so a
    seed that helps every cell moves them together). Needs 3+ cells with an NMI and 2+ seeds;
    otherwise rho and its interval are NaN; with fewer than ``MIN_BOOT_SEEDS`` seeds the interval is NaN."""
    task_rows = rows[rows.task == task]
    base = task_rows[task_rows.method == baseline].set_index("seed")[metric]
    labels = [c.label for c in cells]
    wide = task_rows[task_rows.method.isin(labels)].pivot_table(index="seed", columns="method", values=[metric, NMI])
    seeds = sorted(set(wide.index) & set(base.index))
    out = {"rho": np.nan, "low": np.nan, "high": np.nan, "n_cells": 0, "n_seeds": len(seeds)}
    if NMI not in wide or not seeds:
        return out
    gain = wide[metric].loc[seeds].sub(base.loc[seeds], axis=0)
    nmi = wide[NMI].loc[seeds]
    keep = [c for c in gain.columns if c in nmi.columns and nmi[c].notna().all() and gain[c].notna().all()]
    out["n_cells"] = len(keep)
    if len(keep) < 3 or len(seeds) < 2:
        return out
    g, n = gain[keep].to_numpy(), nmi[keep].to_numpy()
    rho = lambda idx: stats.spearmanr(n[idx].mean(0), g[idx].mean(0)).statistic  # noqa: E731
    if len(seeds) < MIN_BOOT_SEEDS:  # 3 seeds have 10 distinct resamples: a percentile interval of them is no interval
        return {**out, "rho": float(rho(np.arange(len(seeds))))}
    rng = np.random.default_rng(seed)
    boots = np.array([rho(rng.integers(0, len(seeds), len(seeds))) for _ in range(n_boot)])
    low, high = np.nanquantile(boots, [0.025, 0.975])
    return {**out, "rho": float(rho(np.arange(len(seeds)))), "low": float(low), "high": float(high)}


def correlation_sentence(corr: dict[str, float], task: str) -> str:
    """What :func:`nmi_gain_correlation` measured, in words chosen by its interval."""
    if np.isnan(corr["rho"]):
        return (f"*{task}*: too few cells with a cluster NMI ({corr['n_cells']}) or seeds ({corr['n_seeds']}) "
                "to measure whether NMI predicts the gain.")
    if np.isnan(corr["low"]):
        return (f"*{task}*: Spearman's rho between cluster NMI and the gain over CE is {corr['rho']:+.2f} over "
                f"{corr['n_cells']} cells; with {corr['n_seeds']} seeds a bootstrap over seeds cannot vary enough to "
                f"give an interval (at least {MIN_BOOT_SEEDS} needed), so these cells do not show whether NMI "
                "predicts the gain.")
    where = ("above 0: cells whose clusters match the fine labels more closely gain more" if corr["low"] > 0 else
             "below 0: cells whose clusters match the fine labels more closely gain less" if corr["high"] < 0 else
             "includes 0: these cells do not show whether NMI predicts the gain")
    return (f"*{task}*: Spearman's rho between cluster NMI and the gain over CE is {corr['rho']:+.2f} over "
            f"{corr['n_cells']} cells (95% percentile bootstrap interval over {corr['n_seeds']} seeds {corr['low']:+.2f} to "
            f"{corr['high']:+.2f}); the interval {where}.")


def level_interval(values: pd.Series, replicates: Any = None, metric: str = "") -> EffectInterval:
    """The interval of one method's mean ``metric`` over seeds (values indexed by seed), with its test-image
    part when ``replicates`` ({(method, seed): {metric: (B,)}}) hold every seed's run; ``values.name``
    is the method."""
    values = values.dropna()
    runs = [(values.name, s) for s in values.index]
    images = None
    if replicates is not None and runs and all(metric in replicates.get(run, {}) for run in runs):
        images = np.mean([replicates[run][metric] for run in runs], axis=0)
    return effect_interval(values.to_numpy(dtype=float), images)


def clear_of_baseline(rows: pd.DataFrame, task: str, labels: Sequence[str], metric: str,
                      baseline: str = "ce", replicates: Any = None) -> pd.DataFrame:
    """Each cell's mean and 95% interval on ``metric`` beside the baseline's (``claims.effect_interval``:
    over seeds, and test images when ``replicates`` of this task are given), and whether the two
    intervals do not overlap with the cell above ('above'), below ('below') or they overlap
    ('overlap'); sorted by the cell's mean, highest first. ``attrs['interval']`` says what the
    intervals are. (The paired gain of :func:`gain_vs_nmi` is the sharper comparison: the test set's
    noise, shared by both, cancels in it.)"""
    task_rows = rows[(rows.task == task) & rows.method.isin([*labels, baseline])]
    if baseline not in set(task_rows.method):
        raise ValueError(f"baseline {baseline!r} has no rows on task {task!r}")
    effects = {method: level_interval(part.set_index("seed")[metric].rename(method), replicates, metric)
               for method, part in task_rows.groupby("method", sort=False)}
    summary = pd.DataFrame({"mean": {m: e.mean for m, e in effects.items()},
                            "low": {m: e.low for m, e in effects.items()},
                            "high": {m: e.high for m, e in effects.items()},
                            "n_seeds": {m: e.n_seeds for m, e in effects.items()}})
    low, high = summary["low"], summary["high"]
    table = summary.drop(index=baseline)
    table["vs_" + baseline] = np.where(table["low"] > high[baseline], "above",
                                       np.where(table["high"] < low[baseline], "below", "overlap"))
    unjudged = table["low"].isna() | np.isnan(low[baseline])
    table.loc[unjudged, "vs_" + baseline] = "no interval"
    table.attrs["baseline"] = {"mean": summary.loc[baseline, "mean"], "low": low[baseline], "high": high[baseline]}
    table.attrs["interval"] = effects[baseline].describe()
    return table.sort_values("mean", ascending=False)


def goal_sentence(table: pd.DataFrame, task: str, metric: str) -> str:
    """Whether any cell's interval on ``metric`` lies above the baseline's (:func:`clear_of_baseline`)."""
    base = table.attrs["baseline"]
    column = next(c for c in table.columns if c.startswith("vs_"))
    above = table[table[column] == "above"]
    best = table.index[0]
    what = table.attrs.get("interval", "95% t-interval over seeds")
    ce = f"{column[3:]} {100 * base['mean']:.1f} ({what}: {100 * base['low']:.1f} to {100 * base['high']:.1f})"
    if (table[column] == "no interval").all():
        return (f"*{task}*, {metric}: with one seed there are no intervals to compare; the highest mean is "
                f"`{best}` {100 * table.loc[best, 'mean']:.1f} against {column[3:]} {100 * base['mean']:.1f}.")
    if len(above):
        names = ", ".join(f"`{c}` {100 * above.loc[c, 'mean']:.1f} ({100 * above.loc[c, 'low']:.1f} to "
                          f"{100 * above.loc[c, 'high']:.1f})" for c in above.index)
        return f"*{task}*, {metric}: {len(above)} RG cell(s) have intervals wholly above {ce}: {names}."
    return (f"*{task}*, {metric}: no RG cell's interval lies wholly above {ce}; the highest mean is `{best}` "
            f"{100 * table.loc[best, 'mean']:.1f} ({100 * table.loc[best, 'low']:.1f} to "
            f"{100 * table.loc[best, 'high']:.1f}), and {int((table[column] == 'below').sum())} of "
            f"{len(table)} cells lie wholly below it.")


def ranked_sentence(values: pd.DataFrame, what: str, task: str) -> str:
    """'highest: a 0.71 (0.69 to 0.73), then b 0.65 (...); the intervals of the first two (do not)
    overlap' from a table with columns mean, low, high indexed by name, sorted here."""
    ranked = values.sort_values("mean", ascending=False)
    if ranked.empty:
        return f"*{task}*: no {what} was measured."
    parts = [f"`{name}` {r['mean']:.3f} ({r['low']:.3f} to {r['high']:.3f})" for name, r in ranked.iterrows()]
    text = f"*{task}*, {what} (mean, 95% t-interval over seeds), highest first: " + ", ".join(parts)
    if len(ranked) > 1:
        first, second = ranked.iloc[0], ranked.iloc[1]
        if np.isnan(first["low"]) or np.isnan(second["high"]):
            return text + "; without an interval (one seed) the order is not judged."
        overlap = first["low"] <= second["high"]
        text += (f"; the intervals of the first two {'overlap' if overlap else 'do not overlap'}"
                 f"{'' if overlap else f': `{ranked.index[0]}` leads'}")
    return text + "."


def interval_of_means(rows: pd.DataFrame, by: str, metric: str) -> pd.DataFrame:
    """mean, low, high (``claims.effect_interval`` over the runs, i.e. seeds: a 95% t-interval) of
    ``metric`` per value of column ``by``."""
    effects = {key: effect_interval(part[metric].dropna().to_numpy(dtype=float))
               for key, part in rows.groupby(by, sort=False)}
    return pd.DataFrame({"mean": {k: e.mean for k, e in effects.items()}, "low": {k: e.low for k, e in effects.items()},
                         "high": {k: e.high for k, e in effects.items()}})


def plot_gain_vs_nmi(points: pd.DataFrame, metric: str, ax=None, title: str = ""):
    """One point per cell of :func:`gain_vs_nmi` (x: cluster NMI, y: gain in points with its 95%
    interval as a bar), coloured by encoder, marked by clustering; a line at no gain."""
    from nbutils.analysis import plots

    fig, ax = plots.single_panel(ax, size=(6.0, 4.2))
    encoders = list(dict.fromkeys(points["encoder"]))
    markers = dict(zip(dict.fromkeys(points["clustering"]), "osD^vP*X"))
    colours = dict(zip(encoders, plots.palette(len(encoders))))
    for cell, p in points.iterrows():
        y, low, high = 100 * p.effect, 100 * p.low, 100 * p.high
        err = None if np.isnan(low) else [[y - low], [high - y]]
        ax.errorbar(p.nmi, y, yerr=err, fmt=markers[p.clustering], color=colours[p.encoder], capsize=2, alpha=0.85)
    for name, colour in colours.items():
        ax.plot([], [], "o", color=colour, label=name)
    for name, marker in markers.items():
        ax.plot([], [], marker, color="grey", label=name)
    ax.axhline(0, color="black", lw=0.8, ls="--")
    ax.set_xlabel("cluster NMI with the hidden fine labels (majority class)")
    ax.set_ylabel(f"gain over CE in {metric} (points)")
    ax.legend(fontsize=7, ncols=2, loc="best")
    ax.set_title(title)
    return fig


EXTERNAL_WEIGHTS = ("clip",)  # encoders whose weights may be missing offline


def available_encoders(names: Sequence[str], encoder_options: dict[str, dict]) -> tuple[list[str], dict[str, str]]:
    """The encoders of ``names`` that can be built here, and {encoder: why not} for the others. Only
    encoders with external weights (``EXTERNAL_WEIGHTS``: CLIP, from the hub or a checkpoint) are
    built to find out; the others ship with the packages."""
    import torch

    usable, missing = [], {}
    for name in names:
        if name in EXTERNAL_WEIGHTS:
            try:
                ENCODERS[name](torch.device("cpu"), **check_encoder_options(name, encoder_options.get(name, {})))
            except (RuntimeError, FileNotFoundError, ImportError, OSError) as error:
                missing[name] = str(error)
                continue
        usable.append(name)
    return usable, missing
