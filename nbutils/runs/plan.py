"""Every training a run's notebooks will ask for, known before any notebook starts.

The notebooks are the reduce step of a run: they call :func:`nbutils.methods.registry.run_cached` (directly,
or through ``run_benchmark``), which loads a finished result from the run folder instead of training.
This module says, for each notebook, which ``run_cached`` calls it makes — the same task, method entry,
seed, settings and callbacks, from the same parameters — so that an executor (``nbutils.runs.ray_executor``)
can train them all first, in parallel, and the notebooks then only load. A training is named by
:func:`nbutils.methods.registry.result_folder`, the folder ``run_cached`` itself uses, so the plan and the
notebooks cannot disagree on a key without ``tests/test_ray.py`` failing (it runs ``params/ci.yaml``
and compares the keys the notebooks load with the plan's).

One function per notebook in :data:`NOTEBOOK_PLANS` (keyed by the notebook's file stem), each mirroring
its notebook's ``run_cached`` calls. A notebook without one trains inside itself, as with the local
executor.
"""
from __future__ import annotations

import contextlib
import dataclasses
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from nbutils.analysis.diagnostics import sync_callbacks
from nbutils.data.imagesets import Task
from nbutils.data.tasks import make_tasks
from nbutils.methods.registry import (callback_reprs, method_seeds, method_spec, not_applicable, recorded_callbacks,
                                      result_folder)
from nbutils.methods.settings import settings_from_parameters
from nbutils.runs.parameters import SETTINGS_PARAMETERS


@dataclass(frozen=True)
class Call:
    """One ``run_cached`` call of a notebook: task name, method entry, seed, and ``sync_per_class``:
    the ``spread_per_class`` of notebook 02's per-epoch callbacks (:func:`sync_callbacks`), or None
    for a call without callbacks."""

    task: str
    entry: str | dict[str, Any]
    seed: int
    sync_per_class: int | None = None


@dataclass(frozen=True)
class Training:
    """A training that a run needs, with everything a worker needs to make it as the notebook would.

    parameters: the JSON-ready notebook parameters that build the task and settings (``tasks``,
    ``data_root``, ``image_size`` and the settings' parameters); folder: the notebook's folder, the
    working folder where the task's relative paths are read; key: the result folder relative to
    the run folder (``results/<task>/<method>/<hash>-seed<N>``); notebook: the first notebook that
    needs it; callbacks: the reprs of the per-epoch callbacks its result must hold (notebook 02's),
    which the result key leaves out."""

    call: Call
    parameters: dict[str, Any]
    folder: str
    key: str
    notebook: str
    callbacks: tuple[str, ...] = ()

    def is_finished(self, run_dir: Path) -> bool:
        """Whether ``run_dir`` holds this training's result with every column its notebook reads (a
        result trained without notebook 02's callbacks is trained again, as ``run_cached`` would)."""
        folder = run_dir / self.key
        return (folder / "row.json").is_file() and set(self.callbacks) <= recorded_callbacks(folder)

    @property
    def name(self) -> str:
        """'tshirt-vs-rest/deepsmote {"ae_epochs": 3}/seed 0': task, method with its options, seed."""
        method, options = method_spec(self.call.entry)
        shown = f"{method} {json.dumps(options, sort_keys=True)}" if options else method
        return f"{self.call.task}/{shown}/seed {self.call.seed}" + (" (with sync callbacks)" if self.call.sync_per_class else "")


def calls_01(p: dict[str, Any], tasks: dict[str, Task]) -> Iterator[Call]:
    """01_motivation: the label methods (binary, fine, regrouped, random) on ``task_name``, first seed."""
    for entry in p["label_methods"]:
        yield Call(p["task_name"], entry, p["seeds"][0])


def calls_02(p: dict[str, Any], tasks: dict[str, Task]) -> Iterator[Call]:
    """02_synchronous_learning: each label method x seed with the sync callbacks; then each score
    method not among the label methods (by name) on the first seed, without callbacks."""
    for entry in p["label_methods"]:
        for seed in p["seeds"]:
            yield Call(p["task_name"], entry, seed, p["spread_per_class"])
    trained = {method_spec(entry)[0] for entry in p["label_methods"]}
    for entry in p["score_methods"]:
        if method_spec(entry)[0] not in trained:
            yield Call(p["task_name"], entry, p["seeds"][0])


def every_task_entry_seed(tasks: dict[str, Task], entries: list, seeds: list[int]) -> Iterator[Call]:
    """Every task x method entry x seed, but for methods a task cannot run (as run_benchmark skips them)."""
    for name, task in tasks.items():
        for entry in entries:
            if not_applicable(method_spec(entry)[0], task) is None:
                for seed in seeds:
                    yield Call(name, entry, seed)


