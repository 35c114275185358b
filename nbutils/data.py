"""Data sets as uint8 image tensors, task builders, and the training set a training loop consumes.

``load_dataset(name, root, split)`` returns an :class:`ImageSet`; ``make_task(spec, seed)`` turns a
parameter-file task (one-vs-rest, imbalance ratio, long-tail profile, sizes) into stratified
train/val/test splits, deterministically by seed.
"""
from __future__ import annotations

import functools
import gzip
import inspect
import math
import os
import pickle
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from sklearn.model_selection import train_test_split

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
PROFILES = {"ham10000": (6705, 1113, 1099, 514, 327, 142, 115)}


@dataclass
class ImageSet:
    """Images with labels.

    images: (N, C, H, W) uint8; labels: (N,) int64 in 0..len(classes)-1.
    fine_labels: (N,) int64 hidden finer labels (e.g. the original class of a one-vs-rest task).
    groups: (N,) ids that must not be split across train/val/test (e.g. HAM10000 lesion_id).
    """

    images: torch.Tensor
    labels: np.ndarray
    classes: list[str]
    fine_labels: np.ndarray | None = None
    fine_classes: list[str] | None = None
    groups: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray) -> "ImageSet":
        """The samples at ``index`` (int positions), every per-sample field alike."""
        index = np.asarray(index, dtype=np.int64)
        pick = lambda a: None if a is None else a[index]  # noqa: E731
        return replace(self, images=self.images[torch.from_numpy(index)], labels=self.labels[index],
                       fine_labels=pick(self.fine_labels), groups=pick(self.groups))

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

    spec: everything that shaped the splits — the parameter-file spec plus the resolved
    ``image_size`` (of the images as built), ``data_root`` (absolute, or None for the default
    places) and ``seed`` — so a result key that hashes it changes when any of them changes."""

    name: str
    train: ImageSet
    val: ImageSet
    test: ImageSet
    spec: dict[str, Any] = field(default_factory=dict)

    @property
    def classes(self) -> list[str]:
        return self.train.classes

    @property
    def minority_classes(self) -> list[str]:
        """Classes whose training count is below the mean count (for binary tasks: the positive)."""
        counts = self.train.class_counts()
        return [c for c, n in zip(self.classes, counts) if n < counts.mean()]


# --------------------------------------------------------------------------- registry
DATASETS: dict[str, Callable[..., ImageSet]] = {}


def register_dataset(name: str, splits: tuple[str, ...] = ("train", "test"), *,
                     classes: list[str] | None = None,
                     check_files: Callable[..., None] | None = None) -> Callable:
    """Decorator: make ``fn(root, split, **options) -> ImageSet`` loadable as ``load_dataset(name)``.

    ``splits`` are the published splits; a data set without ``val`` gets one carved from ``train``.
    ``classes``: the class names when they are fixed (checked up front by :func:`check_task_spec`).
    ``check_files(root, **options)``: raise FileNotFoundError, naming the folder and the files,
    when the loader could neither find nor fetch its files; it must not read them.
    """
    def wrap(fn: Callable[..., ImageSet]) -> Callable[..., ImageSet]:
        fn.splits, fn.classes, fn.check_files = splits, classes, check_files
        DATASETS[name] = fn
        return fn
    return wrap


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                 **options: Any) -> ImageSet:
    """Load split ``split`` of data set ``name`` as uint8 images (N, C, H, W), labels and class names."""
    _import_plugins()
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; valid: {', '.join(sorted(DATASETS))}")
    if split not in DATASETS[name].splits:
        hint = "; make_task carves 'val' out of 'train'" if split == "val" else ""
        raise ValueError(f"dataset {name!r} has no split {split!r}; valid: "
                         f"{', '.join(DATASETS[name].splits)}{hint}")
    return DATASETS[name](root=root, split=split, **options)


def _import_plugins() -> None:
    """Register the loaders that live in other modules (medical data sets)."""
    try:
        import nbutils.medical  # noqa: F401
    except ModuleNotFoundError as error:
        if error.name != "nbutils.medical":
            raise


def online() -> bool:
    """False when the user asked for offline mode (HF_HUB_OFFLINE / NBUTILS_OFFLINE)."""
    return not any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "NBUTILS_OFFLINE"))


# --------------------------------------------------------------------------- Fashion-MNIST
FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


@functools.lru_cache(maxsize=8)
def read_idx(path: Path) -> np.ndarray:
    """Read an IDX file (optionally gzipped): a read-only uint8 array of the shape its header
    gives (cached: each file is decompressed once a process)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    if data[:2] != b"\x00\x00" or data[2] != 0x08:
        raise ValueError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != math.prod(shape):
        raise ValueError(f"{path} is truncated: header says {shape}, found {body.size} bytes")
    return body.reshape(shape)


