"""Where a run's wall time goes, read from its run folder after the fact (nothing is rerun):

    python bench/study_time.py RUN_FOLDER [--results PATH]

For each notebook: its wall time (``summary.json``), the trainings it ran (result folders whose
``row.json`` was written while it ran) with their summed ``wall_time`` (encoding and clustering
for RG, resampling, the epochs with their validation pass, the test scores), and the rest: the
notebook's own analyses (t-SNE, autoencoders, cluster quality, CAMs, bootstrap intervals,
figures) plus kernel start-up and loading cached results. Then the trainings by method, summed
over tasks and seeds, so the next speed-up is aimed at the largest part.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path

import pandas as pd
from harness import load_average, markdown_table, parse_args, report

from nbutils.runs.folder import read_summary


def trainings(run_dir: Path) -> pd.DataFrame:
    """One row per finished training: task, method, seed, wall_time and when its row was written."""
    rows = []
    for path in (run_dir / "results").glob("*/*/*/row.json"):
        row = json.loads(path.read_text())
        rows.append({"task": row["task"], "method": row["method"], "seed": row["seed"],
                     "wall_time": row["wall_time"], "written": path.stat().st_mtime})
    return pd.DataFrame(rows, columns=["task", "method", "seed", "wall_time", "written"])


def by_notebook(run_dir: Path, done: pd.DataFrame) -> list[dict]:
    """Each notebook's wall time, the trainings written while it ran and the remainder."""
    records, provenance = read_summary(run_dir)
    start = datetime.fromisoformat(provenance["started"]).timestamp()
    table = []
    for record in records:
        end = start + record["seconds"]
        inside = done[(done["written"] >= start) & (done["written"] < end + 1)]
        table.append({"notebook": record["notebook"].removesuffix(".ipynb"), "wall s": record["seconds"],
                      "trainings": len(inside), "training s": inside["wall_time"].sum(),
                      "rest s": record["seconds"] - inside["wall_time"].sum(),
                      "training share": inside["wall_time"].sum() / record["seconds"]})
        start = end
    total = sum(r["wall s"] for r in table)
    table.append({"notebook": "all", "wall s": total, "trainings": sum(r["trainings"] for r in table),
                  "training s": sum(r["training s"] for r in table), "rest s": sum(r["rest s"] for r in table),
                  "training share": sum(r["training s"] for r in table) / total})
    return table


def by_method(done: pd.DataFrame) -> list[dict]:
    """Training seconds by method over tasks and seeds, largest first, with the share of all training."""
    grouped = done.groupby("method")["wall_time"].agg(["count", "sum", "mean"]).sort_values("sum", ascending=False)
    total = grouped["sum"].sum()
    return [{"method": m, "trainings": int(r["count"]), "s": r["sum"], "mean s": r["mean"], "share": r["sum"] / total}
            for m, r in grouped.iterrows()]


def options(parser) -> None:
    parser.add_argument("run_folder", type=Path, help="a finished run folder (runs/<params>/<run-id>)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    done = trainings(args.run_folder)
    _, provenance = read_summary(args.run_folder)
    methods = by_method(done)
    report(args.results, f"Where the time of {args.run_folder.parent.name}/{args.run_folder.name} goes "
                         "(bench/study_time.py)", by_notebook(args.run_folder, done),
           device=provenance.get("device", {}).get("cpu", "see the run's summary.json"), load_before=load,
           notes=(f"Run folder `{os.path.relpath(args.run_folder)}`, commit "
                  f"{str(provenance.get('git', {}).get('commit', '?'))[:7]}, command `{provenance.get('command')}`. "
                  "Trainings are attributed to the notebook during which their row.json was written; 'rest' is "
                  "the notebook's own analyses, kernel start-up and loading cached results.\n\n"
                  "Training time by method (all tasks and seeds):\n\n" + markdown_table(methods)))


if __name__ == "__main__":
    main()
