"""nbutils: the helpers behind the notebooks, in the parts of the pipeline, each importing only
the parts before it:

    core  <-  data  <-  methods  <-  analysis  <-  runs  <-  the commands
    (runtime, config, metrics)                             (python -m nbutils.run / .report / .publish / .colab)

``nbutils.start(globals())`` is a notebook's setup cell; the registries a user extends and the
calls a user makes most are here by name too (``nbutils.METHODS``, ``nbutils.run_method``,
``nbutils.make_task``...), each imported on first use so that ``import nbutils`` stays light (the
runner and the Colab helper import it). docs/architecture.md shows the parts and which module owns
each step.
"""
from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from nbutils.data.imagesets import Task
    from nbutils.methods.settings import RunSettings
    from nbutils.runs.folder import RunFolder

# torch and scikit-learn each load their own OpenMP runtime. With both in one process (t-SNE,
# k-means and training in one notebook), threads that spin after a parallel region starve the
# other runtime's threads: on 2 cores t-SNE ran 6x and training up to 5x slower (bench/). The
# setting only takes effect when nbutils is imported before torch, or set in the environment
# (the Makefile and the runner do).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"

# name -> the part that defines it (imported when the name is first read)
PUBLIC = {"DATASETS": "nbutils.data", "make_task": "nbutils.data", "make_tasks": "nbutils.data",
          "LOSSES": "nbutils.methods", "SAMPLERS": "nbutils.methods", "ENCODERS": "nbutils.methods",
          "METHODS": "nbutils.methods", "Recipe": "nbutils.methods", "run_method": "nbutils.methods"}
__all__ = ["start", *PUBLIC]


def start(parameters: Mapping[str, Any]) -> tuple[RunFolder, dict[str, Task], RunSettings]:
    """A notebook's setup cell: ``out, task_data, settings = nbutils.start(globals())`` — the run
    folder, the tasks and the checked settings (see :func:`nbutils.runs.start.start`)."""
    from nbutils.runs.start import start as start_run

    return start_run(parameters)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'nbutils' has no attribute {name!r}")