def _find_idx(folder: Path, stem: str) -> Path | None:
    for sub in ("", "fashion-mnist", "FashionMNIST/raw"):
        for suffix in (".gz", ""):
            path = folder / sub / (stem + suffix)
            if path.is_file():
                return path
    return None


def _fashion_folders(root: str | os.PathLike | None) -> list[Path]:
    if root is not None:
        return [Path(root)]
    env = os.environ.get("NBUTILS_DATA")
    return ([Path(env)] if env else []) + [DEBIAN_FASHION_MNIST]


def fashion_mnist_files(root: str | os.PathLike | None, split: str) -> list[Path]:
    """The (images, labels) IDX files of ``split`` in the first folder that holds both; a
    FileNotFoundError naming the folders and the files otherwise (no file is read)."""
    folders = _fashion_folders(root)
    for folder in folders:
        paths = [_find_idx(folder, stem) for stem in _IDX_FILES[split]]
        if all(paths):
            return paths
    absent = [f"{f} (no such folder)" if not f.is_dir() else str(f) for f in folders]
    raise FileNotFoundError(
        f"Fashion-MNIST {split} files ({', '.join(_IDX_FILES[split])}[.gz]) not found in "
        f"{', '.join(absent)}. Install them with `apt-get install dataset-fashion-mnist`, "
        "pass root=<folder with the IDX files>, set NBUTILS_DATA, or go online to download.")


def can_download_into(root: str | os.PathLike | None) -> bool:
    """Whether a loader may fetch missing files: online, into the default place or an existing folder."""
    return online() and (root is None or Path(root).is_dir())


def check_fashion_mnist(root: str | os.PathLike | None = None) -> None:
    """Fail as the loader would, without reading: both splits present, or a download possible."""
    for split in _IDX_FILES:
        try:
            fashion_mnist_files(root, split)
        except FileNotFoundError:
            if not can_download_into(root):
                raise


@register_dataset("fashion-mnist", classes=FASHION_CLASSES, check_files=check_fashion_mnist)
def load_fashion_mnist(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """Fashion-MNIST (28x28 grey, 10 classes) from IDX files.

    Looks in ``root``, else ``$NBUTILS_DATA``, else Debian's ``dataset-fashion-mnist`` folder,
    else downloads with torchvision when online. Only ``train`` and ``test`` exist; carve a
    validation split with :func:`make_task`.
    """
    try:
        paths = fashion_mnist_files(root, split)
    except FileNotFoundError:
        if not online():
            raise
        import torchvision
        target = Path(root) if root is not None else Path(os.environ.get("NBUTILS_DATA", "data"))
        torchvision.datasets.FashionMNIST(str(target), train=split == "train", download=True)
        paths = fashion_mnist_files(target, split)
    images, labels = (read_idx(p) for p in paths)
    return ImageSet(torch.from_numpy(images.copy()).unsqueeze(1), labels.astype(np.int64),
                    list(FASHION_CLASSES))


@register_dataset("digits", classes=[str(d) for d in range(10)])
def load_digits(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """scikit-learn's 8x8 digits (1,797 images), split 80/20 stratified with a fixed seed."""
    from sklearn.datasets import load_digits as sk_digits
    bunch = sk_digits()
    images = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)[:, None]
    train_idx, test_idx = train_test_split(np.arange(len(images)), test_size=0.2,
                                           stratify=bunch.target, random_state=0)
    idx = train_idx if split == "train" else test_idx
    return ImageSet(torch.from_numpy(images[idx]), bunch.target[idx].astype(np.int64),
                    [str(d) for d in range(10)])


# torchvision's folder, train files, test files, meta file, its class-name key, the label key
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "batches.meta", "label_names", "labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", "fine_label_names", "fine_labels"),
}


