"""The Ray executor (``python -m nbutils.run ... --executor ray``): one local Ray cluster with 2 CPUs
for the module. Most tests run ``tests/ray_params.yaml`` — notebook 03 on one tiny long-tail task,
ce and wce, one seed, 2 epochs — chosen for speed (two trainings of a few seconds; a worker can be
killed after the first epoch's checkpoint). The comparisons of metrics between executors are exact:
the same trainings on the same machine with one torch thread each, not stored numbers. The plan of
``params/ci.yaml`` against what its notebooks loaded is checked in test_regression.py, on its run."""
import dataclasses
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch

ray = pytest.importorskip("ray")

from nbutils.methods.registry import load_result  # noqa: E402
from nbutils.run import main, planned_trainings  # noqa: E402
from nbutils.runs.parameters import plan  # noqa: E402
from nbutils.runs.plan import Call, Training  # noqa: E402
from nbutils.runs.ray_executor import KILL_AFTER_CHECKPOINT, worker_environment  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "tests" / "ray_params.yaml"
@pytest.fixture(scope="module")
def cluster():
    """A local Ray cluster with 2 CPUs that this process is connected to; its address for others."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OMP_NUM_THREADS", "1")  # the workers inherit it
        ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray.get_runtime_context().gcs_address
    ray.shutdown()


@pytest.fixture(autouse=True)
def one_thread(monkeypatch):
    """Notebook kernels (local executor) at one torch thread, as each Ray training: equal numbers."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    monkeypatch.setenv("CI", "1")


def run(runs: Path, run_id: str, *options: str, params: Path = PARAMS) -> int:
    return main([str(params), "--runs", str(runs), "--run-id", run_id, *options])


def metrics(run_dir: Path) -> pd.DataFrame:
    """The benchmark's result rows without their wall time (the one column that must differ)."""
    return pd.read_csv(run_dir / "tables" / "benchmark_rows.csv").drop(columns="wall_time").sort_values(["method"])


def logs(run_dir: Path) -> dict[str, str]:
    """Each training's log (key -> text)."""
    return {p.relative_to(run_dir / "logs").with_suffix("").as_posix(): p.read_text()
            for p in (run_dir / "logs").rglob("*.log")}


@pytest.fixture(scope="module")
def local_run(tmp_path_factory) -> Path:
    """tests/ray_params.yaml with the local executor (each notebook trains as it runs)."""
    runs = tmp_path_factory.mktemp("local")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("OMP_NUM_THREADS", "1")
        env.setenv("CI", "1")
        assert run(runs, "local") == 0
    return runs / "ray-test" / "local"


def test_ray_gets_exactly_the_metrics_of_the_local_executor(cluster, local_run, tmp_path, capsys):
    assert run(tmp_path, "ray", "--executor", "ray") == 0
    run_dir = tmp_path / "ray-test" / "ray"
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["trainings"] | {"seconds": 0} == {"executor": "ray", "planned": 2, "already_done": 0, "finished": 2,
                                                     "failed": [], "seconds": 0}
    assert [r["status"] for r in summary["notebooks"]] == ["ok"]
    pd.testing.assert_frame_equal(metrics(run_dir), metrics(local_run))
    assert all(text.count("nbutils.methods.registry: training") == 1 for text in logs(run_dir).values()) and len(logs(run_dir)) == 2
    assert all("1 torch thread(s), CUDA_VISIBLE_DEVICES=)" in text for text in logs(run_dir).values())  # no GPU asked: none seen
    assert "2 finished, 0 already done, 0 failed" in capsys.readouterr().out
    # the same command again: every training already done, nothing sent to Ray
    assert run(tmp_path, "ray", "--executor", "ray", "--train-only") == 0
    assert json.loads((run_dir / "summary.json").read_text())["trainings"]["already_done"] == 2


def test_a_killed_worker_is_retried_and_resumes_from_its_checkpoint(cluster, local_run, tmp_path, monkeypatch):
    marker = tmp_path / "killed"
    monkeypatch.setenv(KILL_AFTER_CHECKPOINT, str(marker))  # the first training to save epoch 1 dies then
    assert run(tmp_path, "ray", "--executor", "ray") == 0
    run_dir = tmp_path / "ray-test" / "ray"
    assert marker.exists()
    killed = [text for text in logs(run_dir).values() if text.count("attempt on") == 2]
    assert len(killed) == 1, logs(run_dir)
    first, retry = killed[0].split("attempt on")[1:]
    assert "finished" not in first and "checkpoint found: 1 epoch(s) done, training resumes after them" in retry
    assert "finished in" in retry
    pd.testing.assert_frame_equal(metrics(run_dir), metrics(local_run))  # as if it had never been killed


