"""Per-epoch measurements for the synchronous-learning story, as training-loop callbacks.

Each callback's ``on_epoch_end(state)`` returns extra history columns; pass them to
``nbutils.train.fit(..., callbacks=[...])`` or ``run_method(..., callbacks=[...])``.
"""
from __future__ import annotations

import numpy as np
import torch

from nbutils.data import ImageSet
from nbutils.train import TrainState, evaluation_row, extract_features


def class_spread(features: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """(C,) total variation of each class: mean squared distance of its rows of ``features``
    (N, D) to the class centre (NaN for an absent class)."""
    spread = np.full(n_classes, np.nan)
    for c in range(n_classes):
        f = features[labels == c]
        if len(f):
            spread[c] = float(((f - f.mean(0)) ** 2).sum(1).mean())
    return spread


def stratified_sample(labels: np.ndarray, per_class: int, seed: int) -> np.ndarray:
    """Sorted positions of at most ``per_class`` random samples of each label."""
    rng = np.random.default_rng(seed)
    picks = [rng.permutation(np.flatnonzero(labels == c))[:per_class] for c in np.unique(labels)]
    return np.sort(np.concatenate(picks))


class ClassSpread:
    """Each class's total variation of training representations ('spread/<class>') per epoch,
    on a fixed stratified sample of at most ``per_class`` images a class (paper Fig. 5)."""

    def __init__(self, images: torch.Tensor, labels: np.ndarray, class_names: list[str],
                 per_class: int = 200, seed: int = 0):
        keep = stratified_sample(labels, per_class, seed)
        self.images, self.labels, self.class_names = images[torch.from_numpy(keep)], labels[keep], class_names
        self.per_class = per_class

    def on_epoch_end(self, state: TrainState) -> dict[str, float]:
        spread = class_spread(extract_features(state.model, self.images), self.labels, len(self.class_names))
        return {f"spread/{c}": float(s) for c, s in zip(self.class_names, spread)}

    def __repr__(self) -> str:
        return f"ClassSpread(n={len(self.labels)}, classes={self.class_names}, per_class={self.per_class})"


class Evaluate:
    """BA and per-class AP of a held-out set per epoch ('<prefix>_ap/<class>'; paper Fig. 6)."""

    def __init__(self, held_out: ImageSet, prefix: str = "test"):
        self.held_out, self.prefix = held_out, prefix

    def on_epoch_end(self, state: TrainState) -> dict[str, float]:
        return evaluation_row(state.model, self.held_out, state.to_class_scores, self.prefix)

    def __repr__(self) -> str:
        return f"Evaluate(n={len(self.held_out)}, prefix={self.prefix!r})"


def neighbour_agreement(features: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Mean fraction of each point's ``k`` nearest neighbours (Euclidean, in ``features`` (N, D))
    that share its label: how well a representation separates the labels (1 = perfectly)."""
    from sklearn.neighbors import NearestNeighbors
    k = min(k, len(labels) - 1)
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(features).kneighbors(features)
    return float((labels[idx[:, 1:]] == labels[:, None]).mean())


def centre_mass(maps: np.ndarray) -> float:
    """Mean share of each activation map's mass (maps (N, H, W) >= 0) inside the central half of
    the image — where the object of a centred data set such as Fashion-MNIST is."""
    h, w = maps.shape[-2:]
    inner = maps[..., h // 4: 3 * h // 4, w // 4: 3 * w // 4].sum(axis=(-1, -2))
    return float((inner / np.maximum(maps.sum(axis=(-1, -2)), 1e-12)).mean())


def leader_sentence(values: dict[str, float], margin: float = 0.02) -> str:
    """'**a** leads (0.71 against at most 0.65)', or, when the best few lie within ``margin`` of
    each other, that no single one leads — so a notebook never calls a tie a win."""
    ranked = sorted(values.items(), key=lambda kv: kv[1], reverse=True)
    (best, top), others = ranked[0], ranked[1:]
    tied = [name for name, v in others if top - v <= margin]
    if tied:
        return f"{', '.join([best, *tied])} lie within {margin:.2f} of each other: no clear leader"
    return f"**{best}** leads ({top:.2f} against at most {others[0][1]:.2f})"
