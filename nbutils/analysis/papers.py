"""The papers' published numbers (``nbutils/resources/paper_tables.csv``) beside ours: which
published table fits a task, each published method mapped to ours, and our rows with their intervals
set beside the papers' (overall and per class).
"""
from __future__ import annotations

from importlib import resources
from typing import Mapping, Sequence

import numpy as np
import pandas as pd

from nbutils.core.metrics import accuracy_from_confusion, format_mean_std, interval_table, summarize

# The papers' method names -> this project's method names (every method of paper_tables.csv).
# The LMF paper's names carry the backbone first ("ResNet50 LMF Loss"); ``paper_method`` strips it.
PAPER_METHODS = {
    "CE": "ce", "ERM(CE)": "ce", "Baseline": "ce", "Cross-entropy": "ce", "RG+CE": "rg", "RG": "rg",
    "WCE": "wce", "Focal": "focal", "Focal Loss": "focal", "LDAM": "ldam", "LDAM Loss": "ldam",
    "LMF Loss": "lmf", "LA": "la", "AP": "AP-loss (Chen et al. 2019)", "ROS": "ros", "Oversampling": "ros",
    "Undersampling": "rus",
    "RUSC": "rusc", "DSMT": "deepsmote", "SMOTE": "smote", "Borderline-SMOTE": "borderline-smote",
    "Data Augmentation": "augment", "RG+WCE": "rg-wce", "RG-WCE": "rg-wce", "CLIP+MLP": "mlp-probe",
}
# Published methods with no counterpart here: their own row in the tables, never merged with ours.
# The regrouping papers' "AP" is Chen et al.'s AP-loss (CVPR 2019; the short paper's reference [18],
# the long paper's "AP-Loss (Chen et al., 2019)"), not SOAP, which is what our `ap` trains.
PAPER_ONLY_METHODS = ("AP-loss (Chen et al. 2019)",)
BACKBONES = ("EfficientNetV2", "ResNet50")
# How our methods are named in tables where the name alone would mislead.
METHOD_LABELS = {"ap": "ap (SOAP)"}
SOAP_NOTE = ("Our `ap (SOAP)` is SOAP (Qi et al. 2021, \"Stochastic optimization of areas under precision-recall "
             "curves with provable convergence\", NeurIPS; LibAUC's AveragePrecisionLoss; the long regrouping paper's "
             "text calls it \"Du et al., 2021\", but its reference list gives Qi et al.). The regrouping papers' AP "
             "row is Chen et al.'s AP-loss (2019), a different surrogate of AP: it stands in its own row, "
             "`AP-loss (Chen et al. 2019)`, with no number of ours beside it.")
PAPER_PLUS_MINUS = "the standard deviation over their runs, as published (a value without ±: the paper gives no spread)"
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


def paper_column(source: str, table: str, name: str, backbone: str = "") -> str:
    """How a published table is named in our tables: source, table number, data set and, for
    the LMF paper, the backbone (e.g. "regrouping-long Table 1 binary HAM10000"). Two tables of
    one source and number (the long paper's Table 1 holds binary CIFAR-100 and binary HAM10000)
    differ by their data set; ``check_paper_columns`` refuses any two tables with one name."""
    return " ".join(part for part in (source, table, name, backbone) if part)


def check_paper_columns(papers: pd.DataFrame) -> None:
    """ValueError when two published tables (source, table, data set, backbone) would share a column."""
    groups = papers[["source", "table", "name", "backbone"]].drop_duplicates()
    columns = [paper_column(*g) for g in groups.itertuples(index=False)]
    shared = sorted({c for c in columns if columns.count(c) > 1})
    if shared:
        raise ValueError(f"published tables would share the column(s) {shared}; name them apart in paper_column")


def published_values(papers: pd.DataFrame, metric: str, paper_class: str) -> pd.DataFrame:
    """(method_here, column, value) strings of one metric, ``column`` naming its table
    (``paper_column``): "mean ± std" as printed, or for class "mean" the mean over the per-class
    values (std not derivable: mean alone)."""
    check_paper_columns(papers)
    pick = papers[papers["metric"] == metric]
    keys = pick[["source", "table", "name", "backbone"]].itertuples(index=False)
    pick = pick.assign(column=[paper_column(*key) for key in keys])
    if paper_class == "mean":
        per_class = pick[pick["class"] != "all"]
        means = per_class.groupby(["method_here", "column"], sort=False)["mean"].mean().reset_index()
        return means.assign(value=[f"{m:.1f}" for m in means["mean"]])
    pick = pick[pick["class"] == paper_class]
    return pick.assign(value=[f"{m:.1f}" if np.isnan(s) else f"{m:.1f} ± {s:.1f}"
                              for m, s in zip(pick["mean"], pick["std"])])


