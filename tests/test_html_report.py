"""report.html of a run folder, checked as text and in headless Chromium; provenance."""
import json
import re
import shutil
import subprocess
import sys
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.pyplot as plt
import nbformat
import numpy as np
import pandas as pd
import pytest
import yaml
from PIL import Image

from nbutils.report import main as report_main
from nbutils.runs import provenance
from nbutils.runs.folder import RunFolder, read_summary
from nbutils.runs.html_report import NOTEBOOK_HTML, write_html_report

ROOT = Path(__file__).resolve().parent.parent
FIGURES = ("ba_vs_ap_task", "per_class_ap_task")
CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                  "--disable-background-networking", "--disable-component-update", "--disable-sync",
                  "--disable-dev-shm-usage", "--hide-scrollbars", "--virtual-time-budget=10000"]


def make_run_folder(run_dir: Path, summary_format: str = "dict") -> Path:
    """A small run folder as the runner and the notebooks leave it: two figures, a summary table
    with intervals, a claims table, another table, an executed notebook, params.yaml and
    summary.json (``summary_format`` "dict" with provenance, or the older plain "list")."""
    out = RunFolder(run_dir)
    for i, name in enumerate(FIGURES):
        fig, ax = plt.subplots(figsize=(4, 3))
        ax.plot(np.arange(5), np.arange(5) ** (i + 1), marker="o")
        ax.set_title(name)
        plt.close(out.save_figure(fig, name))
    (run_dir / "figures" / f"{FIGURES[1]}.pdf").unlink()  # a figure saved before save_figure wrote PDFs
    out.save_table(pd.DataFrame({"ba": ["62.6 ± 2.2", "70.1 ± 1.0"], "macro_ap": ["55.0 ± 3.1", "58.2 ± 2.5"]},
                                index=pd.Index(["ce", "rg <b>"], name="method")), "summary_task")
    out.save_table(pd.DataFrame({"claim": ["RG raises minority-class AP over CE"], "metric": ["ap/pos"],
                                 "effect": [0.034], "low": [-0.01], "high": [0.08], "n_seeds": [2],
                                 "verdict": ["inconclusive"], "task": ["task"]}).rename_axis(None), "claims")
    out.save_table(pd.DataFrame({"encoder": ["raw", "pca"], "nmi": [0.61, 0.57]}), "encoder_cluster_quality")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_markdown_cell("# A tiny notebook"),
                      nbformat.v4.new_code_cell("secret_code_marker = 1 + 1\nprint(secret_code_marker)",
                                                outputs=[nbformat.v4.new_output("stream", text="2\n")],
                                                execution_count=1)]
    nbformat.write(notebook, run_dir / "01_tiny.ipynb")
    (run_dir / "params.yaml").write_text(yaml.safe_dump({"source": "params/ci.yaml", "overrides": ["epochs=1"]}))
    records = [{"notebook": "01_tiny.ipynb", "output": str(run_dir / "01_tiny.ipynb"), "status": "ok", "seconds": 1.5},
               {"notebook": "02_failing.ipynb", "status": "failed", "seconds": 0.7,
                "error": "02_failing.ipynb failed at cell 3 (`fit()`): ValueError: boom"}]
    summary = records if summary_format == "list" else {
        "provenance": provenance.finish(provenance.collect(["python", "-m", "nbutils.run", "params/ci.yaml"])),
        "notebooks": records}
    (run_dir / "summary.json").write_text(json.dumps(summary))
    return run_dir


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    run = make_run_folder(tmp_path_factory.mktemp("runs") / "ci" / "r1")
    write_html_report(run)
    return run


class Page(HTMLParser):
    """Tags of a page: every start tag as (tag, attributes), and the text of the page."""

    def __init__(self, text: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.text: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)

    def find(self, tag: str) -> list[dict]:
        return [attrs for t, attrs in self.tags if t == tag]

    def by_id(self, ident: str) -> dict | None:
        return next((attrs for _, attrs in self.tags if attrs.get("id") == ident), None)


def local_links(page: Page) -> list[str]:
    """Every href and src of the page that is not a link within the page or to the web."""
    targets = [a.get("href") for a in page.find("a")] + [i.get("src") for i in page.find("img")]
    return [t for t in targets if t and not t.startswith(("#", "http://", "https://"))]