def calls_03(p: dict[str, Any], tasks: dict[str, Task]) -> Iterator[Call]:
    """03_benchmark (``run_benchmark``): every task x method x seed, with the seeds ``more_seeds`` adds."""
    seeds_of = method_seeds(p["methods"], p["seeds"], p.get("more_seeds"))
    for entry in p["methods"]:
        yield from every_task_entry_seed(tasks, [entry], seeds_of[method_spec(entry)[0]])


def calls_04(p: dict[str, Any], tasks: dict[str, Task]) -> Iterator[Call]:
    """04_class_activation_maps: the CAM training methods on ``task_name``, first seed."""
    for entry in p["cam_training_methods"]:
        yield Call(p["task_name"], entry, p["seeds"][0])


def calls_05(p: dict[str, Any], tasks: dict[str, Task]) -> Iterator[Call]:
    """05_ablations (``ablations.run_all``): every RG cell of the design (over the encoders that can be
    built here) and every baseline, x task x seed."""
    from nbutils.analysis import ablations
    from nbutils.methods.settings import RunSettings
    factors = p["factors"]
    if "encoder" in factors:
        factors = {**factors, "encoder": ablations.available_encoders(factors["encoder"], p["encoder_options"])[0]}
    cells = ablations.design(factors, RunSettings.from_parameters(p)["regroup"], p["interactions"], p["encoder_options"])
    return every_task_entry_seed(tasks, [c.entry for c in cells] + list(p["baselines"]), p["seeds"])


# Notebook file stem -> its run_cached calls, from its parameters (defaults filled in) and its tasks.
NOTEBOOK_PLANS: dict[str, Callable[[dict[str, Any], dict[str, Task]], Iterator[Call]]] = {
    "01_motivation": calls_01, "02_synchronous_learning": calls_02, "03_benchmark": calls_03,
    "04_class_activation_maps": calls_04, "05_ablations": calls_05,
}
TASK_PARAMETERS = ("tasks", "data_root", "image_size")


def build_parameters(p: dict[str, Any]) -> dict[str, Any]:
    """The part of a notebook's parameters that builds its tasks and settings (JSON-ready)."""
    return {k: p[k] for k in (*TASK_PARAMETERS, *SETTINGS_PARAMETERS) if k in p}


def load_tasks(parameters: dict[str, Any], folder: str | Path) -> dict[str, Task]:
    """The notebook's tasks, built as its setup cell builds them, in its folder (where it runs)."""
    with contextlib.chdir(folder):
        return make_tasks(parameters["tasks"], parameters.get("data_root"), parameters.get("image_size"))


def call_settings(call: Call, task: Task, parameters: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments the notebook passes to ``run_cached`` for ``call``: the settings of
    :func:`nbutils.methods.settings.settings_from_parameters`, and the sync callbacks where it passes them."""
    settings = settings_from_parameters(parameters)
    return {**settings, "callbacks": sync_callbacks(task, call.sync_per_class)} if call.sync_per_class else settings


def plan_trainings(notebooks: list[tuple[str, dict[str, Any], Path]], run_dir: Path) -> tuple[list[Training], list[str]]:
    """(every training the notebooks need, once each, in notebook order; the notebooks that have no plan).

    notebooks: (file stem, parameters with the notebook's defaults filled in, notebook folder) of each
    notebook in run order. Loads the tasks (the keys hash each task's resolved spec) but trains nothing."""
    trainings: dict[str, Training] = {}
    unplanned, loaded = [], {}
    for stem, p, folder in notebooks:
        if stem not in NOTEBOOK_PLANS:
            unplanned.append(stem)
            continue
        parameters = build_parameters(p)
        which = json.dumps([{k: parameters.get(k) for k in TASK_PARAMETERS}, str(folder)], sort_keys=True, default=str)
        if which not in loaded:
            loaded[which] = load_tasks(parameters, folder)
        tasks = loaded[which]
        for call in NOTEBOOK_PLANS[stem](p, tasks):
            task = tasks[call.task]
            settings = call_settings(call, task, parameters)
            path = result_folder(task, parameters["tasks"][call.task], call.entry, call.seed, run_dir, **settings)
            key = path.relative_to(run_dir).as_posix()
            callbacks = callback_reprs(settings.get("callbacks", ()))
            known = trainings.setdefault(key, Training(call, parameters, str(folder), key, stem, callbacks))
            if call.sync_per_class and not known.call.sync_per_class:  # trained once, with 02's callbacks
                trainings[key] = dataclasses.replace(known, call=call, parameters=parameters, folder=str(folder),
                                                     callbacks=callbacks)
    return list(trainings.values()), unplanned
