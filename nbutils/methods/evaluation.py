"""A trained result scored on each held-out part of its task: the test split, the extra evaluation pool
(``Task.pool``, images of the data set's training split that no method saw) and both together
(``Task.held_out``, on which the papers' claims are judged), for the selected epoch's model and, when
the validation chose another epoch, the last epoch's.

The papers-beside tables keep the official test split; the claims use ``held_out``; the pool beside the
test split shows how far the two read alike (:func:`pool_agreement`).
"""
from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from nbutils.core.metrics import bootstrap_runs, evaluate
from nbutils.data.imagesets import Task
from nbutils.data.tasks import make_task
from nbutils.methods.registry import Result, load_result

SPLITS = ("test", "pool", "held_out")
RUN_KEYS = ("task", "method", "seed")


def part_scores(task: Task, scores: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """{split: (labels (n,), scores (n, C))} of held-out scores (N_test + N_pool, C): the test split,
    and, when the task has a pool, the pool and both together."""
    parts = {"test": (task.test.labels, scores[:len(task.test)])}
    if task.pool is not None:
        parts["pool"] = (task.pool.labels, scores[len(task.test):])
        parts["held_out"] = (task.held_out.labels, scores)
    else:
        parts["held_out"] = parts["test"]
    return parts


def split_rows(task: Task, result: Result) -> list[dict]:
    """One row per (split, model) of a result: its run keys, ``split`` (test, pool, held_out), ``model``
    (selected; last, when another epoch was selected), ``selected_epoch`` and every metric of
    :func:`nbutils.core.metrics.evaluate` (no confusion matrix). A diverged run (NaN scores) gives none."""
    keys = {k: result.row[k] for k in RUN_KEYS} | {"selected_epoch": result.row.get("selected_epoch")}
    models = {"selected": result.held_out_scores(), "last": result.last_scores}
    rows = []
    for model, scores in models.items():
        if scores is None or not np.isfinite(scores).all():
            continue
        for split, (labels, part) in part_scores(task, scores).items():
            metrics = evaluate(labels, part, task.classes)
            metrics.pop("confusion")
            rows.append(keys | {"split": split, "model": model, "n_images": len(labels),
                                "n_minority": int(np.isin(labels, minority_positions(task)).sum()), **metrics})
    return rows


def minority_positions(task: Task) -> list[int]:
    """Indices of the task's minority classes (``Task.minority_classes``)."""
    return [task.classes.index(c) for c in task.minority_classes]


def held_out_table(tasks: dict[str, Task], results: Iterable[Result]) -> pd.DataFrame:
    """:func:`split_rows` of every result, each scored on its own task (``row['task']``)."""
    return pd.DataFrame([r for result in results for r in split_rows(tasks[result.row["task"]], result)])


def rows_of(table: pd.DataFrame, split: str = "held_out", model: str = "selected") -> pd.DataFrame:
    """The rows of one split and model of :func:`held_out_table`, shaped as result rows (one per run)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return table[(table["split"] == split) & (table["model"] == model)].drop(columns=["split", "model"])


def pool_agreement(table: pd.DataFrame, metric: str) -> pd.DataFrame:
    """How far the pool reads like the test split, per task and method (selected models): the mean over
    seeds of ``metric`` on each (×100), pool - test, and, per task, the Spearman correlation of the
    methods' means on the two (column ``rank_corr``, the same on every row of a task)."""
    selected = table[table["model"] == "selected"]
    means = selected.pivot_table(index=["task", "method"], columns="split", values=metric, aggfunc="mean") * 100
    if "pool" not in means:
        return pd.DataFrame(columns=["task", "method", "test", "pool", "pool - test", "rank_corr"])
    means = means[["test", "pool"]].dropna()
    means["pool - test"] = means["pool"] - means["test"]
    corr = {task: part["test"].rank().corr(part["pool"].rank()) for task, part in means.groupby(level="task")}
    return means.reset_index().assign(rank_corr=lambda t: t["task"].map(corr))


def bootstrap_replicates(tasks: dict[str, Task], results: Iterable[Result], split: str = "held_out",
                         n_boot: int = 500, seed: int = 0) -> dict[str, dict[tuple[str, int], dict[str, np.ndarray]]]:
    """{task: {(method, seed): {metric: (n_boot,)}}}: every selected model's metrics over the same
    ``n_boot`` stratified bootstrap resamples of one split of its task (``test`` or ``held_out``),
    so differences between runs stay paired (:func:`nbutils.core.metrics.bootstrap_runs`)."""
    if split not in ("test", "held_out"):
        raise ValueError(f"bootstrap replicates are drawn on 'test' or 'held_out', not {split!r}")
    results = list(results)
    replicates = {}
    for name, task in tasks.items():
        labels = (task.test if split == "test" else task.held_out).labels
        runs = {(r.row["method"], r.row["seed"]): r.held_out_scores()[:len(labels)]
                for r in results if r.row["task"] == name}
        replicates[name] = bootstrap_runs(labels, runs, task.classes, n_boot=n_boot, seed=seed)
    return replicates


def selected_epochs(rows: pd.DataFrame) -> pd.DataFrame:
    """Per task and method: the number of seeds, the epochs trained and each seed's kept epoch (1-based,
    in seed order; the last epoch when ``select`` is 'last'). rows: result rows (``selected_epoch``)."""
    if "selected_epoch" not in rows:
        rows = rows.assign(selected_epoch=np.nan, epochs_trained=np.nan)
    return (rows.sort_values("seed").groupby(["task", "method"], sort=False)
            .agg(n_seeds=("seed", "nunique"), epochs=("epochs_trained", "max"),
                 selected_epochs=("selected_epoch", lambda e: ", ".join(str(int(v)) for v in e.dropna())))
            .reset_index())


def task_of(spec: dict) -> Task:
    """Rebuild the task a result was trained on from its ``settings.json`` spec (the parameter-file spec
    with the resolved ``image_size``, ``data_root`` and ``seed`` that ``make_task`` adds)."""
    given = {k: v for k, v in spec.items() if k not in ("data_root", "seed")}
    if spec.get("data_root"):
        given["root"] = spec["data_root"]
    return make_task(spec.get("name", "task"), given, seed=int(spec.get("seed", 0)))


def folder_results(run_dir: str | Path) -> tuple[dict[str, Task], list[Result]]:
    """Every finished result of a run folder (``results/<task>/<method>/<key>/``) with the tasks they were
    trained on, rebuilt from each result's spec (one build per task): what :func:`held_out_table` and
    :func:`bootstrap_replicates` need, for a run whose notebooks did not run (``--train-only``)."""
    tasks: dict[str, Task] = {}
    results = []
    for row_file in sorted(Path(run_dir).glob("results/*/*/*/row.json")):
        result = load_result(row_file.parent)
        name = result.row["task"]
        if name not in tasks:
            spec = json.loads((row_file.parent / "settings.json").read_text())["task"]
            tasks[name] = replace(task_of(spec), name=name)
        results.append(result)
    return tasks, results
