"""Settings by name: YAML values typed alike at every depth, dataclasses built with checked keys and types."""
import pytest

from nbutils.core.config import build, load_yaml, parse_override, read_value, set_nested
from nbutils.methods.train import TrainConfig


def test_exponent_numbers_are_floats_at_every_depth():
    """YAML 1.1 (PyYAML) reads 1e-4 as the string '1e-4'; YAML 1.2 and users read a number."""
    assert load_yaml("lr: 1e-4\ntrain: {weight_decay: 5E-4, milestones: [1e2, 2.e1, .5e1, -3e2, +1e+2]}") == {
        "lr": 1e-4, "train": {"weight_decay": 5e-4, "milestones": [100.0, 20.0, 5.0, -300.0, 100.0]}}
    assert read_value("{weight_decay: 1e-4}") == {"weight_decay": 1e-4}


def test_other_values_read_as_plain_yaml():
    assert load_yaml('a: "2e3"\nb: \'1e-4\'\nc: 2\nd: 0.5\ne: e5\nf: 1e\ng: true\nh: null') == {
        "a": "2e3", "b": "1e-4", "c": 2, "d": 0.5, "e": "e5", "f": "1e", "g": True, "h": None}
    assert read_value("") == "" and read_value("[0, 1]") == [0, 1]


def test_overrides_parse_key_paths_and_values():
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 1e-3)
    assert parse_override("seeds=[0, 1]") == (["seeds"], [0, 1])
    assert parse_override("name=a=b") == (["name"], "a=b")
    with pytest.raises(ValueError, match="must look like key=value"):
        parse_override("epochs")
    with pytest.raises(ValueError, match="no key before '='"):
        parse_override("=3")
    with pytest.raises(ValueError, match=r"override 'train=\{amp:': its value is not valid YAML.*quote the whole word"):
        parse_override("train={amp:")  # what the shell leaves of an unquoted train={amp: false}


def test_set_nested_names_the_sections_there_are():
    tree = {"train": {"lr": 0.1}, "epochs": 3}
    set_nested(tree, ["train", "weight_decay"], 1e-4, "p.yaml")
    assert tree["train"] == {"lr": 0.1, "weight_decay": 1e-4}
    with pytest.raises(ValueError, match=r"p.yaml: epochs.x — epochs is not a section.*sections: \['train'\]"):
        set_nested(tree, ["epochs", "x"], 1, "p.yaml")


def test_config_build_checks_names_and_types():
    assert build(TrainConfig, {"epochs": 2, "lr": 1}, "t").lr == 1.0
    with pytest.raises(ValueError, match="unknown key.*'epoch'.*valid"):
        build(TrainConfig, {"epoch": 2}, "train")
    with pytest.raises(TypeError, match="train: epochs='2' is a str, but epochs takes a int"):
        build(TrainConfig, {"epochs": "2"}, "train")
