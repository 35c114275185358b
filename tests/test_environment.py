"""environment.yml (conda) must list exactly the pip requirements of pyproject.toml."""
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent


def normalise(requirement: str) -> str:
    return requirement.replace(" ", "").replace('"', "'").lower()


def test_environment_yml_equals_pyproject_dependencies():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {normalise(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    assert {normalise(r) for r in pip} == wanted
    assert "python=3.11" in env["dependencies"]


def test_every_requirement_is_pinned():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert all("==" in r for r in project["dependencies"])
    torch = [r for r in project["dependencies"] if r.startswith(("torch==", "torchvision=="))]
    assert sorted(torch) == sorted([
        "torch==2.14.1; platform_machine == 'x86_64'", "torchvision==0.29.1; platform_machine == 'x86_64'",
        "torch==2.9.1; platform_machine != 'x86_64'", "torchvision==0.24.1; platform_machine != 'x86_64'"])
