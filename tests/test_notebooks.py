"""Notebooks are committed clean: no outputs, a parameters cell, a Colab install cell, no logic
beyond calls into nbutils, and no cell copied from another notebook."""
import ast
import itertools
import re
from pathlib import Path

import nbformat
import pytest

from nbutils.runs.parameters import declared_parameters

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_five_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_motivation.ipynb", "02_synchronous_learning.ipynb",
                                           "03_benchmark.ipynb", "04_class_activation_maps.ipynb",
                                           "05_ablations.ipynb"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_clean_and_parameterised(path):
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert not any(c.outputs or c.execution_count for c in code), f"{path.name} has outputs: clear them"
    tagged = [c for c in code if "parameters" in c.metadata.get("tags", [])]
    assert len(tagged) == 1, f"{path.name} needs exactly one cell tagged 'parameters'"
    assert "google.colab" in code[0].source, "the first code cell installs the package in Colab"
    declared = declared_parameters(path)
    assert "run_dir" in declared and all(p["type"] for p in declared.values()), "annotate every parameter"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_cells_define_no_functions_or_classes(path):
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code" and "google.colab" not in cell.source:
            tree = ast.parse(cell.source)
            assert not [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef))], \
                f"{path.name}: logic belongs in nbutils, not in a cell"


# Words that state an outcome: a verdict or comparison of results. A markdown cell may use them
# only in a sentence attributed to a paper; sentences about this run are generated from its numbers.
OUTCOME_WORDS = re.compile(
    r"\b(beats?|beaten|beating|outperform\w*|underperform\w*|hardly|barely|gains?|gained|gaining|better|worse|"
    r"fails?|failed|failing|failure|superior|inferior|wins?|won|weak(?:er|ly)?|strong(?:er|ly)?|succeed\w*|"
    r"improves?|improved|best|worst|in this run|our (?:results?|runs?|numbers)|"
    r"we (?:find|found|see|saw|observe|observed)|as expected|surprising(?:ly)?|does reconstruct|separates? well)\b",
    re.IGNORECASE)
ATTRIBUTION = re.compile(r"\b(papers?|authors)\b.*\b(reports?|reported|claims?|claimed|argues?|argued|finds?|found|"
                         r"shows?|showed|shown|states?|stated|observes?|observed|says|writes|uses?|reads?)\b",
                         re.IGNORECASE | re.DOTALL)


