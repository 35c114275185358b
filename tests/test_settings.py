"""One settings object from a notebook's parameters to every saved result: nbutils.start builds and
checks it once, the result key hashes it whole with the task's spec, and each result keeps it."""
import dataclasses
import hashlib
import json

import numpy as np
import pytest

import nbutils
from nbutils.methods import registry as methods
from nbutils.methods import settings as settings_module
from nbutils.methods.registry import key_inputs, run_cached, run_key
from nbutils.methods.settings import ModelOptions, RegroupOptions, RunSettings
from nbutils.methods.train import TrainConfig
from nbutils.runs import start as start_module
from nbutils.runs.folder import RunFolder
from nbutils.runs.start import class_counts, one_vs_rest_task

SPEC = {"dataset": "digits", "positive": 0, "ratio": 5}
FAST = {"train": {"epochs": 1, "batch_size": 32}, "model": {"arch": "cnn", "width": 4},
        "regroup": {"encoder": "raw"}}


def notebook_parameters(run_dir, **changes):
    """What a notebook's globals hold after papermill injected a parameter file (and more globals)."""
    return {"run_dir": str(run_dir), "data_root": None, "image_size": None, "tasks": {"digits-0": SPEC},
            "seeds": [0], "epochs": 1, "batch_size": 32, "lr": 0.05, "optimizer": "sgd", "train": {},
            "arch": "cnn", "width": 4, "pretrained": False, "regroup": {"encoder": "raw"},
            "task_name": "digits-0", "In": [], "json": json, **changes}


# ----------------------------------------------------------------------------- nbutils.start

def test_start_returns_the_run_folder_the_tasks_and_the_complete_settings(tmp_path):
    out, tasks, settings = nbutils.start(notebook_parameters(tmp_path / "run", train={"weight_decay": 0.0}))
    assert isinstance(out, RunFolder) and (tmp_path / "run" / "figures").is_dir()
    assert list(tasks) == ["digits-0"] and tasks["digits-0"].spec["image_size"] == 8
    assert isinstance(settings, RunSettings)
    assert settings.train == TrainConfig(epochs=1, batch_size=32, lr=0.05, optimizer="sgd", weight_decay=0.0)
    assert settings.model == ModelOptions(arch="cnn", width=4) and settings.regroup == RegroupOptions(encoder="raw")
    assert dict(settings) == settings.to_dict() and set(settings["train"]) == \
        {f.name for f in dataclasses.fields(TrainConfig)} - {"seed"}
    assert one_vs_rest_task(tasks, "digits-0") is tasks["digits-0"]
    assert class_counts(tasks)["digits-0"].tolist() == tasks["digits-0"].train.class_counts().tolist()


@pytest.mark.parametrize("changes, error, match", [
    ({"epochs": "3"}, TypeError, r"settings: train: epochs='3' is a str, but epochs takes a int"),
    ({"optimizer": "adamw"}, ValueError, "unknown optimizer 'adamw'; valid: sgd, adam"),
    ({"train": {"seed": 1}}, ValueError, "the run's seeds list sets each run's seed"),
    ({"train": {"weight_decy": 0.0}}, ValueError, r"settings: train: unknown key\(s\) \['weight_decy'\]"),
    ({"arch": "resnet9"}, ValueError, "resnet9"),
    ({"regroup": {"encoder": "raw", "aggregate": "mean"}}, ValueError, "unknown aggregate 'mean'"),
    ({"regroup": "raw"}, TypeError, "regroup must be a dict of options"),
])
def test_start_checks_every_setting_before_reading_any_data(tmp_path, monkeypatch, changes, error, match):
    monkeypatch.setattr(start_module, "make_tasks", lambda *a: pytest.fail("read data before checking"))
    with pytest.raises(error, match=match):
        nbutils.start(notebook_parameters(tmp_path, **changes))


def test_start_names_the_parameters_it_needs(tmp_path):
    parameters = notebook_parameters(tmp_path)
    del parameters["tasks"]
    with pytest.raises(KeyError, match=r"start needs the notebook parameter\(s\) \['tasks'\]"):
        nbutils.start(parameters)


