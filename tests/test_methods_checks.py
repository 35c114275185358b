"""Methods as their papers train them, checked up front, with honest result rows and models saved
as state dicts."""
import dataclasses
import warnings

import numpy as np
import pytest
import torch
from torch import nn

from nbutils.data.tasks import make_task
from nbutils.methods import registry as methods
from nbutils.methods import settings as settings_module
from nbutils.methods.encoders import encode
from nbutils.methods.registry import (
    METHODS,
    check_method,
    load_result,
    plan_method,
    run_cached,
    run_key,
    run_method,
    training_inputs,
)
from nbutils.methods.settings import RegroupOptions, settings_from_parameters
from nbutils.methods.train import TrainConfig

SPEC = {"dataset": "digits", "positive": 0, "ratio": 5}
FAST = {"train": {"epochs": 1, "batch_size": 32}, "model": {"arch": "cnn", "width": 4},
        "regroup": {"encoder": "raw"}}
NOTEBOOK_REGROUP = {"encoder": "effnet-lite0", "encoder_options": {"image_size": 64}}


@pytest.fixture(scope="module")
def task():
    return make_task("digits-0", SPEC, seed=0)


# ----------------------------------------------------------------------------- methods as their papers train them

def test_lmf_trains_on_a_plain_linear_head_and_ldam_on_the_cosine_head(task):
    assert METHODS["lmf"].head == "linear" and METHODS["ldam"].head == "cosine"
    result = run_method(task, {"name": "lmf", "margin_weights": True, "alpha": 1.5}, seed=0, **FAST)
    assert type(result.model.head) is nn.Linear


def test_every_method_sees_the_same_base_augmentation_unless_its_options_say_otherwise():
    shared = {"epochs": 2, "augment": True, "hflip": True, "max_rotation": 15.0}
    base = TrainConfig(**shared)
    for name in METHODS:
        cfg = plan_method(name, train=shared).train
        assert (cfg.augment, cfg.hflip, cfg.max_rotation) == (base.augment, base.hflip, base.max_rotation), name
    assert plan_method({"name": "augment", "augment": False}, train=shared).train.augment is False


def test_the_probe_fits_its_encoder_on_training_images_only(task):
    regroup = RegroupOptions(encoder="pca", encoder_options={"n_components": 5})
    _, val, test_inputs = training_inputs(task, METHODS["mlp-probe"], regroup, task.train.labels, {}, seed=0)
    for inputs, split in ((val.images, task.val), (test_inputs, task.test)):
        fitted_on_train = encode(split.images, "pca", n_components=5, fit_images=task.train.images)
        fitted_on_split = encode(split.images, "pca", n_components=5)
        assert np.allclose(inputs.numpy(), fitted_on_train)
        assert not np.allclose(inputs.numpy(), fitted_on_split, atol=1e-3)


# ----------------------------------------------------------------------------- up-front checks ----------

def test_a_method_naming_its_own_encoder_gets_that_encoders_defaults():
    assert plan_method({"name": "rg", "encoder": "raw"}, regroup=NOTEBOOK_REGROUP).regroup.encoder_options == {}
    assert plan_method({"name": "mlp-probe", "encoder": "pca"}, regroup=NOTEBOOK_REGROUP).regroup.encoder_options == {}
    same = plan_method({"name": "rg", "encoder": "effnet-lite0"}, regroup=NOTEBOOK_REGROUP).regroup
    assert same.encoder_options == {"image_size": 64}
    own = plan_method({"name": "rg", "encoder": "pca", "encoder_options": {"n_components": 3}},
                      regroup=NOTEBOOK_REGROUP).regroup
    assert own.encoder_options == {"n_components": 3}
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['image_size'\] for encoder 'raw'"):
        check_method({"name": "rg", "encoder": "raw", "encoder_options": {"image_size": 32}})


