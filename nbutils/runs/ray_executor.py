"""Train a run's planned trainings (nbutils.runs.plan) as Ray tasks, before its notebooks load them.

``python -m nbutils.run params/X.yaml --executor ray [--address ADDRESS]`` calls :func:`run_trainings`:
each training still unfinished in the run folder becomes one Ray task with ``num_cpus`` /
``num_gpus`` of its own (fractional GPUs let several small CNNs share one), which builds the task
and settings as the notebook would and calls :func:`nbutils.methods.registry.run_cached`. So a result is
written into the run folder by the worker (a file system every node shares), atomically and
under a per-result lock (two sweeps on one folder never train a result twice), and a retried task
resumes from its training's last per-epoch checkpoint. Ray retries a task whose worker process
died (``max_retries`` times); an exception in a training is not retried: it is reported by name
with its error while the others finish. Each training appends to its own log,
``<run folder>/logs/<task>/<method>/<key>.log``.

GPUs: one training per GPU by default (``gpus_per_training=1`` when the cluster has GPUs). Ray
sets each task's ``CUDA_VISIBLE_DEVICES``, so the loop's ``auto`` device is the task's own GPU and
its uint8 training images go there; with ``gpus_per_training=0`` a task sees no GPU at all (its
``CUDA_VISIBLE_DEVICES`` is empty: Ray 2.60 leaves it unset for such tasks, which would let them
all take the node's first GPU).
Torch runs ``cpus_per_training`` threads in each task, so trainings sharing a node do not
oversubscribe its cores.
"""
from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbutils.core.runtime import THREADS_VARIABLE
from nbutils.runs.plan import TASK_PARAMETERS, Training, call_settings, load_tasks

# Passed on to the workers (a remote cluster's workers do not share the driver's environment).
FORWARDED_ENVIRONMENT = ("NBUTILS_CACHE", "NBUTILS_DATA", "HF_HUB_OFFLINE", "OMP_WAIT_POLICY", "TORCH_HOME")
# Test-only fault: the first training that writes a checkpoint while this file is absent creates
# it and kills its worker process (tests/test_ray.py: a retry resumes from the checkpoint).
KILL_AFTER_CHECKPOINT = "NBUTILS_TEST_KILL_AFTER_CHECKPOINT"


@dataclass
class SweepReport:
    """What a sweep did: trainings planned, already finished in the run folder before it,
    finished by it, and failed for good ({'name', 'key', 'error', 'log'} each)."""

    planned: int
    already_done: int
    finished: list[str] = field(default_factory=list)
    failed: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"executor": "ray", "planned": self.planned, "already_done": self.already_done,
                "finished": len(self.finished), "failed": self.failed, "seconds": round(self.seconds, 1)}


def log_path(run_dir: str | Path, training: Training) -> Path:
    """``<run folder>/logs/<task>/<method>/<key>.log``: the training's own log, appended by every attempt."""
    return Path(run_dir) / "logs" / (training.key.removeprefix("results/") + ".log")


@functools.lru_cache(maxsize=2)
def cached_tasks(task_parameters: str, folder: str) -> dict:
    """A worker process keeps the last tasks it built (``task_parameters``: the JSON of
    plan.TASK_PARAMETERS): its next training on them reuses them."""
    return load_tasks(json.loads(task_parameters), folder)


def epochs_done(checkpoint: Path) -> int | None:
    """Epochs a training's checkpoint holds, or None without one."""
    import torch
    try:
        return len(torch.load(checkpoint, map_location="cpu", weights_only=False).get("history", ()))
    except FileNotFoundError:
        return None


def kill_after_first_checkpoint(checkpoint: Path, marker: Path) -> threading.Event:
    """The test-only fault of :data:`KILL_AFTER_CHECKPOINT`: a thread that, once ``checkpoint``
    exists (an epoch is saved), claims ``marker`` and ends the process as a killed worker would.
    Returns the event that stops the thread (set it when the training is over)."""
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set() and not marker.exists():
            if checkpoint.exists():
                with contextlib.suppress(FileExistsError):
                    marker.open("x").close()
                    os._exit(1)
            time.sleep(0.02)
    threading.Thread(target=watch, daemon=True).start()
    return stop


