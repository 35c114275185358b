"""Readers of the public image sets: Fashion-MNIST (IDX files), scikit-learn's 8x8 digits, CIFAR-10/100.

Each reader is ``read(root, split) -> ImageSet`` with uint8 images (N, C, H, W); the registry
``nbutils.data.datasets.DATASETS`` names them. A reader looks in ``root``, else ``$NBUTILS_DATA``, else its
default place, and downloads with torchvision when online. Where the files are looked for, and the
``check_*`` functions that fail as a reader would without reading a file (the runner's up-front
check), are in the light ``nbutils.data.locations``, re-exported here.
"""
from __future__ import annotations

import functools
import gzip
import math
import os
import pickle
from pathlib import Path

import numpy as np
import torch
from sklearn.model_selection import train_test_split

from nbutils.data.imagesets import ImageSet
from nbutils.data.locations import (
    CIFAR_FILES,
    DEBIAN_FASHION_MNIST,
    FASHION_CLASSES,
    can_download_into,
    check_cifar,
    check_fashion_mnist,
    cifar_files,
    fashion_mnist_files,
    missing_cifar,
    online,
)

# check_cifar, check_fashion_mnist, DEBIAN_FASHION_MNIST and can_download_into moved to the light
# nbutils.data.locations (no torch) and stay importable from here
__all__ = ["CIFAR_FILES", "DEBIAN_FASHION_MNIST", "FASHION_CLASSES", "can_download_into", "check_cifar",
           "check_fashion_mnist", "cifar_files", "fashion_mnist_files", "load_cifar10", "load_cifar100",
           "load_digits", "load_fashion_mnist", "missing_cifar", "online", "read_idx"]


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


def _read_pickle(path: Path) -> dict:
    with open(path, "rb") as f:
        return pickle.load(f, encoding="latin1")


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