def _read_pickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


def cifar_files(kind: str, root: str | os.PathLike | None, split: str) -> tuple[Path, list[Path]]:
    """(folder, the batch files of ``split`` then the meta file) where the CIFAR loader looks."""
    folder_name, train_files, test_files, meta_file, _, _ = CIFAR_FILES[kind]
    root = Path(root or os.environ.get("NBUTILS_DATA", "data"))
    return root, [root / folder_name / f for f in (train_files if split == "train" else test_files) + [meta_file]]


def missing_cifar(kind: str, root: Path, paths: list[Path]) -> FileNotFoundError:
    return FileNotFoundError(
        f"{kind} not found in {root}{'' if root.is_dir() else ' (no such folder)'}: expected "
        f"{', '.join(str(p) for p in paths if not p.is_file())}; pass root=<folder holding "
        f"{CIFAR_FILES[kind][0]}>, set NBUTILS_DATA, or go online to download")


def check_cifar(kind: str) -> Callable[..., None]:
    """The up-front file check of CIFAR ``kind`` (see register_dataset's ``check_files``)."""
    def check(root: str | os.PathLike | None = None) -> None:
        for split in ("train", "test"):
            folder, paths = cifar_files(kind, root, split)
            if not all(p.is_file() for p in paths) and not can_download_into(root):
                raise missing_cifar(kind, folder, paths)
    return check


def _load_cifar(kind: str, root: str | os.PathLike | None, split: str) -> ImageSet:
    """CIFAR from torchvision's pickled batches, read directly (torchvision's loader re-hashes
    every file on each load); downloaded with torchvision, which checks the archive, when missing."""
    _, _, _, _, names_key, labels_key = CIFAR_FILES[kind]
    root, paths = cifar_files(kind, root, split)
    if not all(p.is_file() for p in paths):
        if not online():
            raise missing_cifar(kind, root, paths)
        import torchvision
        cls = torchvision.datasets.CIFAR10 if kind == "cifar10" else torchvision.datasets.CIFAR100
        cls(str(root), train=split == "train", download=True)
    batches = [_read_pickle(p) for p in paths[:-1]]
    images = np.concatenate([b["data"] for b in batches]).reshape(-1, 3, 32, 32)
    labels = np.concatenate([b[labels_key] for b in batches]).astype(np.int64)
    return ImageSet(torch.from_numpy(images), labels, list(_read_pickle(paths[-1])[names_key]))