def train_on_worker(training: Training, run_dir: str, threads: int, started_dir: str) -> dict[str, Any]:
    """Make one training in this process as its notebook would (``run_cached``), logging to its log.
    Returns {'key', 'seconds', 'log'}; an exception in the training propagates (Ray reports it)."""
    import torch

    from nbutils.methods.registry import run_cached

    start = time.perf_counter()
    torch.set_num_threads(threads)
    if not Path(run_dir).is_dir():
        raise FileNotFoundError(f"run folder {run_dir} is not visible on {socket.gethostname()}: Ray workers "
                                f"write results there, so it must be on a file system every node shares")
    with contextlib.suppress(FileNotFoundError):
        (Path(started_dir) / training.key.replace("/", "__")).touch()
    log = log_path(run_dir, training)
    log.parent.mkdir(parents=True, exist_ok=True)
    folder = Path(run_dir) / training.key
    stop_fault = None
    with log.open("a", buffering=1) as stream, contextlib.redirect_stdout(stream), contextlib.redirect_stderr(stream):
        handler = logging.StreamHandler(stream)
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s: %(message)s"))
        logger = logging.getLogger("nbutils")
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        try:
            print(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {training.name}: attempt on {socket.gethostname()} "
                  f"(pid {os.getpid()}, {threads} torch thread(s), "
                  f"CUDA_VISIBLE_DEVICES={os.environ.get('CUDA_VISIBLE_DEVICES', 'unset')})")
            done = epochs_done(folder / "checkpoint.pt")
            if done is not None:
                print(f"checkpoint found: {done} epoch(s) done, training resumes after them")
            if os.environ.get(KILL_AFTER_CHECKPOINT):
                stop_fault = kill_after_first_checkpoint(folder / "checkpoint.pt", Path(os.environ[KILL_AFTER_CHECKPOINT]))
            p, call = training.parameters, training.call
            task = cached_tasks(json.dumps({k: p.get(k) for k in TASK_PARAMETERS}, sort_keys=True), training.folder)[call.task]
            run_cached(task, p["tasks"][call.task], call.entry, call.seed, run_dir, **call_settings(call, task, p))
            seconds = time.perf_counter() - start
            print(f"finished in {seconds:.1f} s")
        except BaseException as error:
            print(f"failed: {type(error).__name__}: {error}")
            raise
        finally:
            logger.removeHandler(handler)
            if stop_fault is not None:
                stop_fault.set()
    return {"key": training.key, "seconds": seconds, "log": str(log)}


def error_text(error: Exception) -> str:
    """The error of a failed Ray task in one line: the training's own exception, or why Ray gave up."""
    cause = getattr(error, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {cause}"
    return f"{type(error).__name__}: {str(error).strip().splitlines()[0] if str(error).strip() else ''}"


def worker_environment(threads: int, gpus: float) -> dict[str, str]:
    """Environment variables every task gets: torch/OpenMP threads, quiet progress bars, no GPU for
    a task without one (Ray sets ``CUDA_VISIBLE_DEVICES`` only for tasks with GPUs), and the
    driver's nbutils/hub settings (:data:`FORWARDED_ENVIRONMENT`, the test-only fault)."""
    forwarded = {k: os.environ[k] for k in (*FORWARDED_ENVIRONMENT, KILL_AFTER_CHECKPOINT) if k in os.environ}
    no_gpu = {} if gpus else {"CUDA_VISIBLE_DEVICES": ""}
    return {"OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads), THREADS_VARIABLE: str(threads),
            "NBUTILS_QUIET": "1", **no_gpu, **forwarded}


def check_resources(ray: Any, cpus: float, gpus: float) -> None:
    """ValueError unless some node of the cluster has ``cpus`` CPUs and ``gpus`` GPUs for one training
    (Ray would otherwise wait for such a node forever)."""
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    if not any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus for n in nodes):
        have = ", ".join(f"{n.get('CPU', 0):g} CPU / {n.get('GPU', 0):g} GPU" for n in nodes)
        raise ValueError(f"no Ray node has {cpus:g} CPU(s) and {gpus:g} GPU(s) for one training (nodes: {have}); "
                         f"lower --cpus-per-training / --gpus-per-training or add such a node")


