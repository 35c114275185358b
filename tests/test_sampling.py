import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from nbutils.methods.sampling import (
    SAMPLERS,
    PositiveEveryBatchSampler,
    check_sampler_options,
    proportional_quotas,
    resample,
    sampler_options,
    smote_memory_gb,
)

COUNTS = (60, 20, 8)  # digits 3, 5 and 8 (close enough for Borderline-SMOTE to find danger samples)
FAST_DEEPSMOTE = dict(ae_epochs=2, latent_dim=8)


@pytest.fixture(scope="module")
def digits():
    """88 digit images (N, 1, 8, 8) uint8, labels 0/1/2 with 60/20/8 samples."""
    data = load_digits()
    picks = np.concatenate([np.flatnonzero(data.target == d)[:n] for d, n in zip((3, 5, 8), COUNTS)])
    images = torch.from_numpy(np.round(data.images[picks] * 255 / 16).astype(np.uint8)).unsqueeze(1)
    labels = np.repeat(np.arange(3), COUNTS).astype(np.int64)
    return images, labels


def options(name: str) -> dict:
    return FAST_DEEPSMOTE if name == "deepsmote" else {}


def epoch_labels(training_set) -> np.ndarray:
    if training_set.indices is None:
        return training_set.labels
    return training_set.labels[training_set.indices]


def test_none_returns_the_set_unchanged(digits):
    images, labels = digits
    out = resample("none", images, labels)
    assert out.images is images and out.labels is labels
    assert out.indices is None and out.n_synthetic == 0


def test_random_oversampling_fills_every_class_to_the_largest(digits):
    images, labels = digits
    out = resample("ros", images, labels, seed=3)
    assert out.images is images and out.n_synthetic == 0
    assert np.bincount(epoch_labels(out)).tolist() == [60, 60, 60]
    assert np.array_equal(out.indices[:88], np.arange(88))  # every original once, then duplicates


def test_augment_appends_augmented_copies_of_the_ros_duplicates(digits):
    images, labels = digits
    ros, augment = resample("ros", images, labels, seed=3), resample("augment", images, labels, seed=3)
    duplicates = ros.indices[88:]
    assert augment.indices is None and augment.n_synthetic == 92
    assert torch.equal(augment.images[:88], images) and np.array_equal(augment.labels, ros.labels[ros.indices])
    copies, sources = augment.images[88:].int(), images[torch.from_numpy(duplicates)].int()
    changed = (copies != sources).flatten(1).any(1)
    assert changed.float().mean() > 0.9  # flipped and/or rotated
    plain = resample("augment", images, labels, seed=3, hflip=False, max_rotation=0.0)
    assert torch.equal(plain.images[88:], images[torch.from_numpy(duplicates)])  # no transform: the duplicates


def test_augment_of_a_balanced_set_adds_nothing(digits):
    images, labels = digits
    keep = np.r_[0:8, 60:68, 80:88]
    out = resample("augment", images[keep], labels[keep], seed=0)
    assert out.n_synthetic == 0 and len(out.labels) == 24


def test_random_undersampling_draws_each_class_down_to_the_smallest(digits):
    images, labels = digits
    out = resample("rus", images, labels, seed=1)
    assert np.bincount(epoch_labels(out)).tolist() == [8, 8, 8]
    assert len(np.unique(out.indices)) == 24  # without replacement
    assert np.array_equal(out.indices[labels[out.indices] == 2], np.arange(80, 88))


def test_rusc_undersamples_each_class_to_the_smallest_on_pixels(digits):
    images, labels = digits
    out = resample("rusc", images, labels, seed=0, n_clusters=3, pca_components=5)
    assert np.bincount(epoch_labels(out)).tolist() == [8, 8, 8]
    assert len(np.unique(out.indices)) == 24


def test_rusc_draws_from_clusters_in_proportion_to_their_size():
    # class 0: 60 points near (0, 0) and 20 near (100, 100); class 1: 8 points -> keep 6 + 2
    rng = np.random.default_rng(0)
    features = np.concatenate([rng.normal(0, 1, (60, 2)), rng.normal(100, 1, (20, 2)), rng.normal(50, 1, (8, 2))])
    labels = np.repeat([0, 0, 1], [60, 20, 8])
    images = torch.zeros(88, 1, 8, 8, dtype=torch.uint8)
    out = resample("rusc", images, labels, seed=0, features=features, n_clusters=2)
    kept = out.indices
    assert (kept < 60).sum() == 6 and ((kept >= 60) & (kept < 80)).sum() == 2
    assert np.array_equal(kept[kept >= 80], np.arange(80, 88))