def wide_published(values: pd.DataFrame) -> pd.DataFrame:
    """``published_values`` as (method_here, column) -> value; a clear error where one method of
    one table has two values (a pivot keeping the first would drop one silently)."""
    twice = values[values.duplicated(["method_here", "column"], keep=False)]
    if len(twice):
        repeated = twice[["method_here", "column"]].drop_duplicates().values.tolist()
        raise ValueError(f"published values repeat (method, table): {repeated}")
    return values.pivot(index="method_here", columns="column", values="value")


def with_accuracy(rows: pd.DataFrame) -> pd.DataFrame:
    """rows with an ``accuracy`` column, derived from ``confusion`` for rows that lack it
    (results cached before ``evaluate`` wrote accuracy)."""
    derived = [accuracy_from_confusion(c) for c in rows["confusion"]] if "confusion" in rows else np.nan
    if "accuracy" not in rows:
        return rows.assign(accuracy=derived)
    return rows.assign(accuracy=rows["accuracy"].fillna(pd.Series(derived, index=rows.index)))


def ours_intervals(rows: pd.DataFrame, metrics: Sequence[str], replicates: Mapping | None = None,
                   level: float = 0.95, spread: str = "half") -> tuple[pd.DataFrame, str]:
    """(one task's "mean ± h" strings, %, per method and metric; what ± means), with ONE meaning
    of ± in the table: with two or more seeds for some method, h is the half-width of the
    ``level`` t-interval over seeds (``spread="std"``: the standard deviation over seeds, the
    statistic the papers print) and a method run on one seed shows its mean alone; when every
    method ran on one seed, h is the half-width of the ``level`` test-image bootstrap interval
    (``replicates``; without them, means alone). The sentence says which, for the caption."""
    n_runs = rows.groupby("method").size()
    if n_runs.max() == 1:
        table = interval_table(rows, list(metrics), replicates, level)
        return table, (f"half-width of the {level:.0%} bootstrap interval over test images (one seed each: training "
                       "noise not covered)" if replicates is not None else "no ± (one seed each, no test-image bootstrap)")
    summary = summarize(rows, by=("method",), metrics=list(metrics), level=level)
    table = format_mean_std(summary, list(metrics), spread=spread)
    several = n_runs[n_runs > 1]
    seeds = f"{several.min()}-{several.max()}" if several.min() != several.max() else f"{several.max()}"
    meaning = (f"standard deviation over {seeds} seeds, as the papers print theirs" if spread == "std"
               else f"half-width of the {level:.0%} t-interval over {seeds} seeds")
    if (n_runs == 1).any():
        meaning += f" ({', '.join(map(method_label, n_runs.index[n_runs == 1]))}: one seed, mean alone)"
    return table, meaning


def beside_papers(ours: pd.DataFrame, classes: Sequence[str], paper_dataset: str | None = AUTO,
                  replicates: Mapping | None = None, level: float = 0.95) -> tuple[pd.DataFrame, str]:
    """One task's numbers beside the published tables of its kind (``tables_for_task``), each
    paper with its own metrics (``paper_metrics``), each table in its own columns: one row per
    method (ours and the papers'), columns "<metric>: ours" (mean ± std over seeds, %, ``ours_intervals``)
    and "<metric>: <source> <table> <data set> [backbone]" (``paper_column``; as published,
    mean ± std). Returns (table, a Markdown caption saying which tables, why, and what each ±
    means). ours: result rows of this task; classes: its class names (class 1 = positive if binary)."""
    names, why = tables_for_task(classes, paper_dataset)
    papers = read_paper_tables()
    papers = papers[papers["name"].isin(names)]
    ours = with_accuracy(ours)
    columns, meaning = {}, ""
    for source in papers["source"].unique():
        for label, column, metric, paper_class in paper_metrics(source, classes):
            if f"{label}: ours" not in columns:
                table, meaning = ours_intervals(ours, [column], replicates, level, spread="std")
                columns[f"{label}: ours"] = table[column]
            wide = wide_published(published_values(papers[papers["source"] == source], metric, paper_class))
            columns.update({f"{label}: {c}": wide[c] for c in wide.columns})
    table = pd.DataFrame(columns).rename_axis("method")
    table.index = [method_label(m) for m in table.index]
    caption = f"Beside {why}. %; ± means, for ours: the {meaning}; for the papers': {PAPER_PLUS_MINUS}."
    return table.rename_axis("method"), caption


