import gzip

import numpy as np
import pytest
import torch

from nbutils.data import (PROFILES, ImageSet, load_dataset, make_task, make_tasks, one_vs_rest,
                          profile_counts, read_idx, stratified_sizes)

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