def test_proportional_quotas_by_hand():
    assert proportional_quotas(np.array([60, 20]), 8).tolist() == [6, 2]
    # shares 2.0, 1.2, 0.8: floors 2, 1, 0 and the one left goes to the largest remainder (0.8)
    assert proportional_quotas(np.array([5, 3, 2]), 4).tolist() == [2, 1, 1]


@pytest.mark.parametrize("name", ["smote", "borderline-smote", "deepsmote"])
def test_synthesis_appends_uint8_images_that_balance_the_classes(digits, name):
    images, labels = digits
    out = resample(name, images, labels, seed=0, **options(name))
    assert out.indices is None
    assert out.images.dtype == torch.uint8 and out.images.shape == (180, 1, 8, 8)
    assert out.labels.dtype == np.int64 and np.bincount(out.labels).tolist() == [60, 60, 60]
    assert out.n_synthetic == 92
    assert torch.equal(out.images[:88], images) and np.array_equal(out.labels[:88], labels)
    assert out.labels[88:].tolist() == [1] * 40 + [2] * 52


def test_smote_images_lie_between_images_of_their_class(digits):
    images, labels = digits
    out = resample("smote", images, labels, seed=0)
    for c in (1, 2):
        originals = images[torch.from_numpy(labels == c)].int()
        synthetic = out.images[88:][torch.from_numpy(out.labels[88:] == c)].int()
        assert (synthetic >= originals.min(0).values).all() and (synthetic <= originals.max(0).values).all()


@pytest.mark.parametrize("name", [n for n in SAMPLERS if n != "none"])
def test_samplers_are_deterministic_by_seed(digits, name):
    images, labels = digits
    first, again, other = (resample(name, images, labels, seed=s, **options(name)) for s in (0, 0, 1))

    def same(a, b):
        equal_indices = (a.indices is None and b.indices is None) or np.array_equal(a.indices, b.indices)
        return equal_indices and torch.equal(a.images, b.images) and np.array_equal(a.labels, b.labels)

    assert same(first, again)
    assert not same(first, other)


@pytest.mark.parametrize("name", ["smote", "borderline-smote", "deepsmote"])
def test_class_too_small_for_k_neighbors_is_named(digits, name):
    images, labels = digits
    keep = np.r_[0:80, 80:85]  # class 2 keeps 5 images: one short of k_neighbors + 1 = 6
    with pytest.raises(ValueError, match=r"class 2 has 5 training images.*k_neighbors=4"):
        resample(name, images[keep], labels[keep], **options(name))
    out = resample(name, images[keep], labels[keep], k_neighbors=4, **options(name))
    assert np.bincount(out.labels).tolist() == [60, 60, 60]


def test_smote_memory_estimate_by_hand():
    # 30 images of 64 pixels -> 40: two float64 (40, 64) arrays + 30 x 30 float64 distances
    assert smote_memory_gb(30, 40, 64) == (2 * 8 * 40 * 64 + 8 * 30 * 30) / 2**30


@pytest.mark.parametrize("name", ["smote", "borderline-smote"])
def test_pixel_smote_refuses_beyond_the_memory_limit_and_points_to_deepsmote(digits, name):
    images, labels = digits
    keep = np.r_[0:20, 60:70]  # 20 + 10 images of 64 pixels -> 40: 48,160 bytes = 4.485e-5 GB
    with pytest.raises(ValueError, match="deepsmote"):
        resample(name, images[keep], labels[keep], max_memory_gb=4.4e-5)
    assert resample(name, images[keep], labels[keep], max_memory_gb=4.5e-5).n_synthetic == 10


def test_unknown_sampler_lists_the_valid_names(digits):
    with pytest.raises(ValueError, match="unknown sampler 'adasyn'; valid: none, ros, rus, rusc, augment, smote, "
                                         "borderline-smote, deepsmote"):
        resample("adasyn", *digits)


def test_unknown_option_lists_the_valid_ones(digits):
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['k'\].*valid options: k_neighbors, max_memory_gb"):
        resample("smote", *digits, k=3)
    with pytest.raises(ValueError, match="valid options: none"):
        resample("ros", *digits, k_neighbors=3)
    assert sampler_options("smote") == {"k_neighbors": 5, "max_memory_gb": 4.0}


