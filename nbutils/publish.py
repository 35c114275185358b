"""A finished run folder as a report small enough to commit:

    python -m nbutils.publish RUN_FOLDER DEST [--curve-methods ce rg rg-oracle] [--length-runs RUN ...]

DEST (e.g. ``docs/results/study``) receives:

- ``README.md``: what made the run (command, commit, packages, machine, wall time per notebook),
  every task's summary table (mean ± half-width of the 95% interval), the claims table with each
  effect, its interval and verdict, the learning curves and the figures;
- ``tables/``: the run's CSV tables, and each summary table also as Markdown;
- ``figures/``: the run's figures (PNG), plus ``learning_curves.png``;
- ``learning_curves.csv``: validation AP of each task's smallest class by epoch, mean and 95%
  interval over seeds, for ``curve_methods`` (from every result's ``history.csv``);
- ``tables/plateau.csv``: did each method's validation AP plateau (nbutils.analysis.convergence), with the
  methods that did not named in the README;
- ``tables/training_length.csv`` and ``tables/training_length_levels.csv``: with ``--length-runs`` (run
  folders of the same parameter file trained for other ``epochs``), the papers' effects and each
  method's minority AP at each training length (nbutils.analysis.convergence);
- ``report.html`` and ``html/`` (the executed notebooks exported by the runner), each file only
  when under ``MAX_FILE_MB``; ``params.yaml`` and ``summary.json`` (provenance).

No checkpoint, model or score array is copied. Every number in DEST comes from RUN_FOLDER.
"""
from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Sequence

import matplotlib
import pandas as pd
import yaml

from nbutils.analysis import convergence
from nbutils.analysis.markdown import claims_markdown
from nbutils.core.metrics import t_half_width
from nbutils.runs.folder import read_summary

