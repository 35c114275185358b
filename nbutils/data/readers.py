"""Readers of the public image sets: Fashion-MNIST (IDX files), scikit-learn's 8x8 digits, CIFAR-10/100.

Each reader is ``read(root, split) -> ImageSet`` with uint8 images (N, C, H, W); the registry
``nbutils.data.datasets.DATASETS`` names them. A reader looks in ``root``, else ``$NBUTILS_DATA``, else its
default place, and downloads with torchvision when online; a ``check_*`` function fails as the reader
would, naming the folder and the files, without reading them (the runner's up-front check).
"""
from __future__ import annotations

import functools
import gzip
import math
import os
import pickle
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from nbutils.data.imagesets import ImageSet

DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")


def online() -> bool:
    """False when the user asked for offline mode (HF_HUB_OFFLINE / NBUTILS_OFFLINE)."""
    return not any(os.environ.get(v, "") not in ("", "0") for v in ("HF_HUB_OFFLINE", "NBUTILS_OFFLINE"))


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


def load_fashion_mnist(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """Fashion-MNIST (28x28 grey, 10 classes) from IDX files.

    Looks in ``root``, else ``$NBUTILS_DATA``, else Debian's ``dataset-fashion-mnist`` folder,
    else downloads with torchvision when online. Only ``train`` and ``test`` exist; carve a
    validation split with :func:`nbutils.data.tasks.make_task`.
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
    """The up-front file check of CIFAR ``kind`` (see :class:`nbutils.data.datasets.DataSet`'s ``check_files``)."""
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


def load_cifar10(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """CIFAR-10 from torchvision's ``cifar-10-batches-py`` folder (downloaded when online)."""
    return _load_cifar("cifar10", root, split)


def load_cifar100(root: str | os.PathLike | None = None, split: str = "train") -> ImageSet:
    """CIFAR-100 from torchvision's ``cifar-100-python`` folder (downloaded when online)."""
    return _load_cifar("cifar100", root, split)
