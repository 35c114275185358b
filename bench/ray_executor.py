"""One sweep of trainings with the local executor against Ray at 2 workers.

The sweep is the trainings that ``python -m nbutils.run PARAMS --executor ray`` plans (nbutils.runs.plan):
by default notebook 03 of ``params/ci.yaml`` with 8 methods on its 2 tasks, 1 seed, 2 epochs (16
trainings). Local: the trainings one after another in this process with torch's threads (every
core), as the local executor trains them inside a notebook. Ray: the same trainings as Ray tasks
on a local cluster with ``--workers`` CPUs, one training per CPU at 1 torch thread
(``nbutils.runs.ray_executor.run_trainings``); the cluster's start is timed apart. Both write to fresh
run folders, so every training runs. The ratio local / Ray is the speed-up of the sweep.

From the measured per-training cost it derives the trainings per hour of this machine either way,
Ray's overhead per training (the Ray sweep's worker-seconds per training minus the training's own
seconds), and what a GPU node gives with one training per GPU: ``GPUs x 3600 / (t_gpu + overhead)``
trainings an hour, for the per-training GPU time ``t_gpu`` that a parameter file estimates
(``params/ham10000_multiclass.yaml``: ~22 A100-hours for 12 methods x 3 seeds; not measured here,
there is no GPU).
"""
from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))
import harness  # noqa: E402  (imports nbutils before torch: OMP_WAIT_POLICY=PASSIVE)
import torch  # noqa: E402

from nbutils.run import planned_trainings
from nbutils.runs.parameters import REPO, plan  # noqa: E402
from nbutils.runs.ray_executor import connect, run_trainings, train_on_worker  # noqa: E402

METHODS = "methods=[ce, wce, focal, ldam, la, ros, augment, smote]"
QUICK_METHODS = "methods=[ce, wce]"
PAPER_GPU_HOURS = 22 / (12 * 3)  # params/ham10000_multiclass.yaml's estimate per training on one A100 (h)


def add_options(parser) -> None:
    parser.add_argument("--params", type=Path, default=REPO / "params" / "ci.yaml", help="parameter file of the sweep")
    parser.add_argument("--workers", type=int, default=2, help="CPUs of the local Ray cluster (one training each)")
    parser.add_argument("overrides", nargs="*", help=f"key=value overrides (default: {METHODS})")


def sweep_trainings(args) -> list:
    """The trainings of notebook 03 of the parameter file, as the Ray executor plans them."""
    overrides = args.overrides or [QUICK_METHODS if args.quick else METHODS]
    if args.quick:
        overrides += ["tasks={tshirt-vs-rest: {dataset: fashion-mnist, positive: T-shirt/top, train_size: 300, test_size: 200}}",
                      "epochs=1"]
    _, jobs = plan(args.params, overrides, ["03"])
    return planned_trainings(jobs, Path(tempfile.mkdtemp()))


def local_sweep(trainings: list, run_dir: Path) -> float:
    """Seconds of every training in turn in this process, with torch's own thread count."""
    started = run_dir / ".started"
    started.mkdir(parents=True)
    start = time.perf_counter()
    for training in trainings:
        train_on_worker(training, str(run_dir), torch.get_num_threads(), str(started))
    return time.perf_counter() - start


def main() -> None:
    args = harness.parse_args(__doc__, add_options)
    load_before = harness.load_average()
    trainings = sweep_trainings(args)
    n = len(trainings)
    root = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    os.environ.setdefault("NBUTILS_CACHE", str(root / "cache"))  # the workers get it too
    local_seconds = local_sweep(trainings, root / "local")
    start = time.perf_counter()
    connect(None, args.workers)
    startup = time.perf_counter() - start
    report = run_trainings(trainings, root / "ray", cpus_per_training=1, gpus_per_training=0)
    import ray
    ray.shutdown()
    assert not report.failed and len(report.finished) == n, report.failed
    training_seconds = [float(json.loads((root / "ray" / t.key / "row.json").read_text())["wall_time"])
                        for t in trainings]
    overhead = report.seconds * args.workers / n - sum(training_seconds) / n
    rows = [{"trainings": n, "local s": local_seconds, f"Ray ({args.workers} workers) s": report.seconds,
             "Ray start s": startup, "local / Ray": local_seconds / report.seconds,
             "local / (Ray + start)": local_seconds / (report.seconds + startup),
             "local s per training": local_seconds / n, "Ray overhead s per training": overhead,
             "local trainings/h": 3600 * n / local_seconds, "Ray trainings/h": 3600 * n / report.seconds}]
    gpu_hours = PAPER_GPU_HOURS
    notes = (f"Sweep: notebook 03 of `{args.params.relative_to(REPO)}` with "
             f"{' '.join(args.overrides or [QUICK_METHODS if args.quick else METHODS])}, as `--executor ray` plans it; "
             f"local = the trainings in turn in one process at torch's {torch.get_num_threads()} thread(s); Ray = a local "
             f"cluster of {args.workers} CPUs, one training per CPU at 1 torch thread (Ray start timed apart). "
             f"'Ray overhead s per training': the Ray sweep's worker-seconds per training minus the training's own wall "
             f"time (its row's wall_time, measured inside the worker): scheduling, worker start, loading the task. "
             f"A GPU node with one training per GPU gives GPUs x 3600 / (t_gpu + overhead) trainings an hour: for the "
             f"ResNet-34 setting of params/ham10000_multiclass.yaml (its estimate, not measured: {gpu_hours:.2f} A100-hours "
             f"a training) an 8-GPU node gives {8 / (gpu_hours + overhead / 3600):.1f} trainings/h, its 36 trainings in "
             f"{36 / (8 / (gpu_hours + overhead / 3600)):.1f} h instead of 22 h on one GPU; Ray's overhead of "
             f"{overhead:.1f} s is {overhead / (gpu_hours * 3600):.2%} of such a training. Trainings as small as this "
             f"sweep's are worth farming out only while a training takes well above that overhead; share a GPU with "
             f"--gpus-per-training 0.25 for them.")
    harness.report(args.results, "Ray executor: one sweep, local against 2 workers", rows, device="cpu",
                   load_before=load_before, notes=notes)


if __name__ == "__main__":
    main()
