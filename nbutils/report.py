"""What a notebook leaves in its run folder (figures as PNG, tables as CSV and JSON, the metrics a
regression run compares) and the papers' published numbers to set beside ours."""
from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd

from nbutils.metrics import format_mean_std, summarize

# The papers' method names -> this project's method names.
PAPER_METHODS = {
    "CE": "ce", "ERM(CE)": "ce", "RG+CE": "rg", "RG": "rg", "WCE": "wce", "Focal": "focal",
    "LDAM": "ldam", "LA": "la", "AP": "ap", "ROS": "ros", "Oversampling": "ros", "Undersampling": "rus",
    "RUSC": "rusc", "DSMT": "deepsmote", "SMOTE": "smote", "Borderline-SMOTE": "borderline-smote",
    "Data Augmentation": "augment", "RG+WCE": "rg-wce", "RG-WCE": "rg-wce", "CLIP+MLP": "mlp-probe",
}


class RunFolder:
    """A notebook's outputs under ``run_dir``: ``figures/NAME.png``, ``tables/NAME.{csv,json}``,
    ``metrics/NAME.json``."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        for sub in ("figures", "tables", "metrics"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def save_figure(self, fig, name: str):
        """Write ``fig`` as PNG and return it, so a notebook cell still shows it inline."""
        fig.savefig(self.path / "figures" / f"{name}.png", dpi=110, bbox_inches="tight")
        return fig

    def save_table(self, table: pd.DataFrame, name: str) -> pd.DataFrame:
        table.to_csv(self.path / "tables" / f"{name}.csv", index=not isinstance(table.index, pd.RangeIndex))
        table.reset_index().to_json(self.path / "tables" / f"{name}.json", orient="records", indent=1)
        return table

    def save_metrics(self, metrics: dict[str, Any], name: str) -> dict[str, Any]:
        """Flat {key: number} a regression run compares against its reference."""
        clean = {k: (None if v is None or (isinstance(v, float) and np.isnan(v)) else float(v))
                 for k, v in metrics.items()}
        (self.path / "metrics" / f"{name}.json").write_text(json.dumps(clean, indent=1, sort_keys=True))
        return clean


def regression_metrics(rows: pd.DataFrame, metrics: tuple[str, ...] = ("ba", "macro_ap")) -> dict[str, float]:
    """{'<task>/<method>/<metric>': mean over seeds} for the regression reference."""
    means = rows.groupby(["task", "method"])[list(metrics)].mean()
    return {f"{task}/{method}/{m}": float(means.loc[(task, method), m])
            for task, method in means.index for m in metrics}


# Sources whose tables print fractions (0.74) where the others print percentages (74.0).
FRACTION_SOURCES = ("balancing-act",)
COUNT_METRICS = ("TP", "FP", "TN", "FN")


def paper_results(dataset: str | None = None, source: str | None = None) -> pd.DataFrame:
    """The papers' published numbers, as percentages, filtered by a dataset substring and source,
    with a ``method_here`` column naming our method (NaN where we have none)."""
    with resources.files("nbutils").joinpath("resources/paper_tables.csv").open() as f:
        table = pd.read_csv(f)
    fraction = table["source"].isin(FRACTION_SOURCES) & ~table["metric"].isin(COUNT_METRICS)
    table.loc[fraction, ["mean", "std"]] *= 100
    if dataset:
        table = table[table["dataset"].str.contains(dataset, case=False, regex=False)]
    if source:
        table = table[table["source"] == source]
    return table.assign(method_here=table["method"].map(PAPER_METHODS))


def beside_papers(ours: pd.DataFrame, papers: pd.DataFrame, metric: str, column: str,
                  paper_class: str = "all", paper_metric: str | None = None) -> pd.DataFrame:
    """One row per method: our ``metric`` (mean ± std over seeds, %) beside each paper's
    ``paper_metric`` (default ``metric.upper()``) for class ``paper_class``.
    ours: result rows (task, method, seed, metrics); ``column`` heads our numbers."""
    mine = format_mean_std(summarize(ours, by=("method",), metrics=[metric]), [metric])[metric].rename(column)
    pick = papers[(papers["metric"] == (paper_metric or metric.upper())) & (papers["class"] == paper_class)]
    pick = pick.dropna(subset=["method_here"])
    theirs = pick.assign(value=[f"{m:.1f}" if np.isnan(s) else f"{m:.1f} ± {s:.1f}"
                                for m, s in zip(pick["mean"], pick["std"])],
                         paper=pick["source"] + " " + pick["table"])
    wide = theirs.pivot_table(index="method_here", columns="paper", values="value", aggfunc="first")
    return pd.concat([mine, wide], axis=1).rename_axis("method")


def read_run_metrics(run_dir: str | Path) -> dict[str, float]:
    """Every notebook's metrics of a run folder, as {'<notebook metrics file>/<key>': value}."""
    merged = {}
    for path in sorted(Path(run_dir).glob("metrics/*.json")):
        merged.update({f"{path.stem}/{k}": v for k, v in json.loads(path.read_text()).items()})
    return merged


def compare_metrics(actual: dict[str, float], reference: dict[str, float],
                    tolerance: float | Callable[[str], float]) -> list[str]:
    """What differs between a run's metrics and the reference: missing or extra keys, and values
    further apart than the tolerance (absolute; a number, or a function of the key). An empty
    list means the run matches."""
    allowed = tolerance if callable(tolerance) else (lambda key: tolerance)
    problems = [f"missing: {k}" for k in sorted(set(reference) - set(actual))]
    problems += [f"not in the reference: {k}" for k in sorted(set(actual) - set(reference))]
    for key in sorted(set(reference) & set(actual)):
        a, r, tol = actual[key], reference[key], allowed(key)
        if (a is None) != (r is None) or (a is not None and abs(a - r) > tol):
            problems.append(f"{key}: {a} vs reference {r} (tolerance {tol})")
    return problems
