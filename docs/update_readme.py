"""Rewrite the generated blocks of docs/results.md and the README's findings table from finished
runs, so every number there comes from a run:

    .venv/bin/python docs/update_readme.py --study docs/results/study
    .venv/bin/python docs/update_readme.py --ablations docs/results/ablations
    .venv/bin/python docs/update_readme.py runs/demo/<run-id>

``--study`` writes, between ``<!-- study:start -->`` and ``<!-- study:end -->`` of docs/results.md,
the findings of a study report published by ``python -m nbutils.publish``: where the run agrees
with the papers' claims and where it does not, what would decide the undecided ones, whether each
model plateaued, the seed spread, the training-length check, each task's key columns and the study's
wall time. ``--ablations`` writes, between ``<!-- ablations:start -->`` and ``<!-- ablations:end -->``,
notebook 05's answers recomputed from the published ``ablation_rows.csv`` with
``nbutils.analysis.ablations``: whether any RG cell beats CE on the minority AP with intervals that do
not overlap, whether cluster NMI predicts the gain, and the per-factor tables. Both then rewrite the
README's one generated block, between ``<!-- findings:start -->`` and ``<!-- findings:end -->``: the
study's claims table as one row per claim and one column per task (effect [95% interval] (verdict)),
the ablations' headline answer, the training length and seeds read from the reports' ``params.yaml``,
and links to the reports (``findings_block``; the study and ablation reports are the ones named on the
command line, else those under ``docs/results/``).

The run-folder form writes, between ``<!-- results:start -->`` and ``<!-- results:end -->`` of
docs/results.md, the demo's summary table of each task (``tables/summary_*.csv``: mean ± half-width of
the 95% interval), its claims table as sentences (``nbutils.analysis.markdown.claims_markdown``), the
encoders' cluster quality, the notebooks' times and the run's provenance; and it copies the gallery
figures to ``docs/gallery``.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import sys
from pathlib import Path

import pandas as pd

from nbutils.analysis.markdown import bracketed, claim_unit, claims_markdown
from nbutils.publish import held_out_positives, markdown_table, run_epochs
from nbutils.runs.folder import read_summary

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
RESULTS = DOCS / "results.md"  # the full generated blocks; the README holds the findings table only
START, END = "<!-- results:start -->", "<!-- results:end -->"
STUDY_START, STUDY_END = "<!-- study:start -->", "<!-- study:end -->"
ABLATIONS_START, ABLATIONS_END = "<!-- ablations:start -->", "<!-- ablations:end -->"
FINDINGS_START, FINDINGS_END = "<!-- findings:start -->", "<!-- findings:end -->"
STUDY = DOCS / "results" / "study"
ABLATIONS = DOCS / "results" / "ablations"
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
    from nbutils.analysis import convergence

    parts = []
    undecided = convergence.decide_lines(pd.read_csv(report / "tables" / "claims.csv"),
                                         positives=held_out_positives(report))
    if undecided:
        parts.append("**What would decide the undecided claims** (seeds at the measured mean, seed std and "
                     "held-out-image part; where no number of seeds would, held-out minority images):\n\n" + undecided)
    if (report / "tables" / "selected_epochs.csv").is_file():
        parts.append("**Seeds and kept epochs** (a seed varies the initialisation, the batch order and a method's own "
                     "random draws; every seed trains on the same images):\n\n"
                     + markdown_table(pd.read_csv(report / "tables" / "selected_epochs.csv")))
    if (report / "tables" / "plateau.csv").is_file():
        parts.append("**Did every model plateau?**\n\n"
                     + convergence.plateau_lines(pd.read_csv(report / "tables" / "plateau.csv")))
    if (report / "tables" / "learning_check.csv").is_file():
        parts.append("**Seed spread** (std over seeds of the smallest class's AP, the goal: at most "
                     f"{SPREAD_GOAL:g} point):\n\n" + spread_lines(report))
    if (report / "tables" / "training_length.csv").is_file():
        parts.append("**Does the answer depend on the training length?** Paired effects, points, with the "
                     "interval each row names:\n\n"
                     + convergence.length_markdown(pd.read_csv(report / "tables" / "training_length.csv")))
    levels = report / "tables" / "training_length_levels.csv"
    if levels.is_file():
        table = pd.read_csv(levels)
        parts.append("**Has each method converged at the study's length?** Minority AP %, mean ± std over seeds, "
                     "and its change to the next length (paired, 95% interval; converged: it moves by less than "
                     f"{convergence.PLATEAU_POINTS} points):\n\n" + convergence.level_markdown(table) + "\n\n"
                     + convergence.level_lines(table, run_epochs(report)))
    return parts


def converged_words(study: Path) -> str:
    """The study's convergence across training lengths, as generated sentences; '' without the check."""
    from nbutils.analysis import convergence

    levels = study / "tables" / "training_length_levels.csv"
    if not levels.is_file():
        return ""
    lines = convergence.level_lines(pd.read_csv(levels), run_epochs(study))
    return ("**Converged?** A result counts when its model has converged: its minority AP moves by less than "
            f"{convergence.PLATEAU_POINTS} points when trained longer.\n" + lines) if lines else ""