def paper_class_order(papers: pd.DataFrame) -> list[str]:
    """The classes of the per-class AP rows of ``papers``, in the order the CSV lists them
    (the papers' order: largest class first; binary: neg, pos)."""
    return list(dict.fromkeys(papers.loc[(papers["metric"] == "AP") & (papers["class"] != "all"), "class"]))


def per_class_beside_papers(ours: pd.DataFrame, classes: Sequence[str], paper_dataset: str | None = AUTO,
                            counts: Sequence[int] | None = None, level: float = 0.95) -> tuple[pd.DataFrame, str]:
    """Each class's AP, ours beside every published table of the task's kind that gives
    class-wise AP (the regrouping papers' HAM10000 tables and binary tables; LMF and Balancing Act
    give none): one row per (paper class, method), columns ``our class``, ``ours`` (mean ± h, %,
    ``ours_intervals``) and one per table (mean ± std as published). Returns (table, caption).

    Our class stands beside the paper class of the same name when every name matches (a real
    HAM10000 task); else beside the paper class of the same rank by training count (``counts``,
    per class of ``classes``; None: the task's class order), e.g. a Fashion-MNIST stand-in with
    HAM10000's proportions; for a binary task neg = our class 0, pos = our class 1. Empty, with
    the reason, when no table of the kind gives class-wise AP or the class counts differ."""
    names, why = tables_for_task(classes, paper_dataset)
    papers = read_paper_tables()
    papers = papers[papers["name"].isin(names) & (papers["metric"] == "AP") & (papers["class"] != "all")]
    empty = pd.DataFrame(columns=["class", "method", "our class", "ours"])
    if papers.empty:
        return empty, f"No class-wise AP in {why}."
    check_paper_columns(papers)
    tables = {}
    for group, part in papers.groupby(["source", "table", "name", "backbone"], sort=False):
        if len(paper_class_order(part)) == len(classes):
            tables[paper_column(*group)] = part
    if not tables:
        return empty, f"No published table of {len(classes)} classes with class-wise AP among {why}."
    paper_classes = paper_class_order(next(iter(tables.values())))
    if set(paper_classes) == set(classes):
        pairing, how = {c: c for c in paper_classes}, "classes paired by name"
    else:
        order = list(classes) if counts is None else [classes[i] for i in np.argsort(-np.asarray(counts), kind="stable")]
        pairing = dict(zip(paper_classes, order))
        how = ("neg = our class 0, pos = our class 1" if len(classes) == 2 else
               "each paper class beside our class of the same rank by training count"
               + (" (the task's class order)" if counts is None else ""))
    ap, meaning = ours_intervals(ours, [f"ap/{c}" for c in classes], None, level, spread="std")
    records = []
    for paper_class, our_class in pairing.items():
        for method in dict.fromkeys([*ap.index, *pd.concat(tables.values())["method_here"]]):
            record = {"class": paper_class, "method": method_label(method), "our class": our_class,
                      "ours": ap[f"ap/{our_class}"].get(method, "")}
            for column, part in tables.items():
                row = part[(part["class"] == paper_class) & (part["method_here"] == method)]
                record[column] = "" if row.empty else (f"{row['mean'].item():.1f}" if np.isnan(row["std"].item())
                                                       else f"{row['mean'].item():.1f} ± {row['std'].item():.1f}")
            records.append(record)
    table = pd.DataFrame(records).set_index(["class", "method"])
    return table, (f"Class-wise AP beside {', '.join(f'*{t}*' for t in tables)} ({how}). %; ± means, for ours: "
                   f"the {meaning}; for the papers': {PAPER_PLUS_MINUS}.")
