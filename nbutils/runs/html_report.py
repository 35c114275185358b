"""``report.html`` of a run folder: what a person opens after a run.

The page shows, from what the runner and the notebooks left in the folder: each notebook's
status and time (``summary.json``) with a link to its executed copy exported to HTML (code
folded), the provenance (command, git commit, packages, device, times), the claims table, the
summary tables (mean ± half-width of the 95% interval, as notebook 03 writes them), every
figure, and the other tables folded. Links and images are relative, so the page works when the
run folder is copied elsewhere. An inline script writes into the page whether every figure
loaded (``#image-status``), for a reader and for tests/test_html_report.py's browser check.

    python -m nbutils.report RUN_FOLDER
"""
from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
import yaml

from nbutils.runs.folder import read_summary

NOTEBOOK_HTML = "html"  # sub-folder of the run folder holding the notebooks exported to HTML
# nbconvert's JupyterLab template with each code cell's input folded into <details>.
FOLDED_TEMPLATE = """{%- extends 'lab/index.html.j2' -%}
{% block input_group -%}
<details class="nbutils-code"><summary style="font: 0.85em sans-serif; color: #666; cursor: pointer">code</summary>
{{ super() }}
</details>
{%- endblock input_group %}
"""
STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }
h1 { margin-bottom: 0.2em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0 1.2em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: left; vertical-align: top; }
thead th { background: #f2f2f2; }
#summary-tables td { white-space: nowrap; } .wide { overflow-x: auto; }
td.ok { color: #1a7f37; font-weight: bold; } td.failed, td.interrupted { color: #c62828; font-weight: bold; }
.figures { display: grid; grid-template-columns: repeat(auto-fill, minmax(420px, 1fr)); gap: 1em; }
figure { margin: 0; border: 1px solid #ddd; padding: 0.5em; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.85em; color: #555; margin-top: 0.3em; }
#image-status { font-size: 0.9em; } #image-status.broken { color: #c62828; font-weight: bold; }
.note { color: #555; font-size: 0.9em; } code { background: #f6f6f6; padding: 0 0.2em; }
"""
# Runs after every image has loaded or failed: records naturalWidth on each image and writes a
# sentence (and data attributes) into #image-status, so a broken figure shows on the page.
IMAGE_CHECK = """
window.addEventListener('load', function () {
  var images = Array.prototype.slice.call(document.images), broken = [];
  images.forEach(function (img) {
    img.setAttribute('data-natural-width', img.naturalWidth);
    if (!(img.complete && img.naturalWidth > 0)) { broken.push(img.getAttribute('src')); }
  });
  var status = document.getElementById('image-status');
  status.setAttribute('data-images', images.length);
  status.setAttribute('data-loaded', images.length - broken.length);
  status.textContent = broken.length ? broken.length + ' of ' + images.length +
      ' figures did not load: ' + broken.join(', ') : 'All ' + images.length + ' figures loaded.';
  if (broken.length) { status.className = 'broken'; }
});
"""


def write_html_report(run_dir: str | Path) -> Path:
    """Write ``run_dir/report.html`` (and each executed notebook as ``run_dir/html/NAME.html``);
    return the page's path. Raises FileNotFoundError when ``run_dir`` holds nothing of a run."""
    run_dir = Path(run_dir)
    found = [p for p in ("summary.json", "params.yaml", "figures", "tables") if (run_dir / p).exists()]
    if not run_dir.is_dir() or not (found or list(run_dir.glob("*.ipynb"))):
        raise FileNotFoundError(f"{run_dir} is not a run folder: it should hold what `python -m nbutils.run` "
                                "writes (executed *.ipynb, summary.json, params.yaml, figures/, tables/)")
    records, provenance = read_summary(run_dir)
    exported = export_notebooks(run_dir)
    sections = [
        ("Summary tables", summary_section(run_dir)),
        ("Claims", claims_section(run_dir)),
        ("Figures", figures_section(run_dir)),
        ("Notebooks", notebooks_section(run_dir, records, exported)),
        ("Other tables", other_tables_section(run_dir)),
        ("Provenance", provenance_section(provenance, records)),
    ]
    title = f"Run {run_dir.parent.name}/{run_dir.name}"
    anchors = [(name, name.lower().replace(" ", "-")) for name, _ in sections]
    contents = " · ".join(f'<a href="#{anchor}">{name}</a>' for name, anchor in anchors)
    body = "\n".join(f'<section id="{anchor}"><h2>{name}</h2>\n{content}</section>'
                     for (name, anchor), (_, content) in zip(anchors, sections))
    page = (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{esc(title)}</title>\n'
            f"<style>{STYLE}</style>\n<script>{IMAGE_CHECK}</script></head>\n<body>\n<h1>{esc(title)}</h1>\n"
            f"{params_line(run_dir)}\n{overview_line(records, provenance)}\n<nav>{contents}</nav>\n{body}\n"
            "</body></html>\n")
    path = run_dir / "report.html"
    path.write_text(page, encoding="utf-8")
    return path


def esc(value: Any) -> str:
    """``value`` as text safe inside HTML."""
    return html.escape(str(value))


def export_notebooks(run_dir: Path) -> dict[str, str]:
    """Each executed ``*.ipynb`` of ``run_dir`` as HTML (nbconvert's lab template, code cells
    folded) into ``run_dir/html/``: {notebook file name: relative link, or "export failed: ..."}."""
    from nbconvert import HTMLExporter
    exporter = HTMLExporter(template_name="lab", template_file="folded.html.j2",
                            extra_loaders=[jinja2.DictLoader({"folded.html.j2": FOLDED_TEMPLATE})])
    (run_dir / NOTEBOOK_HTML).mkdir(exist_ok=True)
    links = {}
    for notebook in sorted(run_dir.glob("*.ipynb")):
        target = f"{NOTEBOOK_HTML}/{notebook.stem}.html"
        try:
            body, _ = exporter.from_filename(str(notebook))
        except Exception as error:  # a half-written or corrupt notebook: say so on the page, keep the rest
            links[notebook.name] = f"export failed: {type(error).__name__}: {error}"
            continue
        (run_dir / target).write_text(body, encoding="utf-8")
        links[notebook.name] = target
    return links


def params_line(run_dir: Path) -> str:
    """A sentence naming the parameter file and overrides (``params.yaml``), linking to it."""
    path = run_dir / "params.yaml"
    if not path.is_file():
        return '<p class="note">No params.yaml in this run folder.</p>'
    params = yaml.safe_load(path.read_text()) or {}
    overrides = " ".join(params.get("overrides") or []) or "none"
    return (f'<p>Parameter file <code>{esc(params.get("source", "?"))}</code>, overrides <code>{esc(overrides)}</code> '
            f'(every notebook\'s parameters: <a href="params.yaml">params.yaml</a>).</p>')


def notebooks_section(run_dir: Path, records: list[dict], exported: dict[str, str]) -> str:
    """One row per notebook: status, seconds, links to its HTML export and its .ipynb, error."""
    names = [r["notebook"] for r in records] + [n for n in exported if n not in {r["notebook"] for r in records}]
    if not names:
        return '<p class="note">No notebook has run in this folder yet.</p>'
    by_name = {r["notebook"]: r for r in records}
    rows = []
    for name in names:
        record = by_name.get(name, {"status": "no summary record"})
        link = exported.get(name, "")
        view = (f'<a href="{esc(link)}">{esc(Path(link).name)}</a>' if link.startswith(NOTEBOOK_HTML)
                else esc(link or "no executed copy"))
        ipynb = f'<a href="{esc(name)}">{esc(name)}</a>' if (run_dir / name).is_file() else ""
        seconds = record.get("seconds")
        rows.append(f'<tr><td>{esc(name)}</td><td class="{esc(record["status"])}">{esc(record["status"])}</td>'
                    f'<td>{"" if seconds is None else f"{seconds:.1f}"}</td><td>{view}</td><td>{ipynb}</td>'
                    f'<td>{esc(record.get("error", "") or record.get("resume", ""))}</td></tr>')
    head = "<tr><th>notebook</th><th>status</th><th>seconds</th><th>executed (HTML, code folded)</th>" \
           "<th>executed (.ipynb)</th><th>error</th></tr>"
    return f'<table id="notebooks-table"><thead>{head}</thead><tbody>{"".join(rows)}</tbody></table>'


def overview_line(records: list[dict], provenance: dict[str, Any]) -> str:
    """One sentence: how many notebooks ended how, the wall time and the commit."""
    counts: dict[str, int] = {}
    for record in records:
        counts[record["status"]] = counts.get(record["status"], 0) + 1
    statuses = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no notebook recorded"
    wall = provenance.get("wall_seconds")
    commit = (provenance.get("git") or {}).get("commit")
    dirty = " with uncommitted changes" if (provenance.get("git") or {}).get("dirty") else ""
    return (f"<p>Notebooks: {esc(statuses)}"
            + (f"; wall time {wall / 60:.1f} min" if wall is not None else "")
            + (f"; commit <code>{esc(commit[:10])}</code>{dirty}" if commit else "") + ".</p>")


def provenance_section(provenance: dict[str, Any], records: list[dict]) -> str:
    """Command, times, git commit and state, Python, device and package versions."""
    notebook_seconds = sum(r.get("seconds") or 0 for r in records)
    if not provenance:
        return ('<p class="note">summary.json records no provenance (a run made before the runner stored it).'
                f' The notebooks took {notebook_seconds:.1f} s in all.</p>')
    git = provenance.get("git") or {}
    if git.get("commit"):
        state = "with uncommitted changes: " + ", ".join(git.get("changed") or []) if git.get("dirty") else "clean"
        commit = f'<code>{esc(git["commit"])}</code> ({esc(state)})'
    else:
        commit = f'unknown ({esc(git.get("reason", "not recorded"))})'
    device = provenance.get("device") or {}
    gpus = ", ".join(device.get("cuda") or []) or "none"
    wall = provenance.get("wall_seconds")
    rows = [("command", f'<code>{esc(provenance.get("command", ""))}</code>'),
            ("started", esc(provenance.get("started", ""))),
            ("finished", esc(provenance.get("finished", "not recorded"))),
            ("wall time", (f"{wall:.1f} s" if wall is not None else "not recorded")
             + f" (notebooks: {notebook_seconds:.1f} s)"),
            ("git commit", commit), ("Python", esc(provenance.get("python", ""))),
            ("device", esc(f'CPU {device.get("cpu", "?")} ({device.get("cores", "?")} cores); CUDA: {gpus}')),
            ("platform", esc(provenance.get("platform", "")))]
    packages = provenance.get("packages") or {}
    rows.append(("packages", esc(", ".join(f"{name} {version or 'not installed'}" for name, version in packages.items()))))
    body = "".join(f"<tr><th>{key}</th><td>{value}</td></tr>" for key, value in rows)
    return f'<table id="provenance-table"><tbody>{body}</tbody></table>'


def read_table(path: Path) -> pd.DataFrame:
    """A table as ``RunFolder.save_table`` wrote it, without the unnamed default index column."""
    table = pd.read_csv(path)
    return table.drop(columns=[c for c in table.columns if str(c).startswith("Unnamed:")])


def table_html(table: pd.DataFrame, table_id: str) -> str:
    """An HTML table (text escaped; floats with 3 significant digits; NaN as empty), scrolling
    sideways when wider than the page."""
    return '<div class="wide">' + table.to_html(index=False, table_id=table_id, na_rep="", border=0, escape=True,
                                                float_format=lambda x: f"{x:.3g}") + "</div>"


def claims_section(run_dir: Path) -> str:
    path = run_dir / "tables" / "claims.csv"
    if not path.is_file():
        return '<p class="note">No claims table (tables/claims.csv): notebook 03 writes it.</p>'
    table = read_table(path)
    if "task" in table:
        table = table[["task", *[c for c in table.columns if c != "task"]]]
    return ('<p class="note">Each claim of the papers, judged on this run: effect, its 95% interval (low, high) '
            'and the verdict, as notebook 03 computes them.</p>\n' + table_html(table, "claims-table"))


def summary_section(run_dir: Path) -> str:
    paths = sorted((run_dir / "tables").glob("summary_*.csv"))
    if not paths:
        return '<p class="note">No summary tables (tables/summary_*.csv): notebook 03 writes them.</p>'
    tables = {path.stem.removeprefix("summary_"): read_table(path) for path in paths}
    with_intervals = any(table.astype(str).apply(lambda column: column.str.contains("±")).any().any()
                         for table in tables.values())
    note = ("Test split, %: mean ± half-width of the 95% interval over seeds (or the test-image bootstrap "
            "for single-run methods), as notebook 03 explains." if with_intervals else
            "Test split, %: means (these tables carry no intervals).")
    return f'<p class="note">{note}</p>\n' + "\n".join(
        f"<h3>{esc(task)}</h3>\n" + table_html(table, f"summary-{task}") for task, table in tables.items())


def figures_section(run_dir: Path) -> str:
    """Every ``figures/*.png``, linked to itself, with a link to the figure's PDF when saved."""
    paths = sorted((run_dir / "figures").glob("*.png"))
    if not paths:
        return '<p class="note">No figures (figures/*.png).</p><p id="image-status"></p>'
    figures = []
    for p in paths:
        pdf = f' (<a href="figures/{esc(p.stem)}.pdf">PDF</a>)' if p.with_suffix(".pdf").is_file() else ""
        figures.append(f'<figure><a href="figures/{esc(p.name)}"><img src="figures/{esc(p.name)}" alt="{esc(p.stem)}">'
                       f"</a><figcaption>{esc(p.stem)}{pdf}</figcaption></figure>")
    return f'<p id="image-status">Checking the figures...</p>\n<div class="figures">{"".join(figures)}</div>'


def other_tables_section(run_dir: Path) -> str:
    """Every other table of ``tables/``, folded, with a link to its CSV."""
    paths = [p for p in sorted((run_dir / "tables").glob("*.csv"))
             if p.name != "claims.csv" and not p.name.startswith("summary_")]
    if not paths:
        return '<p class="note">No other tables.</p>'
    return "\n".join(f'<details><summary>{esc(p.stem)} (<a href="tables/{esc(p.name)}">{esc(p.name)}</a>)</summary>'
                     f"{table_html(read_table(p), f'table-{p.stem}')}</details>" for p in paths)