def study_block(report: Path) -> str:
    """docs/results.md's study block from a published study report (``nbutils.publish``)."""
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
        report_line(report, "study") + "; rewritten by `python docs/update_readme.py --study DIR`. Summary tables: "
        "test split, %, mean ± half-width of the 95% t-interval over seeds. Claims: the held-out images (test split "
        "and extra pool), each effect in its unit with its 95% interval over seeds and images.",
        *verdicts, *convergence_parts(report), *tables])


def link_to(path: Path, page: Path) -> str:
    """``path`` as a Markdown link target relative to the folder of ``page`` (the file it appears in)."""
    return Path(os.path.relpath(path.resolve(), page.resolve().parent)).as_posix()


def report_line(report: Path, what: str, page: Path | None = None) -> str:
    """Where a block comes from: the report folder, its command, commit and wall time (linked from
    ``page``, docs/results.md unless told)."""
    _, provenance = read_summary(report)
    page = RESULTS if page is None else page
    name, link = link_to(report, README), link_to(report, page)  # named from the repository's root
    return (f"From the {what} report [`{name}`]({link}/README.md): `{provenance.get('command', '?')}` at commit "
            f"{str(provenance.get('git', {}).get('commit', '?'))[:7]}, "
            f"{provenance.get('wall_seconds', float('nan')) / 60:.0f} min wall on "
            f"{provenance.get('device', {}).get('cpu', 'this machine')}")


def training_length_caveat(report: Path, rows: pd.DataFrame) -> str:
    """How long the ablation's models trained, CE's BA on each task, and, from the study's
    training-length check (when published), how many of its effects change verdict with the length."""
    ce = rows[rows["method"] == "ce"].groupby("task", sort=False)["ba"].agg(["mean", "std"])
    bas = ", ".join(f"{100 * r['mean']:.1f} ± {100 * r['std']:.1f} (std) on {task}" for task, r in ce.iterrows())
    epochs = int(report_parameters(report)["epochs"])
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


def ablation_rows(report: Path) -> pd.DataFrame:
    return pd.read_csv(report / "tables" / "ablation_rows.csv", keep_default_na=False, na_values=[""])


def minority_metric(task_rows: pd.DataFrame) -> str:
    """The AP column of a task's smallest class (``convergence.smallest_class``)."""
    from nbutils.analysis.convergence import smallest_class

    return f"ap/{smallest_class(task_rows)}"


def goal_sentence(rows: pd.DataFrame, task: str) -> str:
    """Notebook 05's headline answer on ``task``: whether any RG cell's minority-AP interval lies above CE's."""
    from nbutils.analysis import ablations

    task_rows = rows[rows["task"] == task]
    metric = minority_metric(task_rows)
    labels = [m for m in task_rows["method"].unique() if m != "ce"]
    return ablations.goal_sentence(ablations.clear_of_baseline(rows, task, labels, metric), task, metric)


