"""Readers of medical image data sets as uint8 :class:`~nbutils.data.imagesets.ImageSet` s; the registry
``nbutils.data.datasets.DATASETS`` names them (``load_dataset("ham10000", root, split)``).

    ham10000     HAM10000_metadata.csv + HAM10000_images_part_{1,2}/ISIC_*.jpg, lesion-grouped split
    chest-xray   chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg, the published splits, grey
    medmnist     a 2-D MedMNIST npz (option ``flag`` or ``file``), its own train/val/test splits
    isic2019     ISIC_2019_Training_Input/*.jpg + ISIC_2019_Training_GroundTruth.csv (one-hot),
                 lesion-grouped split when ISIC_2019_Training_Metadata.csv is beside them
    csv-images   any image folder + a CSV of file name and label (ODIR-5K and others)

Image files are decoded once, in parallel threads (PIL, with ``Image.draft`` so JPEGs decode at a
reduced scale), resized so the shorter side is ``image_size`` and centre-cropped to a square (the
aspect ratio is kept; the longer side loses its margins), and cached as a ``.npy`` under
``cache_dir("images")`` keyed by the file list (paths, sizes, mtimes), the size and the colour
mode. Later loads memory-map the cache and open no image file. A missing or unreadable file
raises an error naming it; ``skip_bad=True`` skips such files with a warning and lists them in
``MedicalImageSet.bad_files``. Pass ``image_size`` in a task spec's ``options`` so images are
decoded at that size (the spec's own ``image_size`` resizes after loading).

Loaders that split a pool themselves (ham10000, isic2019, csv-images) do it stratified with the
fixed seed ``SPLIT_SEED``, so every run sees the same test set; ``make_task`` carves ``val`` out of
``train`` (by lesion for HAM10000 and ISIC 2019, through ``ImageSet.groups``).
"""
from __future__ import annotations

import hashlib
import json
import os
import warnings
from dataclasses import dataclass, field
from multiprocessing.pool import ThreadPool
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd
import torch
from PIL import Image, ImageOps

from nbutils.core.runtime import cache_dir, progress, write_atomically
from nbutils.data.imagesets import ImageSet, resize, split_indices

SPLIT_SEED = 0
DECODE_WORKERS = min(8, os.cpu_count() or 1)
TRANSFORM = "shorter-side-bilinear-centre-crop-v1"  # part of the cache key: change it with the code
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
DECODE_ERRORS = (OSError, ValueError, SyntaxError, Image.DecompressionBombError)

# HAM10000's dx codes, most to least frequent (6705, 1113, 1099, 514, 327, 142, 115 images).
HAM10000_CLASSES = ["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"]
# The ground-truth columns of ISIC 2019 in file order; UNK has no training image and is dropped then.
ISIC2019_CLASSES = ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC", "UNK"]
CHEST_XRAY_FOLDERS = ["NORMAL", "PNEUMONIA"]
# Label names from the INFO dict of the medmnist package (medmnist/info.py, MedMNIST v2).
MEDMNIST_LABELS = {
    "dermamnist": ["actinic keratoses and intraepithelial carcinoma", "basal cell carcinoma",
                   "benign keratosis-like lesions", "dermatofibroma", "melanoma",
                   "melanocytic nevi", "vascular lesions"],
    "pneumoniamnist": ["normal", "pneumonia"],
}
MEDMNIST_SIZES = (28, 64, 128, 224)


@dataclass
class MedicalImageSet(ImageSet):
    """An :class:`ImageSet` read from image files; ``bad_files`` lists the files skipped as
    missing or unreadable (``skip_bad=True``), each as 'path: reason'."""

    bad_files: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- decoding and cache
def decode_image(path: str | os.PathLike, size: int, mode: str = "RGB") -> np.ndarray:
    """One image file -> (C, size, size) uint8, C = 3 for mode 'RGB', 1 for 'L'.

    The shorter side is resized to ``size`` (bilinear, antialiased) and the longer one centre-cropped."""
    with Image.open(path) as image:
        image.draft(mode, (size, size))
        square = ImageOps.fit(image.convert(mode), (size, size), method=Image.Resampling.BILINEAR)
    pixels = np.asarray(square)
    return pixels[None] if pixels.ndim == 2 else pixels.transpose(2, 0, 1)