def test_loss_and_sampler_option_types_are_checked_with_the_method_named():
    # YAML 1.1 reads `tau: 5e-1` as the string '5e-1': read as the number, as config.read_value does
    assert plan_method({"name": "la", "tau": "5e-1"}).loss_options == {"tau": 0.5}
    assert plan_method({"name": "focal", "gamma": "2"}).loss_options == {"gamma": 2.0}
    with pytest.raises(TypeError, match=r"method 'focal': loss 'focal': gamma='two' is a str, but gamma takes a number"):
        check_method({"name": "focal", "gamma": "two"})
    with pytest.raises(TypeError, match=r"method 'smote': sampler 'smote': k_neighbors=\[3\] is a list"):
        check_method({"name": "smote", "k_neighbors": [3]})
    with pytest.raises(ValueError, match=r"method 'ros': sampler 'ros': unknown option\(s\) \['gamma'\]"):
        check_method({"name": "ros", "gamma": 2})


def test_options_a_method_would_ignore_are_errors():
    with pytest.raises(ValueError, match=r"method 'rg-random' does not use option\(s\) \['clustering'\] "
                                         r"\(it assigns pseudo-classes at random\)"):
        check_method({"name": "rg-random", "clustering": "gmm"})
    with pytest.raises(ValueError, match=r"method 'ce' does not use option\(s\) \['aggregate'\]"):
        check_method({"name": "ce", "aggregate": "sum"})
    with pytest.raises(ValueError, match=r"method 'mlp-probe' does not use option\(s\) \['n_clusters'\]"):
        check_method({"name": "mlp-probe", "n_clusters": 3})
    with pytest.raises(ValueError, match="seed is not a method option"):
        check_method({"name": "ce", "seed": 3})
    assert check_method({"name": "rg-oracle", "aggregate": "sum"}) == ("rg-oracle", {"aggregate": "sum"})
    assert plan_method({"name": "rusc", "n_clusters": 5}).sampler_options == {"n_clusters": 5}  # rusc's own


def test_augment_copies_get_the_runs_flip_and_rotation():
    plan = plan_method({"name": "augment", "max_rotation": 20.0}, train={"augment": False, "hflip": False})
    assert plan.sampler_options == {"hflip": False, "max_rotation": 20.0}
    assert (plan.train.augment, plan.train.max_rotation) == (False, 20.0)


def test_bad_choices_fail_at_check_time_with_the_valid_ones_listed():
    with pytest.raises(ValueError, match="unknown aggregate 'mean'; valid aggregations: max, sum"):
        check_method({"name": "rg", "aggregate": "mean"})
    with pytest.raises(ValueError, match="unknown clustering 'kmean'; valid: kmeans"):
        check_method("rg", regroup={"clustering": "kmean"})
    with pytest.raises(ValueError, match="unknown encoder 'clip2'; valid: clip"):
        check_method({"name": "rg", "encoder": "clip2"})
    with pytest.raises(ValueError, match="unknown method 'rgg'; valid: ce"):
        check_method("rgg")
    with pytest.raises(TypeError, match="method 'ce': training settings: lr='fast' is a str"):
        check_method({"name": "ce", "lr": "fast"})


def test_checks_load_no_data_and_no_encoder(monkeypatch):
    monkeypatch.setattr(settings_module, "encode", lambda *a, **k: pytest.fail("check_method encoded images"))
    monkeypatch.setattr(methods, "fit", lambda *a, **k: pytest.fail("check_method trained"))
    monkeypatch.setattr(methods, "make_model", lambda *a, **k: pytest.fail("check_method built a model"))
    for name in METHODS:
        check_method(name, train={"epochs": 1}, model={"arch": "cnn"}, regroup={"encoder": "clip"})


def test_the_benchmark_checks_every_method_before_training(task, tmp_path, monkeypatch):
    monkeypatch.setattr(methods, "run_method", lambda *a, **k: pytest.fail("trained before checking"))
    with pytest.raises(ValueError, match="unknown aggregate 'mean'"):
        methods.run_benchmark({"digits-0": task}, {"digits-0": SPEC}, ["ce", {"name": "rg", "aggregate": "mean"}],
                              [0], tmp_path, **FAST)