def sentences(markdown: str) -> list[str]:
    """A markdown cell's sentences: split at sentence ends, blank lines, headings and list items."""
    text = re.sub(r"`[^`]*`", "`code`", markdown)  # method names in code spans are not words
    text = re.sub(r"\b(Figs?|Tab|Eq|e\.g|i\.e|et al|cf|vs)\.\s+", r"\1.~", text)  # not sentence ends
    return [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n\s*\n|\n(?=\s*(?:[-*+]|\d+\.|#+)\s)", text) if s.strip()]


def unattributed_outcomes(markdown: str) -> list[str]:
    return [s for s in sentences(markdown) if OUTCOME_WORDS.search(s) and not ATTRIBUTION.search(s)]


def test_outcome_rule_catches_a_claimed_result_and_allows_a_paper_s():
    old_notebook_01 = ("A **pre-trained encoder** separates them; raw pixels and an autoencoder trained on the task "
                       "hardly do, even though the autoencoder reconstructs the images well.")
    assert unattributed_outcomes(old_notebook_01) == [old_notebook_01]
    assert unattributed_outcomes("## Re-weighting gains BA without gaining AP\n\nText.")
    assert unattributed_outcomes("- `rg` is better than `ce` here.")
    assert not unattributed_outcomes("The paper reports that a pre-trained encoder separates them while raw "
                                     "pixels hardly do.")
    assert not unattributed_outcomes("One panel per method; epoch 0 is the untrained model.")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_markdown_states_no_outcome(path):
    """Markdown says what a paper claims and what a figure shows; what THIS run found is written
    by a code cell from its numbers, so the text can never disagree with them."""
    nb = nbformat.read(path, as_version=4)
    found = [s for cell in nb.cells if cell.cell_type == "markdown" for s in unattributed_outcomes(cell.source)]
    assert not found, (f"{path.name}: markdown states an outcome; attribute it to a paper ('the paper reports "
                       f"...') or generate it from the run's numbers in a code cell: {found}")


# ----------------------------------------------------------------------------- no cell copied between notebooks
# Two kinds of cell are exempt, each for a reason outside our choosing:
# - the Colab install cell (each notebook's first code cell) runs in Colab before nbutils is installed,
#   so it cannot be a call into the package; `python -m nbutils.colab sync` keeps it the same in every
#   notebook and tests/test_colab.py checks that;
# - the parameters cell is papermill's contract: papermill injects a parameter file's values after it,
#   so every notebook declares each parameter it reads (name, type, default; nbutils.run reads them),
#   and the run-wide ones (run_dir, tasks, seeds, the training settings) are declared in each.
# Import lines are not compared: each cell imports the names it uses, which is no copied logic.
MIN_SHARED_LINES = 3


def compared_cells(path: Path) -> list[str]:
    """The notebook's code cells but the exempt ones, whitespace-normalised (each line stripped,
    runs of spaces as one, blank lines dropped)."""
    nb = nbformat.read(path, as_version=4)
    cells = []
    for cell in nb.cells:
        if cell.cell_type != "code" or "google.colab" in cell.source or "parameters" in cell.metadata.get("tags", []):
            continue
        lines = [" ".join(line.split()) for line in cell.source.splitlines()]
        cells.append("\n".join(line for line in lines if line))
    return cells


def line_runs(cell: str, n: int = MIN_SHARED_LINES) -> set[tuple[str, ...]]:
    """Every run of ``n`` consecutive lines of a normalised cell, comments and imports left out."""
    lines = [line for line in cell.splitlines()
             if not line.startswith(("#", "import ", "from ")) and not re.fullmatch(r"[\W_]*", line)]
    return {tuple(lines[i:i + n]) for i in range(len(lines) - n + 1)}


def copies(cells_by_notebook: dict[str, list[str]]) -> list[str]:
    """What two notebooks share: a whole cell, or MIN_SHARED_LINES consecutive lines of one."""
    found = []
    for (a, cells_a), (b, cells_b) in itertools.combinations(cells_by_notebook.items(), 2):
        found += [f"{a} and {b} share the cell:\n{cell}" for cell in set(cells_a) & set(cells_b)]
        runs_a = set().union(*map(line_runs, cells_a))
        runs_b = set().union(*map(line_runs, cells_b))
        found += [f"{a} and {b} share the lines:\n" + "\n".join(run) for run in sorted(runs_a & runs_b)]
    return found


def test_copy_finder_flags_a_copied_setup_block_and_not_shared_imports():
    copied_setup = ("out = RunFolder(run_dir)\ntask_data = make_tasks(tasks, data_root, image_size)\n"
                    "settings = dict(train={'epochs': epochs}, model={'arch': arch}, regroup=regroup)")
    assert copies({"a": [copied_setup + "\ntask = task_data[task_name]"], "b": [copied_setup]})
    assert copies({"a": ["x = 1"], "b": ["x = 1"]}), "a whole copied cell"
    imports = "import pandas as pd\nfrom nbutils import plots\nfrom nbutils.methods import run_cached\n# setup"
    assert not copies({"a": [imports + "\nx = 1"], "b": [imports + "\ny = 2"]})


def test_no_notebook_cell_repeats_another_notebooks_cell():
    found = copies({path.name: compared_cells(path) for path in NOTEBOOKS})
    assert not found, ("notebooks repeat each other; move the shared code into nbutils (a notebook's setup is "
                       "nbutils.start(globals())):\n\n" + "\n\n".join(found))