def _try_decode(job: tuple[str, int, str]) -> np.ndarray | str:
    """``decode_image`` or, for a corrupt file, the reason as a string (threads must not raise)."""
    path, size, mode = job
    try:
        return decode_image(path, size, mode)
    except DECODE_ERRORS as error:
        return f"{type(error).__name__}: {error}"


def _cache_key(paths: Sequence[str], size: int, mode: str) -> str:
    """Hash of the file list (path, size, mtime of each; missing files as None), size and transform."""
    stats = []
    for path in paths:
        try:
            st = os.stat(path)
            stats.append((path, st.st_size, st.st_mtime_ns))
        except FileNotFoundError:
            stats.append((path, None, None))
    blob = json.dumps([stats, size, mode, TRANSFORM]).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def _decode_to_npy(paths: Sequence[str], size: int, mode: str, target: Path) -> dict[str, str]:
    """Decode ``paths`` in parallel into ``target`` (.npy of shape (N, C, size, size), written
    atomically; unreadable files stay black). Returns {path: reason} of the unreadable files."""
    channels = 1 if mode == "L" else 3
    tmp = target.with_name(f"{target.stem}.{os.getpid()}.tmp.npy")
    out = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8,
                                    shape=(len(paths), channels, size, size))
    bad = {}
    jobs = [(p, size, mode) for p in paths]
    try:
        with ThreadPool(DECODE_WORKERS) as pool:
            decoded = progress(pool.imap(_try_decode, jobs, chunksize=16), total=len(paths),
                               desc=f"decoding {target.stem}")
            for i, result in enumerate(decoded):
                if isinstance(result, str):
                    bad[paths[i]] = result
                else:
                    out[i] = result
        out.flush()
        del out
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return bad


def load_images(paths: Sequence[str | os.PathLike], size: int, mode: str = "RGB", *,
                skip_bad: bool = False, tag: str = "images",
                ) -> tuple[torch.Tensor, np.ndarray, list[str]]:
    """Decode image files once and cache them; later calls memory-map the cache and open no file.

    Returns images (M, C, size, size) uint8 of the readable files, ``keep`` (N,) bool marking them
    among ``paths``, and the skipped files as 'path: reason' (empty unless ``skip_bad``).
    A missing or unreadable file raises FileNotFoundError / ValueError naming it unless ``skip_bad``.
    """
    if mode not in ("RGB", "L"):
        raise ValueError(f"mode must be 'RGB' or 'L', got {mode!r}")
    paths = [os.path.abspath(p) for p in paths]
    missing = [p for p in paths if not os.path.isfile(p)]
    if missing and not skip_bad:
        raise FileNotFoundError(f"image file {missing[0]} not found ({len(missing)} of {len(paths)} "
                                "listed files missing); restore it or pass skip_bad=True to skip it")
    target = cache_dir("images") / f"{tag}-{size}{mode}-{_cache_key(paths, size, mode)}.npy"
    bad_list = target.with_suffix(".bad.json")
    if target.is_file() and bad_list.is_file():
        bad = json.loads(bad_list.read_text())
    else:
        bad = _decode_to_npy(paths, size, mode, target)
        write_atomically(bad_list, lambda f: f.write(json.dumps(bad).encode()))
    if bad and not skip_bad:
        path, reason = next(iter(bad.items()))
        raise ValueError(f"cannot read image {path} ({reason}); {len(bad)} of {len(paths)} files "
                         "are unreadable: replace them or pass skip_bad=True to skip them")
    keep = np.array([p not in bad for p in paths], dtype=bool)
    images = np.load(target, mmap_mode="c")
    if bad:
        images = images[keep]
        warnings.warn(f"skipped {len(bad)} of {len(paths)} image files, e.g. "
                      f"{next(iter(bad))} ({next(iter(bad.values()))})", stacklevel=2)
    return torch.from_numpy(images), keep, [f"{p}: {r}" for p, r in bad.items()]


