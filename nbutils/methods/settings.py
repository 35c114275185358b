"""The settings every method of a run shares, checked once and complete.

A notebook's parameters cell declares the training (``epochs``, ``batch_size``, ``lr``, ``optimizer``,
``train``), model (``arch``, ``width``, ``pretrained``) and regrouping (``regroup``) options; the runner
injects a parameter file's values there. :meth:`RunSettings.from_parameters` turns them, once, into a
:class:`RunSettings`: every option checked by name and type (``config.build``) before any data is
loaded, every default filled in. The same object is passed to every method
(``run_cached(..., **settings)``), hashed whole with the task's spec into each result's key and
written beside each result as ``settings.json`` (as nanoGPT keeps its config in every checkpoint), so
a result is found again only under the settings that made it.
"""
from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from nbutils.core.config import build
from nbutils.methods.encoders import ENCODERS, check_encoder_options, encode
from nbutils.methods.models import check_model_options
from nbutils.methods.regroup import AGGREGATIONS, CLUSTERINGS
from nbutils.methods.train import TrainConfig


@dataclass
class RegroupOptions:
    """Options of the regrouping methods (and the encoder of ``mlp-probe``), checked on creation:
    clustering one of regroup.CLUSTERINGS, aggregate one of regroup.AGGREGATIONS, encoder one of
    encoders.ENCODERS with options valid for that encoder."""

    encoder: str = "effnet-lite0"
    encoder_options: dict = field(default_factory=dict)
    n_clusters: Any = "threshold"
    threshold: Any = None
    clustering: str = "kmeans"
    aggregate: str = "max"
    normalize: bool = True  # L2-normalise embeddings before clustering (see regroup.Regrouper)

    def __post_init__(self) -> None:
        if self.clustering not in CLUSTERINGS:
            raise ValueError(f"unknown clustering {self.clustering!r}; valid: {', '.join(CLUSTERINGS)}")
        if self.aggregate not in AGGREGATIONS:
            raise ValueError(f"unknown aggregate {self.aggregate!r}; valid aggregations: {', '.join(AGGREGATIONS)}")
        check_encoder_options(self.encoder, self.encoder_options)

    def embed(self, images: torch.Tensor, fit_images: torch.Tensor | None = None) -> np.ndarray:
        """uint8 images (N, C, H, W) -> this encoder's embeddings (N, D), cached on disk. An encoder
        that is fitted (pca, autoencoder) is fitted on ``fit_images`` (N', C, H, W), default ``images``."""
        fitted = "fit_images" in inspect.signature(ENCODERS[self.encoder]).parameters
        fit = {"fit_images": fit_images} if fitted and fit_images is not None else {}
        return encode(images, encoder=self.encoder, **self.encoder_options, **fit)


@dataclass
class ModelOptions:
    arch: str = "cnn"
    width: int = 32
    pretrained: bool = False


def settings_from_parameters(p: dict[str, Any]) -> dict[str, dict]:
    """A notebook's parameters -> its ``train``/``model``/``regroup`` options, the one place that says
    which parameter goes where: epochs, batch_size, lr, optimizer and the ``train`` dict go to
    training; arch, width, pretrained to the model; ``regroup`` as is. A missing key is left out, so
    the defaults of TrainConfig, ModelOptions and RegroupOptions hold. ``settings.RunSettings`` is
    built from these (checked, with every default filled in)."""
    train = {k: p[k] for k in ("epochs", "batch_size", "lr", "optimizer") if k in p}
    model = {k: p[k] for k in ("arch", "width", "pretrained") if k in p}
    return {"train": {**train, **p.get("train", {})}, "model": model, "regroup": dict(p.get("regroup", {}))}


SECTIONS = ("train", "model", "regroup")


def check_section(name: str, options: Any) -> None:
    """TypeError unless ``options`` (a section of the settings) is a dict or None."""
    if options is not None and not isinstance(options, Mapping):
        raise TypeError(f"settings: {name} must be a dict of options, got {options!r}")


@dataclass(frozen=True)
class RunSettings:
    """The training, model and regrouping options every method of a run shares, checked and complete.

    train: the :class:`nbutils.methods.train.TrainConfig` (its ``seed`` unused: each run's seed comes from the
    ``seeds`` list); model: :class:`nbutils.methods.settings.ModelOptions`; regroup:
    :class:`nbutils.methods.settings.RegroupOptions`. A method's own options and its recipe's training settings
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
        ``parameters``), read by :func:`nbutils.methods.settings.settings_from_parameters`."""
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
