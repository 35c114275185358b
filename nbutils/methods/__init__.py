"""What trains: every method of the benchmark by name (``registry.METHODS``, each a ``Recipe``;
``run_method`` trains one from a fresh model, ``run_cached`` and ``run_benchmark`` keep results in a
run folder), and its parts: the losses (``losses``), rebalancing samplers and synthesis
(``sampling``, ``autoencoder``), pre-trained and fitted encoders (``encoders``, ``ssl``), regrouping
into pseudo-classes (``regroup``), the architectures (``models``), the one training loop (``train``)
and the settings a run's methods share (``settings``). ``recipes`` holds the methods' names without
torch, for the runner's check of a parameter file.

May import ``nbutils.core`` and ``nbutils.data``.

The names below are imported on first use, as ``nbutils``' own are: importing a light module of
this part (``nbutils.methods.recipes``) then does not import torch through this file.
"""
from __future__ import annotations

import importlib
from typing import Any

# name -> the module that defines it (imported when the name is first read)
PUBLIC = {"ENCODERS": "nbutils.methods.encoders", "LOSSES": "nbutils.methods.losses",
          "METHODS": "nbutils.methods.recipes", "Recipe": "nbutils.methods.recipes",
          "SAMPLERS": "nbutils.methods.sampling", "run_benchmark": "nbutils.methods.registry",
          "run_cached": "nbutils.methods.registry", "run_method": "nbutils.methods.registry"}
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name in PUBLIC:
        return getattr(importlib.import_module(PUBLIC[name]), name)
    raise AttributeError(f"module 'nbutils.methods' has no attribute {name!r}")