# --------------------------------------------------------------------------- tables of files
def file_image_set(paths: Sequence[str | os.PathLike], labels: np.ndarray, classes: list[str], *,
                   split: str, source: str, image_size: int, mode: str = "RGB",
                   groups: np.ndarray | None = None, skip_bad: bool = False) -> MedicalImageSet:
    """A :class:`MedicalImageSet` of image files with labels (N,) in 0..len(classes)-1.

    Raises ValueError when a class has no image in this split (``source`` names the data set)."""
    labels = np.asarray(labels, dtype=np.int64)
    check_all_classes(labels, classes, split, source)
    images, keep, bad = load_images(paths, image_size, mode, skip_bad=skip_bad,
                                    tag=f"{source}-{split}".replace(" ", "_"))
    labels = labels[keep]
    check_all_classes(labels, classes, split, source)  # skipped files may have emptied a class
    return MedicalImageSet(images, labels, list(classes),
                           groups=None if groups is None else np.asarray(groups)[keep], bad_files=bad)


def check_all_classes(labels: np.ndarray, classes: list[str], split: str, source: str) -> None:
    """Raise ValueError naming the classes with no sample among ``labels`` (N,)."""
    absent = [c for i, c in enumerate(classes) if not np.any(labels == i)]
    if absent:
        raise ValueError(f"{source}: class(es) {absent} have no image in the {split} split; "
                         "add images of them or drop them from the data set")


