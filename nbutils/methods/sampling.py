"""Resampling and synthesis of a training set, and a batch order with every class in each batch.

``resample`` only ever sees training images: synthetic images (SMOTE, DeepSMOTE) can never
reach validation or test data.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import sklearn
import torch
from imblearn.over_sampling import SMOTE, BorderlineSMOTE, RandomOverSampler
from imblearn.under_sampling import RandomUnderSampler
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA

from nbutils.core.config import check_keyword_options, keyword_defaults, registered
from nbutils.core.runtime import check_uint8_images, to_float, to_uint8
from nbutils.data.imagesets import TrainingSet
from nbutils.methods.autoencoder import decode_latents, encode_images, fit_autoencoder
from nbutils.methods.regroup import KMEANS_N_INIT
from nbutils.methods.train import augment_batch


def _check_training_data(images: torch.Tensor, labels: np.ndarray) -> None:
    check_uint8_images(images)
    if not isinstance(labels, np.ndarray) or labels.ndim != 1 or labels.dtype.kind not in "iu":
        raise TypeError("labels must be a 1-D integer numpy array (N,), got "
                        f"{type(labels).__name__} {getattr(labels, 'dtype', '')} {getattr(labels, 'shape', '')}")
    if len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries but there are {len(images)} images")


def _positions(images: torch.Tensor) -> np.ndarray:
    """(N, 1) image positions: the 2-D X imbalanced-learn's random samplers need, without pixels."""
    return np.arange(len(images)).reshape(-1, 1)


def _identity(images: torch.Tensor, labels: np.ndarray, seed: int) -> TrainingSet:
    return TrainingSet(images, labels)


def _random_oversampling(images: torch.Tensor, labels: np.ndarray, seed: int) -> TrainingSet:
    sampler = RandomOverSampler(sampling_strategy="not majority", random_state=seed)
    sampler.fit_resample(_positions(images), labels)
    return TrainingSet(images, labels, indices=sampler.sample_indices_)


def _oversampling_with_augmentation(images: torch.Tensor, labels: np.ndarray, seed: int, *,
                                    hflip: bool = True, max_rotation: float = 10.0) -> TrainingSet:
    """Balancing Act's "data augmentation": the duplicates ``ros`` would draw become augmented copies
    (random horizontal flip, rotation within +-max_rotation degrees, made once, seeded) appended to
    the training set, which the loop then trains on with the same base augmentation as every method."""
    drawn = _random_oversampling(images, labels, seed).indices[len(images):]
    if len(drawn) == 0:  # already balanced
        return TrainingSet(images, labels)
    copies = augment_batch(to_float(images[torch.from_numpy(drawn)]), torch.Generator().manual_seed(seed),
                           hflip, max_rotation)
    return _with_synthetic(images, labels, to_uint8(copies), labels[drawn])


def _random_undersampling(images: torch.Tensor, labels: np.ndarray, seed: int) -> TrainingSet:
    sampler = RandomUnderSampler(sampling_strategy="not minority", random_state=seed)
    sampler.fit_resample(_positions(images), labels)
    return TrainingSet(images, labels, indices=np.sort(sampler.sample_indices_))


