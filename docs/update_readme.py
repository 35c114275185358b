"""Rewrite the README's result blocks from finished runs, so every number there comes from a run:

    .venv/bin/python docs/update_readme.py runs/demo/<run-id>
    .venv/bin/python docs/update_readme.py --study docs/results/study
    .venv/bin/python docs/update_readme.py --ablations docs/results/ablations

The first form writes, between ``<!-- results:start -->`` and ``<!-- results:end -->``, the demo's
summary table of each task (``tables/summary_*.csv``: mean ± half-width of the 95% interval), its
claims table as sentences (``nbutils.report.claims_markdown``), the encoders' cluster quality, the
notebooks' times and the run's provenance; and it copies the gallery figures to ``docs/gallery``.
The second writes, between ``<!-- study:start -->`` and ``<!-- study:end -->``, the findings from
a study report published by ``python -m nbutils.publish``: where the run agrees with the papers'
claims and where it does not, each task's key columns and the study's wall time. The third
writes, between ``<!-- ablations:start -->`` and ``<!-- ablations:end -->``, notebook 05's answers
recomputed from the published ``ablation_rows.csv`` with ``nbutils.ablations``: whether any RG cell
beats CE on the minority AP with intervals that do not overlap, whether cluster NMI predicts the
gain, and the per-factor tables.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pandas as pd

from nbutils.publish import markdown_table
from nbutils.report import claims_markdown, read_summary

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
STUDY_START, STUDY_END = "<!-- study:start -->", "<!-- study:end -->"
ABLATIONS_START, ABLATIONS_END = "<!-- ablations:start -->", "<!-- ablations:end -->"
STUDY = DOCS / "results" / "study"
ABLATION_FACTORS = ("encoder", "clustering", "n_clusters", "aggregate", "loss")
GALLERY = ("fig3_top_representations", "fig3_bottom_label_types", "fig5_target_spread", "fig5_class_variation",
           "fig7_score_distributions", "cluster_montage_tshirt-vs-rest", "cam_gradcam",
           "per_class_ap_fmnist-ham10000")
MAX_AP_COLUMNS = 4  # the long tail's smallest classes; all of them are in the run folder


def summary_block(run: Path) -> str:
    blocks = []
    for path in sorted((run / "tables").glob("summary_*.csv")):
        table = pd.read_csv(path)
        ap = [c for c in table.columns if c.startswith("ap/")]
        smallest = ap[-MAX_AP_COLUMNS:] if len(ap) > 2 else ap[-1:]
        table = table[["method", "ba", "macro_ap", *smallest, "macro_f1"]]
        blocks.append(f"**{path.stem.removeprefix('summary_')}** (AP of the smallest classes shown; "
                      f"every class in the run folder)\n\n{markdown_table(table)}")
    return "\n\n".join(blocks)


def cluster_block(run: Path) -> str:
    path = run / "tables" / "encoder_cluster_quality.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path)[["task", "encoder", "n_pseudo_classes", "nmi", "purity"]].round(3)
    return ("NMI and purity of each encoder's k-means pseudo-classes against the hidden fine labels "
            f"(seed 0):\n\n{markdown_table(table)}")


def timing_block(run: Path) -> str:
    records, provenance = read_summary(run)
    times = ", ".join(f"{r['notebook'].removesuffix('.ipynb')} {r['seconds']:.0f} s" for r in records)
    device = provenance.get("device", {})
    return (f"Notebooks: {times}; whole run {provenance.get('wall_seconds', float('nan')):.0f} s wall on "
            f"{device.get('cpu', 'this machine')} (commit {str(provenance.get('git', {}).get('commit', '?'))[:7]}).")


def results_block(run: Path) -> str:
    claims = pd.read_csv(run / "tables" / "claims.csv")
    return "\n\n".join(part for part in (
        f"Made by `python -m nbutils.run params/demo.yaml` into `{run.name}`; rewritten by "
        f"`python docs/update_readme.py RUN_FOLDER`. Test split, %, mean ± half-width of the 95% "
        "interval over seeds (a t-interval: with 3 seeds it spans 2.5 standard deviations).",
        timing_block(run), summary_block(run),
        "**The papers' claims, judged on this run** (`tables/claims.csv`; effects in points):\n\n"
        + claims_markdown(claims),
        cluster_block(run)) if part)


VERDICT_WORDS = {"holds": "Agrees with the papers", "does not hold": "Disagrees with the papers",
                 "inconclusive": "Undecided (the intervals cannot tell)"}


def study_table(path: Path) -> str:
    """A study task's key columns: BA, macro AP and the AP of its smallest class (the last AP column)."""
    table = pd.read_csv(path)
    smallest = [c for c in table.columns if c.startswith("ap/")][-1:]
    return markdown_table(table[["method", "ba", "macro_ap", *smallest, *[c for c in ("auroc",) if c in table]]])


