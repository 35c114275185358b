"""The README's "Adding a data set, a loss or a method" blocks, run exactly as written there.

Each block follows a marker line ``<!-- extending: NAME -->`` in README.md; the blocks run in order in
one namespace (the method trains on the data set's task with the loss), so the README and this test
cannot drift apart. The registries are restored afterwards.
"""
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nbutils.data.datasets import DATASETS
from nbutils.data.tasks import check_task_spec
from nbutils.methods.losses import LOSSES, make_loss
from nbutils.methods.registry import METHODS, plan_method

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = ("data set", "loss", "method")


def readme_block(name: str) -> str:
    """The python code block that follows the marker ``<!-- extending: name -->`` in README.md."""
    found = re.search(rf"<!-- extending: {name} -->\n```python\n(.*?)```", README.read_text(), re.S)
    assert found, f"README.md has no python block after the marker '<!-- extending: {name} -->'"
    return found.group(1)


@pytest.fixture
def registries():
    """Every registry the blocks add to, restored after the test."""
    saved = [(registry, dict(registry)) for registry in (DATASETS, LOSSES, METHODS)]
    yield
    for registry, entries in saved:
        registry.clear()
        registry.update(entries)


def run_block(name: str, namespace: dict) -> None:
    exec(compile(readme_block(name), f"README.md, block '{name}'", "exec"), namespace)


@pytest.mark.parametrize("name", BLOCKS)
def test_each_block_is_about_ten_lines(name):
    lines = [line for line in readme_block(name).splitlines() if line.strip()]
    assert len(lines) <= 14, f"the README's '{name}' block has {len(lines)} lines"


def test_the_readme_blocks_add_a_data_set_a_loss_and_a_method_that_train(registries):
    namespace: dict = {}
    run_block("data set", namespace)
    task = namespace["task"]
    assert task.classes == ["plain", "striped"] and task.spec["dataset"] == "stripes"
    assert task.train.images.dtype == torch.uint8 and task.train.images.shape[1:] == (1, 16, 16)
    assert len(task.train) + len(task.val) == 400 and set(task.minority_classes) == {"striped"}
    with pytest.raises(ValueError, match=r"dataset 'stripes': unknown option\(s\) \['m'\]; valid options: n"):
        check_task_spec("s", {"dataset": "stripes", "options": {"m": 5}})
    with pytest.raises(ValueError, match="unknown positive class 'dotted'.*'striped'"):
        check_task_spec("s", {"dataset": "stripes", "positive": "dotted"})

    run_block("loss", namespace)
    logits, targets = torch.randn(8, 2, generator=torch.Generator().manual_seed(0)), torch.tensor([0, 1] * 4)
    weights = torch.tensor([90.0, 10.0]) ** -0.5
    expected = F.cross_entropy(logits, targets, weight=weights / weights.mean())
    assert torch.allclose(namespace["loss"](logits, targets), expected)
    assert torch.allclose(make_loss("power-wce", [90, 10], power=1)(logits, targets),
                          make_loss("wce", [90, 10])(logits, targets))  # power 1 is wce, as its docstring says
    with pytest.raises(ValueError, match=r"loss 'power-wce': unknown option\(s\) \['pwr'\]; valid options: power"):
        make_loss("power-wce", [90, 10], pwr=1)

    run_block("method", namespace)
    row = namespace["result"].row
    assert row["method"] == "power-wce" and 0 <= row["ba"] <= 1 and 0 <= row["ap/striped"] <= 1
    assert np.isfinite(namespace["result"].history["train_loss"]).all()
    assert plan_method("ros-focal").recipe.resample == "ros"
    with pytest.raises(ValueError, match=r"loss 'power-wce': unknown option\(s\) \['powr'\]"):
        plan_method({"name": "power-wce", "powr": 1})


def test_the_registries_are_restored_after_the_blocks_ran():
    """Runs after the test above (file order): its entries must not leak into other tests."""
    assert "stripes" not in DATASETS and "power-wce" not in LOSSES and "power-wce" not in METHODS
