"""Where the readers find their files, and the checks that fail as a reader would, naming the folder
and the files, without reading them: Fashion-MNIST's IDX files, CIFAR's pickled batches, whether a
missing file may be downloaded (:func:`online`). The registry ``nbutils.data.datasets`` gives these
checks to its entries (``DataSet.check_files``), and the readers (``nbutils.data.readers``) look up
their files with the same functions.

This module imports neither torch nor scikit-learn (only the standard library), so the runner's
up-front check of a parameter file (``nbutils.runs.parameters``) names a missing data folder in a
fraction of a second.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Callable

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def online() -> bool:
    """False when the user asked for offline mode (HF_HUB_OFFLINE / NBUTILS_OFFLINE)."""
    return not any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "NBUTILS_OFFLINE"))


FASHION_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
_IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
              "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}


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


# torchvision's folder, train files, test files, meta file, its class-name key, the label key
CIFAR_FILES = {
    "cifar10": ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                "batches.meta", "label_names", "labels"),
    "cifar100": ("cifar-100-python", ["train"], ["test"], "meta", "fine_label_names", "fine_labels"),
}


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
    """The up-front file check of CIFAR ``kind`` (see :class:`nbutils.data.datasets.DataSet`'s ``check_files``)."""
    def check(root: str | os.PathLike | None = None) -> None:
        for split in ("train", "test"):
            folder, paths = cifar_files(kind, root, split)
            if not all(p.is_file() for p in paths) and not can_download_into(root):
                raise missing_cifar(kind, folder, paths)
    return check
