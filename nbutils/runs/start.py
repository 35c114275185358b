"""A notebook's setup: ``out, task_data, settings = nbutils.start(globals())``.

A notebook's parameters cell declares its run folder, tasks, data root and image size beside the
shared settings; the runner injects a parameter file's values there. :func:`start` checks the
settings first (``methods.settings.RunSettings``: every option by name and type, every default
filled in), so a wrong one fails before any data is read, then opens the run folder and builds the
tasks. :func:`class_counts` and :func:`one_vs_rest_task` are the notebooks' small helpers on top.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from nbutils.data.imagesets import Task
from nbutils.data.tasks import make_tasks
from nbutils.methods.settings import RunSettings
from nbutils.runs.folder import RunFolder

# The notebook parameters start() reads besides the settings (every notebook's parameters cell declares them).
RUN_PARAMETERS = ("run_dir", "tasks", "data_root", "image_size")


def start(parameters: Mapping[str, Any]) -> tuple[RunFolder, dict[str, Task], RunSettings]:
    """A notebook's setup: ``out, task_data, settings = nbutils.start(globals())``.

    parameters: the notebook's parameters by name (``globals()``: papermill injects a parameter
    file's values as globals); reads ``run_dir``, ``tasks``, ``data_root``, ``image_size`` and the
    settings' parameters (see :meth:`RunSettings.from_parameters`). The settings are checked first,
    so a wrong one fails before any data is read. Returns the run folder (figures, tables and
    metrics go there), every task built by :func:`nbutils.data.tasks.make_tasks` (``data_root`` and
    ``image_size`` override each task spec's, and are part of each task's ``spec``), and the settings.
    """
    missing = [name for name in RUN_PARAMETERS if name not in parameters]
    if missing:
        raise KeyError(f"start needs the notebook parameter(s) {missing}: pass globals() from a notebook "
                       f"whose parameters cell declares {', '.join(RUN_PARAMETERS)}")
    settings = RunSettings.from_parameters(parameters)
    out = RunFolder(parameters["run_dir"])
    tasks = make_tasks(parameters["tasks"], parameters["data_root"], parameters["image_size"])
    return out, tasks, settings


def class_counts(tasks: dict[str, Task]) -> pd.DataFrame:
    """Training images per class (rows) of each task (columns); 0 where a task lacks the class."""
    return pd.DataFrame({name: dict(zip(t.classes, t.train.class_counts())) for name, t in tasks.items()}
                        ).fillna(0).astype(int)


def one_vs_rest_task(tasks: dict[str, Task], name: str) -> Task:
    """Task ``name`` of ``tasks``, checked to carry the hidden fine labels of a one-vs-rest task."""
    if name not in tasks:
        raise KeyError(f"unknown task {name!r}; valid: {', '.join(tasks)}")
    task = tasks[name]
    if task.train.fine_labels is None or task.test.fine_labels is None:
        raise ValueError(f"task {name!r} has no hidden fine labels: choose a one-vs-rest task (with 'positive')")
    return task