def proportional_quotas(sizes: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over groups proportionally to their ``sizes`` (K,) (largest remainders).

    Each quota is at most its group's size when total <= sizes.sum(); e.g. ([60, 20], 8) -> [6, 2].
    """
    shares = total * sizes / sizes.sum()
    quotas = np.floor(shares).astype(np.int64)
    by_remainder = np.argsort(quotas - shares, kind="stable")
    quotas[by_remainder[:total - quotas.sum()]] += 1
    return quotas


def _clustering_features(images: torch.Tensor, features: np.ndarray | None,
                         pca_components: int | None, seed: int) -> np.ndarray:
    """(N, D) features to cluster: the given ones or flattened pixels, PCA-reduced if wider."""
    if features is None:
        features = images.flatten(1).numpy().astype(np.float32)
    elif np.ndim(features) != 2 or len(features) != len(images):
        raise ValueError(f"features must have shape (N, D) = ({len(images)}, D), got {np.shape(features)}")
    if pca_components is not None and features.shape[1] > pca_components:
        n_components = min(pca_components, len(features))
        features = PCA(n_components, random_state=seed).fit_transform(features)
    return features


def _undersampling_by_clusters(images: torch.Tensor, labels: np.ndarray, seed: int, *,
                               n_clusters: int = 10, pca_components: int | None = 50,
                               features: np.ndarray | None = None) -> TrainingSet:
    features = _clustering_features(images, features, pca_components, seed)
    classes, counts = np.unique(labels, return_counts=True)
    target = counts.min()
    rng = np.random.default_rng(seed)
    kept = [np.flatnonzero(np.isin(labels, classes[counts == target]))]
    for c in classes[counts > target]:
        members = np.flatnonzero(labels == c)
        k = min(n_clusters, len(members))
        clusters = KMeans(k, n_init=KMEANS_N_INIT, random_state=seed).fit_predict(features[members])
        sizes = np.bincount(clusters, minlength=k)
        for cluster, quota in enumerate(proportional_quotas(sizes, target)):
            kept.append(rng.choice(members[clusters == cluster], quota, replace=False))
    return TrainingSet(images, labels, indices=np.sort(np.concatenate(kept)))


def _check_class_sizes(labels: np.ndarray, k_neighbors: int, name: str) -> None:
    """Every class SMOTE will oversample (all but the largest) needs k_neighbors + 1 samples."""
    classes, counts = np.unique(labels, return_counts=True)
    for c, n_c in zip(classes, counts):
        if n_c < counts.max() and n_c < k_neighbors + 1:
            fix = f"pass k_neighbors={n_c - 1} or lower" if n_c > 1 else "a class needs at least 2 images"
            raise ValueError(
                f"class {c} has {n_c} training images, fewer than the k_neighbors + 1 = {k_neighbors + 1} "
                f"that {name!r} needs to oversample it; {fix}, or use 'ros'")


def smote_memory_gb(n_in: int, n_out: int, n_features: int) -> float:
    """Memory estimate of pixel SMOTE on n_in -> n_out samples of n_features values.

    imbalanced-learn holds the input, its copy, the new samples (float64 while being made) and
    the stacked output: about two float64 (N_out, D) arrays. Its neighbour search adds a chunk of
    float64 distances, at most n_in^2 and at most scikit-learn's ``working_memory``.
    """
    knn_bytes = min(8 * n_in**2, sklearn.get_config()["working_memory"] * 2**20)
    return (2 * 8 * n_out * n_features + knn_bytes) / 2**30


def _check_memory(labels: np.ndarray, n_features: int, max_memory_gb: float, name: str) -> None:
    counts = np.unique(labels, return_counts=True)[1]
    n_out = len(counts) * counts.max()
    need = smote_memory_gb(len(labels), n_out, n_features)
    if need > max_memory_gb:
        raise ValueError(
            f"{name!r} on {n_features} values per image would need about {need:.3g} GB "
            f"(max_memory_gb={max_memory_gb}); use 'deepsmote', which runs SMOTE in a small latent "
            "space, or smaller images, or raise max_memory_gb if the machine has the memory")


def _synthesise(oversampler, points: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Run an imbalanced-learn oversampler on (N, D) points; return only the new (M, D) points and labels."""
    resampled, resampled_labels = oversampler.fit_resample(points, labels)
    return resampled[len(points):], resampled_labels[len(points):]


def _with_synthetic(images: torch.Tensor, labels: np.ndarray, synthetic: torch.Tensor,
                    synthetic_labels: np.ndarray) -> TrainingSet:
    return TrainingSet(torch.cat([images, synthetic]),
                       np.concatenate([labels, synthetic_labels]).astype(np.int64),
                       n_synthetic=len(synthetic))


def _pixel_smote(oversampler, images: torch.Tensor, labels: np.ndarray, max_memory_gb: float,
                 name: str) -> TrainingSet:
    _check_class_sizes(labels, oversampler.k_neighbors, name)
    _check_memory(labels, images[0].numel(), max_memory_gb, name)
    pixels = to_float(images).flatten(1).numpy()
    new_pixels, new_labels = _synthesise(oversampler, pixels, labels)
    synthetic = to_uint8(torch.from_numpy(new_pixels).view(-1, *images.shape[1:]))
    return _with_synthetic(images, labels, synthetic, new_labels)


def _smote(images: torch.Tensor, labels: np.ndarray, seed: int, *, k_neighbors: int = 5,
           max_memory_gb: float = 4.0) -> TrainingSet:
    return _pixel_smote(SMOTE(k_neighbors=k_neighbors, random_state=seed),
                        images, labels, max_memory_gb, "smote")


def _borderline_smote(images: torch.Tensor, labels: np.ndarray, seed: int, *, k_neighbors: int = 5,
                      m_neighbors: int = 10, max_memory_gb: float = 4.0) -> TrainingSet:
    return _pixel_smote(BorderlineSMOTE(k_neighbors=k_neighbors, m_neighbors=m_neighbors, random_state=seed),
                        images, labels, max_memory_gb, "borderline-smote")


def _deepsmote(images: torch.Tensor, labels: np.ndarray, seed: int, *, k_neighbors: int = 5,
               latent_dim: int = 64, ae_epochs: int = 20, ae_batch_size: int = 128, ae_lr: float = 1e-3,
               device: str = "auto") -> TrainingSet:
    """DeepSMOTE; the ``ae_`` options train its autoencoder (named apart from the classifier's)."""
    _check_class_sizes(labels, k_neighbors, "deepsmote")
    model = fit_autoencoder(images, labels, latent_dim=latent_dim, epochs=ae_epochs, batch_size=ae_batch_size,
                            lr=ae_lr, seed=seed, device=device, permutation_loss=True)
    latents = encode_images(model, images).numpy()
    new_latents, new_labels = _synthesise(SMOTE(k_neighbors=k_neighbors, random_state=seed), latents, labels)
    return _with_synthetic(images, labels, decode_latents(model, torch.from_numpy(new_latents)), new_labels)


# The registry SAMPLERS: one sampler per name, ``sampler(images, labels, seed, *, option=default, ...)
# -> TrainingSet`` with images (N, C, H, W) uint8 and labels (N,) int64; its keyword-only parameters are
# the sampler's options, and their annotations the option types that check_sampler_options enforces.
SAMPLERS: dict[str, Callable[..., TrainingSet]] = {
    "none": _identity,
    "ros": _random_oversampling,
    "rus": _random_undersampling,
    "rusc": _undersampling_by_clusters,
    "augment": _oversampling_with_augmentation,
    "smote": _smote,
    "borderline-smote": _borderline_smote,
    "deepsmote": _deepsmote,
}


def sampler_options(name: str) -> dict[str, object]:
    """The options ``resample(name, ...)`` accepts, with their defaults."""
    return keyword_defaults(registered(SAMPLERS, name, "sampler"))


def check_sampler_options(name: str, options: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Sampler ``name``'s options checked for names and types (numbers written as strings, as YAML 1.1
    leaves '1e-3', read as numbers): a new dict. ``where`` prefixes errors (e.g. "method 'smote'").
    Raises ValueError for an unknown sampler or option (valid ones listed), TypeError for a wrong type."""
    what = f"sampler {name!r}"
    return check_keyword_options(registered(SAMPLERS, name, "sampler"), options, f"{where}: {what}" if where else what)


def resample(name: str, images: torch.Tensor, labels: np.ndarray, *, seed: int = 0,
             **options) -> TrainingSet:
    """Rebalance a training set; deterministic by seed.

    images: (N, C, H, W) uint8 training images; labels: (N,) int64. Pass training data only:
    synthetic images are made from and appended to what is given here, so they can never reach
    validation or test data.

    Names (options with defaults):
    - ``none``: the set as is.
    - ``ros``: every smaller class drawn with replacement up to the largest (``indices``).
    - ``augment`` (Balancing Act): the duplicates of ``ros`` made into augmented copies once
      (``hflip=True``, rotation within ``max_rotation=10.0`` degrees; the methods pass the run's
      own training settings of those names) and appended; training then augments every image as
      it does for every method.
    - ``rus``: every larger class drawn without replacement down to the smallest (``indices``).
    - ``rusc`` (Yen & Lee 2009): each larger class clustered by k-means into ``n_clusters=10``
      clusters on ``features=None`` (N, D) or else flattened pixels, reduced by PCA to
      ``pca_components=50`` dims when wider (None = no PCA); then down to the smallest class
      count, drawing from each cluster in proportion to its size. For large images pass features.
    - ``smote``, ``borderline-smote``: imbalanced-learn on flattened pixels, ``k_neighbors=5``
      (borderline also ``m_neighbors=10``); synthetic images rounded to uint8 and appended.
      Refused when the estimated memory (``smote_memory_gb``) exceeds ``max_memory_gb=4.0``.
      Borderline-SMOTE only draws from minority samples near other classes, so a class with
      none in danger is left as is.
    - ``deepsmote`` (Dablain et al. 2022): ``fit_autoencoder`` with the permutation loss
      (``latent_dim=64, ae_epochs=20, ae_batch_size=128, ae_lr=1e-3, device="auto"``), SMOTE with
      ``k_neighbors=5`` on the latent vectors, synthetic latents decoded and appended.
    """
    options = check_sampler_options(name, options)
    _check_training_data(images, labels)
    return SAMPLERS[name](images, labels.astype(np.int64, copy=False), seed, **options)


class PositiveEveryBatchSampler:
    """An epoch order in which every batch holds at least one sample of every class.

    Needed by the AP loss, which ranks the positives of each class (one-vs-rest) in each batch.
    Each epoch, every training position appears at least once; a class with fewer samples than
    batches has some of its samples repeated, so that each batch gets one. The order is meant to
    be cut into consecutive batches of ``batch_size``: all are full except maybe the last, which
    still holds every class.
    """

    def __init__(self, labels: np.ndarray, batch_size: int, seed: int = 0):
        self.labels = np.asarray(labels)
        if self.labels.ndim != 1 or len(self.labels) == 0:
            raise ValueError(f"labels must be a non-empty 1-D array (N,), got shape {self.labels.shape}")
        self.classes, self.counts = np.unique(self.labels, return_counts=True)
        if batch_size < len(self.classes):
            raise ValueError(f"batch_size={batch_size} is smaller than the number of classes "
                             f"({len(self.classes)}), so a batch cannot hold every class; "
                             f"use batch_size >= {len(self.classes)}")
        self.batch_size = batch_size
        self.seed = seed
        self.n_batches = self._count_batches()

    def _count_batches(self) -> int:
        """Fewest batches that fit every sample plus the repeats that give each batch every class."""
        n_batches = -(-len(self.labels) // self.batch_size)
        while len(self.labels) + np.maximum(n_batches - self.counts, 0).sum() > n_batches * self.batch_size:
            n_batches += 1
        return n_batches

    def epoch_indices(self, epoch: int) -> torch.LongTensor:
        """Training positions (L,) for one epoch, L = N plus repeats; deterministic by (seed, epoch)."""
        rng = np.random.default_rng([self.seed, epoch])
        anchors, rest = [], []
        for c in self.classes:
            members = rng.permutation(np.flatnonzero(self.labels == c))
            anchors.append(np.resize(members, self.n_batches))
            rest.append(members[self.n_batches:])
        anchors = np.stack(anchors, axis=1)
        per_batch = self.batch_size - len(self.classes)
        rest = rng.permutation(np.concatenate(rest))
        shortfall = max(0, per_batch * (self.n_batches - 1) - len(rest))  # < number of classes
        rest = np.concatenate([rest, rng.choice(len(self.labels), shortfall, replace=False)])
        cuts = per_batch * np.arange(1, self.n_batches)
        batches = [rng.permutation(np.concatenate([a, r])) for a, r in zip(anchors, np.split(rest, cuts))]
        return torch.from_numpy(np.concatenate(batches)).long()
