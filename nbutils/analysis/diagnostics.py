"""Per-epoch measurements for the synchronous-learning story, as training-loop callbacks, and
the numbers behind the notebooks' generated sentences.

Each callback's ``on_epoch_end(state)`` returns extra history columns; pass them to
``nbutils.methods.train.fit(..., callbacks=[...])`` or ``run_method(..., callbacks=[...])``. The callbacks
also measure the untrained model before the first epoch (columns ``untrained:<column>`` of the
first epoch's row); :func:`with_untrained_row` makes that a row of its own, epoch 0.
"""
from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from nbutils.data.imagesets import ImageSet, Task
from nbutils.methods.train import TrainState, evaluation_row, extract_features

UNTRAINED = "untrained:"  # prefix of the history columns measured before the first epoch


def class_spread(features: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C,) each class's share of the total variation of ``features`` (N, D) with ``labels`` (N,):
    the mean squared distance of the class's rows to their centre, divided by the mean squared
    distance of all N rows to the overall centre. NaN for an absent class, and for every class
    when the rows do not vary at all (0 / 0).

    The paper (Fig. 5) plots the raw mean squared distance to the class centre; on unnormalised
    penultimate features that grows with the size of the features, so every class's curve rose
    while the paper reads the curves as classes concentrating. The ratio is unchanged when the
    features are scaled or shifted, so only concentration relative to the whole sample is left:
    1 = as spread as all sampled images together, towards 0 = contracted to the class centre.
    Chosen over the variation of L2-normalised features because ReLU features all lie in the
    positive orthant, where unit vectors start close together and a common offset changes their
    variation; the ratio ignores both. It is the trace form of the within-class variability
    measured in studies of neural collapse (Papyan et al., 2020, PNAS).
    """
    x = np.asarray(features, dtype=np.float64)
    labels = np.asarray(labels)
    if x.ndim != 2 or len(x) != len(labels):
        raise ValueError(f"need features (N, D) and labels (N,), got shapes {x.shape} and {labels.shape}")
    total = ((x - x.mean(0)) ** 2).sum(1).mean()
    spread = np.full(n_classes, np.nan)
    for c in range(n_classes):
        f = x[labels == c]
        if len(f) and total > 0:
            spread[c] = float(((f - f.mean(0)) ** 2).sum(1).mean() / total)
    return spread


def stratified_sample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``per_class`` random samples of each label."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


class EpochMeasure:
    """A callback that measures the model after every epoch and once before the first.

    Subclasses define ``measure(state) -> {column: value}``. The first epoch's row also holds the
    untrained model's values as ``untrained:<column>`` (a resumed run keeps them from its first
    start); :func:`with_untrained_row` turns them into the row of epoch 0.
    """

    def measure(self, state: TrainState) -> dict[str, float]:
        raise NotImplementedError(f"{type(self).__name__} must define measure(state)")

    def on_epoch_start(self, state: TrainState) -> None:
        if state.epoch == 0:
            self.untrained = self.measure(state)

    def on_epoch_end(self, state: TrainState) -> dict[str, float]:
        row = self.measure(state)
        if state.epoch == 0:
            row.update({UNTRAINED + k: v for k, v in self.untrained.items()})
        return row


class ClassSpread(EpochMeasure):
    """Each class's share of the total variation of training representations ('spread/<class>',
    see :func:`class_spread`) per epoch and before the first, on a fixed stratified sample of at
    most ``per_class`` images a class (paper Fig. 5)."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray, class_names: list[str],
                 per_class: int = 200, seed: int = 0):
        keep = stratified_sample(labels, per_class, seed)
        self.images, self.labels, self.class_names = images[torch.from_numpy(keep)], labels[keep], class_names
        self.per_class = per_class

    def measure(self, state: TrainState) -> dict[str, float]:
        spread = class_spread(extract_features(state.model, self.images), self.labels, len(self.class_names))
        return {f"spread/{c}": float(s) for c, s in zip(self.class_names, spread)}

    def __repr__(self) -> str:  # part of a run's cache key: it changes whenever the columns' meaning does
        return (f"ClassSpread(measure=within/total variation, untrained row, n={len(self.labels)}, "
                f"classes={self.class_names}, per_class={self.per_class})")


class TargetSpread(EpochMeasure):
    """Each *training target*'s share of the total variation of training representations
    ('target_spread/<k>' for target k: the task class of a binary model, the pseudo-class of a
    regrouped one; see :func:`class_spread`), per epoch and before the first: the classes the
    paper's Fig. 5 measures (majority vs minority for CE, the pseudo-classes for RG). The targets
    are the training loop's own (``state.data.labels``), so it needs no mapping; the result's
    ``mapping`` says which task class a pseudo-class belongs to. A fixed stratified sample of at
    most ``per_class`` original (not synthetic) training images a target, drawn at the first epoch."""

    def __init__(self, per_class: int = 200, seed: int = 0):
        self.per_class, self.seed = per_class, seed
        self.keep: np.ndarray | None = None

    def measure(self, state: TrainState) -> dict[str, float]:
        data = state.data
        labels = np.asarray(data.labels)[: len(data.labels) - data.n_synthetic]
        if self.keep is None:
            self.keep = stratified_sample(labels, self.per_class, self.seed)
        n_targets = int(labels.max()) + 1
        features = extract_features(state.model, data.images[torch.from_numpy(self.keep)])
        spread = class_spread(features, labels[self.keep], n_targets)
        return {f"target_spread/{k}": float(s) for k, s in enumerate(spread)}

    def __repr__(self) -> str:
        return f"TargetSpread(measure=within/total variation, untrained row, per_class={self.per_class}, seed={self.seed})"


