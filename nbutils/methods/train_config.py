"""The training settings, :class:`TrainConfig`, and the choices they are checked against.

This module imports no torch (only when ``compile`` names a backend, to list torch.compile's), so
the runner's check of a parameter file builds every method's training settings before torch loads.
The training loop, ``nbutils.methods.train``, imports these names from here, and they stay
importable from there (``from nbutils.methods.train import TrainConfig``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("cosine", "constant", "step")
# The values of ``amp``: the same tuple as ``nbutils.core.runtime.AMP_CHOICES``, which imports torch
# (tests/test_run.py checks that the two agree).
AMP_CHOICES = ("auto", True, False)


@dataclass
class TrainConfig:
    """Optimisation settings; every field can be set by name from a parameter file."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "sgd"
    lr: float = 0.05
    momentum: float = 0.9
    weight_decay: float = 5e-4
    schedule: str = "cosine"
    step_milestones: list = field(default_factory=lambda: [0.5, 0.75])  # fractions of training
    step_gamma: float = 0.1
    warmup_epochs: int = 0
    augment: bool = True
    hflip: bool = True
    max_rotation: float = 10.0
    amp: bool | str = "auto"  # mixed precision: auto, true or false (see runtime.autocast_dtype)
    channels_last: bool = True  # image models and batches in channels-last memory (bench/memory_format.py)
    compile: str = ""  # a torch.compile backend ('inductor') for training steps; '' trains eagerly
    device: str = "auto"
    seed: int = 0
    select: str = "last"  # "best": keep the epoch of the best validation minority AP (see fit)
    tensorboard: bool = False  # also log every epoch's history row to TensorBoard (see fit)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"unknown optimizer {self.optimizer!r}; valid: {', '.join(OPTIMIZERS)}")
        if self.schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {self.schedule!r}; valid: {', '.join(SCHEDULES)}")
        if not all(isinstance(m, (int, float)) and 0 < m < 1 for m in self.step_milestones):
            raise ValueError(f"step_milestones must be fractions of training in (0, 1), e.g. [0.5, 0.75]; "
                             f"got {self.step_milestones!r}")
        if self.amp not in AMP_CHOICES:
            raise ValueError(f"amp={self.amp!r}: valid choices are 'auto' (bf16 on CPUs with native bf16, fp16 on "
                             "CUDA, else fp32), true (reduced precision) and false (fp32)")
        if self.select not in ("last", "best"):
            raise ValueError(f"select must be 'last' or 'best' (the epoch of the best validation minority-class AP), "
                             f"not {self.select!r}")
        if self.compile:
            # torch's list of compile backends, imported only when a backend is named: checking the
            # other settings needs no torch (see the module docstring)
            import torch._dynamo

            backends = torch._dynamo.list_backends(exclude_tags=())
            if self.compile not in backends:
                raise ValueError(f"unknown torch.compile backend {self.compile!r}; valid: '' (no compilation), "
                                 f"{', '.join(backends)}")
        if self.epochs < 1 or self.batch_size < 2:
            raise ValueError(f"need epochs >= 1 and batch_size >= 2, got {self.epochs} and {self.batch_size}")
        if not 0 <= self.warmup_epochs < self.epochs:
            raise ValueError(f"warmup_epochs={self.warmup_epochs} with epochs={self.epochs}: the warm-up must be "
                             f"shorter than training (0 <= warmup_epochs < epochs) or the rate lr={self.lr} is "
                             "never reached")
        bounds = {"lr": (self.lr, 0 < self.lr < math.inf, "a finite number > 0"),
                  "weight_decay": (self.weight_decay, 0 <= self.weight_decay < math.inf, ">= 0"),
                  "momentum": (self.momentum, 0 <= self.momentum < 1, "in [0, 1)"),
                  "step_gamma": (self.step_gamma, 0 < self.step_gamma <= 1, "in (0, 1]"),
                  "max_rotation": (self.max_rotation, 0 <= self.max_rotation <= 180, "degrees in [0, 180]")}
        wrong = [f"{name}={value!r} (must be {rule})" for name, (value, ok, rule) in bounds.items() if not ok]
        if wrong:
            raise ValueError(f"impossible training setting(s): {'; '.join(wrong)}")
