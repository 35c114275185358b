"""The rules of a parameter file's task spec, checked without loading an image: ``TASK_KEY_RULES``
(each key's types and test), the named long-tail ``PROFILES`` and :func:`check_task_spec`, which
checks a spec as :func:`nbutils.data.tasks.make_task` will use it (keys, data set, its options,
positive class, data files).

This module imports neither torch nor scikit-learn (nor numpy): the runner checks every task of a
parameter file with it before anything heavy loads, so a wrong data set name, task key or data
folder is answered in a fraction of a second. ``nbutils.data.tasks`` imports these names from here
and they stay importable from there.
"""
from __future__ import annotations

import os
from typing import Any, Callable

from nbutils.data.datasets import DATASETS, check_dataset_files, check_dataset_options

PROFILES = {"ham10000": (6705, 1113, 1099, 514, 327, 142, 115)}


def profile_weights(profile: str | list[int]) -> tuple[int, ...]:
    """A named long-tail profile (PROFILES) or a list of per-class counts."""
    if isinstance(profile, str):
        if profile not in PROFILES:
            raise ValueError(f"unknown profile {profile!r}; valid: {', '.join(PROFILES)} or a list of counts")
        return PROFILES[profile]
    return tuple(profile)


def _counts_ok(counts: list) -> bool:
    return bool(counts) and all(isinstance(n, int) and not isinstance(n, bool) and n >= 1 for n in counts)


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
