"""key=value overrides: where they land, what they start from, how they are typed, and the
command-line order they may come in."""
import pytest

from nbutils.run import main
from nbutils.runs.parameters import REPO, ParameterError, apply_overrides

NOTEBOOK_A = {"epochs": {"type": "int", "default": "3"}, "train": {"type": "dict", "default": "{'momentum': 0.9}"},
              "tasks": {"type": "dict", "default": "{'t': {'dataset': 'digits'}}"}}
NOTEBOOK_B = {"epochs": {"type": "int", "default": "3"}, "n_images": {"type": "int", "default": "8"}}


def overridden(words, values=None):
    values = values or [{}, {}]
    apply_overrides(values, [NOTEBOOK_A, NOTEBOOK_B], words, "p.yaml")
    return values


def test_an_override_reaches_every_notebook_that_declares_it_and_beats_the_file():
    assert overridden(["epochs=1", "n_images=2"], [{"epochs": 5}, {}]) == [{"epochs": 1}, {"epochs": 1, "n_images": 2}]


def test_a_nested_key_starts_from_the_notebook_default_when_the_file_sets_none():
    a, b = overridden(["train.weight_decay=1e-4", "tasks.t.train_size=300"])
    assert a == {"train": {"momentum": 0.9, "weight_decay": 1e-4},
                 "tasks": {"t": {"dataset": "digits", "train_size": 300}}} and b == {}
    a, _ = overridden(["train.weight_decay=1e-4"], [{"train": {"lr": 0.1}}, {}])
    assert a == {"train": {"lr": 0.1, "weight_decay": 1e-4}}  # the file's section, not the default


def test_nested_values_are_typed_like_top_level_ones():
    a, _ = overridden(["train={weight_decay: 1e-4, milestones: [5e-1]}"])
    assert a["train"] == {"weight_decay": 1e-4, "milestones": [0.5]}


def test_an_unknown_key_lists_the_valid_ones():
    with pytest.raises(ParameterError, match=r"no notebook takes 'epoch'; valid keys: \['epochs', 'n_images', 'tasks', 'train'\]"):
        overridden(["epoch=1"])
    with pytest.raises(ValueError, match="tasks.u is not a section"):
        overridden(["tasks.u.train_size=1"])


def test_options_may_come_before_between_or_after_overrides(capsys):
    """The README's `make demo ARGS="--run-id t epochs=1"`: argparse's intermixed parsing."""
    assert main([str(REPO / "params" / "ci.yaml"), "--run-id", "t", "epochs=1", "--dry-run", "seeds=[0]"]) == 0
    out = capsys.readouterr().out
    assert "epochs: 1" in out and "seeds: [0]" in out and "ci/t" in out