def ablations_block(report: Path) -> str:
    """docs/results.md's ablation block, recomputed from the published rows with nbutils.analysis.ablations."""
    from nbutils.analysis import ablations

    rows = ablation_rows(report)
    parts = [report_line(report, "ablation") + "; rewritten by `python docs/update_readme.py --ablations DIR`. "
             "Minority AP and BA on the test split, %, mean ± half-width of the 95% interval over seeds.",
             training_length_caveat(report, rows)]
    for task, task_rows in rows.groupby("task", sort=False):
        metric = minority_metric(task_rows)
        parts.append(goal_sentence(rows, task))
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




# ---- the README's findings table ------------------------------------------------------------------

def claim_cell(row) -> str:
    """'-0.4 [-2.5, +1.8] (inconclusive)': a claims row's effect with its 95% interval, in the
    effect's unit (points x 100, one decimal; a ln ratio or Kendall tau as measured), and the verdict."""
    if pd.isna(row.effect):
        return str(row.verdict)
    unit = claim_unit(row)
    scale, digits = (100, 1) if unit == "points" else (1, 2) if unit == "kendall tau" else (1, 3)
    value = (f"{row.effect * scale:+.{digits}f}" if pd.isna(row.low)
             else bracketed(row.effect * scale, row.low * scale, row.high * scale, digits))
    return f"{value} ({row.verdict})"


CONTRAST = re.compile(r"^(\S+ - \S+) on ")  # a claims row's detail opens with its contrast: "rg - ce on ap/..."


def claim_label(rows: pd.DataFrame) -> str:
    """A claim (its rows over the tasks) with what its effect measures: the contrast, when the
    rows' details name one, and the unit; for the rank claim, which effect stands for it."""
    row = next(rows.itertuples())
    unit = claim_unit(row)
    if row.claim.startswith("BA and AP rank") and unit == "points":
        return f"{row.claim} (largest BA-up-AP-down swap of the named pairs, points)"
    contrasts = [m.group(1) for d in rows["detail"] if isinstance(d, str) and (m := CONTRAST.match(d))]
    return f"{row.claim} ({contrasts[0] + ', ' if contrasts else ''}{unit})"


def claims_grid(claims: pd.DataFrame) -> pd.DataFrame:
    """One row per claim, one column per task (in the claims table's order), each cell ``claim_cell``."""
    labels = {claim: claim_label(rows) for claim, rows in claims.groupby("claim", sort=False)}
    claims = claims.assign(label=claims["claim"].map(labels), cell=[claim_cell(r) for r in claims.itertuples()])
    grid = claims.pivot(index="label", columns="task", values="cell")
    grid = grid.loc[list(labels.values()), list(dict.fromkeys(claims["task"]))].fillna("—")
    return grid.rename_axis(index="the papers' claim (contrast, unit)", columns=None).reset_index()


def report_parameters(report: Path) -> dict:
    """The parameters the report's notebooks ran with, merged in notebook order (``params.yaml``)."""
    import yaml

    merged: dict = {}
    for notebook in yaml.safe_load((report / "params.yaml").read_text())["notebooks"]:
        merged.update(notebook["parameters"])
    return merged


def training_words(report: Path) -> str:
    """'24 epochs, seeds 0, 1, 2 (ce, rg also 3, 4), each model at its best validation epoch' from the
    report's params.yaml (``more_seeds``, ``train.select``)."""
    parameters = report_parameters(report)
    more = "; ".join(f"{method} also {', '.join(map(str, seeds))}"
                     for method, seeds in (parameters.get("more_seeds") or {}).items())
    selected = (parameters.get("train") or {}).get("select") == "best"
    return (f"{parameters['epochs']} epochs, seeds {', '.join(map(str, parameters['seeds']))}"
            + (f" ({more})" if more else "") + (", each model at its best validation epoch" if selected else ""))


