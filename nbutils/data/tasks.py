"""Tasks from parameter-file specs: ``make_task(name, spec, seed)`` turns a spec (data set, one-vs-rest,
imbalance ratio, long-tail profile or counts, sizes, image size) into stratified train/val/test
splits, deterministically by seed; ``make_tasks`` builds every task of a parameter file.

The data types live in ``nbutils.data.imagesets``, the registry of data sets in ``nbutils.data.datasets``, the
readers in ``nbutils.data.readers`` and ``nbutils.data.medical``. The names a notebook or a script needs are
importable from here too (``from nbutils.data.tasks import make_tasks, Task, ImageSet, load_dataset``).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from nbutils.data.datasets import DATASETS, check_dataset_files, check_dataset_options, dataset_options, load_dataset
from nbutils.data.imagesets import ImageSet, Task, TrainingSet, resize, split_indices

__all__ = ["PROFILES", "ImageSet", "Task", "TrainingSet", "check_task_spec", "load_dataset", "make_task",
           "make_tasks", "one_vs_rest", "profile_counts", "resize", "split_indices", "split_train_val",
           "stratified_sizes", "subsample_to_counts"]

PROFILES = {"ham10000": (6705, 1113, 1099, 514, 327, 142, 115)}


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


def split_train_val(ds: ImageSet, val_fraction: float, seed: int) -> tuple[ImageSet, ImageSet]:
    """Stratified split; grouped by ``ds.groups`` when present (no group in both parts)."""
    train_idx, val_idx = split_indices(ds.labels, val_fraction, seed, ds.groups, ds.classes)
    return ds.subset(train_idx), ds.subset(val_idx)


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
    "val_size": ((int,), lambda v: v >= 2, "an int >= 2 (images of the validation pool)"),
    "held_out_size": ((int, str), lambda v: v == "rest" if isinstance(v, str) else v >= 2,
                      "an int >= 2 or 'rest' (images of the extra evaluation pool)"),
    "image_size": ((int,), lambda v: v >= 1, "pixels >= 1"),
    "options": ((dict,), lambda v: True, "a dict of the data set's options"),
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
    keys known and typed, data set registered, its options known and typed, positive class valid (when
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
    dataset = spec.get("dataset")
    if dataset not in DATASETS:
        raise ValueError(f"{where}: unknown or missing dataset {dataset!r}; valid: {', '.join(DATASETS)}")
    if "val_size" in spec and "val_fraction" in spec:
        raise ValueError(f"{where}: val_size draws the validation pool from the images training does not use, "
                         "val_fraction carves it out of the training images; give one of them")
    if "ratio" in spec and "positive" not in spec:
        raise ValueError(f"{where}: ratio={spec['ratio']} applies to one-vs-rest tasks; add 'positive' or drop 'ratio'")
    if isinstance(spec.get("profile"), str):
        profile_weights(spec["profile"])
    options = check_dataset_options(dataset, spec.get("options", {}), where)
    classes, positive = DATASETS[dataset].classes, spec.get("positive")
    if classes is not None and positive is not None and not (
            positive in classes or isinstance(positive, int) and 0 <= positive < len(classes)):
        raise ValueError(f"{where}: unknown positive class {positive!r} of {dataset}; valid: "
                         f"{', '.join(map(repr, classes))} or an index 0..{len(classes) - 1}")
    try:
        check_dataset_files(dataset, data_root or spec.get("root"), options)
    except FileNotFoundError as error:
        raise FileNotFoundError(f"{where} ({dataset}): {error}") from None


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
