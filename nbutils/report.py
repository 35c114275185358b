"""What a notebook leaves in its run folder (figures as PNG, tables as CSV and JSON, the metrics a
regression run compares) and the papers' published numbers to set beside ours.

    python -m nbutils.report RUN_FOLDER    # writes RUN_FOLDER/report.html (nbutils.html_report)
"""
from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd

from nbutils.metrics import accuracy_from_confusion, interval_table

# The papers' method names -> this project's method names (every method of paper_tables.csv).
# The LMF paper's names carry the backbone first ("ResNet50 LMF Loss"); ``paper_method`` strips it.
PAPER_METHODS = {
    "CE": "ce", "ERM(CE)": "ce", "Baseline": "ce", "Cross-entropy": "ce", "RG+CE": "rg", "RG": "rg",
    "WCE": "wce", "Focal": "focal", "Focal Loss": "focal", "LDAM": "ldam", "LDAM Loss": "ldam",
    "LMF Loss": "lmf", "LA": "la", "AP": "ap", "ROS": "ros", "Oversampling": "ros", "Undersampling": "rus",
    "RUSC": "rusc", "DSMT": "deepsmote", "SMOTE": "smote", "Borderline-SMOTE": "borderline-smote",
    "Data Augmentation": "augment", "RG+WCE": "rg-wce", "RG-WCE": "rg-wce", "CLIP+MLP": "mlp-probe",
}
BACKBONES = ("EfficientNetV2", "ResNet50")
# How our methods are named in tables where the name alone would mislead.
METHOD_LABELS = {"ap": "ap (SOAP)"}
SOAP_NOTE = ("Our `ap` is SOAP (Du et al. 2021; LibAUC's AveragePrecisionLoss); the regrouping papers' "
             "AP row is Chen et al.'s AP-loss (2019), a different surrogate of AP.")
# Each published table: its kind (the task kind it stands beside). Names are the dataset column
# of paper_tables.csv before its " (...)" details.
PAPER_TABLE_KINDS = {
    "binary CIFAR-100": "binary", "binary HAM10000": "binary", "chest X-ray pneumonia": "binary",
    "HAM10000 multiclass": "multiclass", "HAM10000": "multiclass", "ISIC-2019": "multiclass",
    "ODIR-5K": "multiclass",
}
# paper_dataset "auto" (or None): the tables each task kind stands beside.
AUTO_TABLES = {"binary": ("binary HAM10000", "binary CIFAR-100"), "multiclass": ("HAM10000 multiclass", "HAM10000")}
AUTO = "auto"


class RunFolder:
    """A notebook's outputs under ``run_dir``: ``figures/NAME.{png,pdf}``, ``tables/NAME.{csv,json}``,
    ``metrics/NAME.json``."""

    def __init__(self, run_dir: str | Path):
        self.path = Path(run_dir)
        for sub in ("figures", "tables", "metrics"):
            (self.path / sub).mkdir(parents=True, exist_ok=True)

    def save_figure(self, fig, name: str):
        """Write ``fig`` as ``figures/NAME.png`` (for the report) and ``figures/NAME.pdf`` (vector,
        for papers) and return it, so a notebook cell still shows it inline."""
        for suffix, options in ((".png", {"dpi": 110}), (".pdf", {})):
            fig.savefig(self.path / "figures" / f"{name}{suffix}", bbox_inches="tight", **options)
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


def method_label(method: str) -> str:
    """How a method of ours is named in a table (``METHOD_LABELS``; else its name)."""
    return METHOD_LABELS.get(method, method)


def paper_method(source: str, name: str) -> tuple[str, str]:
    """(our method, backbone) of a paper's method name; backbone "" unless the name starts with one."""
    backbone = next((b for b in BACKBONES if name.startswith(b + " ")), "")
    base = name.removeprefix(backbone).strip()
    if base not in PAPER_METHODS:
        raise ValueError(f"{source} method {name!r} has no entry in report.PAPER_METHODS; add one")
    return PAPER_METHODS[base], backbone


def read_paper_tables() -> pd.DataFrame:
    """paper_tables.csv as percentages, with columns ``name`` (the table's short dataset name),
    ``method_here`` (our method) and ``backbone``."""
    with resources.files("nbutils").joinpath("resources/paper_tables.csv").open() as f:
        table = pd.read_csv(f)
    fraction = table["source"].isin(FRACTION_SOURCES) & ~table["metric"].isin(COUNT_METRICS)
    table.loc[fraction, ["mean", "std"]] *= 100
    ours = [paper_method(s, m) for s, m in zip(table["source"], table["method"])]
    return table.assign(name=table["dataset"].str.split(" (", regex=False).str[0],
                        method_here=[m for m, _ in ours], backbone=[b for _, b in ours])


def paper_datasets() -> list[str]:
    """The names ``paper_dataset`` may take besides "auto" (the published tables)."""
    return list(PAPER_TABLE_KINDS)


