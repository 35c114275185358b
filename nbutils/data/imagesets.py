"""The data types every module shares, and the two operations both the readers and task building use.

:class:`ImageSet` (uint8 images with labels), :class:`TrainingSet` (what the training loop consumes),
:class:`Task` (train/val/test image sets with the spec that shaped them); :func:`resize` and the
stratified, grouped split :func:`split_indices`. This module imports no other module of the package,
so the readers (``nbutils.data.readers``, ``nbutils.data.medical``), the registry (``nbutils.data.datasets``) and
task building (``nbutils.data.tasks``) all import it without a circle.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split


@dataclass
class ImageSet:
    """Images with labels.

    images: (N, C, H, W) uint8; labels: (N,) int64 in 0..len(classes)-1.
    fine_labels: (N,) int64 hidden finer labels (e.g. the original class of a one-vs-rest task).
    groups: (N,) ids that must not be split across train/val/test (e.g. HAM10000 lesion_id).
    ids: (N,) int64 positions in the data set's split the images were read from (set by task
        building), so that parts drawn from one split can be proven disjoint.
    """

    images: torch.Tensor
    labels: np.ndarray
    classes: list[str]
    fine_labels: np.ndarray | None = None
    fine_classes: list[str] | None = None
    groups: np.ndarray | None = None
    ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "ImageSet":
        """The samples at ``index`` (int positions), every per-sample field alike."""
        index = np.asarray(index, dtype=np.int64)
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return replace(self, images=self.images[torch.from_numpy(index)], labels=self.labels[index],
                       fine_labels=pick(self.fine_labels), groups=pick(self.groups), ids=pick(self.ids))

    def concat(self, other: "ImageSet") -> "ImageSet":
        """This set followed by ``other`` (same classes); a per-sample field either lacks becomes None."""
        if other.classes != self.classes:
            raise ValueError(f"cannot join image sets of classes {self.classes} and {other.classes}")
        join = lambda a, b: None if a is None or b is None else np.concatenate([a, b])  # noqa: E731
        return replace(self, images=torch.cat([self.images, other.images]),
                       labels=np.concatenate([self.labels, other.labels]),
                       fine_labels=join(self.fine_labels, other.fine_labels), groups=join(self.groups, other.groups),
                       ids=None)

    def class_counts(self) -> np.ndarray:
        """(C,) number of samples of each class."""
        return np.bincount(self.labels, minlength=len(self.classes))


@dataclass
class TrainingSet:
    """What the training loop trains on after any resampling or synthesis.

    images: (N', C, H, W) uint8 — the original training images, then any synthetic ones appended
        (or (N', D) float features for a probe on frozen embeddings).
    labels: (N',) int64 targets of ``images``.
    indices: (M,) positions into ``images`` that make one epoch (a resampled set); None = each once.
    n_synthetic: how many images at the end of ``images`` are synthetic.
    """

    images: torch.Tensor
    labels: np.ndarray
    indices: np.ndarray | None = None
    n_synthetic: int = 0


@dataclass
class Task:
    """A classification task: stratified train/val/test splits sharing one class list.

    pool: an extra evaluation pool (or None): images of the data set's training split that no
    method sees, drawn at the task's class ratio (task spec ``held_out_size``); ``held_out`` is the
    test split followed by it, the set the claims are judged on.
    spec: everything that shaped the splits — the parameter-file spec plus the resolved
    ``image_size`` (of the images as built), ``data_root`` (absolute, or None for the default
    places) and ``seed`` — so a result key that hashes it changes when any of them changes."""

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet
    spec: dict[str, Any] = field(default_factory=dict)
    pool: ImageSet | None = None

    @property
    def held_out(self) -> ImageSet:
        """The test split followed by the extra evaluation pool (the test split alone without one)."""
        return self.test if self.pool is None else self.test.concat(self.pool)

    @property
    def classes(self) -> list[str]:
        return self.train.classes

    @property
    def minority_classes(self) -> list[str]:
        """Classes whose training count is below the mean count (for binary tasks: the positive)."""
        counts = self.train.class_counts()
        return [c for c, n in zip(self.classes, counts) if n < counts.mean()]


def resize(ds: ImageSet, size: int) -> ImageSet:
    """Images resized to ``size`` x ``size`` (bilinear, antialiased), still uint8."""
    if ds.images.shape[-1] == size and ds.images.shape[-2] == size:
        return ds
    x = F.interpolate(ds.images.float(), size=(size, size), mode="bilinear", antialias=True,
                      align_corners=False)
    return replace(ds, images=x.round_().clamp_(0, 255).to(torch.uint8))


def split_indices(labels: np.ndarray, fraction: float, seed: int, groups: np.ndarray | None = None,
                  classes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split of N samples into sorted (rest, part) index arrays, ``part`` about
    ``fraction`` of them. With ``groups`` (N,) whole groups are split, stratified by the label of
    each group's first sample, so no group lands in both (and it takes milliseconds where
    StratifiedGroupKFold takes seconds on HAM10000's 7,470 lesions); without, each sample is a
    group. ``classes`` names the labels in errors and warnings.

    Small data: a class with fewer than 2 groups cannot be in both parts (ValueError naming it
    and its group count). When a part would hold fewer groups than there are classes, which
    scikit-learn's stratified split refuses, each class's groups are split on their own
    (at least one in each part) with a warning naming the classes that get a single group."""
    if not 0 < fraction < 1:
        raise ValueError(f"a split fraction must be in (0, 1), got {fraction}")
    unit = "samples" if groups is None else "groups (e.g. lesions)"
    _, first, member = np.unique(np.arange(len(labels)) if groups is None else groups,
                                 return_index=True, return_inverse=True)
    group_labels = np.asarray(labels)[first]
    present, per_class = np.unique(group_labels, return_counts=True)
    name = (lambda c: repr(classes[c])) if classes else (lambda c: f"class {c}")  # noqa: E731
    scarce = [f"{name(c)} has only {n}" for c, n in zip(present, per_class) if n < 2]
    if scarce:
        raise ValueError(f"cannot split {len(first)} {unit} so that every class is in both parts: "
                         f"{', '.join(scarce)} (at least 2 needed); add data of that class or leave it out")
    n_part = math.ceil(fraction * len(first))  # as scikit-learn rounds test_size
    if min(n_part, len(first) - n_part) >= len(present):
        _, part_groups = train_test_split(np.arange(len(first)), test_size=fraction,
                                          stratify=group_labels, random_state=seed)
    else:
        part_groups = split_each_class(group_labels, fraction, seed)
        few = [f"{name(c)} ({n})" for c, n in zip(present, per_class) if not 1 <= round(fraction * n) < n]
        warnings.warn(f"{min(n_part, len(first) - n_part)} of {len(first)} {unit} for the smaller part are "
                      f"fewer than the {len(present)} classes, too few for a stratified split: each class is "
                      f"split on its own instead (one of each class at least in each part). Classes with too "
                      f"few {unit} for the fraction {fraction:g}: {', '.join(few) or 'none'}. More data or a "
                      "larger fraction gives a stratified split.", stacklevel=2)
    in_part = np.isin(member, part_groups)
    return np.flatnonzero(~in_part), np.flatnonzero(in_part)


def split_each_class(labels: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """Sorted positions (of the N ``labels``) of a part holding round(fraction * n_c) of each
    class's n_c items, at least one and at most n_c - 1 (every class has n_c >= 2)."""
    rng = np.random.default_rng(seed)
    part = [rng.choice(members, size=int(np.clip(round(fraction * len(members)), 1, len(members) - 1)),
                       replace=False)
            for members in (np.flatnonzero(labels == c) for c in np.unique(labels))]
    return np.sort(np.concatenate(part))
