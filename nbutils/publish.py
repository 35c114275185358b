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
from nbutils.core.metrics import load_replicates, t_half_width
from nbutils.methods import evaluation
from nbutils.runs.folder import read_summary

MAX_FILE_MB = 3.0
MAX_TABLE_ROWS = 60
CURVE_METHODS = ("ce", "rg", "rg-oracle")


def markdown_table(table: pd.DataFrame) -> str:
    """A DataFrame as a GitHub Markdown table (index dropped)."""
    header = "| " + " | ".join(map(str, table.columns)) + " |\n|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, *rows])


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


def held_out_evidence(folder: Path, n_boot: int = 500) -> tuple[pd.DataFrame, dict]:
    """(rows, replicates) of a run folder's selected models on the held-out images (the test split and the
    extra pool, ``methods.evaluation``): one row per training, and {task: {(method, seed): {metric: (B,)}}}
    over the same bootstrap resamples of each task's held-out images in every run folder (the resamples
    depend on the labels alone), so runs of two lengths stay paired by image too. Read from notebook 03's
    ``tables/held_out_rows.csv`` and ``tables/replicates.npz`` when the run wrote them, else computed from
    its result folders (a ``--train-only`` run). Result folders without the ``settings.json`` that rebuilds
    their task (written before it existed) give their ``row.json`` (test split) and no replicates."""
    tables = folder / "tables"
    if (tables / "held_out_rows.csv").is_file() and (tables / "replicates.npz").is_file():
        return evaluation.rows_of(pd.read_csv(tables / "held_out_rows.csv")), load_replicates(tables / "replicates.npz")
    row_files = sorted(folder.glob("results/*/*/*/row.json"))
    if not row_files:
        raise FileNotFoundError(f"{folder} holds no finished training (results/*/*/*/row.json)")
    if not all((f.parent / "settings.json").is_file() for f in row_files):
        return pd.DataFrame([json.loads(f.read_text()) for f in row_files]), {}
    tasks, results = evaluation.folder_results(folder)
    return (evaluation.rows_of(evaluation.held_out_table(tasks, results)),
            evaluation.bootstrap_replicates(tasks, results, "held_out", n_boot))


def length_section(run_dir: Path, length_runs: Sequence[Path], dest: Path) -> list[str]:
    """The training-length check: the papers' effects in ``run_dir`` and in each of ``length_runs``
    (the same parameter file with other ``epochs``; their trainings are enough, e.g. from
    ``--train-only``), on the held-out images with the claims' interval, as a Markdown section; []
    without length runs."""
    if not length_runs:
        return []
    runs, replicates = {}, {}
    for folder in (run_dir, *length_runs):
        runs[run_epochs(folder)], replicates[run_epochs(folder)] = held_out_evidence(folder)
    table = convergence.length_table(runs, replicates=replicates)
    table.round(4).to_csv(dest / "tables" / "training_length.csv", index=False)
    levels = convergence.level_table(runs, replicates=replicates)
    levels.round(4).to_csv(dest / "tables" / "training_length_levels.csv", index=False)
    others = ", ".join(f"`{f.parent.name}/{f.name}` ({run_epochs(f)} epochs)" for f in length_runs)
    return ["## Does the answer depend on the training length?",
            f"The same settings trained for {', '.join(str(e) for e in sorted(runs))} epochs (this run: "
            f"{run_epochs(run_dir)}; also {others}), each model kept at the epoch its validation chose when the "
            "run selects one. Each effect is a paired difference on the held-out images (test split and extra "
            "pool) in points (minority AP: the smallest class's AP, %; AUROC ×100), mean and 95% interval over "
            "seeds and held-out images (Welch–Satterthwaite degrees of freedom, as the claims); the verdict is "
            "the minority AP's: a > b or a < b when its interval excludes 0 (`tables/training_length.csv`).",
            convergence.length_markdown(table),
            "### Has each method converged at this run's length?",
            f"A result counts as converged at a length when the mean over seeds of its minority held-out AP moves "
            f"by less than {convergence.PLATEAU_POINTS} points from that length to the next longer one (the change "
            "is paired over seeds and images, with its 95% interval; `tables/training_length_levels.csv`). "
            "Minority AP %, mean ± std over seeds:",
            convergence.level_markdown(levels),
            convergence.level_lines(levels, run_epochs(run_dir))]


def design_section(run_dir: Path, dest: Path) -> list[str]:
    """What a seed varies, how many seeds each method ran, the epoch each model was kept at, and how the
    extra pool reads beside the test split (notebook 03's tables); [] for a run without them."""
    tables = run_dir / "tables"
    if not (tables / "selected_epochs.csv").is_file():
        return []
    epochs = pd.read_csv(tables / "selected_epochs.csv")
    parts = ["## Seeds, kept epochs and the held-out images",
             "A seed changes a model's initialisation, its batch order and the method's own random draws "
             "(clustering, resampling); every seed trains on the same task images, so the seed spread is training "
             "noise, not the noise of drawing another training set. Each method's seeds and the epoch each "
             "seed's model was kept at (`tables/selected_epochs.csv`; 1-based, of the epochs trained):",
             markdown_table(epochs)]
    for path in sorted(tables.glob("pool_vs_test_*.csv")):
        table = pd.read_csv(path)
        numbers = table.select_dtypes("number").columns
        table[numbers] = table[numbers].round(2)
        parts += [f"### {path.stem.removeprefix('pool_vs_test_')}: the extra pool beside the test split",
                  "Minority AP (%, mean over seeds) of each method on the test split and on the extra pool, their "
                  "difference, and the rank correlation of the methods on the two (`tables/" + path.name + "`). The "
                  "claims compare methods on paired differences over both.", markdown_table(table)]
    return parts


def held_out_positives(run_dir: Path) -> dict[str, int] | None:
    """{task: minority images among its held-out images} from notebook 03's ``held_out_rows.csv``."""
    path = run_dir / "tables" / "held_out_rows.csv"
    if not path.is_file():
        return None
    rows = evaluation.rows_of(pd.read_csv(path))
    return {task: int(n) for task, n in rows.groupby("task")["n_minority"].first().items()}


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
             "from it. The summary tables: test split, %, mean ± half-width of the 95% t-interval over seeds (a "
             "method run on one seed shows its mean alone, unless every method ran on one seed, when ± is the "
             "half-width of a bootstrap interval over test images). The claims and the training-length check: "
             "the held-out images (test split and extra pool), 95% intervals over seeds and images.",
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
    parts += design_section(run_dir, dest)
    parts += length_section(run_dir, length_runs, dest)
    claims = run_dir / "tables" / "claims.csv"
    if claims.is_file():
        parts += ["## The papers' claims, judged on this run",
                  "Each effect in its unit (column `unit`: points; natural-log units for the synchrony claim) with "
                  "the interval its verdict is read from: 95% over seeds (n − 1 degrees of freedom) and the held-out "
                  "images' bootstrap, combined by Welch–Satterthwaite (`tables/claims.csv`, with each part's "
                  "standard error, `se_seeds` and `se_images`, and the degrees of freedom, `df`).",
                  claims_markdown(pd.read_csv(claims))]
        undecided = convergence.decide_lines(pd.read_csv(claims), positives=held_out_positives(run_dir))
        if undecided:
            parts += ["### What would decide the undecided claims?",
                      "The fewest seeds whose 95% interval would lie above 0 or below the smallest effect worth "
                      "claiming (1 point), if the mean, the seed std of the paired differences and the held-out "
                      "images' part stayed as measured; where no number of seeds can, the held-out minority images "
                      "that would (the image part shrinking as one over their square root).", undecided]
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
