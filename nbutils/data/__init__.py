"""Images and tasks: the data sets by name (``datasets.DATASETS``), their readers (``readers`` for
the offline and torchvision formats, ``medical`` for the folders users bring; where they look for
their files, ``locations``), images as uint8 tensors (``imagesets``) and the tasks built from a spec
(``tasks``: one-vs-rest, imbalance ratio, class profile, train/val/test split; the spec's rules,
``task_specs``). ``datasets``, ``locations`` and ``task_specs`` import neither torch nor
scikit-learn, for the runner's check of a parameter file.

May import ``nbutils.core`` only.

The names below are imported on first use, as ``nbutils``' own are: importing a light module of
this part (``nbutils.data.task_specs``) then does not import torch through this file.
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it (imported when the name is first read)
PUBLIC = {"DATASETS": "nbutils.data.datasets", "DataSet": "nbutils.data.datasets",
          "ImageSet": "nbutils.data.imagesets", "Task": "nbutils.data.imagesets",
          "TrainingSet": "nbutils.data.imagesets", "make_task": "nbutils.data.tasks",
          "make_tasks": "nbutils.data.tasks"}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'nbutils.data' has no attribute {name!r}")
