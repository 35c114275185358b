"""Colab support, standard library only: it runs in Colab before anything is installed.

The repository URL lives in one place, ``[project.urls] Repository`` in ``pyproject.toml``.

    python -m nbutils.colab sync          # write that URL into every notebook's Colab cell and the README badges
    python nbutils/colab.py requirements  # the dependencies Colab lacks, one name a line, no pins

Each notebook's first cell (in Colab only) clones the repository, installs it with ``--no-deps`` and then
pip-installs the output of ``requirements``. The names carry no version pins on purpose: pip keeps an
installed package that satisfies a bare name, so Colab's own torch, numpy, ... stay as they are and no
runtime restart is needed (a pin that differs from Colab's forces a large download and a restart).
"""
import argparse
import json
import re
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BRANCH = "main"
BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
COLAB_CELL_MARKER = "# In Colab, install this repository first"
REPO_URL_LINE = re.compile(r'^(\s*REPO_URL = )"[^"]*"')
GITHUB_URL = re.compile(r"^https://github\.com/(?P<path>[\w.-]+/[\w.-]+?)(?:\.git)?/?$")

# Packages the Colab image ships (normalised names). Installing one of them again, even unpinned, is at
# best a no-op; torch, numpy and ipykernel re-installed in a running kernel need a restart.
COLAB_PROVIDED = frozenset({
    "torch", "torchvision", "numpy", "scipy", "pandas", "scikit-learn", "matplotlib", "seaborn", "pillow",
    "tqdm", "pyyaml", "ipykernel", "ipywidgets", "nbformat", "nbconvert", "nbclient", "tensorboard",
})


def normalised(name: str) -> str:
    """A distribution name as PEP 503 compares it: lower case, runs of '-', '_', '.' as one '-'."""
    return re.sub(r"[-_.]+", "-", name).lower()


def requirement_name(requirement: str) -> str:
    """The distribution name of a PEP 508 requirement, e.g. "torch==2.9.1; platform_machine != 'x86_64'" -> "torch"."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    if not match:
        raise ValueError(f"pyproject.toml: cannot read a package name from the dependency {requirement!r}")
    return match.group(1)


def read_project(root: Path = ROOT) -> dict:
    """The ``[project]`` table of ``root/pyproject.toml``."""
    return tomllib.loads((root / "pyproject.toml").read_text())["project"]


def colab_requirements(root: Path = ROOT) -> list[str]:
    """The project's dependency names that Colab lacks, in pyproject order, each once and without pins."""
    names: dict[str, str] = {}
    for requirement in read_project(root)["dependencies"]:
        name = requirement_name(requirement)
        if normalised(name) not in COLAB_PROVIDED:
            names.setdefault(normalised(name), name)
    return list(names.values())


def repository_url(root: Path = ROOT) -> str:
    """``[project.urls] Repository`` of pyproject.toml, checked to be a GitHub repository URL."""
    url = read_project(root).get("urls", {}).get("Repository")
    if url is None:
        raise KeyError("pyproject.toml has no [project.urls] Repository: add "
                       'Repository = "https://github.com/OWNER/REPO" and run `python -m nbutils.colab sync`')
    if not GITHUB_URL.match(url):
        raise ValueError(f"pyproject.toml: [project.urls] Repository = {url!r} is not "
                         "https://github.com/OWNER/REPO (Colab opens notebooks from GitHub only)")
    return url


def notebooks(root: Path = ROOT) -> list[Path]:
    """The repository's notebooks, ``root/notebooks/*.ipynb``, by name."""
    return sorted((root / "notebooks").glob("*.ipynb"))


def colab_cell(notebook: dict, path: Path) -> dict:
    """The notebook's Colab install cell: its first code cell, which must start with COLAB_CELL_MARKER."""
    cell = next((c for c in notebook["cells"] if c["cell_type"] == "code"), None)
    if cell is None or not "".join(cell["source"]).startswith(COLAB_CELL_MARKER):
        raise ValueError(f"{path}: the first code cell must be the Colab cell starting {COLAB_CELL_MARKER!r}")
    return cell


def cell_repo_url(path: Path) -> str:
    """The REPO_URL that a notebook's Colab cell clones."""
    for line in "".join(colab_cell(json.loads(path.read_text()), path)["source"]).splitlines():
        if match := re.match(r'\s*REPO_URL = "([^"]*)"', line):
            return match.group(1)
    raise ValueError(f"{path}: the Colab cell has no line REPO_URL = \"...\"")


def badges_line(url: str, paths: list[Path]) -> str:
    """The README line with one "Open in Colab" badge per notebook (without the newline)."""
    github_path = GITHUB_URL.match(url).group("path")
    return " · ".join(
        f"[![Open {p.stem} in Colab]({BADGE_IMAGE})]"
        f"(https://colab.research.google.com/github/{github_path}/blob/{BRANCH}/notebooks/{p.name}) `{p.stem}`"
        for p in paths)


def readme_badges_line_index(lines: list[str], readme: Path) -> int:
    """The index of the README's one line of Colab badges."""
    found = [i for i, line in enumerate(lines) if BADGE_IMAGE in line]
    if len(found) != 1:
        raise ValueError(f"{readme}: expected exactly one line of Colab badges (with {BADGE_IMAGE}), "
                         f"found {len(found)}; put one line holding it where the badges go and run sync")
    return found[0]


def sync(root: Path = ROOT) -> list[Path]:
    """Write pyproject's Repository URL into every notebook's Colab cell and the README's badges line.

    Returns the files that changed. Notebooks are written as Jupyter does (indent 1, UTF-8 kept).
    """
    url = repository_url(root)
    changed = []
    for path in notebooks(root):
        notebook = json.loads(path.read_text())
        cell = colab_cell(notebook, path)
        source = [REPO_URL_LINE.sub(rf'\g<1>"{url}"', line) for line in cell["source"]]
        if source != cell["source"]:
            cell["source"] = source
            path.write_text(json.dumps(notebook, indent=1, ensure_ascii=False) + "\n")
            changed.append(path)
    readme = root / "README.md"
    lines = readme.read_text().split("\n")
    index = readme_badges_line_index(lines, readme)
    line = badges_line(url, notebooks(root))
    if lines[index] != line:
        lines[index] = line
        readme.write_text("\n".join(lines))
        changed.append(readme)
    return changed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m nbutils.colab", description=__doc__.split("\n")[0])
    parser.add_argument("command", choices=["requirements", "sync"],
                        help="requirements: print the dependencies Colab lacks; sync: write the Repository URL "
                             "of pyproject.toml into the notebooks' Colab cells and the README badges")
    parser.add_argument("--root", type=Path, default=ROOT, help="the repository (default: %(default)s)")
    args = parser.parse_args(argv)
    if args.command == "requirements":
        print("\n".join(colab_requirements(args.root)))
    else:
        changed = sync(args.root)
        print("\n".join(f"wrote {p}" for p in changed) or "notebooks and README already agree with pyproject.toml")


if __name__ == "__main__":
    sys.exit(main())
