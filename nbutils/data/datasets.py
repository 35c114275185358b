"""The registry of data sets: name -> :class:`DataSet` (its reader, published splits, fixed classes
and file check), and ``load_dataset(name, root, split, **options)``.

A reader is ``read(root, split, *, option=default, ...) -> ImageSet``; its keyword-only parameters
are the data set's options (a task spec's ``options``), checked by name and annotated type with
``config.check_keyword_options``, as the options of losses and samplers are. The registry lists
every reader explicitly (``nbutils.data.readers``, ``nbutils.data.medical``) instead of readers registering
themselves when imported, so what is registered never depends on which module was imported first.
A new data set is one entry: ``DATASETS["blobs"] = DataSet(read_blobs)`` (README, "Adding a data set, a loss or a method").
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from nbutils.core.config import check_keyword_options, keyword_defaults, registered
from nbutils.data import medical, readers
from nbutils.data.imagesets import ImageSet


@dataclass(frozen=True)
class DataSet:
    """A registered data set.

    read: ``read(root, split, **options) -> ImageSet`` with uint8 images (N, C, H, W).
    splits: the published splits; ``make_task`` carves ``val`` out of ``train`` for a data set
        without one (and whenever a task gives ``val_fraction``).
    classes: the class names when they are fixed, so ``check_task_spec`` checks a task's
        ``positive`` class up front; None when they depend on the files.
    check_files: ``check_files(root, **options)`` raises FileNotFoundError, naming the folder and
        the files, when the reader could neither find nor fetch its files; it must not read them.
        None: the check is only that ``root``, when given, is a folder.
    """

    read: Callable[..., ImageSet]
    splits: tuple[str, ...] = ("train", "test")
    classes: Sequence[str] | None = None
    check_files: Callable[..., None] | None = None


DATASETS: dict[str, DataSet] = {
    "fashion-mnist": DataSet(readers.load_fashion_mnist, classes=tuple(readers.FASHION_CLASSES),
                             check_files=readers.check_fashion_mnist),
    "digits": DataSet(readers.load_digits, classes=tuple(str(d) for d in range(10))),
    "cifar10": DataSet(readers.load_cifar10, check_files=readers.check_cifar("cifar10")),
    "cifar100": DataSet(readers.load_cifar100, check_files=readers.check_cifar("cifar100")),
    "ham10000": DataSet(medical.load_ham10000),
    "chest-xray": DataSet(medical.load_chest_xray, splits=("train", "val", "test")),
    "medmnist": DataSet(medical.load_medmnist, splits=("train", "val", "test")),
    "isic2019": DataSet(medical.load_isic2019),
    "csv-images": DataSet(medical.load_csv_images),
}


def dataset_options(name: str) -> dict[str, Any]:
    """The options data set ``name``'s reader accepts, with their defaults."""
    return keyword_defaults(registered(DATASETS, name, "dataset").read)


def check_dataset_options(name: str, options: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Data set ``name``'s options checked for names and types, numbers converted: a new dict.
    ``where`` prefixes errors (e.g. "task 'tshirt'"). Raises ValueError for an unknown data set or
    option (valid ones listed), TypeError for a wrong type."""
    what = f"dataset {name!r}"
    return check_keyword_options(registered(DATASETS, name, "dataset").read, options,
                                 f"{where}: {what}" if where else what)


def load_dataset(name: str, root: str | os.PathLike | None = None, split: str = "train",
                 **options: Any) -> ImageSet:
    """Split ``split`` of data set ``name`` (one of ``DATASETS``) read from ``root`` (None: the
    reader's default places) as uint8 images (N, C, H, W), labels (N,) and class names."""
    options = check_dataset_options(name, options)
    dataset = DATASETS[name]
    if split not in dataset.splits:
        hint = "; make_task carves 'val' out of 'train'" if split == "val" else ""
        raise ValueError(f"dataset {name!r} has no split {split!r}; valid: {', '.join(dataset.splits)}{hint}")
    return dataset.read(root=root, split=split, **options)


def check_dataset_files(name: str, root: str | os.PathLike | None, options: dict[str, Any]) -> None:
    """Fail as reading data set ``name`` from ``root`` with ``options`` would, without reading a file:
    its ``check_files``, or, for a data set without one, a FileNotFoundError when ``root`` is not a folder."""
    dataset = registered(DATASETS, name, "dataset")
    if dataset.check_files is not None:
        dataset.check_files(root, **options)
    elif root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
