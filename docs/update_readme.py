"""Rewrite the README's results block from a finished run folder, so every number there comes
from that run:

    .venv/bin/python docs/update_readme.py runs/demo/<run-id>

Between the markers ``<!-- results:start -->`` and ``<!-- results:end -->`` it writes the summary
table of each task (``tables/summary_*.csv``: mean ± half-width of the 95% interval), the claims
table as sentences (``nbutils.report.claims_markdown``), the encoders' cluster quality, the
notebooks' times and the run's provenance; and it copies the gallery figures to ``docs/gallery``.
"""
from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pandas as pd

from nbutils.report import claims_markdown, read_summary

DOCS = Path(__file__).resolve().parent
README = DOCS.parent / "README.md"
START, END = "<!-- results:start -->", "<!-- results:end -->"
GALLERY = ("fig3_top_representations", "fig3_bottom_label_types", "fig5_class_variation",
           "fig7_score_distributions", "cluster_montage_tshirt-vs-rest", "cam_gradcam",
           "per_class_ap_fmnist-ham10000")
MAX_AP_COLUMNS = 4  # the long tail's smallest classes; all of them are in the run folder


def markdown_table(table: pd.DataFrame) -> str:
    header = "| " + " | ".join(table.columns) + " |\n|" + "---|" * len(table.columns)
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join([header, *rows])


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


def main(run: Path) -> None:
    text = README.read_text()
    if START not in text or END not in text:
        raise SystemExit(f"{README} lacks the markers {START} and {END}")
    head, rest = text.split(START, 1)
    tail = rest.split(END, 1)[1]
    README.write_text(f"{head}{START}\n{results_block(run)}\n{END}{tail}")
    for name in GALLERY:
        source = run / "figures" / f"{name}.png"
        if source.is_file():
            shutil.copy(source, DOCS / "gallery" / source.name)
    print(f"README results and gallery rewritten from {run}")


if __name__ == "__main__":
    if len(sys.argv) != 2 or not (Path(sys.argv[1]) / "tables").is_dir():
        raise SystemExit("usage: python docs/update_readme.py RUN_FOLDER (a folder with tables/ from nbutils.run)")
    main(Path(sys.argv[1]))