def connect(address: str | None, local_cpus: int | None) -> bool:
    """Connect this process to Ray: to the cluster at ``address``, to the one this process already
    joined, or to a new local cluster with ``local_cpus`` CPUs (default: every core). True when it
    started the connection (and so should end it)."""
    try:
        import ray
    except ImportError:
        raise ImportError("--executor ray needs Ray: pip install -e '.[ray]' (the pinned version)") from None
    if ray.is_initialized():
        return False
    options = {"address": address} if address else {"num_cpus": local_cpus or os.cpu_count()}
    ray.init(**options, include_dashboard=False, log_to_driver=False, configure_logging=False)
    return True


def run_trainings(trainings: list[Training], run_dir: Path, *, address: str | None = None,
                  local_cpus: int | None = None, cpus_per_training: float = 1, gpus_per_training: float | None = None,
                  max_retries: int = 3) -> SweepReport:
    """Train every training of ``trainings`` not yet finished in ``run_dir`` as a Ray task; return
    what happened. A progress bar counts them (done / running / failed); a failure is printed with its
    name and error as it happens and the others go on. ``gpus_per_training`` None: 1 when the cluster
    has GPUs, else 0. ``max_retries``: how often Ray reruns a task whose worker died."""
    from tqdm import tqdm

    start = time.perf_counter()
    pending = [t for t in trainings if not t.is_finished(run_dir)]
    report = SweepReport(len(trainings), len(trainings) - len(pending))
    if not pending:
        return report
    started_here = connect(address, local_cpus)
    import ray

    started_dir = run_dir / f".sweep-{uuid.uuid4().hex[:8]}"
    started_dir.mkdir(parents=True)
    waiting: dict = {}
    try:
        gpus = gpus_per_training if gpus_per_training is not None else float(ray.cluster_resources().get("GPU", 0) >= 1)
        check_resources(ray, cpus_per_training, gpus)
        threads = max(1, int(cpus_per_training))
        remote = ray.remote(train_on_worker)
        resources = dict(num_cpus=cpus_per_training, num_gpus=gpus, max_retries=max_retries, retry_exceptions=False,
                         runtime_env={"env_vars": worker_environment(threads, gpus)})
        waiting = {remote.options(**resources, name=t.name).remote(t, str(run_dir), threads, str(started_dir)): t
                   for t in pending}
        with tqdm(total=len(pending), desc="trainings", unit="training", disable=bool(os.environ.get("CI"))) as bar:
            while waiting:
                ready, _ = ray.wait(list(waiting), num_returns=1, timeout=1.0)
                for ref in ready:
                    training = waiting.pop(ref)
                    try:
                        ray.get(ref)
                        report.finished.append(training.key)
                    except ray.exceptions.RayError as error:
                        report.failed.append({"name": training.name, "key": training.key, "error": error_text(error),
                                              "log": str(log_path(run_dir, training))})
                        bar.write(f"training failed: {training.name}: {report.failed[-1]['error']} "
                                  f"(log: {report.failed[-1]['log']})")
                    bar.update(1)
                running = sum(1 for t in waiting.values() if (started_dir / t.key.replace("/", "__")).exists())
                bar.set_postfix(done=len(report.finished), running=running, failed=len(report.failed), refresh=False)
    except KeyboardInterrupt:
        for ref in waiting:
            ray.cancel(ref, force=True)
        raise
    finally:
        for marker in started_dir.iterdir():
            marker.unlink()
        started_dir.rmdir()
        if started_here:
            ray.shutdown()
    report.seconds = time.perf_counter() - start
    return report