def pick_split(split: str, labels: np.ndarray, test_fraction: float,
               groups: np.ndarray | None = None, classes: list[str] | None = None) -> np.ndarray:
    """Indices of ``split`` ('train' or 'test') of a pool with ``labels`` (N,), split by SPLIT_SEED
    (``classes`` names the labels when the data are too few for the split)."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r} "
                         "(make_task carves val out of train)")
    train, test = split_indices(labels, test_fraction, SPLIT_SEED, groups, classes)
    return train if split == "train" else test


def encode_labels(values: Sequence, classes: list[str], source: str) -> np.ndarray:
    """Class names -> (N,) int64 indices into ``classes``; an unknown name raises ValueError naming it."""
    lookup = {c: i for i, c in enumerate(classes)}
    unknown = sorted({str(v) for v in values} - set(lookup))
    if unknown:
        raise ValueError(f"{source}: unknown label(s) {unknown}; valid: {classes}")
    return np.array([lookup[str(v)] for v in values], dtype=np.int64)


def read_csv(path: Path, columns: Sequence[str], source: str) -> pd.DataFrame:
    """The CSV at ``path``, checked to have ``columns``."""
    table = pd.read_csv(path, dtype=str, keep_default_na=False)
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ValueError(f"{path} ({source}) lacks column(s) {missing}; it has {list(table.columns)}")
    return table


def data_folder(root: str | os.PathLike | None, default: str) -> Path:
    """``root``, else ``$NBUTILS_DATA/<default>``, else ``data/<default>``."""
    if root is not None:
        return Path(root)
    return Path(os.environ.get("NBUTILS_DATA", "data")) / default


def require(path: Path, what: str, where_to_get: str) -> Path:
    """``path`` if it exists, else a FileNotFoundError naming it and where to get the data."""
    if not path.exists():
        raise FileNotFoundError(f"{what} not found: expected {path}. {where_to_get} Pass "
                                "root=<folder> (a task spec's 'root') or set NBUTILS_DATA.")
    return path


# --------------------------------------------------------------------------- HAM10000
HAM10000_SOURCE = ("Get HAM10000 (Tschandl et al. 2018) from the Harvard Dataverse: "
                   "HAM10000_metadata.csv and the folders HAM10000_images_part_1/ and _part_2/.")


def _ham10000_image(root: Path, image_id: str) -> str:
    first = root / "HAM10000_images_part_1" / f"{image_id}.jpg"
    return str(first if first.is_file() else root / "HAM10000_images_part_2" / f"{image_id}.jpg")


def load_ham10000(root: str | os.PathLike | None = None, split: str = "train", *,
                  image_size: int = 224, test_fraction: float = 0.15,
                  skip_bad: bool = False) -> MedicalImageSet:
    """HAM10000 dermoscopy (7 classes, in the order of HAM10000_CLASSES: nv, mel, bkl, bcc,
    akiec, vasc, df). No official split: a split of the lesions, stratified by diagnosis with
    SPLIT_SEED, puts ``test_fraction`` of the lesions (all their images) in ``test``; ``groups``
    holds the lesion_id, so make_task carves val by lesion too. Images (N, 3, image_size, image_size)."""
    folder = data_folder(root, "HAM10000")
    csv = require(folder / "HAM10000_metadata.csv", "HAM10000 metadata", HAM10000_SOURCE)
    table = read_csv(csv, ["lesion_id", "image_id", "dx"], "HAM10000")
    labels = encode_labels(table["dx"], HAM10000_CLASSES, str(csv))
    groups = table["lesion_id"].to_numpy()
    index = pick_split(split, labels, test_fraction, groups, HAM10000_CLASSES)
    paths = [_ham10000_image(folder, table["image_id"].iat[i]) for i in index]
    return file_image_set(paths, labels[index], HAM10000_CLASSES, split=split, source="ham10000",
                          image_size=image_size, groups=groups[index], skip_bad=skip_bad)


# --------------------------------------------------------------------------- chest X-ray
CHEST_XRAY_SOURCE = ("Get 'Chest X-Ray Images (Pneumonia)' (Kermany et al. 2018) from Mendeley Data "
                     "or Kaggle: chest_xray/{train,val,test}/{NORMAL,PNEUMONIA}/*.jpeg.")


def _chest_xray_folder(root: Path) -> Path:
    """The folder holding train/val/test: ``root``, ``root/chest_xray`` or Kaggle's nested
    ``root/chest_xray/chest_xray``."""
    for folder in (root, root / "chest_xray", root / "chest_xray" / "chest_xray"):
        if (folder / "train").is_dir():
            return folder
    return require(root / "chest_xray" / "train", "Chest X-ray pneumonia data", CHEST_XRAY_SOURCE)


def load_chest_xray(root: str | os.PathLike | None = None, split: str = "train", *,
                    image_size: int = 224, skip_bad: bool = False) -> MedicalImageSet:
    """Paediatric chest X-rays (Kermany et al. 2018), classes ['normal', 'pneumonia'], the
    published splits (train 1,341/3,875, val 8/8, test 234/390). Grey: (N, 1, image_size, image_size)."""
    folder = require(_chest_xray_folder(data_folder(root, "chest_xray")) / split,
                     f"Chest X-ray {split} folder", CHEST_XRAY_SOURCE)
    paths, labels = [], []
    for sub in sorted(p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")):
        if sub.name not in CHEST_XRAY_FOLDERS:
            raise ValueError(f"unknown label folder {sub}; valid class folders: {CHEST_XRAY_FOLDERS}")
        files = sorted(str(f) for f in sub.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
        paths += files
        labels += [CHEST_XRAY_FOLDERS.index(sub.name)] * len(files)
    return file_image_set(paths, np.array(labels), [c.lower() for c in CHEST_XRAY_FOLDERS],
                          split=split, source="chest-xray", image_size=image_size, mode="L",
                          skip_bad=skip_bad)


# --------------------------------------------------------------------------- MedMNIST
MEDMNIST_SOURCE = ("Get MedMNIST v2 / MedMNIST+ npz files (Yang et al. 2023) from Zenodo or with the "
                   "medmnist package (its files land in ~/.medmnist).")


def _medmnist_file(root: str | os.PathLike | None, flag: str | None, size: int,
                   file: str | os.PathLike | None) -> Path:
    if file is not None:
        return require(Path(file), "MedMNIST npz", MEDMNIST_SOURCE)
    if flag is None:
        raise ValueError("medmnist needs option flag (e.g. 'dermamnist', 'pneumoniamnist') or file=<npz>")
    if size not in MEDMNIST_SIZES:
        raise ValueError(f"medmnist size must be one of {MEDMNIST_SIZES}, got {size}")
    name = f"{flag}.npz" if size == 28 else f"{flag}_{size}.npz"
    return require(data_folder(root, "medmnist") / name, f"MedMNIST file {name}", MEDMNIST_SOURCE)


def _medmnist_images(images: np.ndarray, path: Path) -> torch.Tensor:
    """(N, H, W) grey or (N, H, W, 3) RGB -> (N, C, H, W) uint8."""
    if images.ndim == 3:
        return torch.from_numpy(images[:, None].copy())
    if images.ndim == 4 and images.shape[-1] == 3:
        return torch.from_numpy(np.ascontiguousarray(images.transpose(0, 3, 1, 2)))
    raise ValueError(f"{path}: images of shape {images.shape} are not 2-D MedMNIST images "
                     "(N, H, W) or (N, H, W, 3); 3-D volumes are not supported")


def load_medmnist(root: str | os.PathLike | None = None, split: str = "train", *,
                  flag: str | None = None, size: int = 28, file: str | os.PathLike | None = None,
                  image_size: int | None = None) -> ImageSet:
    """A 2-D MedMNIST data set from ``<root>/<flag>[_<size>].npz`` (or ``file``), with its own
    splits. Classes: MedMNIST's label names for dermamnist and pneumoniamnist, '0', '1', ...
    otherwise. Images (N, C, H, W) at the file's size, or resized to ``image_size``."""
    path = _medmnist_file(root, flag, size, file)
    with np.load(path) as npz:
        keys = [f"{split}_images", f"{split}_labels"]
        if not all(k in npz for k in keys):
            raise ValueError(f"{path} lacks {keys}; it has {sorted(npz.keys())}")
        labels = npz[keys[1]]
        if labels.ndim == 2 and labels.shape[1] != 1:
            raise ValueError(f"{path} is multi-label (labels {labels.shape}); only single-label "
                             "MedMNIST data sets are supported")
        n_classes = 1 + max(int(npz[k].max()) for k in npz if k.endswith("_labels"))
        images = _medmnist_images(npz[keys[0]], path)
    labels = labels.reshape(-1).astype(np.int64)
    classes = MEDMNIST_LABELS.get(flag or path.stem.split("_")[0], [str(c) for c in range(n_classes)])
    check_all_classes(labels, classes, split, str(path))
    ds = ImageSet(images, labels, list(classes))
    return resize(ds, image_size) if image_size else ds


