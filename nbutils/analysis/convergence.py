"""Has a result converged? Two checks that a committed study's report shows (nbutils.publish).

1. **Within a run, a plateau** (:func:`plateau_table`): the mean over seeds of the smallest class's
   validation AP moves by less than :data:`PLATEAU_POINTS` (0.5 points) over the last quarter of the
   epochs. Necessary, not sufficient: inside one cosine schedule the learning rate is near 0 at the
   end, so every curve flattens there whether or not the model has fit.
2. **Across training lengths** (:func:`length_table`): the same methods trained for a short length
   and for the committed one (two run folders of one parameter file, ``epochs=`` overridden); the
   effects the papers' claims rest on (RG - CE, random - RG, oracle - CE), each a paired difference
   over seeds with its 95% interval, at both lengths. An answer that changes between them depended
   on the training length. And each method's own level (:func:`level_table`): a result counts as
   converged at a length when the mean over seeds of its smallest class's test AP moves by less than
   :data:`PLATEAU_POINTS` from that length to the next longer one.

Every interval here is the claims' (``nbutils.analysis.claims.effect_interval``): over seeds and, when
the test-image bootstrap replicates of each length are given (``replicates``: {epochs: {task:
{(method, seed): {metric: (B,)}}}}, as ``metrics.save_replicates`` writes ``tables/replicates.npz``),
test images, with Welch-Satterthwaite d.o.f.; over seeds alone (a t-interval) otherwise. The tables
say which in a column ``interval`` ("seeds + images" or "seeds"). The minority AP of the length
tables is the smallest class's AP (:func:`smallest_class`), so its replicate metric is ``ap/<class>``.

What would decide an undecided claim (:func:`seeds_to_decide`, :func:`positives_to_decide`,
:func:`decide_lines`): the same interval at more seeds, its seed part shrinking as 1/sqrt(seeds) and
its image part not at all (one test set); where the image part alone is too wide for any number of
seeds, the held-out positives (minority test images) that would decide it, taking the image se to
scale as 1/sqrt(positives).
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from nbutils.analysis.claims import (Replicates, describe_source, effect_interval, half_width, image_differences,
                                     paired_differences)
from nbutils.analysis.markdown import bracketed

PLATEAU_POINTS = 0.5
# (method a, method b): the effect a - b, in the order the papers' questions ask them
CONTRASTS: tuple[tuple[str, str], ...] = (("rg", "ce"), ("rg-random", "rg"), ("rg-oracle", "ce"),
                                          ("rg-oracle-balanced", "ce"))


def smallest_class(rows: pd.DataFrame) -> str:
    """The smallest class of a task's rows: the last ``ap/`` column with values (the classes are in the
    task's order, largest first for one-vs-rest tasks and long tails)."""
    return [c for c in rows.columns if c.startswith("ap/") and rows[c].notna().any()][-1].removeprefix("ap/")


def validation_curves(run_dir: Path) -> pd.DataFrame:
    """Validation AP of each task's smallest class by epoch for every finished training of ``run_dir``:
    one row per (task, method, seed, epoch), with the class's name (``class``; a history's ``val_ap/``
    columns are in the task's class order, so its last is the smallest class)."""
    records = []
    for path in sorted((Path(run_dir) / "results").glob("*/*/*/row.json")):
        row, history_path = json.loads(path.read_text()), path.parent / "history.csv"
        if not history_path.is_file():
            continue
        history = pd.read_csv(history_path)
        columns = [c for c in history.columns if c.startswith("val_ap/")]
        if not columns:
            continue
        records += [{"task": row["task"], "class": columns[-1].removeprefix("val_ap/"), "method": row["method"],
                     "seed": row["seed"], "epoch": int(e) + 1, "val_ap": v}
                    for e, v in zip(history["epoch"], history[columns[-1]])]
    return pd.DataFrame(records, columns=["task", "class", "method", "seed", "epoch", "val_ap"])


