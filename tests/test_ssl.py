"""The self-supervised encoder (nbutils.methods.ssl, encoder "simclr"): its loss by hand, its views, its
cache, that only training images reach its training, and that its training is worth something."""
import functools
import math

import numpy as np
import pytest
import torch
from sklearn.cluster import KMeans
from sklearn.metrics import normalized_mutual_info_score
from sklearn.preprocessing import normalize

from nbutils.data.datasets import load_dataset
from nbutils.data.tasks import make_task, subsample_to_counts
from nbutils.methods import ssl
from nbutils.methods.encoders import check_encoder_options, encode
from nbutils.methods.registry import Recipe, regroup_task, training_inputs
from nbutils.methods.settings import RegroupOptions

TINY = {"epochs": 1, "batch_size": 16, "width": 4}  # a training of well under a second


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NBUTILS_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def trainings(monkeypatch) -> list[torch.Tensor]:
    """Replace ssl.train_simclr by a wrapper that records the images of every training."""
    seen = []
    original = ssl.train_simclr

    @functools.wraps(original)
    def recorded(images, **kwargs):
        seen.append(images.clone())
        return original(images, **kwargs)

    monkeypatch.setattr(ssl, "train_simclr", recorded)
    return seen


def grey_images(n: int = 32, size: int = 12, seed: int = 0) -> torch.Tensor:
    return torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=torch.Generator().manual_seed(seed))


def test_nt_xent_by_hand():
    """Two images whose views coincide and are orthogonal to the other's: each anchor's positive
    has similarity 1, its 2 negatives 0, so the loss is -log(e^(1/t) / (e^(1/t) + 2))."""
    z = torch.eye(2)
    t = 0.5
    expected = -math.log(math.exp(1 / t) / (math.exp(1 / t) + 2))
    assert ssl.nt_xent(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-6)
    swapped = ssl.nt_xent(z, z.flip(0), t).item()  # each positive is now orthogonal: a larger loss
    assert swapped == pytest.approx(-math.log(1 / (2 + math.exp(1 / t))), rel=1e-6)


def test_random_views_stay_images_and_are_reproducible():
    x = grey_images(8).float() / 255
    a = ssl.random_views(x, torch.Generator().manual_seed(1))
    b = ssl.random_views(x, torch.Generator().manual_seed(1))
    c = ssl.random_views(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1
    assert torch.equal(a, b) and not torch.equal(a, c) and not torch.equal(a, x)
    rgb = ssl.random_views(x.expand(-1, 3, -1, -1).contiguous(), torch.Generator().manual_seed(1))
    assert rgb.shape == (8, 3, 12, 12)


@pytest.mark.parametrize("size, side_after_stem", [(28, 28), (96, 24)])
def test_backbone_stem_follows_image_size(size, side_after_stem):
    net = ssl.SmallResNet(3, size, width=4)
    assert net.features[0](torch.zeros(2, 3, size, size)).shape[-1] == side_after_stem
    assert net(torch.zeros(2, 3, size, size)).shape == (2, 16)


def test_cache_loads_the_trained_network_and_retrains_on_a_changed_setting_or_images(trainings):
    images, other = grey_images(), grey_images(seed=1)
    first = encode(images, "simclr", **TINY, cache=False)
    again = encode(images, "simclr", **TINY, cache=False)
    assert len(trainings) == 1 and first.shape == (32, 16)
    np.testing.assert_allclose(again, first, rtol=1e-5, atol=1e-6)
    encode(other, "simclr", fit_images=images, **TINY, cache=False)  # other images, same fitted network
    assert len(trainings) == 1
    encode(images, "simclr", **{**TINY, "temperature": 0.2}, cache=False)
    assert len(trainings) == 2
    encode(images, "simclr", fit_images=other, **TINY, cache=False)
    assert len(trainings) == 3 and torch.equal(trainings[-1], other)


def test_options_are_checked_up_front():
    assert check_encoder_options("simclr", {"epochs": 2})["epochs"] == 2
    with pytest.raises(ValueError, match="temperature must be > 0"):
        check_encoder_options("simclr", {"temperature": 0.0})
    with pytest.raises(ValueError, match="width must be >= 1"):
        check_encoder_options("simclr", {"width": 0})
    with pytest.raises(ValueError, match="valid: .*simclr"):
        check_encoder_options("simclr-v2", {})


def test_only_the_training_split_reaches_its_training(trainings):
    """Regrouping and the frozen-encoder probe fit the encoder on task.train, never val or test:
    every training sees exactly the training images."""
    task = make_task("digits-0", {"dataset": "digits", "positive": 0, "ratio": 5}, seed=0)
    regroup_task(task, {"encoder": "simclr", "encoder_options": TINY})
    options = RegroupOptions(encoder="simclr", encoder_options=TINY)
    data, val, test_inputs = training_inputs(task, Recipe(probe=True), options, task.train.labels, {}, seed=0)
    assert test_inputs.shape == (len(task.test), 16) and val.images.shape == (len(task.val), 16)
    assert trainings and all(torch.equal(seen, task.train.images) for seen in trainings)


def kmeans_nmi(features: np.ndarray, labels: np.ndarray) -> float:
    clusters = KMeans(len(np.unique(labels)), n_init=10, random_state=0).fit_predict(normalize(features))
    return normalized_mutual_info_score(labels, clusters)


def test_its_clusters_match_the_classes_far_better_than_an_untrained_copy():
    """600 Fashion-MNIST training images (60 a class), 28 px: k-means NMI with the 10 classes of
    the trained network's features (12 epochs, about 10 s) against the same network untrained.
    Measured with OMP_NUM_THREADS=1 on fixtures and seeds 0 and 1, under ATEN_CPU_CAPABILITY=default
    (float32) and AVX512 (bfloat16 autocast): trained 0.44-0.48, untrained 0.24-0.32, a margin of
    0.15-0.23 against the 0.1 asserted. (Raw pixels reach 0.61-0.64 here: this checks that training
    is worth something, not that it is the encoder to use.)"""
    pool = load_dataset("fashion-mnist", split="train")
    fixture = subsample_to_counts(pool, {c: 60 for c in range(10)}, seed=0)
    settings = {"epochs": 12, "batch_size": 128, "width": 16}
    trained = encode(fixture.images, "simclr", **settings, cache=False)
    torch.manual_seed(0)
    untrained = ssl.SmallResNet(1, 28, width=16).eval()
    with torch.no_grad():
        random_features = untrained(fixture.images.float() / 255).numpy()
    nmi_trained, nmi_random = kmeans_nmi(trained, fixture.labels), kmeans_nmi(random_features, fixture.labels)
    assert nmi_trained > nmi_random + 0.1, f"trained NMI {nmi_trained:.3f}, untrained {nmi_random:.3f}"
