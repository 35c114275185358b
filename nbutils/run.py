"""Run the notebooks a parameter file lists, with papermill, into ``runs/NAME/<run-id>/``.

    python -m nbutils.run params/demo.yaml [key=value ...] [--run-id ID] [--dry-run] [--list-params]
                                           [--only NOTEBOOK] [--keep-going]
                                           [--executor ray [--address ADDRESS] [--train-only] ...]

A parameter file has ``name``, shared ``parameters`` (each notebook receives those its
``parameters`` cell declares) and ``notebooks`` (``path`` and notebook-only ``parameters``).
``key=value`` words override parameters by name (``epochs=1``, ``tasks.tshirt.train_size=500``,
``train.weight_decay=1e-4``), in any order with the options. Before any notebook starts, every
key and the type of every value are checked against the notebooks' parameters cells, and what
the values name — tasks and their data files, methods and their options, encoders, projection,
CAM methods, the papers' data set — is checked as the notebooks will use it; an error names the
parameter and the valid choices. ``--dry-run`` stops there and prints the plan; ``--list-params``
prints every parameter with its type, default and help; ``--only 03`` runs just the notebooks
whose name contains '03'. Each notebook writes its figures (PNG) and metrics (JSON, CSV) into the
run folder beside its executed copy; a failing notebook gives a non-zero exit that names it and
its failing cell, and the notebooks after it are not run (``--keep-going`` runs them).
``--run-id`` of an earlier run resumes it: finished trainings are loaded and interrupted ones
continue from their checkpoints. ``summary.json`` holds each notebook's status and time and the run's provenance
(nbutils.runs.provenance); ``report.html`` shows the run (nbutils.runs.html_report). Ctrl-C writes both,
marking the run interrupted with the command that resumes it, and exits with 130.

``--executor ray`` (default ``local``: each notebook trains what it needs as it runs) first plans
every training the notebooks will ask for (nbutils.runs.plan), trains them as Ray tasks on the cluster
at ``--address`` or on a local one (nbutils.runs.ray_executor), and then runs the notebooks, which load
every result instead of training. ``summary.json`` then also says what the sweep did
(``trainings``). A training that fails for good is named with its error; the notebooks are then
not run (``--keep-going`` runs them, and they train what is missing themselves) and the exit is
non-zero. ``--train-only`` stops after the trainings.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from nbutils.runs import provenance
from nbutils.runs.notebooks import run_notebooks, write_report
from nbutils.runs.parameters import REPO, NotebookJob, ParameterError, plan, print_parameters

DEFAULT_RUNS = REPO / "runs"


def print_plan(name: str, jobs: list[NotebookJob], run_dir: Path, trainings: list | None = None) -> None:
    """The notebooks a run would execute, in order, with the parameters each receives; with the Ray
    executor, also the trainings it would farm out (nbutils.runs.plan.Training), each with its result folder."""
    print(f"plan of run {name!r} (run folder {run_dir}); every check passed, nothing was run:")
    for job in jobs:
        print(f"  {job.source}")
        text = yaml.safe_dump(job.parameters, sort_keys=False, default_flow_style=None, width=100)
        print("\n".join(f"      {line}" for line in text.splitlines()) if job.parameters else "      (its defaults)")
    if trainings is not None:
        print(f"trainings for Ray, before the notebooks ({len(trainings)}):")
        for training in trainings:
            print(f"  {training.name}  ->  {training.key}  (first needed by {training.notebook})")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--executor ray`` (nbutils.runs.ray_executor)."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: each notebook trains what it needs as it runs; ray: every training of the "
                             "run first, as Ray tasks, then the notebooks load them")
    parser.add_argument("--address", help="Ray cluster to use, e.g. 10.0.0.1:6379 or 'auto' after `ray start "
                                          "--head` (default: a local Ray cluster in this process)")
    parser.add_argument("--local-cpus", type=int, help="CPUs of the local Ray cluster (default: every core)")
    parser.add_argument("--cpus-per-training", type=float, default=1,
                        help="CPUs Ray reserves for each training, also its torch threads (default 1)")
    parser.add_argument("--gpus-per-training", type=float,
                        help="GPUs for each training, fractional to share one (default: 1 when the cluster has GPUs, else 0)")
    parser.add_argument("--max-retries", type=int, default=3,
                        help="how often Ray reruns a training whose worker died; it resumes from its checkpoint (default 3)")
    parser.add_argument("--train-only", action="store_true",
                        help="with --executor ray: stop after the trainings (rerun with the same --run-id for the notebooks)")


def check_executor_arguments(args: argparse.Namespace) -> None:
    """ParameterError for Ray options without ``--executor ray`` or out of range."""
    ray_only = {"--address": args.address, "--local-cpus": args.local_cpus, "--gpus-per-training": args.gpus_per_training,
                "--train-only": args.train_only or None}
    given = [option for option, value in ray_only.items() if value is not None]
    if args.executor != "ray" and given:
        raise ParameterError(f"{', '.join(given)} only apply with --executor ray")
    if args.address and args.local_cpus:
        raise ParameterError("--local-cpus sizes a local Ray cluster; with --address the cluster has its own")
    if args.cpus_per_training <= 0 or (args.gpus_per_training or 0) < 0 or args.max_retries < 0 \
            or (args.local_cpus is not None and args.local_cpus < 1):
        raise ParameterError("--cpus-per-training must be > 0, --gpus-per-training and --max-retries >= 0, "
                             "--local-cpus >= 1")


def planned_trainings(jobs: list[NotebookJob], run_dir: Path) -> list:
    """Every training the jobs' notebooks will ask for (nbutils.runs.plan.plan_trainings), once each;
    a notebook with no plan is named (it trains inside itself, as with the local executor)."""
    from nbutils.runs.plan import plan_trainings
    trainings, unplanned = plan_trainings([(job.path.stem, job.effective_parameters(), job.path.parent)
                                           for job in jobs], run_dir.resolve())
    if unplanned:
        print(f"note: {', '.join(unplanned)} declare(s) no plan in nbutils.runs.plan.NOTEBOOK_PLANS: "
              f"their trainings run inside the notebook", file=sys.stderr)
    return trainings


def run_sweep(trainings: list, run_dir: Path, args: argparse.Namespace):
    """Train ``trainings`` on Ray (nbutils.runs.ray_executor.run_trainings) and print what happened."""
    from nbutils.runs.ray_executor import run_trainings
    print(f"{len(trainings)} trainings planned; training the unfinished ones on Ray ...", flush=True)
    sweep = run_trainings(trainings, run_dir.resolve(), address=args.address, local_cpus=args.local_cpus,
                          cpus_per_training=args.cpus_per_training, gpus_per_training=args.gpus_per_training,
                          max_retries=args.max_retries)
    print(f"trainings: {len(sweep.finished)} finished, {sweep.already_done} already done, {len(sweep.failed)} failed, "
          f"in {sweep.seconds:.1f} s", flush=True)
    return sweep


def resume_command(args: argparse.Namespace, run_id: str) -> str:
    """The command that resumes this run: the same file and overrides with its --run-id."""
    words = ["python", "-m", "nbutils.run", str(args.params), *args.overrides, "--run-id", run_id]
    if args.runs != DEFAULT_RUNS:
        words += ["--runs", str(args.runs)]
    return shlex.join(words)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("params", type=Path, help="parameter file, e.g. params/demo.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (values read as YAML)")
    parser.add_argument("--run-id", help="run folder name under runs/NAME/ (reuse one to resume it)")
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="where run folders go")
    parser.add_argument("--dry-run", action="store_true",
                        help="check everything, print the notebooks and their parameters, run nothing")
    parser.add_argument("--list-params", action="store_true",
                        help="print every parameter the file's notebooks take (type, default, help), run nothing")
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="run only the notebooks whose file name contains this (e.g. 03); repeatable")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after one fails (default: stop at the first failure)")
    add_executor_arguments(parser)
    args = parser.parse_intermixed_args(argv)  # options may come before, between or after overrides
    try:
        check_executor_arguments(args)
        if args.list_params:
            print_parameters(args.params)
            return 0
        name, jobs = plan(args.params, args.overrides, args.only)
    except (ParameterError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run_id = args.run_id or datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = args.runs.resolve() / name / run_id  # absolute: the notebooks run in their own folder
    trainings = planned_trainings(jobs, run_dir) if args.executor == "ray" else None
    if args.dry_run:
        print_plan(name, jobs, run_dir, trainings)
        return 0
    started = provenance.collect(["python", "-m", "nbutils.run", *(sys.argv[1:] if argv is None else argv)])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump(
        {"source": str(args.params), "overrides": args.overrides,
         "notebooks": [{"path": j.source, "parameters": j.parameters} for j in jobs]},
        sort_keys=False))
    os.environ.setdefault("NBUTILS_QUIET", "1")  # the kernels inherit it: no progress bars kept in outputs
    print(f"run folder: {run_dir}")
    resume = resume_command(args, run_id)
    summary: dict[str, Any] = {}
    try:
        sweep = run_sweep(trainings, run_dir, args) if trainings is not None else None
    except KeyboardInterrupt:
        sweep = None
        records, interrupted = [{"notebook": job.path.name, "status": "not run", "resume": resume} for job in jobs], True
    except (ImportError, ValueError) as error:  # Ray missing, or no node fits one training
        print(f"error: {error}", file=sys.stderr)
        return 2
    else:
        if sweep is not None:
            summary["trainings"] = sweep.as_dict()
        if sweep is not None and (args.train_only or sweep.failed and not args.keep_going):
            why = "--train-only" if args.train_only else f"{len(sweep.failed)} training(s) failed (--keep-going runs them)"
            records, interrupted = [{"notebook": job.path.name, "status": "not run", "error": f"not run: {why}"}
                                    for job in jobs], False
        else:
            records, interrupted = run_notebooks(jobs, run_dir, args.keep_going, resume)
    (run_dir / "summary.json").write_text(json.dumps({"notebooks": records, **summary,
                                                      "provenance": provenance.finish(started)}, indent=2))
    if not args.train_only:
        write_report(run_dir)
    if interrupted:
        print(f"interrupted; finished trainings are kept in {run_dir}. Resume with:\n  {resume}", file=sys.stderr)
        return 130
    failed = [r for r in records if r["status"] == "failed"]
    for r in failed:
        print(f"error: {r['error']} (executed copy: {r['output']})", file=sys.stderr)
    for t in sweep.failed if sweep else []:
        print(f"error: training {t['name']} failed: {t['error']} (log: {t['log']})", file=sys.stderr)
    skipped = [r["notebook"] for r in records if r["status"] == "not run" and not args.train_only]
    if skipped:
        print(f"not run after the failure: {', '.join(skipped)} (--keep-going runs them)", file=sys.stderr)
    return 1 if failed or sweep and sweep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