SPREAD_METHODS = ("ce", "rg", "rg-oracle", "rg-oracle-balanced")
SPREAD_GOAL = 1.0  # points: the seed std of minority AP the study aims at for CE, RG and the oracles


def spread_lines(report: Path) -> str:
    """Per task, the seed std of the smallest class's AP of CE, RG and the oracles against the goal."""
    check = pd.read_csv(report / "tables" / "learning_check.csv")
    lines = []
    for task, part in check[check["method"].isin(SPREAD_METHODS)].groupby("task", sort=False):
        stds = ", ".join(f"{r.method} {100 * r.smallest_ap_std:.1f}" for r in part.itertuples())
        over = part[100 * part["smallest_ap_std"] > SPREAD_GOAL]
        lines.append(f"- **{task}**: {stds} points" + (f"; above {SPREAD_GOAL:g}: {', '.join(over['method'])}."
                                                        if len(over) else f"; all at most {SPREAD_GOAL:g}."))
    return "\n".join(lines)


def convergence_parts(report: Path) -> list[str]:
    """The study's plateau lines, seed spreads and training-length table, where the report has them."""
    from nbutils import convergence

    parts = []
    undecided = convergence.decide_lines(pd.read_csv(report / "tables" / "claims.csv"))
    if undecided:
        parts.append("**What would decide the undecided claims** (seeds at the measured mean and seed std, a lower "
                     "bound):\n\n" + undecided)
    if (report / "tables" / "plateau.csv").is_file():
        parts.append("**Did every model plateau?**\n\n"
                     + convergence.plateau_lines(pd.read_csv(report / "tables" / "plateau.csv")))
    if (report / "tables" / "learning_check.csv").is_file():
        parts.append("**Seed spread** (std over seeds of the smallest class's AP, the goal: at most "
                     f"{SPREAD_GOAL:g} point):\n\n" + spread_lines(report))
    if (report / "tables" / "training_length.csv").is_file():
        parts.append("**Does the answer depend on the training length?** Paired effects over seeds, points, "
                     "95% intervals:\n\n"
                     + convergence.length_markdown(pd.read_csv(report / "tables" / "training_length.csv")))
    return parts


def study_block(report: Path) -> str:
    """The README's findings from a published study report (``nbutils.publish``)."""
    claims = pd.read_csv(report / "tables" / "claims.csv")
    verdicts = []
    for verdict, words in VERDICT_WORDS.items():
        part = claims[claims["verdict"] == verdict]
        if len(part):
            verdicts.append(f"**{words}** ({len(part)} of {len(claims)}):\n\n{claims_markdown(part)}")
    other = claims[~claims["verdict"].isin(list(VERDICT_WORDS))]
    if len(other):
        verdicts.append(f"**Not judged** ({len(other)}):\n\n{claims_markdown(other)}")
    tables = [f"**{p.stem.removeprefix('summary_')}**\n\n{study_table(p)}"
              for p in sorted((report / "tables").glob("summary_*.csv"))]
    return "\n\n".join([
        report_line(report, "study") + "; rewritten by `python docs/update_readme.py --study DIR`. Test split, %, "
        "mean ± half-width of the 95% interval over seeds; each effect in its unit with its 95% interval.",
        *verdicts, *convergence_parts(report), *tables])


def report_line(report: Path, what: str) -> str:
    """Where a block comes from: the report folder, its command, commit and wall time."""
    _, provenance = read_summary(report)
    link = Path(os.path.relpath(report.resolve(), README.parent)).as_posix()
    return (f"From the {what} report [`{link}`]({link}/README.md): `{provenance.get('command', '?')}` at commit "
            f"{str(provenance.get('git', {}).get('commit', '?'))[:7]}, "
            f"{provenance.get('wall_seconds', float('nan')) / 60:.0f} min wall on "
            f"{provenance.get('device', {}).get('cpu', 'this machine')}")


