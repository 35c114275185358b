"""The methods by name: :class:`Recipe` (how a method trains) and ``METHODS``, the registry
``nbutils.methods.registry`` trains from, with :func:`method_spec`, which reads a parameter file's
method entry and checks its name.

This module imports neither torch nor scikit-learn: the runner checks every method name of a
parameter file with it before it imports what trains (``nbutils.runs.parameters``), so a wrong
name is answered in well under a second. ``registry`` imports the names from here, and they stay
importable from there (``from nbutils.methods.registry import METHODS, Recipe``).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Recipe:
    """How a method trains. labels: 'task' | 'regroup' | 'fine'; resample: a sampling name;
    train: training settings the method fixes (they win over the run's shared ones)."""

    loss: str = "ce"
    head: str = "linear"
    resample: str = "none"
    labels: str = "task"
    clustering: str | None = None
    batch_sampler: bool = False
    probe: bool = False
    train: dict[str, Any] = field(default_factory=dict)

    def regroup_options(self) -> tuple[str, ...]:
        """The regrouping options (fields of :class:`RegroupOptions`) this method uses."""
        # settings builds RegroupOptions with the encoders' checks (torch): imported here, where the
        # fields are read, so that checking a method's name needs neither (see the module docstring)
        from nbutils.methods.settings import RegroupOptions

        if self.labels == "regroup":
            fixed = ("clustering", "normalize") if self.clustering else ()  # rg-random: always random
            return tuple(f.name for f in dataclasses.fields(RegroupOptions) if f.name not in fixed)
        if self.labels == "fine":
            return ("aggregate",)
        return ("encoder", "encoder_options") if self.probe else ()


METHODS: dict[str, Recipe] = {
    "ce": Recipe(),
    "wce": Recipe(loss="wce"),
    "focal": Recipe(loss="focal"),
    "ldam": Recipe(loss="ldam", head="cosine"),
    "ldam-drw": Recipe(loss="ldam-drw", head="cosine"),
    "la": Recipe(loss="la"),
    # a plain linear head, as the LMF authors train it (with Adam 1e-4). Measured on 1,500 Fashion-MNIST
    # images, 3 epochs: with SGD lr 0.05 the s=30 logits collapse it to one class; Adam 1e-3 reaches BA 0.87
    "lmf": Recipe(loss="lmf"),
    "ap": Recipe(loss="ap", batch_sampler=True),  # SOAP (Qi et al. 2021), not Chen et al.'s AP-loss
    "ros": Recipe(resample="ros"),
    "rus": Recipe(resample="rus"),
    "rusc": Recipe(resample="rusc"),
    "augment": Recipe(resample="augment"),
    "smote": Recipe(resample="smote"),
    "borderline-smote": Recipe(resample="borderline-smote"),
    "deepsmote": Recipe(resample="deepsmote"),
    "rg": Recipe(labels="regroup"),
    "rg-wce": Recipe(loss="wce", labels="regroup"),
    "rg-focal": Recipe(loss="focal", labels="regroup"),  # the loss factor of notebook 05's ablation
    "rg-random": Recipe(labels="regroup", clustering="random"),
    "rg-oracle": Recipe(labels="fine"),
    # the oracle balanced as RG balances its pseudo-classes: at 50:1 the fine classes are ~5x the
    # minority (RG splits them into K of the minority's size), so each class is weighted by its
    # inverse frequency (the wce loss) and perfect clusters get a fair, balanced control
    "rg-oracle-balanced": Recipe(loss="wce", labels="fine"),
    "mlp-probe": Recipe(probe=True, train={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                                           "batch_size": 256}),
}



def method_spec(entry: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """'focal' or {'name': 'focal', 'gamma': 2} -> ('focal', {'gamma': 2}), checked against METHODS."""
    if isinstance(entry, str):
        name, options = entry, {}
    elif isinstance(entry, dict) and "name" in entry:
        options = dict(entry)
        name = options.pop("name")
    else:
        raise TypeError(f"a method is a name or a dict with a 'name' key, got {entry!r}")
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    return name, options
