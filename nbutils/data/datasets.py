"""The registry of data sets: name -> :class:`DataSet` (its reader, published splits, fixed classes,
options and file check), and ``load_dataset(name, root, split, **options)``.

A reader is ``read(root, split, *, option=default, ...) -> ImageSet``; its keyword-only parameters
are the data set's options (a task spec's ``options``), checked by name and annotated type with
``config.check_keyword_options``, as the options of losses and samplers are. The registry lists
every reader explicitly (``nbutils.data.readers``, ``nbutils.data.medical``) instead of readers registering
themselves when imported, so what is registered never depends on which module was imported first.
A new data set is one entry: ``DATASETS["blobs"] = DataSet(read_blobs)`` (README, "Adding a data set, a loss or a method").

This module imports neither torch nor scikit-learn: the built-in entries name their reader by
dotted path (``"nbutils.data.medical:load_ham10000"``), imported when images are read
(:meth:`DataSet.reader`), and give their options as a light signature (``options``, one of the
``*_options`` functions below, which tests/test_run.py compares with the reader's own), and their
file checks come from ``nbutils.data.locations``. So the runner's check of a parameter file names a
wrong data set, option or data folder before torch loads.
"""
from __future__ import annotations

import importlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Sequence

from nbutils.core.config import check_keyword_options, keyword_defaults, registered
from nbutils.data.locations import FASHION_CLASSES, check_cifar, check_fashion_mnist

if TYPE_CHECKING:
    from nbutils.data.imagesets import ImageSet


@dataclass(frozen=True)
class DataSet:
    """A registered data set.

    read: ``read(root, split, **options) -> ImageSet`` with uint8 images (N, C, H, W), or its dotted
        path ``"package.module:function"``, imported when the data set is first read.
    splits: the published splits; ``make_task`` carves ``val`` out of ``train`` for a data set
        without one (and whenever a task gives ``val_fraction``).
    classes: the class names when they are fixed, so ``check_task_spec`` checks a task's
        ``positive`` class up front; None when they depend on the files.
    check_files: ``check_files(root, **options)`` raises FileNotFoundError, naming the folder and
        the files, when the reader could neither find nor fetch its files; it must not read them.
        None: the check is only that ``root``, when given, is a folder.
    options: a function whose keyword-only parameters (names, annotations, defaults) are the
        reader's options, so they are checked without importing the reader; None: the reader's own.
    """

    read: Callable[..., ImageSet] | str
    splits: tuple[str, ...] = ("train", "test")
    classes: Sequence[str] | None = None
    check_files: Callable[..., None] | None = None
    options: Callable[..., None] | None = None

    def reader(self) -> Callable[..., ImageSet]:
        """The reader function, its module imported when ``read`` is a dotted path."""
        if not isinstance(self.read, str):
            return self.read
        module, _, name = self.read.partition(":")
        return getattr(importlib.import_module(module), name)

    def option_signature(self) -> Callable[..., Any]:
        """The function whose keyword-only parameters are this data set's options."""
        return self.options if self.options is not None else self.reader()


# The options of the medical readers (nbutils.data.medical), as their keyword-only parameters declare
# them; tests/test_run.py checks that each matches its reader's names, annotations and defaults.
def ham10000_options(*, image_size: int = 224, test_fraction: float = 0.15, skip_bad: bool = False) -> None:
    """The options of ``medical.load_ham10000`` and ``medical.load_isic2019``."""


def chest_xray_options(*, image_size: int = 224, skip_bad: bool = False) -> None:
    """The options of ``medical.load_chest_xray``."""


def medmnist_options(*, flag: str | None = None, size: int = 28, file: str | os.PathLike | None = None,
                     image_size: int | None = None) -> None:
    """The options of ``medical.load_medmnist``."""


def csv_images_options(*, csv: str | os.PathLike = "labels.csv", image_dir: str | os.PathLike = ".",
                       file_column: str = "file", label_column: str = "label",
                       split_column: str | None = None, classes: list[str] | None = None,
                       mode: str = "RGB", image_size: int = 224, test_fraction: float = 0.15,
                       skip_bad: bool = False) -> None:
    """The options of ``medical.load_csv_images``."""


def no_options() -> None:
    """The options of the readers that take none (``nbutils.data.readers``)."""


DATASETS: dict[str, DataSet] = {
    "fashion-mnist": DataSet("nbutils.data.readers:load_fashion_mnist", classes=tuple(FASHION_CLASSES),
                             check_files=check_fashion_mnist, options=no_options),
    "digits": DataSet("nbutils.data.readers:load_digits", classes=tuple(str(d) for d in range(10)),
                      options=no_options),
    "cifar10": DataSet("nbutils.data.readers:load_cifar10", check_files=check_cifar("cifar10"), options=no_options),
    "cifar100": DataSet("nbutils.data.readers:load_cifar100", check_files=check_cifar("cifar100"),
                        options=no_options),
    "ham10000": DataSet("nbutils.data.medical:load_ham10000", options=ham10000_options),
    "chest-xray": DataSet("nbutils.data.medical:load_chest_xray", splits=("train", "val", "test"),
                          options=chest_xray_options),
    "medmnist": DataSet("nbutils.data.medical:load_medmnist", splits=("train", "val", "test"),
                        options=medmnist_options),
    "isic2019": DataSet("nbutils.data.medical:load_isic2019", options=ham10000_options),
    "csv-images": DataSet("nbutils.data.medical:load_csv_images", options=csv_images_options),
}


def dataset_options(name: str) -> dict[str, Any]:
    """The options data set ``name``'s reader accepts, with their defaults."""
    return keyword_defaults(registered(DATASETS, name, "dataset").option_signature())


def check_dataset_options(name: str, options: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Data set ``name``'s options checked for names and types, numbers converted: a new dict.
    ``where`` prefixes errors (e.g. "task 'tshirt'"). Raises ValueError for an unknown data set or
    option (valid ones listed), TypeError for a wrong type."""
    what = f"dataset {name!r}"
    return check_keyword_options(registered(DATASETS, name, "dataset").option_signature(), options,
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
    return dataset.reader()(root=root, split=split, **options)


def check_dataset_files(name: str, root: str | os.PathLike | None, options: dict[str, Any]) -> None:
    """Fail as reading data set ``name`` from ``root`` with ``options`` would, without reading a file:
    its ``check_files``, or, for a data set without one, a FileNotFoundError when ``root`` is not a folder."""
    dataset = registered(DATASETS, name, "dataset")
    if dataset.check_files is not None:
        dataset.check_files(root, **options)
    elif root is not None and not Path(root).is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
