"""Notebooks are committed clean: no outputs, a parameters cell, a Colab install cell, and no
logic beyond calls into nbutils."""
import ast
from pathlib import Path

import nbformat
import pytest

from nbutils.run import declared_parameters

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.ipynb"))


def test_there_are_four_notebooks():
    assert [p.name for p in NOTEBOOKS] == ["01_motivation.ipynb", "02_synchronous_learning.ipynb",
                                           "03_benchmark.ipynb", "04_class_activation_maps.ipynb"]


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
