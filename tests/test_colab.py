"""Colab: the repository URL comes from pyproject.toml only, and the Colab cell installs only what Colab lacks."""
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nbutils import colab

ROOT = Path(__file__).resolve().parent.parent


def test_requirements_leave_colabs_own_packages_alone_and_carry_no_pins():
    names = colab.colab_requirements(ROOT)
    assert "papermill" in names and "torchcam" in names
    assert not {"torch", "torchvision", "numpy", "pandas", "ipykernel"} & set(names)
    assert not [n for n in names if any(c in n for c in "=<>;! ")], f"names only, no pins or markers: {names}"
    assert len(names) == len(set(names))


def test_requirements_command_runs_as_a_plain_script_without_nbutils_or_torch_installed():
    """In Colab the cell runs `python /content/repo/nbutils/colab.py requirements` before installing anything."""
    result = subprocess.run([sys.executable, "-I", str(ROOT / "nbutils" / "colab.py"), "requirements"],
                            capture_output=True, text=True, check=True, cwd="/")
    assert result.stdout.split() == colab.colab_requirements(ROOT)


def test_colab_module_imports_nothing_heavy():
    code = "import sys, nbutils.colab; print(sorted({m.split('.')[0] for m in sys.modules} & {'torch', 'numpy', 'yaml'}))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert result.stdout.strip() == "[]"


def test_notebooks_and_readme_badges_agree_with_pyproject():
    url = colab.repository_url(ROOT)
    notebooks = colab.notebooks(ROOT)
    assert len(notebooks) == 5
    for path in notebooks:
        assert colab.cell_repo_url(path) == url, f"{path.name}: run `python -m nbutils.colab sync`"
    lines = (ROOT / "README.md").read_text().split("\n")
    line = lines[colab.readme_badges_line_index(lines, ROOT / "README.md")]
    assert line == colab.badges_line(url, notebooks), "README badges: run `python -m nbutils.colab sync`"
    for path in notebooks:
        assert f"/blob/main/notebooks/{path.name})" in line


def test_colab_cell_installs_without_dependencies_then_only_what_colab_lacks():
    for path in colab.notebooks(ROOT):
        source = "".join(colab.colab_cell(json.loads(path.read_text()), path)["source"])
        assert "pip install -q --no-deps -e /content/repo" in source
        assert "colab.py requirements | pip install" in source
        assert "==" not in source, f"{path.name}: the Colab cell must not pin versions over Colab's"


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    """A copy of the files sync reads and writes: pyproject.toml, README.md and notebooks/."""
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    shutil.copy(ROOT / "README.md", tmp_path)
    shutil.copytree(ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".*"))
    return tmp_path


def test_sync_rewrites_a_drifted_notebook_and_the_badges(repo_copy: Path):
    drifted = repo_copy / "notebooks" / "02_synchronous_learning.ipynb"
    drifted.write_text(drifted.read_text().replace("https://github.com/OWNER/REPO", "https://github.com/old/name"))
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace(
        'Repository = "https://github.com/OWNER/REPO"', 'Repository = "https://github.com/someone/fork"'))
    untouched_cells = json.loads(drifted.read_text())["cells"][2:]

    changed = colab.sync(repo_copy)

    assert set(changed) == set(colab.notebooks(repo_copy)) | {repo_copy / "README.md"}
    for path in colab.notebooks(repo_copy):
        assert colab.cell_repo_url(path) == "https://github.com/someone/fork"
    assert json.loads(drifted.read_text())["cells"][2:] == untouched_cells
    readme = (repo_copy / "README.md").read_text()
    assert "colab.research.google.com/github/someone/fork/blob/main/notebooks/02_synchronous_learning.ipynb" in readme
    assert "OWNER/REPO/blob" not in readme
    assert colab.sync(repo_copy) == [], "a second sync has nothing left to change"


def test_sync_changes_only_the_repo_url_line_of_each_notebook(repo_copy: Path):
    before = {p: p.read_text().split("\n") for p in colab.notebooks(repo_copy)}
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("github.com/OWNER/REPO", "github.com/someone/fork"))
    colab.sync(repo_copy)
    for path, old_lines in before.items():
        new_lines = path.read_text().split("\n")
        assert len(new_lines) == len(old_lines)
        changed = [new for old, new in zip(old_lines, new_lines) if old != new]
        assert len(changed) == 1 and 'REPO_URL = \\"https://github.com/someone/fork\\"' in changed[0], changed


def test_a_repository_url_that_colab_cannot_open_is_refused(repo_copy: Path):
    pyproject = repo_copy / "pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace("https://github.com/OWNER/REPO", "https://gitlab.com/a/b"))
    with pytest.raises(ValueError, match="Repository.*https://github.com/OWNER/REPO"):
        colab.sync(repo_copy)