def test_the_report_holds_every_table_figure_notebook_and_the_provenance(run_dir):
    page = Page((run_dir / "report.html").read_text())
    for table in ("summary-task", "claims-table", "notebooks-table", "provenance-table", "table-encoder_cluster_quality"):
        assert page.by_id(table) is not None, f"no table {table}"
    text = " ".join(page.text)
    assert "62.6 ± 2.2" in text and "rg <b>" in text  # intervals kept, HTML in names escaped
    assert "mean ± half-width of the 95% interval" in text
    assert "inconclusive" in text and "RG raises minority-class AP over CE" in text
    assert sorted(i["src"] for i in page.find("img")) == [f"figures/{name}.png" for name in sorted(FIGURES)]
    assert "ValueError: boom" in text and "failed" in text and "1.5" in text
    commit = json.loads((run_dir / "summary.json").read_text())["provenance"]["git"]["commit"]
    assert commit and commit in text and "python -m nbutils.run params/ci.yaml" in text
    assert "params/ci.yaml" in text and "epochs=1" in text


def test_each_notebook_is_exported_with_its_code_folded(run_dir):
    exported = (run_dir / NOTEBOOK_HTML / "01_tiny.html").read_text()
    folded = re.search(r'<details class="nbutils-code">(.*?)</details>', exported, re.S)
    assert folded and "secret_code_marker" in folded.group(1)
    assert "A tiny notebook" in exported
    links = local_links(Page((run_dir / "report.html").read_text()))
    assert f"{NOTEBOOK_HTML}/01_tiny.html" in links and "01_tiny.ipynb" in links
    assert f"figures/{FIGURES[0]}.pdf" in links and f"figures/{FIGURES[1]}.pdf" not in links


def test_a_notebook_that_cannot_be_exported_is_named_and_the_rest_kept(tmp_path):
    run = make_run_folder(tmp_path / "half")
    (run / "02_failing.ipynb").write_text('{"cells": [')  # cut off mid-write
    page = write_html_report(run).read_text()
    assert "export failed" in page and (run / NOTEBOOK_HTML / "01_tiny.html").is_file()


def test_every_local_link_is_relative_and_survives_copying_the_folder(run_dir, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "elsewhere")
    links = local_links(Page((copy / "report.html").read_text()))
    assert len(links) >= len(FIGURES) * 2 + 3
    assert all(not Path(link).is_absolute() and (copy / link).is_file() for link in links), links


def test_an_older_summary_without_provenance_still_gives_a_report(tmp_path):
    run = make_run_folder(tmp_path / "old", summary_format="list")
    records, prov = read_summary(run)
    assert [r["notebook"] for r in records] == ["01_tiny.ipynb", "02_failing.ipynb"] and prov == {}
    assert "records no provenance" in write_html_report(run).read_text()


def test_tables_without_intervals_are_not_said_to_have_them(tmp_path):
    run = make_run_folder(tmp_path / "plain")
    RunFolder(run).save_table(pd.DataFrame({"ba": [62.6]}, index=pd.Index(["ce"], name="method")), "summary_task")
    text = write_html_report(run).read_text()
    assert "these tables carry no intervals" in text and "half-width" not in text


def test_a_folder_that_is_no_run_is_refused_by_name(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match=f"{tmp_path} is not a run folder"):
        write_html_report(tmp_path)
    assert report_main([str(tmp_path / "missing")]) == 2 and "is not a run folder" in capsys.readouterr().err