# --------------------------------------------------------------------------- ISIC 2019
ISIC2019_SOURCE = ("Get the ISIC 2019 Challenge training data from the ISIC Archive: "
                   "ISIC_2019_Training_Input/ and ISIC_2019_Training_GroundTruth.csv.")
ISIC2019_METADATA = "ISIC_2019_Training_Metadata.csv"


def _one_hot_labels(table: pd.DataFrame, columns: list[str], source: str) -> np.ndarray:
    """(N,) index of the one column set to 1 in each row; a row with none or several raises."""
    onehot = table[columns].astype(float).to_numpy()
    wrong = np.flatnonzero(onehot.sum(axis=1) != 1)
    if len(wrong):
        row = table.iloc[wrong[0]]
        raise ValueError(f"{source}: image {row['image']} has {int(onehot[wrong[0]].sum())} labels "
                         f"set among {columns} ({len(wrong)} such rows); each row must be one-hot")
    return onehot.argmax(axis=1).astype(np.int64)


def _isic2019_lesions(folder: Path, images: pd.Series) -> np.ndarray:
    """(N,) lesion of each image from ISIC_2019_Training_Metadata.csv (columns image, age_approx,
    anatom_site_general, lesion_id, sex); an image without a lesion_id is a group of its own.
    Without the file every image is its own group, with a warning: the split can then put images
    of one lesion in both train and test."""
    path = folder / ISIC2019_METADATA
    if not path.is_file():
        warnings.warn(f"{path} not found: ISIC 2019 is split by image, so images of one lesion can "
                      f"land in train and test; put {ISIC2019_METADATA} beside the ground truth to "
                      "split by lesion", stacklevel=3)
        return images.to_numpy()
    meta = read_csv(path, ["image", "lesion_id"], "ISIC 2019 metadata")
    lesion_of = dict(zip(meta["image"], meta["lesion_id"]))
    return np.array([lesion_of.get(image) or image for image in images])