def plateau_table(curves: pd.DataFrame, points: float = PLATEAU_POINTS) -> pd.DataFrame:
    """Per task and method: the mean over seeds of the smallest class's validation AP at the last epoch
    (%), its change over the last quarter of the epochs (points) and ``plateaued``: |change| < points.
    curves: :func:`validation_curves`."""
    records = []
    for (task, method), part in curves.groupby(["task", "method"], sort=False):
        mean = part.groupby("epoch")["val_ap"].mean()
        last = int(mean.index.max())
        start = max(1, last - max(1, last // 4))
        change = 100 * (mean[last] - mean[start])
        records.append({"task": task, "method": method, "epochs": last, "n_seeds": part["seed"].nunique(),
                        "val_ap": 100 * mean[last], "from_epoch": start, "change": change,
                        "plateaued": bool(abs(change) < points)})
    return pd.DataFrame(records)


def plateau_lines(table: pd.DataFrame, points: float = PLATEAU_POINTS) -> str:
    """Sentences generated from :func:`plateau_table`: per task, how many methods plateaued, naming
    those that did not."""
    lines = []
    for task, part in table.groupby("task", sort=False):
        moving = part[~part["plateaued"]]
        named = ", ".join(f"{r.method} ({r.change:+.1f} since epoch {r.from_epoch})" for r in moving.itertuples())
        lines.append(f"- **{task}**: {len(part) - len(moving)} of {len(part)} methods plateaued (validation AP of "
                     f"the smallest class moved by less than {points} points over the last quarter of the epochs)"
                     + (f"; still moving: {named}." if len(moving) else "."))
    return "\n".join(lines)


def mean_interval(diffs: np.ndarray, image_diffs: np.ndarray | None = None) -> tuple[float, float, float]:
    """(mean, low, high) of paired differences (n,): their mean and 95% interval
    (nbutils.analysis.claims.effect_interval: over seeds, and test images when ``image_diffs`` (B,),
    the bootstrap replicates of the seed-mean, are given); NaN where too few differences define them."""
    effect = effect_interval(np.asarray(diffs, dtype=float), image_diffs)
    return effect.mean, effect.low, effect.high


def replicate_metric(rows: pd.DataFrame, metric: str) -> str:
    """The replicate metric of a length-table metric: ``minority_ap`` is ``ap/<smallest class>``."""
    return f"ap/{smallest_class(rows)}" if metric == "minority_ap" else metric


def run_replicates(replicates: Replicates | None, metric: str, runs: Sequence[tuple[str, int]]) -> Replicates | None:
    """``replicates`` when every run of ``runs`` has ``metric`` in them, else None (seeds only)."""
    if replicates is None or not all(metric in replicates.get(run, {}) for run in runs):
        return None
    return replicates


def paired_effect(rows: pd.DataFrame, metric: str, a: str, b: str, task: str,
                  replicates: Replicates | None = None) -> dict:
    """Mean of ``metric`` (a - b) over the seeds both methods have on ``task``, in points, with its 95%
    interval (nbutils.analysis.claims' paired differences and effect_interval): over seeds and test
    images when ``replicates`` ({(method, seed): {metric: (B,)}} of this task) hold every run's
    metric (``minority_ap``: ``ap/<smallest class>``), over seeds otherwise; ``interval`` says which."""
    diffs = paired_differences(rows, metric, a, b, task)
    key = replicate_metric(rows[rows["task"] == task], metric)
    usable = run_replicates(replicates, key, [(m, s) for m in (a, b) for s in diffs.index])
    images = image_differences(usable, key, a, b, diffs.index)
    effect = effect_interval(100 * diffs.to_numpy(dtype=float), None if images is None else 100 * images)
    return {"effect": effect.mean, "low": effect.low, "high": effect.high, "n_seeds": effect.n_seeds,
            "interval": "seeds" if usable is None else "seeds + images"}


def verdict(low: float, high: float) -> str:
    """'a > b' when the interval lies above 0, 'a < b' below, else 'undecided'."""
    if low > 0:
        return "a > b"
    if high < 0:
        return "a < b"
    return "undecided"


def interval_column(sources: dict[str, str]) -> str:
    """The ``interval`` cell of a row whose metrics' intervals came from ``sources`` {metric: source}."""
    if len(set(sources.values())) == 1:
        return next(iter(sources.values()))
    return "; ".join(f"{metric}: {source}" for metric, source in sources.items())


def length_table(runs: dict[int, pd.DataFrame], contrasts: Sequence[tuple[str, str]] = CONTRASTS,
                 metrics: Sequence[str] = ("minority_ap", "auroc"),
                 replicates: dict[int, dict[str, Replicates]] | None = None) -> pd.DataFrame:
    """Each contrast a - b per task at each training length: the paired effect over seeds (points) of
    the smallest class's AP (``minority_ap``) and of AUROC, with 95% intervals and the AP's verdict.
    runs: epochs -> that run's rows (``tables/benchmark_rows.csv``); replicates: epochs -> {task:
    {(method, seed): {metric: (B,)}}}, the test-image bootstrap of that length (optional): with them
    the intervals are the claims' (seeds and held-out images), else over seeds; column ``interval`` says which."""
    records = []
    for epochs, rows in sorted(runs.items()):
        for task, part in rows.groupby("task", sort=False):
            part = part.assign(minority_ap=part[f"ap/{smallest_class(part)}"])
            task_replicates = (replicates or {}).get(epochs, {}).get(task)
            for a, b in contrasts:
                if not {a, b} <= set(part["method"]):
                    continue
                record, sources = {"task": task, "contrast": f"{a} - {b}", "epochs": epochs}, {}
                for metric in metrics:
                    effect = paired_effect(part, metric, a, b, task, task_replicates)
                    record.update({f"{metric}": effect["effect"], f"{metric}_low": effect["low"],
                                   f"{metric}_high": effect["high"]})
                    record["n_seeds"], sources[metric] = effect["n_seeds"], effect["interval"]
                record["verdict"] = verdict(record["minority_ap_low"], record["minority_ap_high"])
                record["interval"] = interval_column(sources)
                records.append(record)
    return pd.DataFrame(records)


def interval_note(table: pd.DataFrame) -> str:
    """What the intervals of a length or level table are, from its ``interval`` column (tables written
    before that column: over seeds)."""
    sources = sorted(set(table["interval"].dropna())) if "interval" in table else ["seeds"]
    if len(sources) == 1 and sources[0] in ("seeds", "seeds + images"):
        return describe_source(sources[0])
    return "95% intervals: " + ", ".join(sources) + " (column interval)"


def length_markdown(table: pd.DataFrame) -> str:
    """:func:`length_table` as a Markdown table, one row per task and contrast, one column per length."""
    lengths = sorted(table["epochs"].unique())
    header = (f"| task | effect (a - b; {interval_note(table)}) | " + " | ".join(f"minority AP, {e} epochs | AUROC, {e} epochs" for e in lengths)
              + " | answer changes? |\n|" + "---|" * (3 + 2 * len(lengths)))
    lines = [header]
    for (task, contrast), part in table.groupby(["task", "contrast"], sort=False):
        part = part.set_index("epochs")
        cells = []
        for e in lengths:
            if e not in part.index:
                cells += ["", ""]
                continue
            r = part.loc[e]
            cells += [f"{bracketed(r.minority_ap, r.minority_ap_low, r.minority_ap_high)} ({r.verdict})",
                      bracketed(r.auroc, r.auroc_low, r.auroc_high, digits=2)]
        verdicts = set(part["verdict"])
        changes = "yes" if len(verdicts) > 1 else "no"
        lines.append(f"| {task} | {contrast} | " + " | ".join(cells) + f" | {changes} |")
    return "\n".join(lines)


def level_table(runs: dict[int, pd.DataFrame], points: float = PLATEAU_POINTS,
                replicates: dict[int, dict[str, Replicates]] | None = None) -> pd.DataFrame:
    """Per task and method trained at two lengths or more, at each length: the smallest class's test AP
    (%, mean and std over seeds; a method trained on one seed is left out), and to the next longer
    length its change (points, paired over the seeds both have, with its 95% interval) and
    ``converged``: |change| < points (None at the longest length).
    runs: epochs -> that run's rows (``tables/benchmark_rows.csv``); replicates: epochs -> {task:
    {(method, seed): {metric: (B,)}}} (optional), the test-image bootstrap of each length on the SAME
    resampled test sets (``bootstrap_runs`` with one seed on one test split): with both lengths' the
    change's interval is over seeds and held-out images, else over seeds (column ``interval``)."""
    lengths = sorted(runs)
    levels, keys = {}, {}
    for epochs in lengths:
        rows = runs[epochs]
        for task, part in rows.groupby("task", sort=False):
            minority = f"ap/{smallest_class(part)}"
            for method, group in part.groupby("method", sort=False):
                if group["seed"].nunique() > 1:  # one seed (e.g. a CAM notebook's training) cannot judge a change
                    levels[task, method, epochs] = 100 * group.set_index("seed")[minority].astype(float)
                    keys[task] = minority
    records = []
    lengths_of = Counter((task, method) for task, method, _ in levels)
    for (task, method, epochs), ap in levels.items():
        if lengths_of[(task, method)] < 2:  # trained at one length only: nothing to compare
            continue
        record = {"task": task, "method": method, "epochs": epochs, "n_seeds": len(ap),
                  "minority_ap": ap.mean(), "std": ap.std(ddof=1) if len(ap) > 1 else np.nan,
                  "next_epochs": None, "change": np.nan, "change_low": np.nan, "change_high": np.nan, "converged": None,
                  "interval": None}
        longer = [e for e in lengths if e > epochs and (task, method, e) in levels]
        if longer:
            changes = (levels[task, method, longer[0]] - ap).dropna()
            images = change_replicates(replicates, task, method, keys[task], epochs, longer[0], list(changes.index))
            change, low, high = mean_interval(changes.to_numpy(), images)
            record.update(next_epochs=longer[0], change=change, change_low=low, change_high=high,
                          converged=bool(abs(change) < points),
                          interval="seeds" if images is None else "seeds + images")
        records.append(record)
    return pd.DataFrame(records)


def change_replicates(replicates: dict[int, dict[str, Replicates]] | None, task: str, method: str, metric: str,
                      short: int, long: int, seeds: Sequence[int]) -> np.ndarray | None:
    """(B,) the seed-mean change long - short of ``metric`` (points) on each test-image replicate, or None
    unless both lengths' replicates hold every seed's run."""
    both = [(replicates or {}).get(e, {}).get(task) for e in (short, long)]
    if any(r is None or run_replicates(r, metric, [(method, s) for s in seeds]) is None for r in both):
        return None
    return 100 * np.mean([both[1][method, s][metric] - both[0][method, s][metric] for s in seeds], axis=0)


def level_markdown(table: pd.DataFrame) -> str:
    """:func:`level_table` as a Markdown table: one row per task and method, its AP at each length and
    each change to the next length with its interval and the rule's answer."""
    lengths = sorted(table["epochs"].unique())
    steps = list(zip(lengths, lengths[1:]))
    header = (f"| task | method (mean ± std over seeds; change: {interval_note(table)}) | "
              + " | ".join(f"{e} epochs" for e in lengths) + " | "
              + " | ".join(f"{a} → {b}: change (converged at {a}?)" for a, b in steps)
              + " |\n|" + "---|" * (2 + len(lengths) + len(steps)))
    lines = [header]
    for (task, method), part in table.groupby(["task", "method"], sort=False):
        part = part.set_index("epochs")
        cells = [f"{part.loc[e, 'minority_ap']:.1f} ± {part.loc[e, 'std']:.1f}" if e in part.index else ""
                 for e in lengths]
        for a, b in steps:
            r = part.loc[a] if a in part.index else None
            if r is None or r["next_epochs"] != b:
                cells.append("")
                continue
            cells.append(f"{bracketed(r['change'], r['change_low'], r['change_high'])} "
                         f"({'yes' if r['converged'] else 'no'})")
        lines.append(f"| {task} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def level_lines(table: pd.DataFrame, epochs: int, points: float = PLATEAU_POINTS) -> str:
    """Sentences generated from :func:`level_table` about the length ``epochs`` (a study's own): per task,
    how many methods converged there by the rule; of the others, which still rose (the change's
    interval lies above 0), which fell (below 0: longer training over-fits) and which the seeds' spread
    leaves undecided (it covers 0). A converged method
    whose interval reaches beyond ``points`` is named with it: its mean is flat, its seeds do not show
    that it is. Methods not trained beyond ``epochs`` are named with their change from the length before."""
    def named(part: pd.DataFrame) -> str:
        return ", ".join(f"{r.method} ({bracketed(r.change, r.change_low, r.change_high)})" for r in part.itertuples())

    lines = []
    for task, part in table[table["epochs"] == epochs].groupby("task", sort=False):
        before = table[(table["task"] == task) & (table["next_epochs"] == epochs)].set_index("method")
        unchecked = before.loc[before.index.intersection(part.loc[part["converged"].isna(), "method"])].reset_index()
        part = part[part["converged"].notna()]
        parts = []
        if len(part):
            converged = part[part["converged"].astype(bool)]
            others = part.drop(converged.index)
            rising, falling = others[others["change_low"] > 0], others[others["change_high"] < 0]
            undecided = others.drop(rising.index.union(falling.index))
            loose = converged[(converged["change_low"] < -points) | (converged["change_high"] > points)]
            nxt = int(part["next_epochs"].iloc[0])
            parts.append(f"{len(converged)} of {len(part)} methods converged at {epochs} epochs (mean minority "
                         f"test AP moved by less than {points} points from {epochs} to {nxt} epochs)")
            if len(loose):
                parts.append(f"of these, the seeds' intervals still allow more: {named(loose)}")
            if len(rising):
                parts.append(f"still rising at {epochs} (the interval lies above 0): {named(rising)}")
            if len(falling):
                parts.append(f"falling when trained longer (the interval lies below 0: over-fitting): {named(falling)}")
            if len(undecided):
                parts.append(f"moved by {points} points or more on average, within the seeds' spread: {named(undecided)}")
        for first, group in unchecked.groupby("epochs", sort=True):  # each method's length before this one
            early = group[group["converged"].astype(bool)]
            late = group.drop(early.index)
            if len(early):
                parts.append(f"not trained beyond {epochs}, converged at {first} already: {named(early)}")
            if len(late):
                parts.append(f"not trained beyond {epochs}, still moving from {first} to {epochs}: {named(late)}")
        if parts:
            lines.append(f"- **{task}**: " + "; ".join(parts) + f" (changes: {interval_note(table[table['task'] == task])}).")
    return "\n".join(lines)


def decides(effect: float, half: np.ndarray, min_effect: float) -> np.ndarray:
    """Whether an interval effect ± half decides a claim as ``claims.compare`` does: above 0 ('holds') or
    below ``min_effect`` ('does not hold')."""
    return (effect - half > 0) | (effect + half < min_effect)


def seeds_to_decide(effect: float, std: float, min_effect: float = 0.01, level: float = 0.95,
                    most: int = 200, se_images: float = np.nan, n_boot: int = 500) -> int | None:
    """The fewest seeds whose interval (``claims.effect_interval``'s rule, ``claims.half_width``) would
    decide a paired effect if its mean, its paired seed std and its test-image part ``se_images`` stayed
    as measured: the seed part std / sqrt(n) shrinks with seeds, the image part (one test set, n_boot
    replicates) does not. 'Decide': the interval above 0 ('holds') or below ``min_effect`` ('does not
    hold'), as nbutils.analysis.claims.compare decides. None when ``most`` seeds would not (or std is
    unknown). Without ``se_images`` (NaN: a claims table without it) over seeds alone, a lower bound."""
    if not np.isfinite(effect) or not np.isfinite(std):
        return None
    n = np.arange(2, most + 1)
    half, _ = half_width(std / np.sqrt(n), n, se_images, n_boot, level)
    hits = np.flatnonzero(decides(effect, half, min_effect))
    return int(n[hits[0]]) if len(hits) else None


def images_alone_decide(effect: float, se_images: float, min_effect: float = 0.01, level: float = 0.95,
                        n_boot: int = 500) -> bool:
    """Whether the test-image part alone (the limit of infinitely many seeds) leaves room to decide."""
    return not np.isfinite(se_images) or bool(decides(effect, float(half_width(0.0, 10 ** 9, se_images, n_boot,
                                                                                  level)[0]), min_effect))


def positives_to_decide(effect: float, std: float, n_seeds: int, se_images: float, positives: int | None = None,
                        min_effect: float = 0.01, level: float = 0.95, n_boot: int = 500,
                        most_factor: float = 100.0) -> float | None:
    """How many held-out positives (minority test images) would decide a claim at ``n_seeds`` seeds,
    assuming the image se scales as 1/sqrt(positives) and the mean and seed std stay as measured: the
    fewest (an integer) when ``positives``, the current count, is given, else the factor on the current
    count (two decimals). None when ``most_factor`` times the positives would not, or the seed part
    alone is too wide at ``n_seeds`` seeds. (WS's d.o.f. fall as the image part shrinks, so the width
    is not monotone in the positives: every count is tried.)"""
    if not (np.isfinite(effect) and np.isfinite(std) and np.isfinite(se_images)) or n_seeds < 2:
        return None
    factors = (np.arange(positives + 1, int(np.ceil(most_factor * positives)) + 1) / positives if positives
               else np.round(np.arange(1.01, most_factor + 0.005, 0.01), 2))
    half, _ = half_width(std / np.sqrt(n_seeds), n_seeds, se_images / np.sqrt(factors), n_boot, level)
    hits = np.flatnonzero(decides(effect, half, min_effect))
    if not len(hits):
        return None
    return int(round(factors[hits[0]] * positives)) if positives else float(factors[hits[0]])


def claim_positives(row, positives: int | dict[str, int] | None) -> int | None:
    """The current held-out positives of a claims row: its ``positives`` column, else ``positives`` (one
    count, or {task: count})."""
    value = getattr(row, "positives", None)
    if value is None or not np.isfinite(value):
        value = positives.get(getattr(row, "task", None)) if isinstance(positives, dict) else positives
    return None if value is None else int(value)


def decide_lines(claims: pd.DataFrame, min_effect: float = 0.01, positives: int | dict[str, int] | None = None,
                 n_boot: int = 500) -> str:
    """For each inconclusive claim with a paired seed std (claims.csv's ``spread``): how many seeds would
    decide it at the measured mean, seed std and test-image part (columns ``se_images``; claims tables
    written before that column: over seeds alone, as then), or, when the image part alone is too wide for
    any number of seeds, how many held-out positives would (``positives``: the current count, one or
    {task: count}, or a ``positives`` column; without it, as a factor on the current count)."""
    lines = []
    for r in claims[(claims["verdict"] == "inconclusive") & claims["spread"].notna()].itertuples():
        se_images = float(getattr(r, "se_images", np.nan))
        has_images = np.isfinite(se_images)
        n = seeds_to_decide(r.effect, r.spread, min_effect, se_images=se_images, n_boot=n_boot)
        points = getattr(r, "unit", "points") == "points"
        scale, unit = (100, " points") if points else (1, f" ({r.unit})")
        digits = 1 if points else 3
        if n and n > r.n_seeds:
            need = f"about {n} seeds" + (" (at this test split: its image part does not shrink with seeds)"
                                         if has_images else "")
        elif n:
            need = (f"no more seeds (their part of the interval decides it from {n}); the held-out images' part is what "
                    "leaves it undecided, so it needs a larger test split")
        elif has_images and not images_alone_decide(r.effect, se_images, min_effect, n_boot=n_boot):
            current = claim_positives(r, positives)
            more = positives_to_decide(r.effect, r.spread, r.n_seeds, se_images, current, min_effect, n_boot=n_boot)
            half = scale * float(half_width(0.0, 10 ** 9, se_images, n_boot)[0])
            seeds_alone = float(half_width(r.spread / np.sqrt(r.n_seeds), r.n_seeds)[0])
            need = (f"more held-out images, not seeds: the image part alone is ±{half:.{digits}f}{unit.rstrip()} however many "
                    "seeds; " + (f"and at {r.n_seeds} seeds the seeds' part alone is too wide too, so it needs more "
                                 "seeds and a larger test split" if not decides(r.effect, seeds_alone, min_effect) else
                                 "no larger test split up to 100 times this one would at "
                                 f"{r.n_seeds} seeds" if more is None else
                                 f"about {more} held-out positives (now {current}) would at {r.n_seeds} seeds"
                                 if current else f"about {more:.2f} times the held-out positives would at {r.n_seeds} "
                                                 "seeds") + " (image se taken to scale as 1/sqrt(positives))")
        else:
            need = "more than 200 seeds (the mean is too close to the bounds)"
        what = ("95% interval over seeds and held-out images, Welch-Satterthwaite d.o.f." if has_images
                else "95% t-interval over seeds, held-out images left out")
        lines.append(f"- *{r.task}* — {r.claim}: mean {scale * r.effect:+.{digits}f}, seed std "
                     f"{scale * r.spread:.{digits}f}{unit}"
                     + (f", image se {scale * se_images:.{digits}f}" if has_images else "")
                     + f" over {r.n_seeds} seeds; deciding it ({what}) at this mean and spread needs {need}.")
    return "\n".join(lines)