def check_paper_dataset(name: str | None) -> str | None:
    """The published table ``name`` means (None for "auto"/None), or a clear error listing the
    valid names. Case-insensitive; a part of exactly one name (e.g. "chest X-ray") also works."""
    if name is None or name.lower() == AUTO:
        return None
    names = paper_datasets()
    exact = [n for n in names if n.lower() == name.lower()]
    partial = [n for n in names if name.lower() in n.lower()]
    if exact or len(partial) == 1:
        return (exact or partial)[0]
    why = f"matches several tables {partial}" if partial else "is not a published table"
    raise ValueError(f"paper_dataset {name!r} {why}; valid: {[AUTO, *names]} "
                     "(auto = the tables of each task's kind: binary or multiclass)")


def paper_results(dataset: str | None = None, source: str | None = None) -> pd.DataFrame:
    """The papers' published numbers, as percentages, for the table ``dataset`` (a name of
    ``paper_datasets``; None or "auto": all) and ``source``, with columns ``name``,
    ``method_here`` (our method) and ``backbone``."""
    table = read_paper_tables()
    name = check_paper_dataset(dataset)
    if name:
        table = table[table["name"] == name]
    if source:
        table = table[table["source"] == source]
    return table


def task_kind(classes: Sequence[str]) -> str:
    """"binary" for two classes, else "multiclass"."""
    return "binary" if len(classes) == 2 else "multiclass"


def tables_for_task(classes: Sequence[str], paper_dataset: str | None = AUTO) -> tuple[list[str], str]:
    """(published tables to set beside a task with ``classes``, a sentence saying why).

    "auto"/None: the tables of the task's kind (``AUTO_TABLES``). A named table of the task's
    kind: that table. A named table of the other kind: the task's kind's tables, and the
    sentence says the named one was not used for this task."""
    kind, name = task_kind(classes), check_paper_dataset(paper_dataset)
    if name and PAPER_TABLE_KINDS[name] == kind:
        return [name], f"the published *{name}* table, as `paper_dataset` asks"
    chosen = list(AUTO_TABLES[kind])
    why = f"the published {kind} tables {', '.join(f'*{t}*' for t in chosen)}, as the task is {kind}"
    if name:
        why += f" (`paper_dataset` names *{name}*, a {PAPER_TABLE_KINDS[name]} table, which does not fit this task)"
    return chosen, why


def paper_metrics(source: str, classes: Sequence[str]) -> list[tuple[str, str, str, str]]:
    """Each paper's own metrics beside ours: (label, our column, paper metric, paper class).

    Regrouping papers: BA and AP (binary: AP of the positive class, our class 1; multiclass:
    macro AP, the mean of their per-class APs). LMF: macro F1 and accuracy. Balancing Act: BA,
    and F1 and recall of its positive class (pneumonia; our class 1)."""
    positive = classes[1] if len(classes) == 2 else None
    if source.startswith("regrouping"):
        ap = ("AP of the positive class", f"ap/{positive}", "AP", "pos") if positive else \
             ("macro AP", "macro_ap", "AP", "mean")
        return [("BA", "ba", "BA", "all"), ap]
    if source == "lmfloss":
        return [("macro F1", "macro_f1", "macro F1", "all"), ("accuracy", "accuracy", "accuracy", "all")]
    if source == "balancing-act":
        if not positive:
            raise ValueError("Balancing Act's table is binary (pneumonia vs normal); the task has "
                             f"{len(classes)} classes")
        return [("BA", "ba", "BA", "all"), ("F1 of the positive class", f"f1/{positive}", "F1", "pneumonia"),
                ("recall of the positive class", f"recall/{positive}", "recall", "pneumonia")]
    raise ValueError(f"no metrics known for paper source {source!r}")


def published_values(papers: pd.DataFrame, metric: str, paper_class: str) -> pd.DataFrame:
    """(method_here, column, value) strings of one metric: "mean ± std" as printed, or for class
    "mean" the mean over the per-class values (std not derivable: mean alone)."""
    pick = papers[papers["metric"] == metric]
    column = pick["source"] + " " + pick["table"] + np.where(pick["backbone"] != "", " " + pick["backbone"], "")
    pick = pick.assign(column=column)
    if paper_class == "mean":
        per_class = pick[pick["class"] != "all"]
        means = per_class.groupby(["method_here", "column"], sort=False)["mean"].mean().reset_index()
        return means.assign(value=[f"{m:.1f}" for m in means["mean"]])
    pick = pick[pick["class"] == paper_class]
    return pick.assign(value=[f"{m:.1f}" if np.isnan(s) else f"{m:.1f} ± {s:.1f}"
                              for m, s in zip(pick["mean"], pick["std"])])


def with_accuracy(rows: pd.DataFrame) -> pd.DataFrame:
    """rows with an ``accuracy`` column, derived from ``confusion`` for rows that lack it
    (results cached before ``evaluate`` wrote accuracy)."""
    derived = [accuracy_from_confusion(c) for c in rows["confusion"]] if "confusion" in rows else np.nan
    if "accuracy" not in rows:
        return rows.assign(accuracy=derived)
    return rows.assign(accuracy=rows["accuracy"].fillna(pd.Series(derived, index=rows.index)))


