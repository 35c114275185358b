"""Tasks from parameter-file specs: ``make_task(name, spec, seed)`` turns a spec (data set, one-vs-rest,
imbalance ratio, long-tail profile or counts, sizes, image size) into stratified train/val/test
splits, deterministically by seed; ``make_tasks`` builds every task of a parameter file.

The data types live in ``nbutils.data.imagesets``, the registry of data sets in ``nbutils.data.datasets``, the
readers in ``nbutils.data.readers`` and ``nbutils.data.medical``, the rules of a task spec and its check
(``TASK_KEY_RULES``, ``check_task_spec``, without torch) in ``nbutils.data.task_specs``. The names a notebook or a script needs are
importable from here too (``from nbutils.data.tasks import make_tasks, Task, ImageSet, load_dataset``).
"""
from __future__ import annotations

import hashlib
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from nbutils.data.datasets import DATASETS, dataset_options, load_dataset
from nbutils.data.imagesets import ImageSet, Task, TrainingSet, resize, split_indices
from nbutils.data.task_specs import PROFILES, TASK_KEY_RULES, TASK_KEYS, check_task_spec, profile_weights

__all__ = ["PROFILES", "TASK_KEYS", "TASK_KEY_RULES", "ImageSet", "Task", "TrainingSet", "check_task_spec",
           "load_dataset", "make_task", "make_tasks", "one_vs_rest", "profile_counts", "resize", "split_indices", "split_train_val",
           "stratified_sizes", "subsample_to_counts"]


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
                    fine_labels=ds.labels, fine_classes=list(ds.classes), groups=ds.groups, ids=ds.ids)


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