def test_settings_from_parameters_is_what_the_notebooks_pass():
    p = {"epochs": 3, "batch_size": 64, "lr": 0.1, "optimizer": "adam", "train": {"weight_decay": 1e-4},
         "arch": "resnet18", "width": 8, "pretrained": False, "regroup": NOTEBOOK_REGROUP, "seeds": [0]}
    assert settings_from_parameters(p) == {
        "train": {"epochs": 3, "batch_size": 64, "lr": 0.1, "optimizer": "adam", "weight_decay": 1e-4},
        "model": {"arch": "resnet18", "width": 8, "pretrained": False}, "regroup": NOTEBOOK_REGROUP}
    assert settings_from_parameters({"epochs": 2}) == {"train": {"epochs": 2}, "model": {}, "regroup": {}}


# ----------------------------------------------------------------------------- result rows and saved results

def test_a_collapsed_training_is_reported_in_its_row(task):
    with pytest.warns(UserWarning, match="collapsed"):
        dead = run_method(task, {"name": "ce", "lr": 10.0}, seed=0, **FAST)
    assert dead.row["warning"] == "collapsed: predicts one class for every test image"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fine = run_method(task, {"name": "ce", "epochs": 2}, seed=0, **FAST)
    assert fine.row["warning"] == "" and fine.row["ba"] > 0.8  # measured 0.98-1.0 over 3 seeds


def test_a_diverged_training_is_reported_with_nan_metrics(task, monkeypatch):
    def diverge(*args, **kwargs):
        raise FloatingPointError("training loss became nan in epoch 0")
    monkeypatch.setattr(methods, "fit", diverge)
    with pytest.warns(UserWarning, match="diverged"):
        result = run_method(task, "ce", seed=0, **FAST)
    assert result.row["warning"].startswith("diverged") and np.isnan(result.row["ba"])
    assert np.isnan(result.row["ap/0"]) and np.isnan(result.test_scores).all()


def test_models_are_saved_as_state_dicts_and_rebuilt(task, tmp_path):
    trained = run_cached(task, SPEC, "rg", 0, tmp_path, **FAST)
    (model_file,) = tmp_path.rglob("model.pt")
    saved = torch.load(model_file, weights_only=True)  # no pickled module: loads with weights_only
    assert set(saved) == {"model_spec", "state_dict"}
    loaded = load_result(model_file.parent)
    assert loaded.model is not trained.model and not loaded.model.training
    images = task.test.images[:6]
    with torch.no_grad():
        expected = trained.model.cpu().eval()(images.float() / 255)
        assert torch.allclose(loaded.model(images.float() / 255), expected, atol=1e-5)
    assert loaded.output_for_class(images, 1) == trained.output_for_class(images, 1)


def test_the_result_key_hashes_the_tasks_resolved_spec(task):
    small = dataclasses.replace(task, spec={**SPEC, "image_size": 8, "data_root": None, "seed": 0})
    large = dataclasses.replace(task, spec={**SPEC, "image_size": 16, "data_root": None, "seed": 0})
    keys = {run_key(t.spec, "ce", 0, FAST) for t in (small, large)}
    assert len(keys) == 2
    assert run_key(SPEC, "ce", 0, FAST) != run_key(SPEC, "ldam", 0, FAST)


def test_run_cached_keys_on_task_spec_not_the_passed_spec(task, tmp_path, monkeypatch):
    folders = []
    monkeypatch.setattr(methods, "load_result", lambda folder: folders.append(folder) or "loaded")
    for size in (8, 16):
        run_cached(dataclasses.replace(task, spec={**SPEC, "image_size": size}), SPEC, "ce", 0, tmp_path, **FAST)
    assert folders[0] != folders[1]