def beside_papers(ours: pd.DataFrame, classes: Sequence[str], paper_dataset: str | None = AUTO,
                  replicates: Mapping | None = None, level: float = 0.95) -> tuple[pd.DataFrame, str]:
    """One task's numbers beside the published tables of its kind (``tables_for_task``), each
    paper with its own metrics (``paper_metrics``): one row per method (ours and the papers'),
    columns "<metric>: ours" (mean ± half-width of the ``level`` interval, %, see
    ``metrics.interval_table``) and "<metric>: <source> <table> [backbone]" (as published).
    Returns (table, a Markdown sentence saying which tables and why).
    ours: result rows of this task; classes: its class names (class 1 = positive if binary)."""
    names, why = tables_for_task(classes, paper_dataset)
    papers = read_paper_tables()
    papers = papers[papers["name"].isin(names)]
    ours = with_accuracy(ours)
    columns = {}
    for source in papers["source"].unique():
        for label, column, metric, paper_class in paper_metrics(source, classes):
            if f"{label}: ours" not in columns:
                columns[f"{label}: ours"] = interval_table(ours, [column], replicates, level)[column]
            theirs = published_values(papers[papers["source"] == source], metric, paper_class)
            wide = theirs.pivot_table(index="method_here", columns="column", values="value", aggfunc="first")
            columns.update({f"{label}: {c}": wide[c] for c in wide.columns})
    table = pd.DataFrame(columns).rename_axis("method")
    table.index = [method_label(m) for m in table.index]
    return table.rename_axis("method"), f"Beside {why}."


def read_run_metrics(run_dir: str | Path) -> dict[str, float]:
    """Every notebook's metrics of a run folder, as {'<notebook metrics file>/<key>': value}."""
    merged = {}
    for path in sorted(Path(run_dir).glob("metrics/*.json")):
        merged.update({f"{path.stem}/{k}": v for k, v in json.loads(path.read_text()).items()})
    return merged


def read_summary(run_dir: str | Path) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(per-notebook records, provenance) of a run's ``summary.json``: {"notebooks": [...],
    "provenance": {...}} (``nbutils.provenance``), or the older plain list of records (no
    provenance). ([], {}) when the run wrote no summary yet."""
    path = Path(run_dir) / "summary.json"
    if not path.is_file():
        return [], {}
    summary = json.loads(path.read_text())
    if isinstance(summary, list):
        return summary, {}
    return summary.get("notebooks", []), summary.get("provenance", {})


def signed_interval(effect: float, low: float, high: float, scale: float = 100) -> str:
    """"+5.2 (95% interval +1.0 to +9.4)" in points (values times ``scale``); no interval when NaN."""
    if np.isnan(effect):
        return "no value"
    text = f"{effect * scale:+.1f}"
    return text if np.isnan(low) else f"{text} (95% interval {low * scale:+.1f} to {high * scale:+.1f})"


def claims_markdown(claims: pd.DataFrame) -> str:
    """Markdown bullets, one per row of a claims table (``claims.judge_claims``, with a ``task``
    column): the claim, its verdict, effect and interval, all read from the table."""
    lines = []
    for row in claims.itertuples():
        if row.claim.startswith("BA and AP rank"):
            effect = "no value" if np.isnan(row.effect) else (
                f"Kendall tau {row.effect:+.2f}" + ("" if np.isnan(row.low) else
                                                    f" (95% interval {row.low:+.2f} to {row.high:+.2f})"))
        else:
            effect = "no effect measured" if np.isnan(row.effect) else \
                f"effect {signed_interval(row.effect, row.low, row.high)} points"
        lines.append(f"- *{row.task}* — {row.claim}: **{row.verdict}**; {effect}, {row.n_seeds} seed(s).")
    return "\n".join(lines)


GAIN_WORDS = {"holds": "a gain", "does not hold": "no gain"}


def gains_markdown(gains: pd.DataFrame, task: str) -> str:
    """One sentence per method of a ``claims.gains_over`` table: its gain over the baseline on
    each metric, with interval and verdict, all read from the table."""
    if gains.empty:
        return f"*{task}*: none of these methods ran beside the baseline, so there is nothing to report."
    sentences = []
    for method, group in gains.groupby("method_a", sort=False):
        parts = [f"{r.metric} {signed_interval(r.effect, r.low, r.high)} ({GAIN_WORDS.get(r.verdict, r.verdict)})"
                 for r in group.itertuples()]
        sentences.append(f"- *{task}*, {method_label(method)} − {group['method_b'].iloc[0]}: " + "; ".join(parts)
                         + f" ({group['n_seeds'].iloc[0]} seed(s)).")
    return "\n".join(sentences)


def main(argv: list[str] | None = None) -> int:
    """``python -m nbutils.report RUN_FOLDER``: write the run's report.html and print its path."""
    parser = argparse.ArgumentParser(prog="python -m nbutils.report",
                                     description="Write RUN_FOLDER/report.html for a finished (or running) run.")
    parser.add_argument("run_folder", type=Path, help="a run folder, e.g. runs/demo/20250101-120000")
    args = parser.parse_args(argv)
    from nbutils.html_report import write_html_report
    try:
        path = write_html_report(args.run_folder)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