def split_train_val(ds: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Stratified split; grouped by ``ds.groups`` when present (no group in both parts)."""
    train_idx, val_idx = split_indices(ds.labels, val_fraction, seed, ds.groups, ds.classes)
    return ds.subset(train_idx), ds.subset(val_idx)


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


def image_hashes(ds: ImageSet) -> np.ndarray:
    """(N,) a content hash of each image (its bytes), to find the same picture under two indices."""
    flat = ds.images.reshape(len(ds), -1).numpy()
    return np.array([hashlib.blake2b(row.tobytes(), digest_size=8).hexdigest() for row in flat])


def unused_images(source: ImageSet, used: ImageSet) -> ImageSet:
    """The images of ``source`` (one split, labelled as the task labels it) that ``used`` does not hold,
    neither by index (``ids``) nor by content (an identical picture under another index), restricted to
    ``used``'s classes and relabelled in their order."""
    position = {c: i for i, c in enumerate(used.classes)}
    relabel = np.array([position.get(c, -1) for c in source.classes])
    keep = (~np.isin(source.ids, used.ids)) & (relabel[source.labels] >= 0)
    keep &= ~np.isin(image_hashes(source), image_hashes(used))
    rest = source.subset(np.flatnonzero(keep))
    return replace(rest, labels=relabel[rest.labels], classes=list(used.classes))


def draw_at_ratio(rest: ImageSet, like: np.ndarray, size: int | str, seed: int, what: str) -> tuple[ImageSet, ImageSet]:
    """(drawn, left): ``size`` images of ``rest`` (or, for ``size='rest'``, as many as the class ratio
    allows) in the class proportions of the counts ``like`` (C,), and the images left over. Raises
    naming ``what`` when a class of ``like`` has no image left or ``size`` asks for more than ``rest``
    holds at that ratio."""
    have = rest.class_counts()
    like = np.asarray(like, dtype=float)
    most = int(np.floor(np.min(have[like > 0] / like[like > 0]) * like.sum())) if (have[like > 0] > 0).all() else 0
    wanted = most if size == "rest" else int(size)
    if most < len(like) or wanted > most:
        raise ValueError(f"{what}: the images no method sees hold {dict(zip(rest.classes, have.tolist()))}, "
                         f"enough for {most} at the task's class ratio; {size} asked. Use a smaller size or a "
                         "smaller train_size (a data set used whole leaves no images for a pool)")
    counts = np.minimum(apportion(like, wanted), have)
    drawn = subsample_to_counts(rest, counts, seed)
    left = rest.subset(np.flatnonzero(~np.isin(rest.ids, drawn.ids)))
    return drawn, left


def make_task(name: str, spec: dict[str, Any], seed: int = 0) -> Task:
    """Build a task from a parameter-file spec, deterministically by ``seed``.

    spec keys: ``dataset`` (registry name), ``root``, ``positive`` (one-vs-rest class),
    ``ratio`` (majority/minority after subsampling the minority), ``profile`` (e.g. "ham10000")
    or ``counts`` (long-tail per-class counts), ``train_size`` / ``test_size`` (stratified
    subsample), ``val_fraction`` (carve the validation split out of train, grouped by
    ``groups`` when the data set has them; default 0.15; a data set's published validation split
    is used only when no ``val_fraction`` is given), ``val_size`` (instead: a validation pool of that
    many images drawn from the training split's images that ``train_size`` left unused, at the task's
    class ratio; training then uses all ``train_size`` images), ``held_out_size`` (an extra evaluation
    pool, ``Task.pool``, drawn the same way after the validation pool: a number of images or 'rest',
    as many as the class ratio allows), ``image_size``, ``options`` (passed to the data set's reader;
    ``image_size`` goes to readers that decode files, so they decode at that size).

    The pools never hold an image of the training set, by index or by content, so no method (nor its
    clustering, encoder or SMOTE neighbours, which see ``train`` only) has seen them. A data set used
    whole (no ``train_size``) leaves nothing to draw them from: that is a clear error.
    """
    check_task_spec(name, spec)
    options = dict(spec.get("options", {}))
    if spec.get("image_size") and "image_size" in dataset_options(spec["dataset"]):
        options.setdefault("image_size", spec["image_size"])  # decode straight to the run's size
    load = lambda split: load_dataset(spec["dataset"], spec.get("root"), split, **options)  # noqa: E731
    source = load("train")
    source = replace(source, ids=np.arange(len(source)))
    train_pool = shape_task(source, spec, spec.get("train_size"), seed)
    test = shape_task(load("test"), spec, spec.get("test_size"), seed + 1)
    unused = None
    if "val_size" in spec or "held_out_size" in spec:
        labelled = one_vs_rest(source, spec["positive"]) if "positive" in spec else source
        unused = unused_images(labelled, train_pool)
    pool = None
    if "val_size" in spec:
        train = train_pool
        val, unused = draw_at_ratio(unused, train.class_counts(), spec["val_size"], seed + 3,
                                    f"task {name!r}, val_size={spec['val_size']}")
    elif "val" in DATASETS[spec["dataset"]].splits and "val_fraction" not in spec:
        train, val = train_pool, shape_task(load("val"), spec, None, seed + 2)
    else:
        train, val = split_train_val(train_pool, spec.get("val_fraction", 0.15), seed)
    if "held_out_size" in spec:
        pool, _ = draw_at_ratio(unused, train_pool.class_counts(), spec["held_out_size"], seed + 4,
                                f"task {name!r}, held_out_size={spec['held_out_size']}")
    if spec.get("image_size"):
        train, val, test = (resize(s, spec["image_size"]) for s in (train, val, test))
        pool = None if pool is None else resize(pool, spec["image_size"])
    for part, s in (("val", val), ("test", test)):
        missing = set(range(len(train.classes))) - set(np.unique(s.labels))
        if missing:
            raise ValueError(f"task {name!r}: class(es) {[train.classes[c] for c in sorted(missing)]} "
                             f"absent from the {part} split; use a larger {part} split")
    resolved = {"image_size": int(train.images.shape[-1]) if train.images.dim() == 4 else None,
                "data_root": str(Path(spec["root"]).resolve()) if spec.get("root") else None, "seed": seed}
    return Task(name, train, val, test, spec={**spec, **resolved}, pool=pool)


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
