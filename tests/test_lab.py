"""make lab: JupyterLab from .venv with the project's kernel "nbutils", which runs notebooks
that import nbutils from any folder (no path edits)."""
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nbformat
import papermill
from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

ROOT = Path(__file__).resolve().parent.parent
KERNEL = "nbutils"


def pinned(name: str) -> str:
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["optional-dependencies"]
    return next(r.split("==")[1] for extra in extras.values() for r in extra if r.startswith(f"{name}=="))


def test_the_project_kernel_runs_this_python():
    try:
        spec = KernelSpecManager().get_kernel_spec(KERNEL)
    except NoSuchKernel:
        raise AssertionError(f"no Jupyter kernel {KERNEL!r} for {sys.prefix}: `make install` installs it "
                             f"(python -m ipykernel install --sys-prefix --name {KERNEL})") from None
    assert Path(spec.argv[0]).absolute() == Path(sys.executable).absolute()
    assert spec.argv[1:] == ["-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"]
    assert "nbutils" in spec.display_name


def test_jupyter_lab_runs_from_the_venv_at_the_pinned_version():
    jupyter = Path(sys.executable).parent / "jupyter"
    done = subprocess.run([str(jupyter), "lab", "--version"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == pinned("jupyterlab")


def test_a_notebook_outside_the_repository_imports_nbutils_under_the_kernel(tmp_path):
    """Executed with papermill under the kernel, from a folder that is not the repository."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("import sys, nbutils\nprint(sys.executable)\nprint(nbutils.__file__)")]
    nbformat.write(notebook, tmp_path / "probe.ipynb")
    papermill.execute_notebook(str(tmp_path / "probe.ipynb"), str(tmp_path / "out.ipynb"), kernel_name=KERNEL,
                               cwd=str(tmp_path), progress_bar=False)
    printed = nbformat.read(tmp_path / "out.ipynb", as_version=4).cells[0].outputs[0]["text"].split()
    assert Path(printed[0]).absolute() == Path(sys.executable).absolute()
    assert Path(printed[1]).resolve() == (ROOT / "nbutils" / "__init__.py").resolve()


def test_make_lab_opens_jupyterlab_on_the_notebooks():
    """as root too: JupyterLab refuses root without --allow-root."""
    done = subprocess.run(["make", "-n", "lab"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    command = next(line for line in done.stdout.splitlines() if "jupyter lab" in line).split()
    assert command[:3] == [".venv/bin/jupyter", "lab", "--notebook-dir=notebooks"]
    assert ("--allow-root" in command) == (os.geteuid() == 0)
