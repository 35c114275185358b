"""One torch thread per training on a CPU by default (nbutils.core.runtime.training_threads): the thread
count changes trained numbers, so both executors train at one thread unless NBUTILS_THREADS says."""
import json

import pytest
import torch

from nbutils.core.runtime import THREADS_VARIABLE, torch_threads, training_threads
from nbutils.data.tasks import make_tasks
from nbutils.methods.registry import run_cached

SPEC = {"dataset": "digits", "positive": 0, "ratio": 5}
FAST = {"train": {"epochs": 1, "batch_size": 32}, "model": {"arch": "cnn", "width": 4}, "regroup": {"encoder": "raw"}}


def test_one_thread_on_a_cpu_unless_the_variable_says_otherwise(monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    assert training_threads(torch.device("cpu")) == 1
    assert training_threads(torch.device("cuda")) is None
    monkeypatch.setenv(THREADS_VARIABLE, "2")
    assert training_threads(torch.device("cpu")) == 2
    monkeypatch.setenv(THREADS_VARIABLE, "two")
    with pytest.raises(ValueError, match="NBUTILS_THREADS='two'"):
        training_threads(torch.device("cpu"))


def test_the_thread_count_is_restored_after_the_block():
    before = torch.get_num_threads()
    with torch_threads(1):
        assert torch.get_num_threads() == 1
    assert torch.get_num_threads() == before


@pytest.mark.filterwarnings("ignore:ce on digits-0, seed 0. collapsed")
def test_a_training_records_its_thread_count_and_leaves_the_process_as_it_was(tmp_path, monkeypatch):
    monkeypatch.delenv(THREADS_VARIABLE, raising=False)
    before = torch.get_num_threads()
    task = make_tasks({"digits-0": SPEC})["digits-0"]
    run_cached(task, SPEC, "ce", 0, tmp_path, **FAST)
    (saved,) = tmp_path.glob("results/digits-0/ce/*/threads.json")
    assert json.loads(saved.read_text()) == {"torch_threads": 1}
    assert torch.get_num_threads() == before
