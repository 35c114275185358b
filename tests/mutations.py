"""Faults put into nbutils on purpose, one at a time, to show that the suite notices each.

``NBUTILS_MUTATION=<fault>`` makes tests/conftest.py call :func:`apply` at session start, before
any test module is imported; tests/test_mutations.py runs each fault's ``TESTS`` in a pytest
subprocess that way and asserts they fail. A fault replaces a public name in its module and
wherever another nbutils module bound the same object by ``from ... import`` (where it is
looked up), so callers inside the package and test modules imported later all see it.
"""
from __future__ import annotations

import dataclasses
import sys
from typing import Any, Callable

import numpy as np
import torch

import nbutils.data.tasks
import nbutils.methods.losses
import nbutils.methods.registry
import nbutils.methods.regroup
import nbutils.methods.sampling
from nbutils.data.imagesets import TrainingSet


def replace_everywhere(module: Any, name: str, new: Any) -> None:
    """Set ``module.name = new`` and rebind every loaded nbutils module's alias of the old object."""
    old = getattr(module, name)
    for loaded in [m for n, m in sys.modules.items() if n == "nbutils" or n.startswith("nbutils.")]:
        if getattr(loaded, name, None) is old:
            setattr(loaded, name, new)


def wce_inverted() -> None:
    """WCE weights proportional to the class counts instead of their inverse."""
    def weights(class_counts):
        counts = torch.as_tensor(class_counts, dtype=torch.float64)
        return (counts / counts.mean()).float()
    replace_everywhere(nbutils.methods.losses, "inverse_frequency_weights", weights)


def focal_gamma_ignored() -> None:
    """Focal loss that drops its (1 - p_t)^gamma factor: plain CE whatever gamma is."""
    original = nbutils.methods.losses.FocalLoss

    class FocalWithoutGamma(original):
        def __init__(self, n_classes, gamma, alpha=None):
            super().__init__(n_classes, gamma, alpha)
            self.gamma = 0.0
    replace_everywhere(nbutils.methods.losses, "FocalLoss", FocalWithoutGamma)


def ldam_margins_to_majority() -> None:
    """LDAM margins growing with n_c^(1/4): the largest margin goes to the largest class."""
    def margins(class_counts, max_m=0.5):
        m = torch.as_tensor(class_counts, dtype=torch.float64) ** 0.25
        return (m * max_m / m.max()).float()
    replace_everywhere(nbutils.methods.losses, "ldam_margins", margins)


def sampler_identity() -> None:
    """Every sampler returns the training set it was given, unchanged."""
    def resample(name, images, labels, *, seed=0, **options):
        return TrainingSet(images, np.asarray(labels).astype(np.int64))
    replace_everywhere(nbutils.methods.sampling, "resample", resample)


def kmeans_is_random() -> None:
    """clustering='kmeans' silently assigns random groups (the 'random' control)."""
    original = nbutils.methods.regroup.cluster

    def cluster(embeddings, k, clustering="kmeans", random_state=0):
        return original(embeddings, k, "random" if clustering == "kmeans" else clustering, random_state)
    replace_everywhere(nbutils.methods.regroup, "cluster", cluster)


def max_is_mean() -> None:
    """Aggregation 'max' computes the mean of each class's pseudo-class scores."""
    original = nbutils.methods.regroup.aggregate

    def aggregate(scores, mapping, how="max"):
        if how != "max":
            return original(scores, mapping, how)
        sizes = np.bincount(np.asarray(mapping))
        total = original(scores, mapping, "sum")
        return total / (torch.as_tensor(sizes, dtype=total.dtype) if isinstance(total, torch.Tensor) else sizes)
    replace_everywhere(nbutils.methods.regroup, "aggregate", aggregate)


def validation_on_test_split() -> None:
    """make_task hands the test split out as the validation split."""
    original = nbutils.data.tasks.make_task

    def make_task(*args, **kwargs):
        task = original(*args, **kwargs)
        return dataclasses.replace(task, val=task.test)
    replace_everywhere(nbutils.data.tasks, "make_task", make_task)


def metrics_on_training_data() -> None:
    """run_method scores and evaluates the training images instead of the test images."""
    original = nbutils.methods.registry.run_method

    def run_method(task, *args, **kwargs):
        return original(dataclasses.replace(task, test=task.train), *args, **kwargs)
    replace_everywhere(nbutils.methods.registry, "run_method", run_method)


@dataclasses.dataclass(frozen=True)
class Fault:
    apply: Callable[[], None]
    tests: tuple[str, ...]  # test ids that must fail with this fault (fast, exact ones first)


FAULTS: dict[str, Fault] = {
    "wce-inverted": Fault(wce_inverted, (
        "tests/test_losses.py::test_wce_weights_are_inverse_counts_with_mean_one",)),
    "focal-gamma-ignored": Fault(focal_gamma_ignored, (
        "tests/test_losses.py::test_focal_hand_example_and_alpha_applied_after_p_t",)),
    "ldam-margins-to-majority": Fault(ldam_margins_to_majority, (
        "tests/test_losses.py::test_ldam_margins_scale_with_n_to_minus_quarter",)),
    "sampler-identity": Fault(sampler_identity, (
        "tests/test_sampling.py::test_random_oversampling_fills_every_class_to_the_largest",)),
    "kmeans-is-random": Fault(kmeans_is_random, (
        "tests/test_regroup.py::test_kmeans_recovers_blobs_and_random_control_does_not",)),
    "max-is-mean": Fault(max_is_mean, (
        "tests/test_regroup.py::test_max_and_sum_by_hand",)),
    "test-split-for-validation": Fault(validation_on_test_split, (
        "tests/test_data.py::test_task_splits_are_stratified_disjoint_and_deterministic",)),
    "metrics-on-training-data": Fault(metrics_on_training_data, (
        "tests/test_behaviour.py::test_the_result_row_scores_the_test_split_and_the_history_the_validation_split",)),
}


def apply(name: str) -> None:
    """Put fault ``name`` into nbutils (for the rest of this process)."""
    if name not in FAULTS:
        raise ValueError(f"unknown NBUTILS_MUTATION {name!r}; valid: {', '.join(FAULTS)}")
    FAULTS[name].apply()
