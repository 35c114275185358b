import gzip

import numpy as np
import pytest
import torch

from nbutils.data.datasets import load_dataset
from nbutils.data.imagesets import ImageSet
from nbutils.data.readers import read_idx
from nbutils.data.tasks import PROFILES, make_task, make_tasks, one_vs_rest, profile_counts, stratified_sizes

FASHION = {"dataset": "fashion-mnist", "positive": "T-shirt/top", "train_size": 1000, "test_size": 500}


def write_idx(path, array):
    header = bytes([0, 0, 8, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def idx_folder(tmp_path):
    rng = np.random.default_rng(0)
    for split, n in (("train", 200), ("t10k", 100)):
        write_idx(tmp_path / f"{split}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(tmp_path / f"{split}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return tmp_path


def test_fashion_mnist_reads_idx_files_from_a_given_root(idx_folder):
    ds = load_dataset("fashion-mnist", root=idx_folder, split="test")
    assert ds.images.shape == (100, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert ds.labels.tolist()[:12] == [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1]
    assert ds.classes[0] == "T-shirt/top" and len(ds.classes) == 10


def test_idx_with_bad_magic_is_refused(tmp_path):
    (tmp_path / "x").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="not an IDX file"):
        read_idx(tmp_path / "x")


def test_missing_data_folder_says_how_to_get_the_data(tmp_path, monkeypatch):
    monkeypatch.setenv("NBUTILS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist") as error:
        load_dataset("fashion-mnist", root=tmp_path / "nowhere")
    assert "NBUTILS_DATA" in str(error.value) and "nowhere" in str(error.value)


def test_unknown_dataset_and_split_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'fashoin'.*fashion-mnist"):
        load_dataset("fashoin")
    with pytest.raises(ValueError, match="no split 'val'.*train, test"):
        load_dataset("digits", split="val")


def test_one_vs_rest_keeps_the_original_labels_as_fine_labels():
    ds = load_dataset("digits")
    ovr = one_vs_rest(ds, "3")
    assert ovr.classes == ["rest", "3"]
    np.testing.assert_array_equal(ovr.labels, (ds.labels == 3).astype(int))
    np.testing.assert_array_equal(ovr.fine_labels, ds.labels)
    with pytest.raises(ValueError, match="unknown class 'x'"):
        one_vs_rest(ds, "x")


def test_task_splits_are_stratified_disjoint_and_deterministic():
    a, b, c = (make_task("t", FASHION, seed=s) for s in (0, 0, 1))
    assert torch.equal(a.train.images, b.train.images) and not torch.equal(a.train.images, c.train.images)
    # 9:1 kept in every split (within one sample of exact stratification)
    for part, n in ((a.train, 850), (a.val, 150), (a.test, 500)):
        assert len(part) == n
        assert abs(part.class_counts()[1] - n / 10) <= 1
    train_bytes = {bytes(x.numpy()) for x in a.train.images}
    assert not any(bytes(x.numpy()) in train_bytes for x in a.val.images)


def test_long_tail_follows_the_ham10000_profile():
    task = make_task("lt", {"dataset": "fashion-mnist", "profile": "ham10000", "train_size": 2000,
                            "test_size": 700}, seed=0)
    counts = task.train.class_counts() + task.val.class_counts()
    expected = stratified_sizes(profile_counts("ham10000", 2000), 2000)
    np.testing.assert_array_equal(counts, expected)
    assert counts.sum() == 2000 and list(counts) == sorted(counts, reverse=True)
    ratio = np.array(PROFILES["ham10000"]) / PROFILES["ham10000"][0]
    np.testing.assert_allclose(counts / counts[0], ratio, atol=0.01)
    assert task.classes == ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt"]
    assert len(task.test) == 700


def test_explicit_counts_are_kept_when_they_fit_and_scaled_down_when_not():
    task = make_task("c", {"dataset": "digits", "counts": [100, 50, 20]}, seed=0)
    np.testing.assert_array_equal(task.train.class_counts() + task.val.class_counts(), [100, 50, 20])
    assert list(task.test.class_counts()) == [36, 18, 7]  # the test split keeps the proportions


def test_imbalance_ratio_subsamples_the_minority():
    task = make_task("r", {"dataset": "digits", "positive": 0, "ratio": 20}, seed=0)
    counts = task.train.class_counts() + task.val.class_counts()
    assert round(counts[0] / counts[1]) == 20


def test_bad_task_specs_fail_with_a_clear_message():
    with pytest.raises(ValueError, match="unknown key.*'postive'"):
        make_task("t", {"dataset": "digits", "postive": 1})
    with pytest.raises(ValueError, match="unknown or missing dataset None"):
        make_task("t", {"positive": 1})
    with pytest.raises(ValueError, match="class .0. has 142 samples, 4545 requested"):
        make_task("t", {"dataset": "digits", "counts": [100, 10], "train_size": 5000})
    with pytest.raises(TypeError, match="tasks must be a non-empty dict"):
        make_tasks([])


def test_make_tasks_applies_image_size_to_every_task():
    tasks = make_tasks({"a": {"dataset": "digits", "positive": 1}}, image_size=16)
    assert tasks["a"].train.images.shape[-2:] == (16, 16) and tasks["a"].test.images.dtype == torch.uint8


def test_subset_keeps_every_per_sample_field_aligned():
    ds = ImageSet(torch.arange(5, dtype=torch.uint8).view(5, 1, 1, 1), np.arange(5) % 2, ["a", "b"],
                  fine_labels=np.arange(5), groups=np.arange(5) * 10)
    sub = ds.subset(np.array([4, 1]))
    assert sub.images.flatten().tolist() == [4, 1] and sub.labels.tolist() == [0, 1]
    assert sub.fine_labels.tolist() == [4, 1] and sub.groups.tolist() == [40, 10]


@pytest.mark.parametrize("spec, message", [
    ({"dataset": "digits", "postive": 1}, "unknown key.*'postive'.*valid"),
    ({"dataset": "fashoin"}, "unknown or missing dataset 'fashoin'; valid: .*fashion-mnist"),
    ({"dataset": "digits", "train_size": "300"}, "train_size='300' is not an int >= 1"),
    ({"dataset": "digits", "val_fraction": 1.5}, r"val_fraction=1.5 is not a fraction in \(0, 1\)"),
    ({"dataset": "digits", "counts": [10, 0]}, "counts=.* is not a list of per-class counts >= 1"),
    ({"dataset": "digits", "profile": "ham1000"}, "unknown profile 'ham1000'; valid: ham10000"),
    ({"dataset": "fashion-mnist", "positive": "T-shirt"}, "unknown positive class 'T-shirt'.*'T-shirt/top'"),
    ({"dataset": "digits", "positive": 10}, r"unknown positive class 10.*index 0..9"),
    ({"dataset": "digits", "ratio": 9}, "ratio=9 applies to one-vs-rest tasks; add 'positive'"),
    ({"dataset": "digits", "options": {"flag": "x"}},
     r"task 't': dataset 'digits': unknown option\(s\) \['flag'\]; valid options: none"),
    ({"dataset": "medmnist", "options": {"flag": "dermamnist", "sise": 64}},
     r"dataset 'medmnist': unknown option\(s\) \['sise'\]; valid options: flag, size, file, image_size"),
])
def test_task_specs_are_checked_up_front_with_the_valid_choices(spec, message):
    from nbutils.data.tasks import check_task_spec
    with pytest.raises(ValueError, match=message):
        check_task_spec("t", spec)


def test_a_missing_data_folder_is_named_with_the_files_without_reading_or_fetching_any(tmp_path, monkeypatch):
    import urllib.request

    from nbutils.data.tasks import check_task_spec
    monkeypatch.setattr("nbutils.data.readers.read_idx", lambda path: pytest.fail("the check must not read files"))
    monkeypatch.setattr(urllib.request, "urlopen", lambda *a, **k: pytest.fail("the check must not download"))
    for offline in ("HF_HUB_OFFLINE", "NBUTILS_OFFLINE"):
        monkeypatch.delenv(offline, raising=False)
    with pytest.raises(FileNotFoundError) as error:  # online too: there is no folder to download into
        check_task_spec("t", {"dataset": "fashion-mnist", "root": "/elsewhere"}, data_root=tmp_path / "nowhere")
    text = str(error.value)
    assert "task 't'" in text and f"{tmp_path / 'nowhere'} (no such folder)" in text
    assert "train-images-idx3-ubyte, train-labels-idx1-ubyte" in text
    monkeypatch.setenv("NBUTILS_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=f"not found in {tmp_path}. Install"):
        check_task_spec("t", {"dataset": "fashion-mnist"}, data_root=tmp_path)  # a folder, but empty
    with pytest.raises(FileNotFoundError, match="cifar10 not found in .*data_batch_1"):
        check_task_spec("t", {"dataset": "cifar10", "root": str(tmp_path)})


def test_a_present_data_set_passes_the_check(idx_folder):
    from nbutils.data.tasks import check_task_spec
    check_task_spec("t", {"dataset": "fashion-mnist", "positive": 0, "train_size": 100}, data_root=idx_folder)
    check_task_spec("t", {"dataset": "digits", "positive": "3", "ratio": 5, "val_fraction": 0.2})


def test_a_task_carries_its_spec_with_the_resolved_size_root_and_seed(idx_folder, tmp_path):
    import shutil
    spec = {"dataset": "fashion-mnist", "positive": "T-shirt/top"}
    other_root = shutil.copytree(idx_folder, tmp_path / "copy")
    native = make_tasks({"a": spec}, data_root=str(idx_folder))["a"]
    assert native.spec == {**spec, "root": str(idx_folder), "image_size": 28,
                           "data_root": str(idx_folder.resolve()), "seed": 0}
    assert make_tasks({"a": spec}, data_root=str(idx_folder), image_size=32)["a"].spec["image_size"] == 32
    assert make_tasks({"a": spec}, data_root=str(other_root))["a"].spec != native.spec
    assert make_tasks({"a": spec}, data_root=str(idx_folder), seed=1)["a"].spec != native.spec
    assert make_task("d", {"dataset": "digits"}).spec["data_root"] is None


def small_grouped_pool(images_per_class=(20, 12, 10, 8, 8, 6, 6), images_per_group=2):
    """Labels (N,) and groups (N,) of a small lesion-grouped data set: 35 groups over 7 classes."""
    labels = np.repeat(np.arange(len(images_per_class)), images_per_class)
    return labels, np.arange(len(labels)) // images_per_group


def test_a_small_grouped_split_falls_back_per_class_with_a_warning_naming_the_classes():
    from nbutils.data.imagesets import split_indices
    labels, groups = small_grouped_pool()
    classes = ["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"]
    with pytest.warns(UserWarning, match=r"6 of 35 groups.*fewer than the 7 classes.*'vasc' \(3\), 'df' \(3\)"):
        rest, part = split_indices(labels, 0.15, seed=0, groups=groups, classes=classes)
    assert set(labels[rest]) == set(labels[part]) == set(range(7))
    assert not set(groups[rest]) & set(groups[part]) and len(rest) + len(part) == len(labels)


def test_a_class_with_a_single_group_is_named_with_its_count():
    from nbutils.data.imagesets import split_indices
    labels, groups = small_grouped_pool((20, 12, 10, 8, 8, 6, 2))
    with pytest.raises(ValueError, match="'df' has only 1 .*at least 2 needed.*add data of that class"):
        split_indices(labels, 0.15, seed=0, groups=groups, classes=["nv", "mel", "bkl", "bcc", "akiec", "vasc", "df"])


def test_large_splits_are_unchanged_by_the_small_data_fallback():
    from sklearn.model_selection import train_test_split

    from nbutils.data.imagesets import split_indices
    labels = np.arange(500) % 5
    rest, part = split_indices(labels, 0.2, seed=3)
    _, expected = train_test_split(np.arange(500), test_size=0.2, stratify=labels, random_state=3)
    np.testing.assert_array_equal(part, np.sort(expected))


DATA_MODULES = ("imagesets", "locations", "readers", "medical", "datasets", "task_specs", "tasks")


def test_the_data_modules_import_each_other_in_one_direction():
    """imagesets, locations <- readers, medical <- datasets <- task_specs <- tasks, within nbutils/data/ (the
    package-wide direction and the absence of circles are tests/test_architecture.py's, whose parse this
    reads). datasets names its readers by dotted path, so the light modules (locations, datasets, task_specs)
    that the runner's checks import load no reader, torch or scikit-learn."""
    from test_architecture import GRAPH

    imports = {m: {d.rpartition(".")[2] for d in GRAPH[f"nbutils.data.{m}"] if d.startswith("nbutils.data.")}
               for m in DATA_MODULES}
    assert imports == {"imagesets": set(), "locations": set(), "readers": {"imagesets", "locations"},
                       "medical": {"imagesets"}, "datasets": {"imagesets", "locations"},
                       "task_specs": {"datasets"}, "tasks": {"imagesets", "datasets", "task_specs"}}


@pytest.mark.parametrize("statement", [
    "import nbutils.data.medical",
    "import nbutils.data.tasks",
    "from nbutils.data.datasets import DATASETS; assert {'fashion-mnist', 'ham10000', 'csv-images'} <= set(DATASETS)",
])
def test_each_data_module_imports_alone_with_every_data_set_registered(statement):
    import subprocess
    import sys
    subprocess.run([sys.executable, "-c", statement], check=True)


def test_data_set_options_are_checked_by_name_and_type_as_for_losses_and_samplers(tmp_path):
    from pathlib import Path

    from nbutils.data.datasets import check_dataset_options, dataset_options
    from nbutils.data.tasks import check_task_spec
    assert check_dataset_options("csv-images", {"classes": ["D", "G"], "csv": Path("x.csv"), "test_fraction": 1}) \
        == {"classes": ["D", "G"], "csv": Path("x.csv"), "test_fraction": 1.0}
    assert dataset_options("medmnist") == {"flag": None, "size": 28, "file": None, "image_size": None}
    with pytest.raises(TypeError, match=r"dataset 'csv-images': classes=\['D', 1\] is a list, but classes "
                                        "takes a list, each a string or null"):
        check_dataset_options("csv-images", {"classes": ["D", 1]})
    with pytest.raises(TypeError, match="task 'h': dataset 'ham10000': image_size='big' is a str, but "
                                        "image_size takes an int"):
        check_task_spec("h", {"dataset": "ham10000", "root": str(tmp_path), "options": {"image_size": "big"}})
    with pytest.raises(TypeError, match="skip_bad=1 is a int, but skip_bad takes true or false"):
        load_dataset("ham10000", tmp_path, "train", skip_bad=1)
    with pytest.raises(ValueError, match="unknown dataset 'fashoin'; valid: fashion-mnist, digits, cifar10"):
        dataset_options("fashoin")
