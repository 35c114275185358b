"""What judging a training on the enlarged held-out set costs, against the training itself:

    python bench/held_out_eval.py RUN_FOLDER [--n 4] [--n-boot 500] [--results PATH]

For up to ``--n`` finished trainings of each task of a run folder (``results/*/*/*/``), in turn: the
seconds to score the kept model on the task's held-out images (the test split and the extra pool,
``Task.held_out``, as ``run_method`` does once for the kept epoch) and to draw ``--n-boot`` stratified
bootstrap replicates of every metric on them (``metrics.bootstrap_runs``, as notebook 03 and publish
do), as a share of that training's own ``wall_time`` (its ``row.json``: the same machine, measured when
it trained). Target: at most 10% of the training's time. ``--quick`` trains a tiny model in a temporary
folder first (the smoke test).
"""
from __future__ import annotations

import tempfile
from pathlib import Path

from harness import load_average, parse_args, report, timed

from nbutils.core.metrics import bootstrap_runs
from nbutils.methods.evaluation import folder_results
from nbutils.methods.registry import run_cached
from nbutils.methods.train import predict_scores

QUICK_SPEC = {"dataset": "digits", "positive": "3", "train_size": 600, "val_size": 300, "held_out_size": 400}


def tiny_run(folder: Path) -> Path:
    """A run folder with one 2-epoch training of the small CNN on digits with both pools."""
    from nbutils.data.tasks import make_task

    run_cached(make_task("digits-3", QUICK_SPEC), QUICK_SPEC, "ce", 0, folder,
               train={"epochs": 2, "select": "best", "device": "cpu"}, model={"arch": "cnn", "width": 4})
    return folder


def measure(run_dir: Path, n: int, n_boot: int) -> list[dict]:
    tasks, results = folder_results(run_dir)
    rows = []
    for name, task in tasks.items():
        for result in [r for r in results if r.row["task"] == name and r.model is not None][:n]:
            images = task.held_out
            score = timed(lambda: predict_scores(result.model, images.images))  # noqa: B023
            scores = result.held_out_scores()
            boot = timed(lambda: bootstrap_runs(images.labels, {"run": scores}, task.classes, n_boot))  # noqa: B023
            training = float(result.row["wall_time"])
            rows.append({"task": name, "method": result.row["method"], "seed": result.row["seed"],
                         "held-out images": len(images), "score s": score, "bootstrap s": boot,
                         "training s": training, "share of training": (score + boot) / training})
    return rows


def main() -> None:
    args = parse_args(__doc__, lambda p: (p.add_argument("run_folder", type=Path, nargs="?"),
                                          p.add_argument("--n", type=int, default=4),
                                          p.add_argument("--n-boot", type=int, default=500)))
    load = load_average()
    with tempfile.TemporaryDirectory() as tmp:
        run_dir = tiny_run(Path(tmp)) if args.quick or args.run_folder is None else args.run_folder
        rows = measure(run_dir, 1 if args.quick else args.n, 20 if args.quick else args.n_boot)
    report(args.results, "Held-out evaluation against training", rows, device="cpu", load_before=load,
           notes="Scoring the kept model on the held-out images (test split + extra pool) and the bootstrap "
                 "replicates, as a share of the training's wall time recorded in its row.json (target: at most 10%).")


if __name__ == "__main__":
    main()