@register_dataset("cifar10", check_files=check_cifar("cifar10"))
def load_cifar10(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """CIFAR-10 from torchvision's ``cifar-10-batches-py`` folder (downloaded when online)."""
    return _load_cifar("cifar10", root, split)


@register_dataset("cifar100", check_files=check_cifar("cifar100"))
def load_cifar100(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """CIFAR-100 from torchvision's ``cifar-100-python`` folder (downloaded when online)."""
    return _load_cifar("cifar100", root, split)


# --------------------------------------------------------------------------- task builders
def class_index(ds: ImageSet, name: int | str) -> int:
    """Index of class ``name`` (an int index or a class name) in ``ds.classes``."""
    if isinstance(name, (int, np.integer)) and 0 <= name < len(ds.classes):
        return int(name)
    if name in ds.classes:
        return ds.classes.index(name)
    raise ValueError(f"unknown class {name!r}; valid: {', '.join(map(repr, ds.classes))} "
                     f"or an index 0..{len(ds.classes) - 1}")


def one_vs_rest(ds: ImageSet, positive: int | str) -> ImageSet:
    """Binary task: label 1 for class ``positive``, 0 for the rest; the original labels become
    ``fine_labels`` (the hidden oracle for regrouping)."""
    pos = class_index(ds, positive)
    return ImageSet(ds.images, (ds.labels == pos).astype(np.int64), ["rest", ds.classes[pos]],
                    fine_labels=ds.labels, fine_classes=list(ds.classes), groups=ds.groups)


def subsample_to_counts(ds: ImageSet, counts: dict[int, int] | np.ndarray, seed: int) -> ImageSet:
    """Keep ``counts[c]`` random samples of each class c (classes given 0 are dropped and the
    rest renumbered in order). Deterministic by seed."""
    counts = dict(enumerate(counts)) if not isinstance(counts, dict) else counts
    rng = np.random.default_rng(seed)
    have = ds.class_counts()
    keep = []
    for c, n in counts.items():
        if n > have[c]:
            raise ValueError(f"class {ds.classes[c]!r} has {have[c]} samples, {n} requested; "
                             "ask for fewer samples (train_size/test_size or counts)")
        keep.append(rng.choice(np.flatnonzero(ds.labels == c), size=int(n), replace=False))
    kept = [c for c, n in counts.items() if n > 0]
    out = ds.subset(np.sort(np.concatenate(keep)))
    remap = np.full(len(ds.classes), -1)
    remap[kept] = np.arange(len(kept))
    return replace(out, labels=remap[out.labels], classes=[ds.classes[c] for c in kept])


def imbalance_counts(counts: np.ndarray, ratio: float) -> np.ndarray:
    """Binary counts after subsampling the minority so that majority / minority == ratio."""
    counts = np.array(counts)
    minority = int(np.argmin(counts))
    counts[minority] = min(counts[minority], max(1, round(counts.max() / ratio)))
    return counts


def apportion(weights: np.ndarray, total: int, minimum: int = 1) -> np.ndarray:
    """Integers proportional to ``weights`` that sum to ``total`` (largest remainders), each >= minimum."""
    weights = np.asarray(weights, dtype=float)
    exact = weights / weights.sum() * total
    sizes = np.maximum(minimum, np.floor(exact).astype(int))
    order = np.argsort(-(exact - np.floor(exact)), kind="stable")
    sizes[order[: max(0, total - sizes.sum())]] += 1
    return sizes


def profile_weights(profile: str | list[int]) -> tuple[int, ...]:
    """A named long-tail profile (PROFILES) or a list of per-class counts."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)} or a list of counts")
        return PROFILES[profile]
    return tuple(profile)


def profile_counts(profile: str | list[int], total: int) -> np.ndarray:
    """Per-class counts in the proportions of ``profile`` summing to ``total``, each at least 2."""
    return apportion(profile_weights(profile), total, minimum=2)


def long_tail_counts(weights: list[int], available: np.ndarray, size: int | None = None,
                     at_most_weights: bool = False) -> np.ndarray:
    """Per-class counts in the proportions of ``weights``: ``size`` in all when given, else as
    many as the ``available`` per-class samples allow (and, for explicit counts, no more than
    the weights themselves). Raises when a class cannot supply its share."""
    w = np.asarray(weights, dtype=float)
    if len(w) > len(available):
        raise ValueError(f"a long tail of {len(w)} classes needs a data set with at least that many; "
                         f"it has {len(available)}")
    have = np.asarray(available[: len(w)])
    if size is None:
        scale = float(np.min(have / w))
        size = int(np.floor(min(scale, 1.0) * w.sum() if at_most_weights else scale * w.sum()))
        return np.minimum(apportion(w, size, minimum=2), have)
    return apportion(w, size, minimum=2)


def stratified_sizes(counts: np.ndarray, total: int) -> np.ndarray:
    """Counts proportional to ``counts`` summing to ``total`` (never more than ``counts``)."""
    counts = np.asarray(counts)
    if total >= counts.sum():
        return counts.copy()
    return np.minimum(apportion(counts, total), counts)


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


def split_train_val(ds: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Stratified split; grouped by ``ds.groups`` when present (no group in both parts)."""
    train_idx, val_idx = split_indices(ds.labels, val_fraction, seed, ds.groups, ds.classes)
    return ds.subset(train_idx), ds.subset(val_idx)


def resize(ds: ImageSet, size: int) -> ImageSet:
    """Images resized to ``size`` x ``size`` (bilinear, antialiased), still uint8."""
    if ds.images.shape[-1] == size and ds.images.shape[-2] == size:
        return ds
    x = F.interpolate(ds.images.float(), size=(size, size), mode="bilinear", antialias=True,
                      align_corners=False)
    return replace(ds, images=x.round_().clamp_(0, 255).to(torch.uint8))


# Each task key of a parameter file: (types, test of the value, what the test asks for).
TASK_KEY_RULES: dict[str, tuple[tuple[type, ...], Callable[[Any], bool], str]] = {
    "dataset": ((str,), lambda v: True, "a registered data set name"),
    "root": ((str, os.PathLike), lambda v: True, "a folder"),
    "positive": ((int, str), lambda v: True, "a class name or index"),
    "ratio": ((int, float), lambda v: v >= 1, "majority/minority >= 1"),
    "profile": ((str, list), lambda v: isinstance(v, str) or _counts_ok(v),
                f"one of {list(PROFILES)} or a list of counts >= 1"),
    "counts": ((list,), lambda v: _counts_ok(v), "a list of per-class counts >= 1"),
    "train_size": ((int,), lambda v: v >= 1, "an int >= 1"),
    "test_size": ((int,), lambda v: v >= 1, "an int >= 1"),
    "val_fraction": ((float,), lambda v: 0 < v < 1, "a fraction in (0, 1)"),
    "image_size": ((int,), lambda v: v >= 1, "pixels >= 1"),
    "options": ((dict,), lambda v: True, "a dict of the loader's options"),
}
TASK_KEYS = set(TASK_KEY_RULES)


def shape_task(ds: ImageSet, spec: dict[str, Any], size: int | None, seed: int) -> ImageSet:
    """Apply a task spec's label transform (one-vs-rest, ratio, profile, counts) and subsample
    to ``size`` samples keeping the task's class proportions."""
    if "positive" in spec:
        ds = one_vs_rest(ds, spec["positive"])
        if spec.get("ratio"):
            ds = subsample_to_counts(ds, imbalance_counts(ds.class_counts(), spec["ratio"]), seed)
    if "profile" in spec or "counts" in spec:
        explicit = "counts" in spec
        weights = spec["counts"] if explicit else profile_weights(spec["profile"])
        target = long_tail_counts(weights, ds.class_counts(), size, at_most_weights=explicit)
        full = np.zeros(len(ds.classes), dtype=int)
        full[: len(target)] = target
        return subsample_to_counts(ds, full, seed)
    if size and size < len(ds):
        return subsample_to_counts(ds, stratified_sizes(ds.class_counts(), size), seed)
    return ds


def _counts_ok(counts: list) -> bool:
    return bool(counts) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts)


def check_task_spec(name: str, spec: dict[str, Any], data_root: str | os.PathLike | None = None) -> None:
    """Check a parameter-file task as :func:`make_task` would use it, without loading any image:
    keys known and typed, data set registered, loader options known, positive class valid (when
    the data set's classes are fixed) and the data set's files present (``data_root``, as in
    :func:`make_tasks`, wins over the spec's ``root``). Raises ValueError/TypeError/FileNotFoundError
    naming the task, what is wrong and the valid choices (the missing folder and files)."""
    where = f"task {name!r}"
    if not isinstance(spec, dict):
        raise TypeError(f"{where}: a task is a dict of {sorted(TASK_KEYS)}, got {spec!r}")
    unknown = set(spec) - TASK_KEYS
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {sorted(unknown)}; valid: {sorted(TASK_KEYS)}")
    for key, value in spec.items():
        types, test, rule = TASK_KEY_RULES[key]
        if isinstance(value, bool) or not isinstance(value, types) or not test(value):
            raise ValueError(f"{where}: {key}={value!r} is not {rule}")
    _import_plugins()
    dataset = spec.get("dataset")
    if dataset not in DATASETS:
        raise ValueError(f"{where}: unknown or missing dataset {dataset!r}; valid: {', '.join(sorted(DATASETS))}")
    if "ratio" in spec and "positive" not in spec:
        raise ValueError(f"{where}: ratio={spec['ratio']} applies to one-vs-rest tasks; add 'positive' or drop 'ratio'")
    if isinstance(spec.get("profile"), str):
        profile_weights(spec["profile"])
    loader = DATASETS[dataset]
    accepted = [p for p in inspect.signature(loader).parameters if p not in ("root", "split")]
    options = spec.get("options", {})
    odd = sorted(set(options) - set(accepted))
    if odd:
        raise ValueError(f"{where}: {dataset} has no option(s) {odd}; valid: {accepted or 'none'}")
    positive = spec.get("positive")
    if loader.classes is not None and positive is not None and not (
            positive in loader.classes or isinstance(positive, int) and 0 <= positive < len(loader.classes)):
        raise ValueError(f"{where}: unknown positive class {positive!r} of {dataset}; valid: "
                         f"{', '.join(map(repr, loader.classes))} or an index 0..{len(loader.classes) - 1}")
    root = data_root or spec.get("root")
    try:
        if loader.check_files is not None:
            loader.check_files(root, **options)
        elif root is not None and not Path(root).is_dir():
            raise FileNotFoundError(f"data folder {root} does not exist")
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{where} ({dataset}): {error}") from None


def make_task(name: str, spec: dict[str, Any], seed: int = 0) -> Task:
    """Build a task from a parameter-file spec, deterministically by ``seed``.

    spec keys: ``dataset`` (registry name), ``root``, ``positive`` (one-vs-rest class),
    ``ratio`` (majority/minority after subsampling the minority), ``profile`` (e.g. "ham10000")
    or ``counts`` (long-tail per-class counts), ``train_size`` / ``test_size`` (stratified
    subsample), ``val_fraction`` (carve the validation split out of train, grouped by
    ``groups`` when the data set has them; default 0.15; a data set's published validation split
    is used only when no ``val_fraction`` is given), ``image_size``, ``options`` (passed to the
    loader; ``image_size`` goes to loaders that decode files, so they decode at that size).
    """
    check_task_spec(name, spec)
    options = dict(spec.get("options", {}))
    if spec.get("image_size") and "image_size" in inspect.signature(DATASETS[spec["dataset"]]).parameters:
        options.setdefault("image_size", spec["image_size"])  # decode straight to the run's size
    load = lambda split: load_dataset(spec["dataset"], spec.get("root"), split, **options)  # noqa: E731
    train_pool = shape_task(load("train"), spec, spec.get("train_size"), seed)
    test = shape_task(load("test"), spec, spec.get("test_size"), seed + 1)
    if "val" in DATASETS[spec["dataset"]].splits and "val_fraction" not in spec:
        train, val = train_pool, shape_task(load("val"), spec, None, seed + 2)
    else:
        train, val = split_train_val(train_pool, spec.get("val_fraction", 0.15), seed)
    if spec.get("image_size"):
        train, val, test = (resize(s, spec["image_size"]) for s in (train, val, test))
    for part, s in (("val", val), ("test", test)):
        missing = set(range(len(train.classes))) - set(np.unique(s.labels))
        if missing:
            raise ValueError(f"task {name!r}: class(es) {[train.classes[c] for c in sorted(missing)]} "
                             f"absent from the {part} split; use a larger {part} split")
    resolved = {"image_size": int(train.images.shape[-1]) if train.images.dim() == 4 else None,
                "data_root": str(Path(spec["root"]).resolve()) if spec.get("root") else None, "seed": seed}
    return Task(name, train, val, test, spec={**spec, **resolved})


def make_tasks(specs: dict[str, dict[str, Any]], data_root: str | None = None,
               image_size: int | None = None, seed: int = 0) -> dict[str, Task]:
    """Every task of a parameter file; ``data_root`` and ``image_size``, when given, override
    each spec's ``root`` and ``image_size`` (the command line's ``data_root=... image_size=32``)."""
    if not isinstance(specs, dict) or not specs:
        raise TypeError(f"tasks must be a non-empty dict of name -> spec, got {specs!r}")
    tasks = {}
    for name, spec in specs.items():
        spec = {**spec, **({"root": data_root} if data_root else {}),
                **({"image_size": image_size} if image_size else {})}
        tasks[name] = make_task(name, spec, seed)
    return tasks