def study_words(report: Path) -> str:
    """What the study trained, read from its params.yaml and tables: tasks, model, encoder, methods."""
    parameters = report_parameters(report)
    tasks = "; ".join(f"`{name}` ({spec.get('positive', '')} vs rest of {spec['dataset']}"
                      + (f", {spec['ratio']}:1" if "ratio" in spec else "")
                      + (f", train_size {spec['train_size']}" if "train_size" in spec else "") + ")"
                      if "positive" in spec else f"`{name}` ({spec['dataset']})"
                      for name, spec in parameters["tasks"].items())
    methods = sorted({m for p in (report / "tables").glob("summary_*.csv") for m in pd.read_csv(p)["method"]})
    encoder = parameters.get("regroup", {}).get("encoder", "the default encoder")
    return (f"{tasks}; a `{parameters.get('arch', '?')}` of width {parameters.get('width', '?')}, "
            f"{training_words(report)}; RG's encoder `{encoder}`; {len(methods)} methods")


def provenance_words(report: Path) -> str:
    """'`command` at commit abc1234 (with uncommitted changes), 45 min wall on AMD EPYC (26 of 68
    trainings were already in the run folder)'."""
    _, provenance = read_summary(report)
    git = provenance.get("git", {})
    trainings = json.loads((report / "summary.json").read_text()).get("trainings", {})
    reused = (f" ({trainings['already_done']} of {trainings['planned']} trainings were already in the run folder)"
              if trainings.get("already_done") else "")
    return (f"`{provenance.get('command', '?')}` at commit {str(git.get('commit', '?'))[:7]}"
            f"{' (with uncommitted changes)' if git.get('dirty') else ''}, "
            f"{provenance.get('wall_seconds', float('nan')) / 60:.0f} min wall on "
            f"{provenance.get('device', {}).get('cpu', 'this machine')}{reused}")


def report_links(report: Path, page: Path) -> str:
    """Links to a report's pages that exist: its README and its report.html."""
    return ", ".join(f"[{name}]({link_to(report / name, page)})" for name in ("README.md", "report.html")
                     if (report / name).is_file())


def length_words(report: Path) -> str:
    """', with the training-length check (8, 24 and 48 epochs)' when the study has one."""
    path = report / "tables" / "training_length.csv"
    if not path.is_file():
        return ""
    epochs = sorted(pd.read_csv(path)["epochs"].unique())
    return f", with the training-length check ({', '.join(map(str, epochs[:-1]))} and {epochs[-1]} epochs)"


def length_grid(study: Path) -> str:
    """The training-length check as one row per contrast and one column per task, each cell the
    minority-AP effect at every length ('24: +0.0 [-3.3, +3.4]; 48: ...'); '' without the check."""
    path = study / "tables" / "training_length.csv"
    if not path.is_file():
        return ""
    table = pd.read_csv(path)
    cells = (table.sort_values("epochs").groupby(["contrast", "task"], sort=False)
             .apply(lambda part: "; ".join(f"{r.epochs}: {bracketed(r.minority_ap, r.minority_ap_low, r.minority_ap_high)}"
                                           for r in part.itertuples()), include_groups=False)
             .unstack("task"))
    cells = cells.loc[list(dict.fromkeys(table["contrast"])), list(dict.fromkeys(table["task"]))].fillna("—")
    over = ("seeds and held-out images" if "interval" in table and (table["interval"] == "seeds + images").all()
            else "seeds")
    return ("**Does the answer depend on the training length?** Minority AP effect in points at each length "
            f"(epochs: mean [95% interval over {over}]):\n\n"
            + markdown_table(cells.rename_axis(index="effect (a - b)", columns=None).reset_index()))


