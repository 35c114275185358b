"""Properties over the settings users change, on the combinations the parameter files and the
README use: image size against the encoder's input size, grey vs colour, batch sizes that do not
divide the data, classes of one image. Exact (no trained number is compared); small tensors.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from nbutils.core.metrics import evaluate
from nbutils.data.imagesets import ImageSet, Task, resize
from nbutils.data.tasks import make_task, make_tasks
from nbutils.methods.encoders import encode
from nbutils.methods.losses import LOSSES, make_loss
from nbutils.methods.models import make_model
from nbutils.methods.registry import METHODS, regroup_task, run_method
from nbutils.methods.regroup import Regrouper, aggregate
from nbutils.methods.sampling import PositiveEveryBatchSampler, resample
from nbutils.methods.train import extract_features, predict_logits

ROOT = Path(__file__).resolve().parent.parent


def digit_images(n_per_class: list[int], channels: int, size: int, seed: int = 0) -> ImageSet:
    """scikit-learn digits 0, 1, 2... (n_per_class[c] images of digit c) as uint8 (N, channels,
    size, size) with hidden fine labels = the digit; task label 1 for digit 0, 0 for the rest."""
    from sklearn.datasets import load_digits

    data = load_digits()
    rng = np.random.default_rng(seed)
    picks = np.concatenate([rng.choice(np.flatnonzero(data.target == d), n, replace=False)
                            for d, n in enumerate(n_per_class)])
    grey = torch.from_numpy(np.rint(data.images[picks] * 255 / 16).astype(np.uint8)).unsqueeze(1)
    fine = data.target[picks].astype(np.int64)
    images = resize(ImageSet(grey, fine, ["digit"]), size).images.expand(-1, channels, -1, -1).contiguous()
    return ImageSet(images, (fine == 0).astype(np.int64), ["rest", "zero"], fine_labels=fine,
                    fine_classes=[str(d) for d in range(len(n_per_class))])


def tiny_task(channels: int, size: int) -> Task:
    """Binary task (class 1 = digit 0, the minority) with every split holding both classes."""
    train, val, test = (digit_images(n, channels, size, seed) for seed, n in
                        enumerate(([6, 9, 9, 9], [3, 4, 4, 4], [4, 5, 5, 5])))
    return Task("tiny", train, val, test)


# --------------------------------------------------------------------------- encoder vs image size
# (image side, channels, encoder options) as the parameter files and the README use them:
# ci.yaml, demo.yaml (and its README override image_size=64), dermamnist.yaml's offline
# alternative, CIFAR at 32 px with encoder_options {image_size: 32}, the encoder's default
ENCODER_SETTINGS = [
    pytest.param(28, 1, {"image_size": 32}, id="ci-28px-grey-at-32"),
    pytest.param(28, 1, {"image_size": 64}, id="demo-28px-grey-at-64"),
    pytest.param(64, 1, {"image_size": 64}, id="demo-image_size64-64px-grey-at-64"),
    pytest.param(28, 3, {"image_size": 96}, id="dermamnist-offline-28px-colour-at-96"),
    pytest.param(32, 3, {"image_size": 32}, id="cifar-32px-colour-at-32"),
    pytest.param(28, 1, {}, id="defaults-28px-grey"),
]


@pytest.mark.parametrize("side, channels, options", ENCODER_SETTINGS)
def test_regrouping_encodes_and_clusters_at_every_image_and_encoder_size(side, channels, options):
    task = tiny_task(channels, side)
    regroup = {"encoder": "effnet-lite0", "encoder_options": options}
    embeddings = encode(task.train.images, "effnet-lite0", **options)
    assert embeddings.shape == (len(task.train), 1280) and np.isfinite(embeddings).all()
    pseudo, mapping = regroup_task(task, regroup, seed=0)
    np.testing.assert_array_equal(mapping[pseudo], task.train.labels)
    assert len(mapping) == math.ceil(27 / 6) + 1  # ceil(n_rest / n_zero) pseudo-classes + the minority


def test_every_parameter_file_regroups_with_an_encoder_size_tested_here():
    """A new parameter file whose effnet-lite0 size is not in ENCODER_SETTINGS fails here, so
    the sweep above follows the files."""
    tested = {p.values[2].get("image_size", 96) for p in ENCODER_SETTINGS}
    for path in sorted((ROOT / "params").glob("*.yaml")):
        regroup = yaml.safe_load(path.read_text())["parameters"].get("regroup", {})
        if regroup.get("encoder", "effnet-lite0") == "effnet-lite0":
            size = regroup.get("encoder_options", {}).get("image_size", 96)
            assert size in tested, f"{path.name}: effnet-lite0 at {size} px is not in ENCODER_SETTINGS"


# --------------------------------------------------------------------------- every method, colour, uneven batches
@pytest.mark.filterwarnings("ignore:.*predicts one class for every test image")  # 2 epochs on 33 images
@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_on_colour_images_with_a_last_batch_of_one_image(method):
    task = tiny_task(channels=3, size=16)
    batch_size = 8
    assert len(task.train) % batch_size == 1  # the loop drops a one-image batch (BatchNorm)
    entry = {"name": "deepsmote", "ae_epochs": 1, "latent_dim": 8, "k_neighbors": 2} if method == "deepsmote" else \
        {"name": method, "k_neighbors": 2} if method in ("smote", "borderline-smote") else method
    result = run_method(task, entry, seed=0, train={"epochs": 2, "batch_size": batch_size},
                        model={"arch": "cnn", "width": 4}, regroup={"encoder": "raw"})
    assert result.test_scores.shape == (len(task.test), 2) and np.isfinite(result.test_scores).all()
    assert np.isfinite(result.history.train_loss).all() and len(result.history) == 2
    assert 0 <= result.row["ba"] <= 1 and 0 <= result.row["macro_ap"] <= 1


@pytest.mark.parametrize("channels, side", [(1, 28), (3, 32), (1, 64), (3, 64)])
def test_prediction_and_features_do_not_depend_on_the_batch_size(channels, side):
    model = make_model("cnn", 3, in_channels=channels, image_size=side, width=4).eval()
    images = torch.randint(0, 256, (23, channels, side, side), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    whole, pieces = predict_logits(model, images), predict_logits(model, images, batch_size=5)
    assert whole.shape == (23, 3)
    torch.testing.assert_close(pieces, whole, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(extract_features(model, images, batch_size=7), extract_features(model, images),
                               rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("n, batch_size", [(10, 4), (33, 8), (7, 7), (101, 32)])
def test_every_batch_holds_every_class_whatever_the_batch_size(n, batch_size):
    labels = np.r_[np.zeros(n - 2, dtype=np.int64), 1, 2]  # two classes of one sample
    sampler = PositiveEveryBatchSampler(labels, batch_size, seed=0)
    order = np.asarray(sampler.epoch_indices(0))
    assert set(order.tolist()) == set(range(n))
    for start in range(0, len(order), batch_size):
        assert set(labels[order[start:start + batch_size]].tolist()) == {0, 1, 2}


# --------------------------------------------------------------------------- one-image classes
ONE_IMAGE_COUNTS = [40, 7, 1]


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_takes_a_class_of_one_training_image(name):
    options = {"ldam-drw": {"drw_epoch": 0}, "ap": {"n_samples": 8}}.get(name, {})
    loss = make_loss(name, ONE_IMAGE_COUNTS, **options)
    logits = torch.randn(8, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)
    targets = torch.tensor([0, 0, 0, 0, 1, 1, 2, 0])
    value = loss(logits, targets, torch.arange(8)) if loss.needs_indices else loss(logits, targets)
    value.backward()
    assert value.ndim == 0 and torch.isfinite(value) and torch.isfinite(logits.grad).all()


@pytest.mark.parametrize("name, per_class", [("ros", 40), ("augment", 40), ("rus", 1), ("rusc", 1)])
def test_samplers_balance_a_class_of_one_image(name, per_class):
    labels = np.repeat(np.arange(3), ONE_IMAGE_COUNTS)
    images = torch.randint(0, 256, (len(labels), 1, 8, 8), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    out = resample(name, images, labels, seed=0)
    drawn = out.labels if out.indices is None else out.labels[out.indices]
    assert np.bincount(drawn).tolist() == [per_class] * 3


def test_regrouping_and_aggregation_with_a_class_of_one_image():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(3), ONE_IMAGE_COUNTS)
    regrouper = Regrouper(n_clusters=4, clustering="kmeans").fit(rng.normal(size=(len(labels), 5)), labels)
    np.testing.assert_array_equal(regrouper.n_clusters_per_class_, [4, 4, 1])  # n' = 1: larger classes split
    np.testing.assert_array_equal(regrouper.mapping_[regrouper.pseudo_labels_], labels)
    scores = aggregate(np.full((2, 9), 1 / 9), regrouper.mapping_, "sum")
    np.testing.assert_allclose(scores, [[4 / 9, 4 / 9, 1 / 9]] * 2)


def test_metrics_with_a_class_of_one_test_image():
    labels = np.repeat(np.arange(3), [5, 3, 1])
    scores = np.eye(3)[labels] * 0.8 + 0.1  # every image scored highest for its own class
    row = evaluate(labels, scores, ["a", "b", "c"])
    assert row["ba"] == row["macro_ap"] == row["auroc"] == row["ap/c"] == 1.0


# --------------------------------------------------------------------------- task building
@pytest.mark.parametrize("image_size", [None, 32, 64])
def test_the_ci_and_demo_tasks_at_every_image_size(image_size):
    specs = {name: spec for path in ("ci.yaml", "demo.yaml")
             for name, spec in yaml.safe_load((ROOT / "params" / path).read_text())["parameters"]["tasks"].items()}
    specs = {name: {**spec, "train_size": 600, "test_size": 400} for name, spec in specs.items()}
    for name, task in make_tasks(specs, image_size=image_size).items():
        side = image_size or 28
        for part in (task.train, task.val, task.test):
            assert part.images.dtype == torch.uint8 and tuple(part.images.shape[1:]) == (1, side, side)
            assert (part.class_counts() > 0).all(), f"{name}: a class is absent from a split"
        assert len(task.train) + len(task.val) == 600 and len(task.test) == 400
        train_bytes = {bytes(x.numpy()) for x in task.train.images}
        assert not any(bytes(x.numpy()) in train_bytes for x in task.val.images)


def test_a_one_vs_rest_task_keeps_every_split_apart_and_holds_its_fine_labels():
    task = make_task("t", {"dataset": "fashion-mnist", "positive": "Sandal", "ratio": 50, "train_size": 1000,
                           "test_size": 300}, seed=0)
    for part in (task.train, task.val, task.test):
        assert part.class_counts()[1] >= 1 and part.fine_labels is not None
        np.testing.assert_array_equal(part.labels, (part.fine_labels == 5).astype(np.int64))
    assert len(task.val) == round(0.15 * 1000) and len(task.test) == 300