MAX_FILE_MB = 3.0
MAX_TABLE_ROWS = 60
CURVE_METHODS = ("ce", "rg", "rg-oracle")


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table (index dropped)."""
    header = "| " + " | ".join(map(str, table.columns)) + " |\n|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, *rows])


def result_rows(run_dir: Path) -> list[tuple[dict, Path]]:
    """(row, result folder) of every finished training under ``run_dir/results``."""
    return [(json.loads(p.read_text()), p.parent) for p in sorted((run_dir / "results").glob("*/*/*/row.json"))]


def learning_curves(run_dir: Path, methods: Sequence[str] = CURVE_METHODS) -> pd.DataFrame:
    """Validation AP of each task's smallest class by epoch, over seeds (from
    ``convergence.validation_curves``): one row per (task, class, method, epoch) with ``mean``, ``half``
    (95% t-interval half-width) and ``n_seeds``."""
    curves = convergence.validation_curves(run_dir)
    curves = curves[curves["method"].isin(methods)]
    if curves.empty:
        return pd.DataFrame(columns=["task", "class", "method", "epoch", "mean", "half", "n_seeds"])
    table = (curves.groupby(["task", "class", "method", "epoch"], sort=False)["val_ap"]
             .agg(mean="mean", std="std", n_seeds="count").reset_index())
    table["half"] = t_half_width(table["std"], table["n_seeds"])
    return table[["task", "class", "method", "epoch", "mean", "half", "n_seeds"]]


def plot_learning_curves(curves: pd.DataFrame):
    """One panel per task: mean validation AP of the smallest class by epoch with its 95% band."""
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(curves["task"]))
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.2 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks):
        part = curves[curves["task"] == task]
        for method, line in part.groupby("method", sort=False):
            ax.plot(line["epoch"], line["mean"], marker="o", label=method)
            ax.fill_between(line["epoch"], line["mean"] - line["half"].fillna(0),
                            line["mean"] + line["half"].fillna(0), alpha=0.2)
        ax.set(title=f"{task}: {part['class'].iloc[0]}", xlabel="epoch", ylabel="validation AP")
        ax.legend(fontsize=8)
    fig.tight_layout()
    return fig


def curves_sentence(curves: pd.DataFrame) -> str:
    """What the curves show, generated from them: per task, each method's AP at the last epoch and
    its change over the last quarter of training, and whether the ranking at the last epoch is the
    ranking at the half-way epoch."""
    lines = []
    for task, part in curves.groupby("task", sort=False):
        last, half = part["epoch"].max(), max(1, part["epoch"].max() // 2)
        late = max(1, last - max(1, last // 4))
        at = {e: part[part["epoch"] == e].set_index("method")["mean"] for e in (half, late, last)}
        moves = ", ".join(f"{m} {100 * at[last][m]:.1f} ({100 * (at[last][m] - at[late][m]):+.1f} since epoch {late})"
                          for m in at[last].index)
        same = list(at[last].sort_values(ascending=False).index) == list(at[half].sort_values(ascending=False).index)
        lines.append(f"- **{task}** ({part['class'].iloc[0]}), AP at epoch {last}: {moves}; the ranking at epoch "
                     f"{last} {'is' if same else 'is not'} the ranking at epoch {half}.")
    return "\n".join(lines)


def learning_check(rows: pd.DataFrame) -> pd.DataFrame:
    """Did each method learn? Per task and method: chance (1/C for both BA and macro AP, C classes),
    the means of BA and macro AP over seeds with the lower end of their 95% t-interval, the standard
    deviation over seeds of the smallest class's AP, and ``learnt``: either lower end above chance.
    rows: one row per training (``tables/benchmark_rows.csv``)."""
    records = []
    for (task, method), runs in rows.groupby(["task", "method"], sort=False):
        ap_columns = [c for c in runs.columns if c.startswith("ap/") and runs[c].notna().any()]
        chance = 1 / len(ap_columns)
        record = {"task": task, "method": method, "n_seeds": len(runs), "chance": chance}
        for metric in ("ba", "macro_ap"):
            mean = runs[metric].mean()
            record[metric] = mean
            record[f"{metric}_low"] = mean - float(t_half_width(runs[metric].std(), len(runs)))
        record["smallest_ap_std"] = runs[ap_columns[-1]].std()
        record["learnt"] = bool(record["ba_low"] > chance or record["macro_ap_low"] > chance)
        records.append(record)
    return pd.DataFrame(records)


def learning_lines(check: pd.DataFrame) -> str:
    """Sentences generated from :func:`learning_check`."""
    lines = []
    for task, part in check.groupby("task", sort=False):
        failed = part[~part["learnt"]]
        spread = ", ".join(f"{r.method} {100 * r.smallest_ap_std:.1f}" for r in part.itertuples())
        lines.append(f"- **{task}** (chance {100 * part['chance'].iloc[0]:.1f}): "
                     + (f"{len(part)} of {len(part)} methods learnt (BA or macro AP above chance by the lower end "
                        "of its 95% interval)" if failed.empty else
                        f"{len(part) - len(failed)} of {len(part)} methods learnt; not above chance: "
                        + ", ".join(failed["method"]))
                     + f". Standard deviation over seeds of the smallest class's AP, points: {spread}.")
    return "\n".join(lines)


def small_tables(run_dir: Path, dest: Path, max_rows: int = MAX_TABLE_ROWS) -> list[str]:
    """A run without summary tables (e.g. notebook 05's): each of its tables of at most ``max_rows``
    rows as a Markdown section (also written beside its CSV); larger ones (the per-training rows)
    only linked."""
    sections = []
    for path in sorted((run_dir / "tables").glob("*.csv")):
        table = pd.read_csv(path)
        if len(table) > max_rows:
            sections.append(f"### {path.stem}\n\n{len(table)} rows: [tables/{path.name}](tables/{path.name})")
            continue
        numbers = table.select_dtypes("number").columns
        table[numbers] = table[numbers].round(4)
        (dest / "tables" / f"{path.stem}.md").write_text(markdown_table(table) + "\n")
        sections.append(f"### {path.stem}\n\n{markdown_table(table)}")
    return sections


def provenance_lines(run_dir: Path) -> str:
    records, provenance = read_summary(run_dir)
    git, device = provenance.get("git", {}), provenance.get("device", {})
    packages = ", ".join(f"{k} {v}" for k, v in provenance.get("packages", {}).items() if v)
    times = ", ".join(f"{r['notebook'].removesuffix('.ipynb')} {r['seconds'] / 60:.1f} min ({r['status']})"
                      for r in records)
    return "\n".join([
        f"- command: `{provenance.get('command', '?')}`",
        f"- commit: `{git.get('commit', '?')}`" + (" (with uncommitted changes)" if git.get("dirty") else ""),
        f"- machine: {device.get('cpu', '?')}, {device.get('cores', '?')} cores, "
        f"{'CUDA ' + str(device['cuda']) if device.get('cuda') else 'no GPU'}; {provenance.get('platform', '')}",
        f"- started {provenance.get('started', '?')}, finished {provenance.get('finished', '?')}: "
        f"**{provenance.get('wall_seconds', float('nan')) / 60:.1f} min wall**",
        f"- notebooks: {times}",
        f"- Python {provenance.get('python', '?')}; {packages}"])


def copy_small(source: Path, target: Path) -> bool:
    """Copy ``source`` to ``target`` when under MAX_FILE_MB; True if copied."""
    if not source.is_file() or source.stat().st_size > MAX_FILE_MB * 2**20:
        return False
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(source, target)
    return True


def check_run_folder(run_dir: Path) -> None:
    """FileNotFoundError unless ``run_dir`` is a finished run folder."""
    if not (run_dir / "summary.json").is_file() or not (run_dir / "tables").is_dir():
        raise FileNotFoundError(f"{run_dir} is not a finished run folder: it needs summary.json and tables/ "
                                "(written by `python -m nbutils.run PARAMS`)")


def run_epochs(run_dir: Path) -> int:
    """The ``epochs`` that notebook 03 of ``run_dir`` trained for (its ``params.yaml``)."""
    notebooks = yaml.safe_load((run_dir / "params.yaml").read_text())["notebooks"]
    return next(int(n["parameters"]["epochs"]) for n in notebooks if "03_benchmark" in n["path"])


def length_section(run_dir: Path, length_runs: Sequence[Path], dest: Path) -> list[str]:
    """The training-length check: the papers' effects in ``run_dir`` and in each of ``length_runs``
    (the same parameter file with other ``epochs``; their trainings are enough, e.g. from
    ``--train-only``), as a Markdown section; [] without length runs."""
    if not length_runs:
        return []
    runs = {}
    for folder in (run_dir, *length_runs):
        rows = pd.DataFrame([row for row, _ in result_rows(folder)])
        if rows.empty:
            raise FileNotFoundError(f"{folder} holds no finished training (results/*/*/*/row.json)")
        runs[run_epochs(folder)] = rows
    table = convergence.length_table(runs)
    table.round(4).to_csv(dest / "tables" / "training_length.csv", index=False)
    levels = convergence.level_table(runs)
    levels.round(4).to_csv(dest / "tables" / "training_length_levels.csv", index=False)
    others = ", ".join(f"`{f.parent.name}/{f.name}` ({run_epochs(f)} epochs)" for f in length_runs)
    return ["## Does the answer depend on the training length?",
            f"The same settings trained for {', '.join(str(e) for e in sorted(runs))} epochs (this run: "
            f"{run_epochs(run_dir)}; also {others}). Each effect is a paired difference over seeds in points "
            "(minority AP: the smallest class's AP, %; AUROC ×100), mean and 95% t-interval; the verdict is the "
            "minority AP's: a > b or a < b when its interval excludes 0 (`tables/training_length.csv`).",
            convergence.length_markdown(table),
            "### Has each method converged at this run's length?",
            f"A result counts as converged at a length when the mean over seeds of its minority test AP moves by "
            f"less than {convergence.PLATEAU_POINTS} points from that length to the next longer one (the change is "
            "paired over seeds, with its 95% t-interval; `tables/training_length_levels.csv`). Minority AP %, "
            "mean ± std over seeds:",
            convergence.level_markdown(levels),
            convergence.level_lines(levels, run_epochs(run_dir))]


def relative_paths(page: Path, run_dir: Path) -> None:
    """Write the run folder's absolute path in ``page`` (the parameters papermill injected) relative to
    the folder the runner was started in, so a committed page names no path of one machine."""
    absolute = run_dir.resolve()
    start = absolute.parents[2]  # runs/<name>/<run-id> under the folder the runner was started in
    page.write_text(page.read_text().replace(f"{start}/", ""))


def publish(run_dir: str | Path, dest: str | Path, curve_methods: Sequence[str] = CURVE_METHODS,
            length_runs: Sequence[str | Path] = ()) -> Path:
    """Write the report of ``run_dir`` into ``dest`` (module docstring); returns ``dest/README.md``.
    length_runs: run folders of the same parameter file trained for other ``epochs`` (the
    training-length check)."""
    run_dir, dest, length_runs = Path(run_dir), Path(dest), [Path(f) for f in length_runs]
    check_run_folder(run_dir)
    if dest.exists():
        shutil.rmtree(dest)
    for kind, pattern in (("tables", "*.csv"), ("figures", "*.png")):
        for path in sorted((run_dir / kind).glob(pattern)):
            copy_small(path, dest / kind / path.name)
    for name in ("report.html", "params.yaml", "summary.json"):
        copy_small(run_dir / name, dest / name)
    for path in sorted((run_dir / "html").glob("*.html")):
        if copy_small(path, dest / "html" / path.name):
            relative_paths(dest / "html" / path.name, run_dir)
    summaries = []
    for path in sorted((run_dir / "tables").glob("summary_*.csv")):
        table = pd.read_csv(path)
        (dest / "tables" / f"{path.stem}.md").write_text(markdown_table(table) + "\n")
        summaries.append(f"### {path.stem.removeprefix('summary_')}\n\n{markdown_table(table)}")
    curves = learning_curves(run_dir, curve_methods)
    parts = [f"# Run report: {run_dir.parent.name}/{run_dir.name}",
             "Written by `python -m nbutils.publish RUN_FOLDER DEST` from the run folder; every number below comes "
             "from it. Test split, %, mean ± half-width of the 95% interval over seeds (a t-interval over seeds; a "
             "method run on one seed shows its mean alone, unless every method ran on one seed, when ± is a "
             "bootstrap over test images).",
             "## What made it", provenance_lines(run_dir)]
    parts += ["## Results by task", *summaries] if summaries else ["## Tables", *small_tables(run_dir, dest)]
    rows_path = run_dir / "tables" / "benchmark_rows.csv"
    if rows_path.is_file():
        check = learning_check(pd.read_csv(rows_path))
        check.round(4).to_csv(dest / "tables" / "learning_check.csv", index=False)
        parts += ["## Did every method learn?", learning_lines(check)]
    plateau = convergence.plateau_table(convergence.validation_curves(run_dir))
    if len(plateau):
        plateau.round(4).to_csv(dest / "tables" / "plateau.csv", index=False)
        parts += ["## Did every model plateau?",
                  "Within this run (`tables/plateau.csv`). A flat end of one cosine schedule is necessary, not "
                  "sufficient: its learning rate is near 0 there whatever the fit, so the training-length check "
                  "below compares whole runs of different lengths.", convergence.plateau_lines(plateau)]
    parts += length_section(run_dir, length_runs, dest)
    claims = run_dir / "tables" / "claims.csv"
    if claims.is_file():
        parts += ["## The papers' claims, judged on this run",
                  "Each effect in its unit (column `unit`: points; natural-log units for the synchrony claim) with the interval its verdict is read from (`tables/claims.csv`).",
                  claims_markdown(pd.read_csv(claims))]
        undecided = convergence.decide_lines(pd.read_csv(claims))
        if undecided:
            parts += ["### What would decide the undecided claims?",
                      "The fewest seeds whose 95% t-interval would lie above 0 or below the smallest effect worth "
                      "claiming (1 point), if the mean and the seed std of the paired differences stayed as measured "
                      "(a lower bound: the test-image part of the intervals is left out).", undecided]
    if len(curves):
        curves.round(4).to_csv(dest / "learning_curves.csv", index=False)
        fig = plot_learning_curves(curves)
        (dest / "figures").mkdir(parents=True, exist_ok=True)
        fig.savefig(dest / "figures" / "learning_curves.png", dpi=110)
        parts += ["## Validation curves",
                  "Validation AP of each task's smallest class by epoch, mean over seeds with its 95% band "
                  "(`learning_curves.csv`). Read inside one cosine schedule, whose learning rate falls to near 0: "
                  "whether a longer training changes the answer is the training-length check's question.", "![learning curves](figures/learning_curves.png)",
                  curves_sentence(curves)]
    figures = sorted(p.name for p in (dest / "figures").glob("*.png") if p.name != "learning_curves.png")
    if figures:
        parts += ["## Figures", "\n".join(f"- [{name}](figures/{name})" for name in figures)]
    if (dest / "report.html").is_file():
        parts += ["The whole run on one page: [report.html](report.html) (executed notebooks under `html/`)."]
    readme = dest / "README.md"
    readme.write_text("\n\n".join(parts) + "\n")
    return readme


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.publish", description=__doc__.split("\n\n")[0])
    parser.add_argument("run_folder", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--curve-methods", nargs="+", default=list(CURVE_METHODS),
                        help="methods whose validation curves are drawn (default: ce rg rg-oracle)")
    parser.add_argument("--length-runs", nargs="+", type=Path, default=[],
                        help="run folders of the same parameter file trained for other epochs, e.g. with --train-only "
                             "(the training-length check)")
    args = parser.parse_args(argv)
    print(f"report written: {publish(args.run_folder, args.dest, args.curve_methods, args.length_runs)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