def findings_block(study: Path, ablations: Path | None, page: Path | None = None) -> str:
    """The README's headline findings: the study's claims as a claims x tasks table (each cell the
    effect [95% interval] (verdict), read from ``tables/claims.csv``), the ablations' headline answer
    (when ``ablations`` holds a report), what the numbers come from, and links to the full results
    (relative to ``page``, the README unless told)."""
    page = README if page is None else page
    claims = pd.read_csv(study / "tables" / "claims.csv")
    parts = [f"The papers' claims judged on the published study ({report_links(study, page)}). Each cell: the "
             "effect of the claim's contrast, its 95% interval and the verdict; intervals over seeds (n − 1 degrees "
             "of freedom) and the held-out images' bootstrap, combined by Welch–Satterthwaite.",
             markdown_table(claims_grid(claims)),
             f"The study: {study_words(study)}; {provenance_words(study)}. Rewritten by "
             "`python docs/update_readme.py --study DIR` or `--ablations DIR`."]
    parts += [words for words in (converged_words(study), length_grid(study)) if words]
    if ablations is not None and (ablations / "tables" / "ablation_rows.csv").is_file():
        rows = ablation_rows(ablations)
        goals = " ".join(goal_sentence(rows, task) for task in rows["task"].unique())
        parts.append(f"**Can any RG variant beat CE?** Notebook 05's ablations ({report_links(ablations, page)}; "
                     f"{training_words(ablations)}): {goals}")
    results = link_to(RESULTS, page)
    parts.append(f"Every table behind these answers, with intervals, is in [`{results}`]({results}): the study's "
                 f"per-task summaries, plateaus, seed spread and what would decide each undecided claim"
                 f"{length_words(study)}, each ablation factor, and the demo's results.")
    return "\n\n".join(parts)


# ---- writing the files ----------------------------------------------------------------------------

def replace_block(text: str, start: str, end: str, block: str, path: Path | str = "the file") -> str:
    """``text`` with what lies between the markers ``start`` and ``end`` replaced by ``block`` (``path``
    names the file in the error when a marker is missing)."""
    if start not in text or end not in text:
        raise SystemExit(f"{path} lacks the markers {start} and {end}")
    head, rest = text.split(start, 1)
    return f"{head}{start}\n{block}\n{end}{rest.split(end, 1)[1]}"


def write_block(path: Path, start: str, end: str, block: str) -> None:
    path.write_text(replace_block(path.read_text(), start, end, block, path))


def write_findings(study: Path, ablations: Path | None) -> None:
    """The README's findings table, when the study report is there (it is the table's source)."""
    if not (study / "tables" / "claims.csv").is_file():
        print(f"README findings left as they are: no study report at {study}")
        return
    write_block(README, FINDINGS_START, FINDINGS_END, findings_block(study, ablations))
    print(f"README findings rewritten from {link_to(study, README)}"
          + (f" and {link_to(ablations, README)}" if ablations is not None else ""))


def main(run: Path) -> None:
    write_block(RESULTS, START, END, results_block(run))
    for name in GALLERY:
        source = run / "figures" / f"{name}.png"
        if source.is_file():
            shutil.copy(source, DOCS / "gallery" / source.name)
    print(f"{RESULTS.name} demo results and gallery rewritten from {run}")


def main_ablations(report: Path) -> None:
    write_block(RESULTS, ABLATIONS_START, ABLATIONS_END, ablations_block(report))
    print(f"{RESULTS.name} ablation findings rewritten from {report}")
    write_findings(STUDY, report)


def main_study(report: Path) -> None:
    write_block(RESULTS, STUDY_START, STUDY_END, study_block(report))
    print(f"{RESULTS.name} study findings rewritten from {report}")
    write_findings(report, ABLATIONS if ABLATIONS.is_dir() else None)


if __name__ == "__main__":
    args = sys.argv[1:]
    mode = args[0] if args[:1] in (["--study"], ["--ablations"]) else None
    folder = Path(args[-1]) if len(args) == 1 + bool(mode) else None
    if folder is None or not (folder / "tables").is_dir():
        raise SystemExit("usage: python docs/update_readme.py RUN_FOLDER (a folder with tables/ from nbutils.run)\n"
                         "       python docs/update_readme.py --study|--ablations REPORT (from python -m nbutils.publish)")
    {"--study": main_study, "--ablations": main_ablations, None: main}[mode](folder)