def test_a_training_that_fails_is_named_with_its_error_and_the_others_finish(cluster, tmp_path, capsys):
    name, jobs = plan(PARAMS, [])
    run_dir = tmp_path / name / "fail"
    trainings = planned_trainings(jobs, run_dir)
    ce = next(t for t in trainings if t.call.entry == "ce")
    (run_dir / ce.key).mkdir(parents=True)
    torch.save({"config": {"epochs": 99}, "history": []}, run_dir / ce.key / "checkpoint.pt")  # of other settings
    assert run(tmp_path, "fail", "--executor", "ray") == 1
    summary = json.loads((run_dir / "summary.json").read_text())
    assert [(f["name"], f["key"]) for f in summary["trainings"]["failed"]] == [(ce.name, ce.key)]
    assert "ValueError" in summary["trainings"]["failed"][0]["error"] and "other settings" in summary["trainings"]["failed"][0]["error"]
    assert summary["trainings"]["finished"] == 1 and len(list((run_dir / "results").rglob("row.json"))) == 1
    assert [r["status"] for r in summary["notebooks"]] == ["not run"]
    err = capsys.readouterr().err
    assert f"training {ce.name} failed: ValueError" in err


def test_two_sweeps_on_one_run_folder_train_each_result_once(cluster, tmp_path):
    """Both sweeps start while the test holds ce's result lock, so both wait for it at once; when it is
    released exactly one of them trains ce and the other loads it."""
    from filelock import FileLock
    name, jobs = plan(PARAMS, [])
    run_dir = tmp_path / name / "shared"
    keys = {t.call.entry: t.key for t in planned_trainings(jobs, run_dir)}
    ce = run_dir / keys["ce"]
    ce.parent.mkdir(parents=True)
    command = [sys.executable, "-m", "nbutils.run", str(PARAMS), "--runs", str(tmp_path), "--run-id", "shared",
               "--executor", "ray", "--address", cluster, "--train-only"]
    env = {**os.environ, "CI": "1", "OMP_NUM_THREADS": "1"}
    with FileLock(ce.with_name(ce.name + ".lock")):
        sweeps = [subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                  for _ in range(2)]
        log = run_dir / "logs" / (keys["ce"].removeprefix("results/") + ".log")
        # two processes connect and plan (20 s alone, over 120 s under load): no deadline, the wait ends
        # when both wait for the lock or one of them exits
        while not (log.is_file() and log.read_text().count("attempt on") == 2):
            assert all(s.poll() is None for s in sweeps), log.read_text() if log.is_file() else ""
            time.sleep(0.2)
    outputs = [s.communicate(timeout=120)[0] for s in sweeps]
    assert [s.returncode for s in sweeps] == [0, 0], outputs
    texts = logs(run_dir)
    assert texts[keys["ce"].removeprefix("results/")].count("nbutils.methods.registry: training") == 1
    assert texts[keys["ce"].removeprefix("results/")].count("nbutils.methods.registry: loaded") == 1
    assert all(text.count("nbutils.methods.registry: training") == 1 for text in texts.values()) and len(texts) == 2
    for key in keys.values():  # every result whole, no temporary or checkpoint left behind
        assert load_result(run_dir / key).row["seed"] == 0
    assert not list(run_dir.rglob("*.tmp")) and not list(run_dir.rglob("checkpoint.pt"))


def test_a_result_trained_without_notebook_02s_callbacks_is_not_finished(tmp_path):
    """The sweep trains again a result that lacks the columns notebook 02 reads, as run_cached would
    in the notebook's kernel (one core, after the sweep)."""
    training = Training(Call("t", "ce", 0, sync_per_class=5), {}, ".", "results/t/ce/abc-seed0",
                        "02_synchronous_learning", ("Evaluate(n=10, prefix='test', untrained row)",))
    folder = tmp_path / training.key
    folder.mkdir(parents=True)
    (folder / "row.json").write_text("{}")
    assert not training.is_finished(tmp_path)
    (folder / "callbacks.json").write_text("[]")
    assert not training.is_finished(tmp_path)
    (folder / "callbacks.json").write_text(json.dumps(list(training.callbacks)))
    assert training.is_finished(tmp_path)
    assert dataclasses.replace(training, callbacks=()).is_finished(tmp_path)


def test_a_task_without_a_gpu_sees_none_and_one_with_gpus_gets_them_from_ray():
    """Ray 2.60 sets CUDA_VISIBLE_DEVICES only for tasks that ask for GPUs; the others would take GPU 0."""
    assert worker_environment(2, 0).items() >= {"CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "2"}.items()
    assert "CUDA_VISIBLE_DEVICES" not in worker_environment(1, 0.25)
