"""Has a result converged? Two checks that a committed study's report shows (nbutils.publish).

1. **Within a run, a plateau** (:func:`plateau_table`): the mean over seeds of the smallest class's
   validation AP moves by less than :data:`PLATEAU_POINTS` (0.5 points) over the last quarter of the
   epochs. Necessary, not sufficient: inside one cosine schedule the learning rate is near 0 at the
   end, so every curve flattens there whether or not the model has fit.
2. **Across training lengths** (:func:`length_table`): the same methods trained for a short length
   and for the committed one (two run folders of one parameter file, ``epochs=`` overridden); the
   effects the papers' claims rest on (RG - CE, random - RG, oracle - CE), each a paired difference
   over seeds with its 95% t-interval, at both lengths. An answer that changes between them depended
   on the training length. And each method's own level (:func:`level_table`): a result counts as
   converged at a length when the mean over seeds of its smallest class's test AP moves by less than
   :data:`PLATEAU_POINTS` from that length to the next longer one.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from nbutils.analysis.claims import interval, paired_differences
from nbutils.analysis.markdown import bracketed
from nbutils.core.metrics import t_half_width

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


def mean_interval(diffs: np.ndarray) -> tuple[float, float, float]:
    """(mean, low, high) of paired differences (n,): their mean and 95% t-interval
    (nbutils.analysis.claims.interval); NaN where too few differences define them."""
    low, high = interval(diffs) if len(diffs) > 1 else (np.nan, np.nan)
    return (diffs.mean() if len(diffs) else np.nan), low, high


def paired_effect(rows: pd.DataFrame, metric: str, a: str, b: str, task: str) -> dict[str, float]:
    """Mean of ``metric`` (a - b) over the seeds both methods have on ``task``, in points, with its 95%
    t-interval (nbutils.analysis.claims' paired differences and interval, over seeds only)."""
    diffs = 100 * paired_differences(rows, metric, a, b, task).to_numpy(dtype=float)
    effect, low, high = mean_interval(diffs)
    return {"effect": effect, "low": low, "high": high, "n_seeds": len(diffs)}


def verdict(low: float, high: float) -> str:
    """'a > b' when the interval lies above 0, 'a < b' below, else 'undecided'."""
    if low > 0:
        return "a > b"
    if high < 0:
        return "a < b"
    return "undecided"


def length_table(runs: dict[int, pd.DataFrame], contrasts: Sequence[tuple[str, str]] = CONTRASTS,
                 metrics: Sequence[str] = ("minority_ap", "auroc")) -> pd.DataFrame:
    """Each contrast a - b per task at each training length: the paired effect over seeds (points) of
    the smallest class's AP (``minority_ap``) and of AUROC, with 95% intervals and the AP's verdict.
    runs: epochs -> that run's rows (``tables/benchmark_rows.csv``)."""
    records = []
    for epochs, rows in sorted(runs.items()):
        for task, part in rows.groupby("task", sort=False):
            part = part.assign(minority_ap=part[f"ap/{smallest_class(part)}"])
            for a, b in contrasts:
                if not {a, b} <= set(part["method"]):
                    continue
                record = {"task": task, "contrast": f"{a} - {b}", "epochs": epochs}
                for metric in metrics:
                    effect = paired_effect(part, metric, a, b, task)
                    record.update({f"{metric}": effect["effect"], f"{metric}_low": effect["low"],
                                   f"{metric}_high": effect["high"]})
                    record["n_seeds"] = effect["n_seeds"]
                record["verdict"] = verdict(record["minority_ap_low"], record["minority_ap_high"])
                records.append(record)
    return pd.DataFrame(records)


def length_markdown(table: pd.DataFrame) -> str:
    """:func:`length_table` as a Markdown table, one row per task and contrast, one column per length."""
    lengths = sorted(table["epochs"].unique())
    header = ("| task | effect (a - b) | " + " | ".join(f"minority AP, {e} epochs | AUROC, {e} epochs" for e in lengths)
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


def level_table(runs: dict[int, pd.DataFrame], points: float = PLATEAU_POINTS) -> pd.DataFrame:
    """Per task and method trained at two lengths or more, at each length: the smallest class's test AP
    (%, mean and std over seeds; a method trained on one seed is left out), and to the next longer
    length its change (points, paired over the seeds both have, with its 95% t-interval) and
    ``converged``: |change| < points (None at the longest length).
    runs: epochs -> that run's rows (``tables/benchmark_rows.csv``)."""
    lengths = sorted(runs)
    levels = {}
    for epochs in lengths:
        rows = runs[epochs]
        for task, part in rows.groupby("task", sort=False):
            minority = f"ap/{smallest_class(part)}"
            for method, group in part.groupby("method", sort=False):
                if group["seed"].nunique() > 1:  # one seed (e.g. a CAM notebook's training) cannot judge a change
                    levels[task, method, epochs] = 100 * group.set_index("seed")[minority].astype(float)
    records = []
    lengths_of = Counter((task, method) for task, method, _ in levels)
    for (task, method, epochs), ap in levels.items():
        if lengths_of[(task, method)] < 2:  # trained at one length only: nothing to compare
            continue
        record = {"task": task, "method": method, "epochs": epochs, "n_seeds": len(ap),
                  "minority_ap": ap.mean(), "std": ap.std(ddof=1) if len(ap) > 1 else np.nan,
                  "next_epochs": None, "change": np.nan, "change_low": np.nan, "change_high": np.nan, "converged": None}
        longer = [e for e in lengths if e > epochs and (task, method, e) in levels]
        if longer:
            change, low, high = mean_interval((levels[task, method, longer[0]] - ap).dropna().to_numpy())
            record.update(next_epochs=longer[0], change=change, change_low=low, change_high=high,
                          converged=bool(abs(change) < points))
        records.append(record)
    return pd.DataFrame(records)


def level_markdown(table: pd.DataFrame) -> str:
    """:func:`level_table` as a Markdown table: one row per task and method, its AP at each length and
    each change to the next length with its interval and the rule's answer."""
    lengths = sorted(table["epochs"].unique())
    steps = list(zip(lengths, lengths[1:]))
    header = ("| task | method | " + " | ".join(f"{e} epochs" for e in lengths) + " | "
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
            lines.append(f"- **{task}**: " + "; ".join(parts) + ".")
    return "\n".join(lines)


def seeds_to_decide(effect: float, std: float, min_effect: float = 0.01, level: float = 0.95,
                    most: int = 200) -> int | None:
    """The fewest seeds whose t-interval of the mean would decide a paired effect, if its mean and
    seed std stayed as measured: the interval lying above 0 ('holds') or below ``min_effect`` ('does not
    hold'), as nbutils.analysis.claims.compare decides. None when ``most`` seeds would not (or std is unknown).
    A lower bound: it leaves out the test-image part of the claims' intervals."""
    if not np.isfinite(effect) or not np.isfinite(std):
        return None
    for n in range(2, most + 1):
        half = float(t_half_width(std, n, level))
        if effect - half > 0 or effect + half < min_effect:
            return n
    return None


def decide_lines(claims: pd.DataFrame, min_effect: float = 0.01) -> str:
    """For each inconclusive claim with a paired seed std (claims.csv's ``spread``): how many seeds
    would decide it at the measured mean and std, or, when its seeds would decide it already, that its
    test-image part is what leaves it undecided."""
    lines = []
    for r in claims[(claims["verdict"] == "inconclusive") & claims["spread"].notna()].itertuples():
        n = seeds_to_decide(r.effect, r.spread, min_effect)
        need = (f"about {n} seeds" if n and n > r.n_seeds else
                f"no more seeds (their part of the interval decides it from {n}); the test images' part is what "
                "leaves it undecided, so it needs a larger test split" if n else
                "more than 200 seeds (the mean is too close to the bounds)")
        points = getattr(r, "unit", "points") == "points"
        scale, unit = (100, " points") if points else (1, f" ({r.unit})")
        lines.append(f"- *{r.task}* — {r.claim}: mean {scale * r.effect:+.{1 if points else 3}f}, seed std "
                     f"{scale * r.spread:.{1 if points else 3}f}{unit} over {r.n_seeds} seeds; deciding it at this mean "
                     f"and std needs {need}.")
    return "\n".join(lines)
