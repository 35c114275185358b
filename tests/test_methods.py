"""Every method runs by name through the one loop, from the same initialisation per seed."""
import numpy as np
import pytest
import torch

from nbutils.data.tasks import make_task
from nbutils.methods.registry import METHODS, method_spec, run_benchmark, run_cached, run_method, split_options

SPEC = {"dataset": "digits", "positive": 0, "ratio": 5}
FAST = {"train": {"epochs": 1, "batch_size": 32}, "model": {"arch": "cnn", "width": 4},
        "regroup": {"encoder": "raw"}}


@pytest.fixture(scope="module")
def task():
    return make_task("digits-0", SPEC, seed=0)


def test_method_names_and_options_are_checked():
    assert method_spec("focal") == ("focal", {})
    assert method_spec({"name": "focal", "gamma": 2}) == ("focal", {"gamma": 2})
    with pytest.raises(ValueError, match="unknown method 'rgg'; valid: ce, wce"):
        method_spec("rgg")
    with pytest.raises(TypeError, match="a name or a dict with a 'name' key"):
        method_spec({"gamma": 2})


def test_options_go_to_training_regrouping_or_the_loss():
    train, regroup, rest = split_options(METHODS["rg"], {"epochs": 3, "encoder": "raw", "clustering": "gmm"})
    assert train == {"epochs": 3} and regroup == {"encoder": "raw", "clustering": "gmm"} and rest == {}
    train, regroup, rest = split_options(METHODS["focal"], {"gamma": 2.0, "lr": 0.1})
    assert train == {"lr": 0.1} and regroup == {} and rest == {"gamma": 2.0}


@pytest.mark.parametrize("method", list(METHODS))
def test_every_method_trains_and_reports_its_row(task, method):
    entry = {"name": "deepsmote", "ae_epochs": 1} if method == "deepsmote" else method
    result = run_method(task, entry, seed=0, **FAST)
    row = result.row
    assert row["method"] == method and row["task"] == "digits-0" and row["seed"] == 0
    assert 0 <= row["ba"] <= 1 and 0 <= row["ap/0"] <= 1 and row["wall_time"] > 0
    assert result.test_scores.shape == (len(task.test), 2)
    assert np.isfinite(result.history.train_loss).all()
    if METHODS[method].labels != "task":
        assert row["n_pseudo_classes"] > 2 and result.mapping.max() == 1


def test_unknown_loss_option_and_bad_training_setting_fail_clearly(task):
    with pytest.raises(ValueError, match="loss 'focal': unknown option"):
        run_method(task, {"name": "focal", "gama": 2}, seed=0, **FAST)
    with pytest.raises(TypeError, match="epochs='two' is a str"):
        run_method(task, {"name": "ce", "epochs": "two"}, seed=0, **FAST)


def test_rg_oracle_needs_fine_labels():
    long_tail = make_task("lt", {"dataset": "digits", "counts": [100, 50, 10]}, seed=0)
    with pytest.raises(ValueError, match="rg-oracle needs a task with hidden fine labels"):
        run_method(long_tail, "rg-oracle", seed=0, **FAST)


def test_every_method_of_one_seed_starts_from_the_same_backbone(task):
    zero_epochs = {**FAST, "train": {"epochs": 1, "batch_size": 32, "lr": 1e-12, "momentum": 0.0,
                                     "weight_decay": 0.0}}  # steps too small to move the weights
    a = run_method(task, "ce", seed=3, **zero_epochs).model.backbone.state_dict()
    b = run_method(task, "ros", seed=3, **zero_epochs).model.backbone.state_dict()
    c = run_method(task, "ce", seed=4, **zero_epochs).model.backbone.state_dict()
    weights = [k for k in a if "running" not in k and "num_batches" not in k]
    assert all(torch.allclose(a[k], b[k], atol=1e-8) for k in weights)
    assert not all(torch.allclose(a[k], c[k], atol=1e-3) for k in weights)


def test_a_finished_run_is_loaded_not_retrained(task, tmp_path):
    first = run_cached(task, SPEC, "ce", 0, tmp_path, **FAST)
    second = run_cached(task, SPEC, "ce", 0, tmp_path, **FAST)
    assert second.row == first.row and np.array_equal(second.test_scores, first.test_scores)
    rows = run_benchmark({"digits-0": task}, {"digits-0": SPEC}, ["ce"], [0, 1], tmp_path, **FAST)
    assert list(rows.seed) == [0, 1] and rows.iloc[0].wall_time == first.row["wall_time"]
    with pytest.raises(ValueError, match="unknown method"):
        run_benchmark({"digits-0": task}, {"digits-0": SPEC}, ["ce", "nope"], [0], tmp_path, **FAST)


def test_the_benchmark_skips_rg_oracle_where_there_are_no_fine_labels(tmp_path):
    long_tail = make_task("lt", {"dataset": "digits", "counts": [100, 50, 10]}, seed=0)
    with pytest.warns(UserWarning, match="rg-oracle needs hidden fine labels"):
        rows = run_benchmark({"lt": long_tail}, {"lt": {}}, ["rg-oracle", "ce"], [0], tmp_path, **FAST)
    assert list(rows.method) == ["ce"]