def test_one_vs_rest_task_refuses_a_task_without_fine_labels(tmp_path):
    _, tasks, _ = nbutils.start(notebook_parameters(tmp_path, tasks={"multi": {"dataset": "digits"}}))
    with pytest.raises(ValueError, match="task 'multi' has no hidden fine labels"):
        one_vs_rest_task(tasks, "multi")
    with pytest.raises(KeyError, match="unknown task 'other'; valid: multi"):
        one_vs_rest_task(tasks, "other")


# ----------------------------------------------------------------------------- the result key

# A changed value for every field of the three sections: a field added without an entry here fails
# test_every_setting_changes_the_result_key, so no setting can stay outside the key unnoticed.
CHANGED = {
    "train": {"epochs": 4, "batch_size": 16, "optimizer": "adam", "lr": 0.1, "momentum": 0.5, "weight_decay": 0.0,
              "schedule": "step", "step_milestones": [0.25], "step_gamma": 0.5, "warmup_epochs": 1, "augment": False,
              "hflip": False, "max_rotation": 0.0, "amp": False, "channels_last": False, "compile": "eager",
              "device": "cpu", "select": "best", "tensorboard": True},
    "model": {"arch": "resnet18", "width": 8, "pretrained": True},
    "regroup": {"encoder": "raw", "encoder_options": {"n_components": 8}, "n_clusters": 3, "threshold": 2.0,
                "clustering": "gmm", "aggregate": "sum", "normalize": False},
}


def test_every_setting_changes_the_result_key(monkeypatch):
    monkeypatch.setattr(settings_module, "check_model_options", lambda *a, **k: None)  # no ImageNet weights here
    sections = {"train": TrainConfig, "model": ModelOptions, "regroup": RegroupOptions}
    for section, cls in sections.items():
        fields = {f.name for f in dataclasses.fields(cls)} - {"seed"}
        assert set(CHANGED[section]) == fields, f"give CHANGED[{section!r}] a changed value for each field"
    settings = {**FAST, "train": {"epochs": 3}, "regroup": {"encoder": "pca"}}  # room for a warm-up epoch; options
    base = run_key(SPEC, "ce", 0, settings)
    for section, changes in CHANGED.items():
        for name, value in changes.items():
            changed = {**settings, section: {**settings[section], name: value}}
            assert run_key(SPEC, "ce", 0, changed) != base, f"{section}.{name} is not in the result key"


def test_the_tasks_image_size_data_root_and_options_of_losses_and_samplers_change_the_key():
    base = run_key({**SPEC, "image_size": 8, "data_root": None, "seed": 0}, "ce", 0, FAST)
    for change in ({"image_size": 16}, {"data_root": "/data/a"}, {"seed": 1}, {"train_size": 100}):
        assert run_key({**SPEC, "image_size": 8, "data_root": None, "seed": 0, **change}, "ce", 0, FAST) != base
    assert run_key(SPEC, {"name": "focal", "gamma": 1.0}, 0, FAST) != run_key(SPEC, {"name": "focal", "gamma": 2.0}, 0, FAST)
    assert run_key(SPEC, {"name": "rusc", "n_clusters": 2}, 0, FAST) != run_key(SPEC, "rusc", 0, FAST)
    assert run_key(SPEC, "ce", 0, FAST) != run_key(SPEC, "ce", 1, FAST)


def test_partial_and_complete_settings_of_one_run_share_a_key():
    """The key hashes the settings with every default filled in: the notebooks pass complete
    sections (RunSettings), a script may pass a few options; the same run is found either way."""
    complete = RunSettings.from_options(**FAST)
    assert run_key(SPEC, "rg", 0, FAST) == run_key(SPEC, "rg", 0, dict(complete))
    assert key_inputs(SPEC, "rg", 0, FAST)["settings"]["train"]["weight_decay"] == TrainConfig.weight_decay


