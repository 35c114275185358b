"""The held-out pools a task draws from the images its training leaves unused (``val_size``,
``held_out_size``): disjoint from the training set by index and by content, at the task's class ratio,
a clear error where nothing is left; epoch selection on validation minority AP; each result scored on
the test split, the pool and both (``nbutils.methods.evaluation``)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

from nbutils.data.datasets import DATASETS, DataSet
from nbutils.data.imagesets import ImageSet, TrainingSet
from nbutils.data.tasks import check_task_spec, image_hashes, make_task
from nbutils.methods.evaluation import (bootstrap_replicates, held_out_table, pool_agreement, rows_of,
                                        selected_epochs, split_rows)
from nbutils.methods.losses import make_loss
from nbutils.methods.models import make_model
from nbutils.methods.registry import method_seeds, run_method
from nbutils.methods.train import TrainConfig, evaluation_row, fit, minority_indices, predict_scores
from nbutils.core.metrics import evaluate

FASHION_50 = {"dataset": "fashion-mnist", "positive": "T-shirt/top", "ratio": 50, "train_size": 3000,
              "test_size": 1000, "val_size": 1020, "held_out_size": "rest"}
DIGITS = {"dataset": "digits", "positive": "3", "train_size": 600, "val_size": 300, "held_out_size": 400}


def assert_disjoint(task) -> None:
    """No image of the pools is a training image, by its index in the split or by its content."""
    parts = {"train": task.train, "val": task.val, "pool": task.pool}
    for a, b in (("train", "val"), ("train", "pool"), ("val", "pool")):
        assert not set(parts[a].ids) & set(parts[b].ids), f"{a} and {b} share an image index"
    train_hashes = set(image_hashes(task.train))
    for name in ("val", "pool"):
        assert not train_hashes & set(image_hashes(parts[name])), f"{name} holds a copy of a training image"


@pytest.mark.parametrize("spec", [FASHION_50, DIGITS], ids=["fashion-mnist 50:1", "digits one-vs-rest"])
def test_pools_are_disjoint_from_training_and_at_its_class_ratio(spec):
    task = make_task("t", spec)
    assert_disjoint(task)
    train_share = task.train.class_counts()[1] / len(task.train)
    for part in (task.val, task.pool):
        assert abs(part.class_counts()[1] / len(part) - train_share) < 2 / len(part) + 1e-12
    assert len(task.val) == spec["val_size"] and len(task.train) == spec["train_size"]  # no carve-out
    assert len(task.held_out) == len(task.test) + len(task.pool)


def test_rest_takes_every_minority_image_training_left():
    task = make_task("t", FASHION_50)
    # the 50:1 ratio leaves 54,000 / 50 = 1,080 T-shirts in the split's ratio draw; training and the
    # validation pool take theirs, and 'rest' is limited by the 6,000 T-shirts the split holds at 50:1
    # against the other classes left: at most 1 T-shirt short of the ratio's bound
    used = task.train.class_counts() + task.val.class_counts()
    others_left = 54_000 - used[0]
    assert task.pool.class_counts()[0] >= others_left - 50 and task.pool.class_counts()[1] >= others_left // 50 - 1


def test_a_copy_of_a_training_image_under_another_index_is_left_out(monkeypatch):
    rng = np.random.default_rng(0)
    images = torch.from_numpy(rng.integers(0, 256, (200, 1, 4, 4), dtype=np.uint8))
    labels = np.repeat([0, 1], 100)
    images[50:100], images[150:] = images[0:50], images[100:150]  # every image twice, under two indices
    data = ImageSet(images, labels, ["a", "b"])
    monkeypatch.setitem(DATASETS, "copies", DataSet(lambda root=None, split="train": data, classes=("a", "b")))
    task = make_task("c", {"dataset": "copies", "train_size": 60, "val_size": 20, "held_out_size": "rest",
                           "test_size": 10})
    twins = {int(i) + 50 if i % 100 < 50 else int(i) - 50 for i in task.train.ids}
    assert twins - set(task.train.ids)  # copies of training images under indices training did not take ...
    assert_disjoint(task)  # ... and none of them reached the pools


def test_a_data_set_used_whole_leaves_nothing_for_a_pool():
    with pytest.raises(ValueError, match=r"val_size=300.*enough for 0 .*smaller train_size"):
        make_task("t", {"dataset": "digits", "positive": "3", "val_size": 300})
    with pytest.raises(ValueError, match="give one of them"):
        check_task_spec("t", {"dataset": "digits", "val_size": 30, "val_fraction": 0.2})
    with pytest.raises(ValueError, match="held_out_size='all' is not an int >= 2 or 'rest'"):
        check_task_spec("t", {"dataset": "digits", "held_out_size": "all"})


def test_minority_indices_are_the_classes_below_the_mean_count():
    assert minority_indices(np.array([90, 10])).tolist() == [1]
    assert minority_indices(np.array([50, 30, 10, 10])).tolist() == [2, 3]
    assert minority_indices(np.array([5, 5])).tolist() == [0, 1]


@pytest.fixture(scope="module")
def digits_task():
    return make_task("d", DIGITS)


def test_select_best_keeps_the_epoch_of_the_best_validation_minority_ap(digits_task):
    task = digits_task
    model = make_model(arch="cnn", num_classes=2, in_channels=1, image_size=8, head="linear", width=4)
    cfg = TrainConfig(epochs=6, batch_size=32, lr=0.2, select="best", device="cpu", amp=False, warmup_epochs=0)
    seen = []
    history = fit(model, TrainingSet(task.train.images, task.train.labels), make_loss("ce", np.bincount(task.train.labels)),
                  cfg, val=task.val, before_select=lambda m: seen.append(predict_scores(m, task.val.images)))
    best = int(history["val_minority_ap"].to_numpy().argmax())  # the first of ties, as fit keeps it
    assert history["selected"].tolist() == [e == best for e in range(6)]
    kept = evaluation_row(model, task.val, lambda logits: logits.float().softmax(1))
    assert kept["val_minority_ap"] == pytest.approx(history["val_minority_ap"][best], abs=1e-6)
    assert len(seen) == (best != 5)  # the last epoch is scored beside only when another was kept


def test_results_are_scored_on_test_pool_and_held_out(digits_task):
    task = digits_task
    settings = {"train": {"epochs": 3, "batch_size": 32, "lr": 0.1, "select": "best", "device": "cpu"},
                "model": {"arch": "cnn", "width": 4}}
    results = [run_method(task, "ce", seed, **settings) for seed in (0, 1)]
    for r in results:
        assert r.pool_scores.shape == (len(task.pool), 2) and 1 <= r.row["selected_epoch"] <= 3
    table = held_out_table({"d": task}, results)
    one = pd.DataFrame(split_rows(task, results[0]))
    held = one[(one.split == "held_out") & (one.model == "selected")].iloc[0]
    expected = evaluate(task.held_out.labels, results[0].held_out_scores(), task.classes)
    assert held["ap/3"] == expected["ap/3"] and held["n_images"] == len(task.test) + len(task.pool)
    test = one[(one.split == "test") & (one.model == "selected")].iloc[0]
    assert test["ap/3"] == results[0].row["ap/3"]  # the result row is the test split's
    assert len(rows_of(table)) == 2 and set(rows_of(table, "pool")["method"]) == {"ce"}
    agreement = pool_agreement(table, "ap/3")
    assert agreement["pool - test"].iloc[0] == pytest.approx(agreement["pool"].iloc[0] - agreement["test"].iloc[0])
    epochs = selected_epochs(pd.DataFrame([r.row for r in results]))
    assert epochs["n_seeds"].tolist() == [2] and epochs["epochs"].tolist() == [3]
    reps = bootstrap_replicates({"d": task}, results, "held_out", n_boot=20)
    assert reps["d"][("ce", 0)]["ap/3"].shape == (20,)
    with pytest.raises(ValueError, match="'pool'"):
        bootstrap_replicates({"d": task}, results, "pool")


def test_more_seeds_adds_seeds_to_the_methods_it_names():
    assert method_seeds(["ce", {"name": "rg"}], [0, 1], {"rg": [1, 2, 3]}) == {"ce": [0, 1], "rg": [0, 1, 2, 3]}
    with pytest.raises(ValueError, match=r"\['rgg'\].*not among the methods"):
        method_seeds(["ce", "rg"], [0], {"rgg": [1]})


def test_a_train_only_run_folder_is_scored_on_its_rebuilt_held_out_images(tmp_path, digits_task):
    from nbutils.methods.evaluation import folder_results
    from nbutils.methods.registry import run_cached
    from nbutils.publish import held_out_evidence

    settings = {"train": {"epochs": 2, "batch_size": 32, "lr": 0.1, "select": "best", "device": "cpu"},
                "model": {"arch": "cnn", "width": 4}}
    trained = [run_cached(digits_task, DIGITS, "ce", seed, tmp_path, **settings) for seed in (0, 1)]
    tasks, results = folder_results(tmp_path)
    rebuilt = tasks["d"]
    for part in ("train", "val", "test", "pool"):
        assert np.array_equal(getattr(rebuilt, part).ids if part != "test" else getattr(rebuilt, part).labels,
                              getattr(digits_task, part).ids if part != "test" else getattr(digits_task, part).labels)
    assert sorted(r.row["seed"] for r in results) == [0, 1]
    rows, replicates = held_out_evidence(tmp_path, n_boot=30)
    expected = evaluate(digits_task.held_out.labels, trained[0].held_out_scores(), digits_task.classes)
    assert rows.set_index("seed").loc[0, "ap/3"] == expected["ap/3"]
    assert set(replicates["d"]) == {("ce", 0), ("ce", 1)} and replicates["d"][("ce", 0)]["auroc"].shape == (30,)
