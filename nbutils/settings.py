"""A run's shared settings, from the notebook's parameters to every saved result.

A notebook's parameters cell declares the training (``epochs``, ``batch_size``, ``lr``, ``optimizer``,
``train``), model (``arch``, ``width``, ``pretrained``) and regrouping (``regroup``) options; the runner
injects a parameter file's values there. :func:`start` turns them, once, into a :class:`RunSettings`:
every option checked by name and type (``config.build``) before any data is loaded, every default
filled in. The same object is passed to every method (``run_cached(..., **settings)``), hashed whole
with the task's spec into each result's key and written beside each result as ``settings.json``
(as nanoGPT keeps its config in every checkpoint), so a result is found again only under the
settings that made it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from nbutils.config import build
from nbutils.data import Task, make_tasks
from nbutils.methods import ModelOptions, RegroupOptions, settings_from_parameters
from nbutils.models import check_model_options
from nbutils.report import RunFolder
from nbutils.train import TrainConfig

SECTIONS = ("train", "model", "regroup")
# The notebook parameters start() reads besides the settings (every notebook's parameters cell declares them).
RUN_PARAMETERS = ("run_dir", "tasks", "data_root", "image_size")


def check_section(name: str, options: Any) -> None:
    """TypeError unless ``options`` (a section of the settings) is a dict or None."""
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"settings: {name} must be a dict of options, got {options!r}")


@dataclass(frozen=True)
class RunSettings:
    """The training, model and regrouping options every method of a run shares, checked and complete.

    train: the :class:`nbutils.train.TrainConfig` (its ``seed`` unused: each run's seed comes from the
    ``seeds`` list); model: :class:`nbutils.methods.ModelOptions`; regroup:
    :class:`nbutils.methods.RegroupOptions`. A method's own options and its recipe's training settings
    still win over these (``methods.plan_method``).

    It reads as a mapping of its three sections, each a plain dict, so ``run_cached(..., **settings)`` and
    ``run_benchmark(..., **settings)`` pass them as their ``train``/``model``/``regroup`` arguments.
    """

    train: TrainConfig = field(default_factory=TrainConfig)
    model: ModelOptions = field(default_factory=ModelOptions)
    regroup: RegroupOptions = field(default_factory=RegroupOptions)

    @classmethod
    def from_options(cls, train: dict[str, Any] | None = None, model: dict[str, Any] | None = None,
                     regroup: dict[str, Any] | None = None) -> RunSettings:
        """Settings from the ``train``/``model``/``regroup`` dicts (missing keys keep their defaults).

        Raises ValueError for an unknown key, an unknown optimizer/arch/encoder/clustering/aggregation
        or a ``seed`` in ``train``, TypeError for a value of the wrong type; each error names the
        section and the valid choices."""
        for name, options in {"train": train, "model": model, "regroup": regroup}.items():
            check_section(name, options)
        if "seed" in (train or {}):
            raise ValueError("settings: train.seed is not a setting; the run's seeds list sets each run's seed")
        model_options = build(ModelOptions, model, where="settings: model")
        check_model_options(model_options.arch, width=model_options.width, pretrained=model_options.pretrained)
        return cls(build(TrainConfig, train, where="settings: train"), model_options,
                   build(RegroupOptions, regroup, where="settings: regroup"))

    @classmethod
    def from_parameters(cls, parameters: Mapping[str, Any]) -> RunSettings:
        """Settings from a notebook's parameters (``globals()`` of a notebook, or a parameter file's
        ``parameters``), read by :func:`nbutils.methods.settings_from_parameters`."""
        for name in ("train", "regroup"):  # the parameters that are sections themselves
            check_section(name, parameters.get(name))
        return cls.from_options(**settings_from_parameters(dict(parameters)))

    def __getitem__(self, section: str) -> dict[str, Any]:
        """The section ``'train'``, ``'model'`` or ``'regroup'`` as a dict of every option."""
        if section not in SECTIONS:
            raise KeyError(f"{section!r}: the sections of the settings are {', '.join(SECTIONS)}")
        options = dataclasses.asdict(getattr(self, section))
        if section == "train":
            options.pop("seed")
        return options

    def keys(self) -> tuple[str, ...]:
        """The section names; with :meth:`__getitem__` what ``**settings`` and ``dict(settings)`` read."""
        return SECTIONS

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """{'train': {...}, 'model': {...}, 'regroup': {...}}: every option, as saved and hashed."""
        return {section: self[section] for section in SECTIONS}


def start(parameters: Mapping[str, Any]) -> tuple[RunFolder, dict[str, Task], RunSettings]:
    """A notebook's setup: ``out, task_data, settings = nbutils.start(globals())``.

    parameters: the notebook's parameters by name (``globals()``: papermill injects a parameter
    file's values as globals); reads ``run_dir``, ``tasks``, ``data_root``, ``image_size`` and the
    settings' parameters (see :meth:`RunSettings.from_parameters`). The settings are checked first,
    so a wrong one fails before any data is read. Returns the run folder (figures, tables and
    metrics go there), every task built by :func:`nbutils.data.make_tasks` (``data_root`` and
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