def test_sampler_option_types_are_checked(digits):
    assert check_sampler_options("deepsmote", {"ae_lr": "1e-3", "ae_epochs": 2}) == {"ae_lr": 0.001, "ae_epochs": 2}
    assert check_sampler_options("rusc", {"pca_components": None}) == {"pca_components": None}
    with pytest.raises(TypeError, match=r"method 'smote': sampler 'smote': k_neighbors='five' is a str, but "
                                        r"k_neighbors takes an int"):
        check_sampler_options("smote", {"k_neighbors": "five"}, where="method 'smote'")
    with pytest.raises(TypeError, match="pca_components takes an int or null"):
        resample("rusc", *digits, pca_components=2.5)
    with pytest.raises(ValueError, match=r"sampler 'ros': unknown option\(s\) \['k'\]; valid options: none"):
        check_sampler_options("ros", {"k": 1})


def test_bad_inputs_are_refused(digits):
    images, labels = digits
    with pytest.raises(TypeError, match="uint8"):
        resample("ros", images.float(), labels)
    with pytest.raises(TypeError, match="integer numpy array"):
        resample("ros", images, labels.tolist())
    with pytest.raises(ValueError, match="87 entries but there are 88 images"):
        resample("ros", images, labels[:-1])


def batches_of(order: torch.Tensor, batch_size: int) -> list[torch.Tensor]:
    """The batches the training loop makes: consecutive chunks, a last one smaller than 2 dropped."""
    return [b for b in order.split(batch_size) if len(b) >= 2]


def test_every_batch_holds_every_class_by_hand():
    labels = np.repeat([0, 1, 2], [100, 7, 3])
    order = PositiveEveryBatchSampler(labels, batch_size=16, seed=0).epoch_indices(0)
    # 7 batches need 4 repeats of class 2 (116 > 112); 8 need 1 + 5 repeats: 116 positions <= 128
    assert len(order) == 116
    assert set(order.tolist()) == set(range(110))
    batches = batches_of(order, 16)
    assert [len(b) for b in batches] == [16] * 7 + [4]
    for batch in batches:
        assert set(labels[batch]) == {0, 1, 2}


def test_batch_as_small_as_the_number_of_classes():
    labels = np.repeat([0, 1], [5, 2])
    order = PositiveEveryBatchSampler(labels, batch_size=2, seed=0).epoch_indices(0)
    assert len(order) == 10  # 5 batches of (one 0, one 1)
    assert all(sorted(labels[b]) == [0, 1] for b in order.split(2))


def test_every_batch_holds_every_class_on_random_problems():
    rng = np.random.default_rng(0)
    for trial in range(300):
        n_classes = rng.integers(2, 6)
        counts = rng.integers(1, 60, n_classes)
        labels = rng.permutation(np.repeat(np.arange(n_classes) * 3 + 1, counts))  # labels need not be 0..C-1
        batch_size = int(rng.integers(n_classes, 40))
        order = PositiveEveryBatchSampler(labels, batch_size, seed=trial).epoch_indices(trial)
        assert set(order.tolist()) == set(range(len(labels)))
        chunks = order.split(batch_size)
        assert all(len(chunk) == batch_size for chunk in chunks[:-1])
        for batch in batches_of(order, batch_size):
            assert len(set(labels[batch])) == n_classes, (counts, batch_size)


def test_batch_order_is_deterministic_by_seed_and_epoch():
    labels = np.repeat([0, 1, 2], [50, 10, 5])
    sampler = PositiveEveryBatchSampler(labels, batch_size=8, seed=0)
    assert torch.equal(sampler.epoch_indices(1), PositiveEveryBatchSampler(labels, 8, seed=0).epoch_indices(1))
    assert not torch.equal(sampler.epoch_indices(1), sampler.epoch_indices(2))
    assert not torch.equal(sampler.epoch_indices(1), PositiveEveryBatchSampler(labels, 8, seed=1).epoch_indices(1))
    assert sampler.epoch_indices(0).dtype == torch.int64


def test_batch_smaller_than_the_number_of_classes_is_refused():
    with pytest.raises(ValueError, match=r"batch_size=2 is smaller than the number of classes \(3\)"):
        PositiveEveryBatchSampler(np.array([0, 1, 2, 2]), batch_size=2)


def test_rusc_refuses_features_of_the_wrong_shape(digits):
    with pytest.raises(ValueError, match=r"features must have shape \(N, D\) = \(88, D\), got \(87, 2\)"):
        resample("rusc", *digits, features=np.zeros((87, 2)))