class Evaluate(EpochMeasure):
    """BA and per-class AP of a held-out set per epoch and before the first
    ('<prefix>_ap/<class>'; paper Fig. 6)."""

    def __init__(self, held_out: ImageSet, prefix: str = "test"):
        self.held_out, self.prefix = held_out, prefix

    def measure(self, state: TrainState) -> dict[str, float]:
        return evaluation_row(state.model, self.held_out, state.to_class_scores, self.prefix)

    def __repr__(self) -> str:
        return f"Evaluate(n={len(self.held_out)}, prefix={self.prefix!r}, untrained row)"


def with_untrained_row(history: pd.DataFrame) -> pd.DataFrame:
    """One run's history from ``train.fit`` (a row per epoch, ``epoch`` 0..E-1) with ``epoch``
    counting the epochs trained: a first row, epoch 0, of the untrained model's measurements
    (from the ``untrained:<column>`` columns; NaN in columns without one, such as the training
    loss), then the rows after epoch 1..E."""
    untrained = [c for c in history.columns if c.startswith(UNTRAINED)]
    if not untrained:
        raise ValueError(f"history has no '{UNTRAINED}<column>' columns; record them with a callback of "
                         "nbutils.analysis.diagnostics (ClassSpread, Evaluate) passed to a fresh training")
    if list(history["epoch"]) != list(range(len(history))):
        raise ValueError(f"need one run's history with epochs 0..E-1 in order, got {list(history['epoch'])}")
    trained = history.drop(columns=untrained).assign(epoch=history["epoch"] + 1)
    first = {c.removeprefix(UNTRAINED): history[c].iloc[0] for c in untrained}
    return pd.concat([pd.DataFrame([{"epoch": 0, **first}]), trained], ignore_index=True)[list(trained.columns)]


def neighbour_agreement(features: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours (Euclidean, in ``features`` (N, D))
    that share its label: how well a representation separates the labels (1 = perfectly)."""
    from sklearn.neighbors import NearestNeighbors
    k = min(k, len(labels) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return float((labels[idx[:, 1:]] == labels[:, None]).mean())


def empty_maps(maps: np.ndarray) -> np.ndarray:
    """(N,) bool: which activation maps (N, H, W) are all zero — no positive evidence anywhere,
    as from a model that has not learnt."""
    return ~(np.asarray(maps).reshape(len(maps), -1) > 0).any(axis=1)


def centre_mass(maps: np.ndarray) -> float:
    """Mean share of each activation map's mass (maps (N, H, W) >= 0) inside the central half of
    the image — where the object of a centred data set such as Fashion-MNIST is.

    An all-zero map has no mass to share (0 / 0) and is left out of the mean; NaN when every map
    is all zero, so an empty map never reads as "all mass outside the centre". Count the empty
    maps with :func:`empty_maps`.
    """
    maps = np.asarray(maps, dtype=np.float64)
    h, w = maps.shape[-2:]
    keep = ~empty_maps(maps)
    if not keep.any():
        return float("nan")
    inner = maps[keep, h // 4: 3 * h // 4, w // 4: 3 * w // 4].sum(axis=(-1, -2))
    return float((inner / maps[keep].sum(axis=(-1, -2))).mean())


def leader(values: dict[str, float], margin: float = 0.02) -> str | None:
    """The name with the highest value when it exceeds every other by more than ``margin``;
    None when the best few lie within ``margin`` of each other (a tie is not a win)."""
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    if len(ranked) > 1 and ranked[0][1] - ranked[1][1] <= margin:
        return None
    return ranked[0][0]


def leader_sentence(values: dict[str, float], margin: float = 0.02) -> str:
    """'**a** leads (0.71 against at most 0.65)', or, when the best few lie within ``margin`` of
    each other, that no single one leads — so a notebook never calls a tie a win."""
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), others = ranked[0], ranked[1:]
    if not others:
        return f"only **{best}** was measured ({top:.2f})"
    if leader(values, margin) is None:
        tied = [name for name, v in ranked if top - v <= margin]
        return f"{', '.join(tied)} lie within {margin:.2f} of each other: no clear leader"
    return f"**{best}** leads ({top:.2f} against at most {others[0][1]:.2f})"


def sync_callbacks(task: Task, per_class: int) -> tuple[EpochMeasure, ...]:
    """Notebook 02's per-epoch measurements: each fine class's share of the variation of the training
    features (``spread/<class>``, on ``per_class`` images a fine class), each training target's
    (``target_spread/<k>``, the paper's Fig. 5 measure) and test AP (``test_ap/<class>``, Fig. 6).
    They do not change the training: a result trained with them is the result trained without,
    plus their history columns (tests/test_diagnostics.py), so notebook 03 loads what 02 trained."""
    return (ClassSpread(task.train.images, task.train.fine_labels, task.train.fine_classes, per_class),
            TargetSpread(per_class), Evaluate(task.test, "test"))