def training_length_caveat(report: Path, rows: pd.DataFrame) -> str:
    """How long the ablation's models trained, CE's BA on each task, and, from the study's
    training-length check (when published), how many of its effects change verdict with the length."""
    import yaml

    parameters = yaml.safe_load((report / "params.yaml").read_text())["notebooks"][0]["parameters"]
    ce = rows[rows["method"] == "ce"].groupby("task", sort=False)["ba"].agg(["mean", "std"])
    bas = ", ".join(f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} (std) on {task}" for task, r in ce.iterrows())
    epochs = int(parameters["epochs"])
    text = f"**Training length.** These trainings ran {epochs} epochs; CE's BA is {bas}."
    length = STUDY / "tables" / "training_length.csv"
    if length.is_file():
        table = pd.read_csv(length)
        longest = int(table["epochs"].max())
        changed = [f"{task} {contrast}" for (task, contrast), part in table.groupby(["task", "contrast"], sort=False)
                   if part["verdict"].nunique() > 1]
        text += (f" In the study's training-length check, {len(changed)} of {table.groupby(['task', 'contrast']).ngroups} "
                 f"effects change verdict between {table['epochs'].min()} and {longest} epochs"
                 + (f" ({', '.join(changed)})" if changed else "")
                 + ("; these cells ran the check's longest length." if epochs >= longest else
                    f"; these cells ran {epochs} epochs, so read their verdicts as {epochs}-epoch results."))
    return text


def ablations_block(report: Path) -> str:
    """The README's ablation findings, recomputed from the published rows with nbutils.ablations."""
    from nbutils import ablations

    rows = pd.read_csv(report / "tables" / "ablation_rows.csv", keep_default_na=False, na_values=[""])
    parts = [report_line(report, "ablation") + "; rewritten by `python docs/update_readme.py --ablations DIR`. "
             "Minority AP and BA on the test split, %, mean ± half-width of the 95% interval over seeds.",
             training_length_caveat(report, rows)]
    for task, task_rows in rows.groupby("task", sort=False):
        metric = next(c for c in task_rows.columns if c.startswith("ap/") and c != "ap/rest")
        labels = [m for m in task_rows["method"].unique() if m != "ce"]
        clear = ablations.clear_of_baseline(rows, task, labels, metric)
        parts.append(ablations.goal_sentence(clear, task, metric))
        gains = pd.read_csv(report / "tables" / f"gain_vs_nmi_{task}.csv")
        cells = [ablations.Cell(label, {}, {}) for label in gains["cell"]]  # the encoder x clustering cells
        parts.append(ablations.correlation_sentence(ablations.nmi_gain_correlation(rows, task, cells, metric), task))
        for factor in ABLATION_FACTORS:
            path = report / "tables" / f"ablation_{task}_{factor}.csv"
            if path.is_file():
                table = pd.read_csv(path)
                keep = [c for c in (table.columns[0], metric, "ba", ablations.NMI) if c in table.columns]
                parts.append(f"*{task}, {factor}:*\n\n{markdown_table(table[keep])}")
    return "\n\n".join(parts)


def replace_block(text: str, start: str, end: str, block: str) -> str:
    """``text`` with what lies between the markers ``start`` and ``end`` replaced by ``block``."""
    if start not in text or end not in text:
        raise SystemExit(f"{README} lacks the markers {start} and {end}")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def main(run: Path) -> None:
    README.write_text(replace_block(README.read_text(), START, END, results_block(run)))
    for name in GALLERY:
        source = run / "figures" / f"{name}.png"
        if source.is_file():
            shutil.copy(source, DOCS / "gallery" / source.name)
    print(f"README results and gallery rewritten from {run}")


def main_ablations(report: Path) -> None:
    README.write_text(replace_block(README.read_text(), ABLATIONS_START, ABLATIONS_END, ablations_block(report)))
    print(f"README ablation findings rewritten from {report}")


def main_study(report: Path) -> None:
    README.write_text(replace_block(README.read_text(), STUDY_START, STUDY_END, study_block(report)))
    print(f"README study findings rewritten from {report}")


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = args[0] if args[:1] in (["--study"], ["--ablations"]) else None
    folder = Path(args[-1]) if len(args) == 1 + bool(mode) else None
    if folder is None or not (folder / "tables").is_dir():
        raise SystemExit("usage: python docs/update_readme.py RUN_FOLDER (a folder with tables/ from nbutils.run)\n"
                         "       python docs/update_readme.py --study|--ablations REPORT (from python -m nbutils.publish)")
    {"--study": main_study, "--ablations": main_ablations, None: main}[mode](folder)