def test_the_command_line_writes_the_report_and_prints_its_path(tmp_path):
    run = make_run_folder(tmp_path / "ci" / "cli")
    done = subprocess.run([sys.executable, "-m", "nbutils.report", str(run)], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(run / "report.html") and (run / "report.html").is_file()


# --- provenance -----------------------------------------------------------------------------

def test_provenance_names_the_command_commit_packages_and_device():
    import torch
    record = provenance.finish(provenance.collect(["python", "-m", "nbutils.run", "params/demo.yaml", "epochs=1"]))
    assert record["command"] == "python -m nbutils.run params/demo.yaml epochs=1"
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert record["git"]["commit"] == head.stdout.strip() and isinstance(record["git"]["dirty"], bool)
    assert record["packages"]["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert set(provenance.PACKAGES) == set(record["packages"]) and record["packages"]["numpy"] == np.__version__
    assert record["device"]["cpu"] and record["device"]["cores"] >= 1
    assert record["device"]["cuda"] == ([torch.cuda.get_device_name(0)] if torch.cuda.is_available() else [])
    started, finished = (datetime.fromisoformat(record[k]) for k in ("started", "finished"))
    assert started.tzinfo is not None and finished >= started and record["wall_seconds"] >= 0
    json.dumps(record)  # it goes into summary.json


def test_provenance_outside_a_git_tree_says_why(tmp_path):
    state = provenance.git_state(tmp_path)
    assert state["commit"] is None and state["dirty"] is None and state["reason"]


def test_a_dirty_tree_lists_the_changed_files(tmp_path):
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    git = ["git", "-C", str(tmp_path), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "init", "-q"], check=True)
    (tmp_path / "a.txt").write_text("a")
    subprocess.run([*git, "add", "a.txt"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "a"], check=True)
    assert provenance.git_state(tmp_path)["dirty"] is False
    (tmp_path / "a.txt").write_text("b")
    state = provenance.git_state(tmp_path)
    assert state["dirty"] is True and state["changed"] == ["a.txt"]


# --- in a real browser ----------------------------------------------------------------------

def chromium() -> str:
    """The chromium executable, or skip saying how to get it."""
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        pytest.skip("chromium is not installed: `make test` installs Debian's chromium when run as root, "
                    "or `sudo apt-get install chromium`")
    return found


def browse(page: Path, profile: Path, *action: str) -> subprocess.CompletedProcess:
    """Open ``page`` in headless Chromium (a fresh profile, no background traffic) with ``action``
    (--dump-dom, --screenshot=PATH); waits for the page's load, within a 10 s virtual-time budget."""
    return subprocess.run([chromium(), *CHROMIUM_FLAGS, f"--user-data-dir={profile}", *action, page.as_uri()],
                          capture_output=True, text=True, timeout=180)


def loaded_dom(page: Path, profile: Path) -> Page:
    done = browse(page, profile, "--dump-dom")
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return Page(done.stdout)


def test_in_chromium_every_figure_loads_the_tables_are_there_and_a_screenshot_is_saved(run_dir, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "copied")  # a copied folder, as a person would share it
    dom = loaded_dom(copy / "report.html", tmp_path / "profile")
    images = dom.find("img")
    assert len(images) == len(FIGURES)
    assert all(int(img["data-natural-width"]) > 0 for img in images), images
    status = dom.by_id("image-status")
    assert status["data-images"] == status["data-loaded"] == str(len(FIGURES))
    for table in ("summary-task", "claims-table", "notebooks-table", "provenance-table"):
        assert dom.by_id(table) is not None, f"no table {table} in the loaded page"
    screenshot = run_dir / "report.png"
    done = browse(copy / "report.html", tmp_path / "profile", "--window-size=1280,1600", f"--screenshot={screenshot}")
    assert done.returncode == 0 and screenshot.is_file(), done.stderr[-2000:]
    pixels = np.asarray(Image.open(screenshot).convert("L"), dtype=float)
    assert pixels.shape == (1600, 1280) and pixels.std() > 10  # not a blank page


def test_in_chromium_a_missing_figure_is_reported_on_the_page(run_dir, tmp_path):
    copy = shutil.copytree(run_dir, tmp_path / "broken")
    (copy / "figures" / f"{FIGURES[0]}.png").unlink()
    dom = loaded_dom(copy / "report.html", tmp_path / "profile")
    widths = {img["src"]: int(img["data-natural-width"]) for img in dom.find("img")}
    assert widths[f"figures/{FIGURES[0]}.png"] == 0 and widths[f"figures/{FIGURES[1]}.png"] > 0
    status = dom.by_id("image-status")
    assert (status["data-images"], status["data-loaded"], status["class"]) == ("2", "1", "broken")
