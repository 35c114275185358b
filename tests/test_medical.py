"""Medical loaders on tiny fixtures written in each data set's exact on-disk format.

Every image of class k is a flat colour whose red (or grey) level is ``level(k)``, so a decoded
image tells which label it must carry."""
import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nbutils.data import medical
from nbutils.data.datasets import load_dataset
from nbutils.data.medical import HAM10000_CLASSES, ISIC2019_CLASSES
from nbutils.data.tasks import make_task

SIZE = 8  # decoded image side: the 16x12 fixtures are resized to 12 -> 8 and centre-cropped


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NBUTILS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def level(k: int) -> int:
    return 20 + 30 * k


def write_jpeg(path: Path, k: int, grey: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    colour = level(k) if grey else (level(k), 90, 200)
    image = Image.new("L" if grey else "RGB", (16, 12), colour)
    image.save(path, "JPEG", quality=95)


def write_csv(path: Path, header: list[str], rows: list[list]) -> None:
    with open(path, "w", newline="") as f:
        csv.writer(f).writerows([header] + rows)


def assert_labels_match_pixels(ds) -> None:
    """Each decoded image's first channel has the level of its label (JPEG error of a few units)."""
    first = ds.images[:, 0].float().mean(dim=(1, 2)).numpy()
    np.testing.assert_allclose(first, [level(k) for k in ds.labels], atol=4)


def test_decode_image_resizes_shorter_side_and_crops_the_centre(tmp_path):
    """24x12 image: red 6-px margins left and right, black then white in the middle square."""
    pixels = np.zeros((12, 24, 3), np.uint8)
    pixels[:, :6] = pixels[:, 18:] = (255, 0, 0)
    pixels[:, 12:18] = 255
    Image.fromarray(pixels).save(tmp_path / "wide.png")
    rgb = medical.decode_image(tmp_path / "wide.png", 6)
    assert rgb.shape == (3, 6, 6) and rgb.dtype == np.uint8
    assert rgb[:, :, 1].max() < 40 and rgb[:, :, 4].min() > 215  # black left, white right
    assert (rgb[0].astype(int) - rgb[1]).max() < 40  # red margins cropped (filter bleed only)
    grey = medical.decode_image(tmp_path / "wide.png", 6, "L")
    assert grey.shape == (1, 6, 6) and grey[0, :, 1].max() < 40 and grey[0, :, 4].min() > 215


# --------------------------------------------------------------------------- HAM10000
LESIONS_PER_CLASS = 8


@pytest.fixture
def ham(tmp_path):
    """7 classes x 8 lesions, lesions alternately with 1 and 2 images: 12 images a class, 84 in all,
    images alternately in part_1 and part_2."""
    root = tmp_path / "HAM10000"
    rows, n = [], 0
    for k, dx in enumerate(HAM10000_CLASSES):
        for lesion in range(LESIONS_PER_CLASS):
            for _ in range(1 + lesion % 2):
                image_id = f"ISIC_{n:07d}"
                write_jpeg(root / f"HAM10000_images_part_{1 + n % 2}" / f"{image_id}.jpg", k)
                rows.append([f"HAM_{k}{lesion:02d}", image_id, dx, "histo", 50, "male", "back"])
                n += 1
    write_csv(root / "HAM10000_metadata.csv",
              ["lesion_id", "image_id", "dx", "dx_type", "age", "sex", "localization"], rows)
    return root


def test_ham10000_lesion_grouped_split(ham):
    train = load_dataset("ham10000", ham, "train", image_size=SIZE)
    test = load_dataset("ham10000", ham, "test", image_size=SIZE)
    assert train.classes == test.classes == ["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"]
    assert len(train) + len(test) == 84
    assert len(set(test.groups)) == 9  # 0.15 of the 56 lesions, rounded up
    assert tuple(train.images.shape[1:]) == (3, SIZE, SIZE)
    assert not set(train.groups) & set(test.groups)
    assert (test.class_counts() >= 1).all() and (train.class_counts() >= 1).all()
    assert_labels_match_pixels(train)
    assert_labels_match_pixels(test)
    again = load_dataset("ham10000", ham, "test", image_size=SIZE)
    assert list(again.groups) == list(test.groups)  # the split is fixed


def test_ham10000_make_task_keeps_lesions_apart(ham):
    task = make_task("x", {"dataset": "ham10000", "root": str(ham), "val_fraction": 0.3,
                           "options": {"image_size": SIZE}})
    lesions = [set(part.groups) for part in (task.train, task.val, task.test)]
    assert sum(map(len, lesions)) == 7 * LESIONS_PER_CLASS  # every lesion once
    assert not (lesions[0] & lesions[1] or lesions[0] & lesions[2] or lesions[1] & lesions[2])
    assert len(task.train) + len(task.val) + len(task.test) == 84


def count_opens(monkeypatch) -> list:
    opened = []
    real_open = Image.open

    def counting_open(path, *args, **kwargs):
        opened.append(path)
        return real_open(path, *args, **kwargs)
    monkeypatch.setattr(Image, "open", counting_open)
    return opened


def test_second_load_reads_no_image_file(ham, cache, monkeypatch):
    opened = count_opens(monkeypatch)
    first = load_dataset("ham10000", ham, "train", image_size=SIZE)
    assert len(opened) == len(first)
    assert len(list(cache.glob("images/ham10000-train-8RGB-*.npy"))) == 1
    opened.clear()
    second = load_dataset("ham10000", ham, "train", image_size=SIZE)
    assert opened == []
    assert (second.images == first.images).all()
    assert np.array_equal(second.labels, first.labels)
    load_dataset("ham10000", ham, "train", image_size=SIZE + 1)  # another size decodes anew
    assert len(opened) == len(first)
    opened.clear()
    for path in ham.glob("HAM10000_images_part_1/*.jpg"):
        os.utime(path, ns=(1, 1))  # changed files invalidate the cache
    load_dataset("ham10000", ham, "train", image_size=SIZE)
    assert len(opened) == len(first)


def test_missing_image_names_the_file_and_skip_bad_skips_it(ham):
    train = load_dataset("ham10000", ham, "train", image_size=SIZE)
    split = "train" if "HAM_000" in set(train.groups) else "test"  # lesion of ISIC_0000000
    full = load_dataset("ham10000", ham, split, image_size=SIZE)
    assert full.bad_files == []
    (ham / "HAM10000_images_part_1" / "ISIC_0000000.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="ISIC_0000000.jpg"):
        load_dataset("ham10000", ham, split, image_size=SIZE)
    with pytest.warns(UserWarning, match="skipped 1 of"):
        kept = load_dataset("ham10000", ham, split, image_size=SIZE, skip_bad=True)
    assert len(kept) == len(full) - 1
    assert len(kept.bad_files) == 1 and "ISIC_0000000.jpg" in kept.bad_files[0]
    assert len(kept.groups) == len(kept.labels) == len(kept.images)
    assert_labels_match_pixels(kept)


def test_corrupt_jpeg_names_the_file_and_skip_bad_skips_it(ham):
    bad = ham / "HAM10000_images_part_2" / "ISIC_0000001.jpg"  # lesion HAM_001 of class nv
    bad.write_bytes(bad.read_bytes()[:40])  # truncated
    with pytest.warns(UserWarning, match="skipped 1 of"):
        splits = {s: load_dataset("ham10000", ham, s, image_size=SIZE, skip_bad=True)
                  for s in ("train", "test")}
    assert sum(len(ds.bad_files) for ds in splits.values()) == 1
    split = "train" if splits["train"].bad_files else "test"
    assert "ISIC_0000001.jpg" in splits[split].bad_files[0]
    assert len(splits["train"]) + len(splits["test"]) == 83
    with pytest.raises(ValueError, match="cannot read image .*ISIC_0000001.jpg"):
        load_dataset("ham10000", ham, split, image_size=SIZE)
    bad.write_bytes(b"not a jpeg at all")
    with pytest.raises(ValueError, match="ISIC_0000001.jpg"):
        load_dataset("ham10000", ham, split, image_size=SIZE)


def test_ham10000_unknown_label_and_missing_root(ham, tmp_path):
    csv_path = ham / "HAM10000_metadata.csv"
    csv_path.write_text(csv_path.read_text().replace(",df,", ",dermatofib,", 1))
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['dermatofib'\].*'akiec'"):
        load_dataset("ham10000", ham, "train", image_size=SIZE)
    with pytest.raises(FileNotFoundError, match="HAM10000_metadata.csv.*Harvard Dataverse"):
        load_dataset("ham10000", tmp_path / "nowhere", "train")


def test_ham10000_default_root_is_under_nbutils_data(ham, monkeypatch):
    monkeypatch.setenv("NBUTILS_DATA", str(ham.parent))
    assert len(load_dataset("ham10000", None, "test", image_size=SIZE)) > 0


# --------------------------------------------------------------------------- chest X-ray
CHEST_COUNTS = {"train": (6, 10), "val": (2, 2), "test": (3, 4)}


@pytest.fixture
def chest(tmp_path):
    root = tmp_path / "download" / "chest_xray"
    for split, counts in CHEST_COUNTS.items():
        for k, (folder, n) in enumerate(zip(("NORMAL", "PNEUMONIA"), counts)):
            for i in range(n):
                write_jpeg(root / split / folder / f"person{i}_{folder.lower()}.jpeg", k, grey=True)
    return root


def test_chest_xray_published_splits_grey(chest):
    for root in (chest, chest.parent):  # the chest_xray folder or its parent
        for split, counts in CHEST_COUNTS.items():
            ds = load_dataset("chest-xray", root, split, image_size=SIZE)
            assert ds.classes == ["normal", "pneumonia"]
            assert tuple(ds.class_counts()) == counts
            assert tuple(ds.images.shape) == (sum(counts), 1, SIZE, SIZE)
            assert_labels_match_pixels(ds)


def test_chest_xray_make_task_uses_published_val(chest):
    task = make_task("cx", {"dataset": "chest-xray", "root": str(chest),
                            "options": {"image_size": SIZE}})
    assert (len(task.train), len(task.val), len(task.test)) == (16, 4, 7)


def test_chest_xray_errors(chest, tmp_path):
    write_jpeg(chest / "test" / "COVID19" / "a.jpeg", 0, grey=True)
    with pytest.raises(ValueError, match="unknown label folder .*COVID19.*NORMAL"):
        load_dataset("chest-xray", chest, "test", image_size=SIZE)
    for f in (chest / "val" / "PNEUMONIA").iterdir():
        f.unlink()
    with pytest.raises(ValueError, match=r"\['pneumonia'\] have no image in the val split"):
        load_dataset("chest-xray", chest, "val", image_size=SIZE)
    with pytest.raises(FileNotFoundError, match="chest_xray.*Kermany"):
        load_dataset("chest-xray", tmp_path / "nowhere", "train")


# --------------------------------------------------------------------------- MedMNIST
def write_medmnist(path: Path, rgb: bool, n_classes: int, side: int = 28) -> dict:
    """An npz in MedMNIST's layout; each split has 2 images per class, pixels random."""
    rng = np.random.default_rng(0)
    arrays = {}
    for split in ("train", "val", "test"):
        labels = np.repeat(np.arange(n_classes), 2)[:, None].astype(np.uint8)
        shape = (len(labels), side, side, 3) if rgb else (len(labels), side, side)
        arrays[f"{split}_images"] = rng.integers(0, 256, shape, dtype=np.uint8)
        arrays[f"{split}_labels"] = labels
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    return arrays


def test_medmnist_rgb_and_grey_layouts(tmp_path):
    derma = write_medmnist(tmp_path / "dermamnist.npz", rgb=True, n_classes=7)
    ds = load_dataset("medmnist", tmp_path, "val", flag="dermamnist")
    assert tuple(ds.images.shape) == (14, 3, 28, 28)
    assert ds.images[5, 2, 3, 4] == derma["val_images"][5, 3, 4, 2]
    assert ds.labels.shape == (14,) and ds.labels.dtype == np.int64
    assert ds.classes[0] == "actinic keratoses and intraepithelial carcinoma"
    assert ds.classes[5] == "melanocytic nevi"
    pneu = write_medmnist(tmp_path / "pneumoniamnist_64.npz", rgb=False, n_classes=2, side=64)
    ds = load_dataset("medmnist", tmp_path, "test", flag="pneumoniamnist", size=64)
    assert ds.classes == ["normal", "pneumonia"]
    assert tuple(ds.images.shape) == (4, 1, 64, 64)
    assert ds.images[3, 0, 10, 20] == pneu["test_images"][3, 10, 20]
    write_medmnist(tmp_path / "other" / "bloodmnist.npz", rgb=True, n_classes=8)
    ds = load_dataset("medmnist", None, "train", file=tmp_path / "other" / "bloodmnist.npz",
                      image_size=SIZE)
    assert ds.classes == [str(c) for c in range(8)]
    assert tuple(ds.images.shape) == (16, 3, SIZE, SIZE)


def test_medmnist_make_task_and_errors(tmp_path):
    write_medmnist(tmp_path / "dermamnist.npz", rgb=True, n_classes=7)
    task = make_task("d", {"dataset": "medmnist", "root": str(tmp_path),
                           "options": {"flag": "dermamnist"}})
    assert (len(task.train), len(task.val), len(task.test)) == (14, 14, 14)
    with pytest.raises(FileNotFoundError, match="dermamnist_128.npz.*MedMNIST"):
        load_dataset("medmnist", tmp_path, "train", flag="dermamnist", size=128)
    with pytest.raises(ValueError, match="size must be one of"):
        load_dataset("medmnist", tmp_path, "train", flag="dermamnist", size=32)
    with pytest.raises(ValueError, match="needs option flag"):
        load_dataset("medmnist", tmp_path, "train")
    np.savez(tmp_path / "chestmnist.npz", train_images=np.zeros((2, 28, 28), np.uint8),
             train_labels=np.zeros((2, 14), np.uint8))
    with pytest.raises(ValueError, match="multi-label"):
        load_dataset("medmnist", tmp_path, "train", flag="chestmnist")


# --------------------------------------------------------------------------- ISIC 2019
ISIC_PER_CLASS = 4


@pytest.fixture
def isic(tmp_path):
    """8 classes x 4 images; UNK column present but never set; the metadata CSV puts the first
    two images of each class on one lesion and leaves the last without a lesion_id."""
    root = tmp_path / "ISIC2019"
    rows, meta = [], []
    for k in range(8):
        for i in range(ISIC_PER_CLASS):
            name = f"ISIC_{k}{i:06d}"
            write_jpeg(root / "ISIC_2019_Training_Input" / f"{name}.jpg", k)
            rows.append([name] + [f"{float(c == k):.1f}" for c in range(9)])
            lesion = "" if i == ISIC_PER_CLASS - 1 else f"BCN_{k}{max(i, 1):09d}"
            meta.append([name, "55.0", "anterior torso", lesion, "female"])
    write_csv(root / "ISIC_2019_Training_GroundTruth.csv", ["image"] + ISIC2019_CLASSES, rows)
    write_csv(root / "ISIC_2019_Training_Metadata.csv",
              ["image", "age_approx", "anatom_site_general", "lesion_id", "sex"], meta)
    return root


def test_isic2019_drops_empty_unk_and_splits_by_lesion(isic):
    train = load_dataset("isic2019", isic, "train", image_size=SIZE, test_fraction=0.3)
    test = load_dataset("isic2019", isic, "test", image_size=SIZE, test_fraction=0.3)
    assert train.classes == ["MEL", "NV", "BCC", "AK", "BKL", "DF", "VASC", "SCC"]
    assert len(train) + len(test) == 32
    assert not set(train.groups) & set(test.groups)  # no lesion in both
    assert "BCN_0000000001" in set(train.groups) | set(test.groups)
    assert "ISIC_0000003" in set(train.groups) | set(test.groups)  # no lesion_id: its own group
    assert all(n >= 2 for n in train.class_counts())  # stratified: 3 groups a class, one in test
    assert_labels_match_pixels(train)
    assert_labels_match_pixels(test)
    task = make_task("i", {"dataset": "isic2019", "root": str(isic), "val_fraction": 0.5,
                           "options": {"image_size": SIZE, "test_fraction": 0.3}})
    assert not set(task.train.groups) & set(task.val.groups)


def test_isic2019_without_metadata_splits_by_image_and_warns(isic):
    (isic / "ISIC_2019_Training_Metadata.csv").unlink()
    with pytest.warns(UserWarning, match="split by image.*ISIC_2019_Training_Metadata.csv"):
        test = load_dataset("isic2019", isic, "test", image_size=SIZE, test_fraction=0.25)
    assert list(test.class_counts()) == [1] * 8  # a quarter of 4 per class


def test_isic2019_keeps_unk_when_used_and_rejects_bad_rows(isic):
    gt = isic / "ISIC_2019_Training_GroundTruth.csv"
    lines = gt.read_text().splitlines()
    unk_rows = [f"ISIC_9{i:06d}," + ",".join(["0.0"] * 8 + ["1.0"]) for i in range(ISIC_PER_CLASS)]
    for i in range(ISIC_PER_CLASS):
        write_jpeg(isic / "ISIC_2019_Training_Input" / f"ISIC_9{i:06d}.jpg", 8)
    gt.write_text("\n".join(lines + unk_rows) + "\n")
    splits = [load_dataset("isic2019", isic, split, image_size=SIZE, test_fraction=0.34)
              for split in ("train", "test")]
    assert all(ds.classes == ISIC2019_CLASSES for ds in splits)
    assert sum(ds.class_counts()[-1] for ds in splits) == ISIC_PER_CLASS  # UNK images kept
    gt.write_text("\n".join(lines[:3] + [lines[3].replace("0.0", "1.0", 1)]) + "\n")
    with pytest.raises(ValueError, match="image ISIC_0000002 has 2 labels set"):
        load_dataset("isic2019", isic, "train", image_size=SIZE)


# --------------------------------------------------------------------------- image folder + CSV
@pytest.fixture
def odir(tmp_path):
    """3 classes (labels 'N', 'D', 'G') x 6 images, with a split column: 4 train, 2 test each."""
    rows = []
    for k, label in enumerate(["D", "G", "N"]):
        for i in range(6):
            name = f"{k * 6 + i}_left.jpg"
            write_jpeg(tmp_path / "images" / name, k)
            rows.append([name, label, "train" if i < 4 else "test"])
    write_csv(tmp_path / "odir.csv", ["filename", "diagnosis", "part"], rows)
    return tmp_path


def test_csv_images_split_column_and_fixed_split(odir):
    opts = dict(csv="odir.csv", image_dir="images", file_column="filename", label_column="diagnosis",
                image_size=SIZE)
    test = load_dataset("csv-images", odir, "test", split_column="part", **opts)
    assert test.classes == ["D", "G", "N"] and list(test.class_counts()) == [2, 2, 2]
    assert_labels_match_pixels(test)
    train = load_dataset("csv-images", odir, "train", test_fraction=0.5, **opts)
    assert list(train.class_counts()) == [3, 3, 3]
    task = make_task("o", {"dataset": "csv-images", "root": str(odir), "val_fraction": 0.5,
                           "options": dict(opts, split_column="part")})
    assert (len(task.train), len(task.val), len(task.test)) == (6, 6, 6)
    grey = load_dataset("csv-images", odir, "test", split_column="part", mode="L", **opts)
    assert grey.images.shape[1] == 1


def test_csv_images_errors(odir):
    opts = dict(csv="odir.csv", image_dir="images", file_column="filename", label_column="diagnosis",
                image_size=SIZE)
    with pytest.raises(ValueError, match=r"unknown label\(s\) \['N'\]"):
        load_dataset("csv-images", odir, "train", classes=["D", "G"], **opts)
    with pytest.raises(ValueError, match=r"lacks column\(s\) \['fname'\]"):
        load_dataset("csv-images", odir, "train", **dict(opts, file_column="fname"))
    with pytest.raises(FileNotFoundError, match="odir2.csv"):
        load_dataset("csv-images", odir, "train", **dict(opts, csv="odir2.csv"))
    (odir / "images" / "0_left.jpg").unlink()
    with pytest.raises(FileNotFoundError, match="0_left.jpg"):
        load_dataset("csv-images", odir, "train", split_column="part", **opts)
