"""environment.yml (conda) must list exactly the pip requirements of pyproject.toml."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> str:
    return requirement.replace(" ", "").replace('"', "'").lower()


def project() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]


def every_requirement() -> list[str]:
    """The dependencies and every extra (test, lab)."""
    return project()["dependencies"] + [r for extra in project()["optional-dependencies"].values() for r in extra]


def test_environment_yml_equals_pyproject_dependencies():
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {normalise(r) for r in pip} == {normalise(r) for r in every_requirement()}
    assert "python=3.11" in env["dependencies"]


def test_every_requirement_is_pinned():
    assert all("==" in r for r in every_requirement())
    torch = [r for r in project()["dependencies"] if r.startswith(("torch==", "torchvision=="))]
    assert sorted(torch) == sorted([
        "torch==2.14.1; platform_machine == 'x86_64'", "torchvision==0.29.1; platform_machine == 'x86_64'",
        "torch==2.9.1; platform_machine != 'x86_64'", "torchvision==0.24.1; platform_machine != 'x86_64'"])


def test_make_install_installs_every_extra():
    """make install installs the extras (JupyterLab for make lab, pytest for make test)."""
    makefile = (ROOT / "Makefile").read_text()
    extras = ",".join(project()["optional-dependencies"])
    assert f'pip install -q -e ".[{extras}]"' in makefile