def load_isic2019(root: str | os.PathLike | None = None, split: str = "train", *,
                  image_size: int = 224, test_fraction: float = 0.15,
                  skip_bad: bool = False) -> MedicalImageSet:
    """ISIC 2019 dermoscopy (25,331 training images), classes in the ground truth's column order
    MEL, NV, BCC, AK, BKL, DF, VASC, SCC (and UNK only if some image has it: none in the
    published training set). A split of the lesions (``lesion_id`` of the metadata CSV, see
    :func:`_isic2019_lesions`), stratified by class with SPLIT_SEED, puts about ``test_fraction``
    of them in ``test``; ``groups`` holds the lesion, so make_task carves val by lesion too."""
    folder = data_folder(root, "ISIC2019")
    csv = require(folder / "ISIC_2019_Training_GroundTruth.csv", "ISIC 2019 ground truth",
                  ISIC2019_SOURCE)
    image_folder = require(folder / "ISIC_2019_Training_Input", "ISIC 2019 image folder",
                           ISIC2019_SOURCE)
    table = read_csv(csv, ["image"] + ISIC2019_CLASSES, "ISIC 2019")
    labels = _one_hot_labels(table, ISIC2019_CLASSES, str(csv))
    has_unknown = np.any(labels == ISIC2019_CLASSES.index("UNK"))
    classes = ISIC2019_CLASSES if has_unknown else ISIC2019_CLASSES[:-1]
    groups = _isic2019_lesions(folder, table["image"])
    index = pick_split(split, labels, test_fraction, groups, classes)
    paths = [str(image_folder / f"{table['image'].iat[i]}.jpg") for i in index]
    return file_image_set(paths, labels[index], classes, split=split, source="isic2019",
                          image_size=image_size, groups=groups[index], skip_bad=skip_bad)


# --------------------------------------------------------------------------- image folder + CSV
def _natural_classes(values: pd.Series) -> list[str]:
    """Distinct labels sorted numerically when all are numbers, else alphabetically."""
    distinct = values.unique().tolist()
    numeric = pd.to_numeric(pd.Series(distinct), errors="coerce")
    if numeric.notna().all():
        return [v for _, v in sorted(zip(numeric, distinct))]
    return sorted(distinct)


def load_csv_images(root: str | os.PathLike | None = None, split: str = "train", *,
                    csv: str | os.PathLike = "labels.csv", image_dir: str | os.PathLike = ".",
                    file_column: str = "file", label_column: str = "label",
                    split_column: str | None = None, classes: list[str] | None = None,
                    mode: str = "RGB", image_size: int = 224, test_fraction: float = 0.15,
                    skip_bad: bool = False) -> MedicalImageSet:
    """Images ``<root>/<image_dir>/<file>`` labelled by ``<root>/<csv>`` (ODIR-5K and others).

    ``classes`` fixes the class order (other labels raise); by default the distinct labels sorted.
    ``split_column`` (values 'train' / 'test') gives the split; else a stratified split with
    SPLIT_SEED puts about ``test_fraction`` in test. ``mode`` 'RGB' or 'L' (grey)."""
    folder = data_folder(root, "csv-images")
    path = require(folder / csv, "label CSV", "Write a CSV with a file and a label column.")
    table = read_csv(path, [file_column, label_column] + ([split_column] if split_column else []),
                     str(path))
    classes = _natural_classes(table[label_column]) if classes is None else [str(c) for c in classes]
    labels = encode_labels(table[label_column], classes, str(path))
    if split_column:
        odd = sorted(set(table[split_column]) - {"train", "test"})
        if odd:
            raise ValueError(f"{path}: column {split_column!r} has value(s) {odd}; valid: 'train', "
                             "'test' (make_task carves val out of train)")
        index = np.flatnonzero(table[split_column].to_numpy() == split)
    else:
        index = pick_split(split, labels, test_fraction, classes=classes)
    paths = [str(folder / image_dir / table[file_column].iat[i]) for i in index]
    return file_image_set(paths, labels[index], classes, split=split, source=path.stem,
                          image_size=image_size, mode=mode, skip_bad=skip_bad)