def test_callbacks_are_not_part_of_the_key_and_a_result_without_their_columns_trains_again(tmp_path):
    """Per-epoch callbacks measure and do not change the training (tests/test_diagnostics.py), so
    notebook 03 loads what notebook 02 trained with them; a result lacking their columns retrains."""
    from nbutils.analysis.diagnostics import TargetSpread
    from nbutils.data.tasks import make_tasks

    assert run_key(SPEC, "ce", 0, {**FAST, "callbacks": (TargetSpread(5),)}) == run_key(SPEC, "ce", 0, FAST)
    task = make_tasks({"digits-0": SPEC})["digits-0"]
    plain = run_cached(task, SPEC, "ce", 0, tmp_path, **FAST)
    assert "target_spread/0" not in plain.history.columns
    measured = run_cached(task, SPEC, "ce", 0, tmp_path, callbacks=(TargetSpread(5),), **FAST)
    assert "target_spread/0" in measured.history.columns
    np.testing.assert_array_equal(measured.test_scores, plain.test_scores)  # same process, same order: exact
    again = run_cached(task, SPEC, "ce", 0, tmp_path, **FAST)  # loaded, with the columns
    assert "target_spread/0" in again.history.columns


# ----------------------------------------------------------------------------- results found again, and only then

@pytest.mark.filterwarnings("ignore:ce on digits-0, seed 0. collapsed")  # one epoch may; not what is tested
def test_an_unchanged_rerun_loads_every_result_and_a_changed_setting_retrains(tmp_path, monkeypatch):
    trained = []
    train = methods.run_method
    monkeypatch.setattr(methods, "run_method", lambda *a, **k: trained.append(a[1]) or train(*a, **k))

    def notebook(**changes):
        _, tasks, settings = nbutils.start(notebook_parameters(tmp_path, **changes))
        return [run_cached(tasks["digits-0"], SPEC, entry, 0, tmp_path, **settings).row for entry in ("ce", "rg")]

    first = notebook()
    assert trained == ["ce", "rg"]
    assert notebook() == first and trained == ["ce", "rg"], "an unchanged rerun retrained"
    for changes in ({"image_size": 16}, {"regroup": {"encoder": "raw", "aggregate": "sum"}},
                    {"train": {"weight_decay": 0.0}}):
        trained.clear()
        notebook(**changes)
        assert "rg" in trained, f"{changes} loaded a result trained without it"


def test_each_result_keeps_the_settings_its_key_hashes(tmp_path):
    _, tasks, settings = nbutils.start(notebook_parameters(tmp_path))
    task = tasks["digits-0"]
    run_cached(task, SPEC, {"name": "focal", "gamma": 1.0}, 0, tmp_path, **settings)
    (saved,) = tmp_path.glob("results/digits-0/focal/*/settings.json")
    inputs = json.loads(saved.read_text())
    assert inputs == key_inputs(task.spec, {"name": "focal", "gamma": 1.0}, 0, dict(settings))
    assert inputs["settings"] == json.loads(json.dumps(settings.to_dict()))
    assert inputs["task"]["image_size"] == 8 and inputs["options"] == {"gamma": 1.0}
    digest = hashlib.sha1(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:10]
    assert saved.parent.name == f"{digest}-seed0"


def test_an_interrupted_training_already_has_its_settings_beside_its_checkpoint(tmp_path, monkeypatch):
    def interrupted(task, entry, seed, run_dir, **settings):
        assert (run_dir / "settings.json").is_file(), "settings.json is written after training"
        raise KeyboardInterrupt
    monkeypatch.setattr(methods, "run_method", interrupted)
    _, tasks, settings = nbutils.start(notebook_parameters(tmp_path))
    with pytest.raises(KeyboardInterrupt):
        run_cached(tasks["digits-0"], SPEC, "ce", 0, tmp_path, **settings)
    (saved,) = tmp_path.glob("results/digits-0/ce/*/settings.json")
    assert not (saved.parent / "row.json").exists()
