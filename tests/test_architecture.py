"""The package's shape: its parts import one way (core <- data <- methods <- analysis <- runs <-
the commands), and no module imports itself back through another, lazy imports (inside functions)
and ``TYPE_CHECKING`` ones included. docs/architecture.md draws the same picture."""
from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "nbutils"
# the parts, in the order they may import each other: each only from itself and those before it
LAYERS = ("nbutils.core", "nbutils.data", "nbutils.methods", "nbutils.analysis", "nbutils.runs")
COMMANDS = ("nbutils", "nbutils.run", "nbutils.report", "nbutils.publish", "nbutils.colab")


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, source: str) -> set[str]:
    """Every nbutils module ``source`` (the text of module ``name``) imports, anywhere in it:
    ``from nbutils.a import b`` is module ``nbutils.a.b`` when that is a module, else ``nbutils.a``."""
    package = name if MODULES[name].name == "__init__.py" else name.rpartition(".")[0]
    found = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([base] if base else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base)
    return {module for module in found if module == "nbutils" or module.startswith("nbutils.")} - {name}


GRAPH = {name: imported_modules(name, path.read_text()) for name, path in MODULES.items()}


def layer(name: str) -> int:
    """0-4 for the parts in LAYERS, 5 for the commands and the package's own facade."""
    for rank, part in enumerate(LAYERS):
        if name == part or name.startswith(part + "."):
            return rank
    assert name in COMMANDS, f"{name} is in no part: move it into one of {LAYERS} or list it in COMMANDS"
    return len(LAYERS)


def test_every_module_is_in_a_part_and_every_part_says_what_it_may_import():
    for name in MODULES:
        layer(name)
    for rank, part in enumerate(LAYERS):
        doc = importlib.import_module(part).__doc__ or ""
        assert "May import" in doc or "Imports nothing" in doc, f"{part}'s docstring does not say what it may import"
        for lower in LAYERS[:rank]:
            assert lower in doc or "every other part" in doc, f"{part}'s docstring does not name {lower}"


@pytest.mark.parametrize("name", sorted(MODULES))
def test_imports_point_one_way(name):
    against = sorted(module for module in GRAPH[name] if layer(module) > layer(name))
    assert not against, f"{name} (part {layer(name)}) imports {against} from a later part"
    if layer(name) < len(LAYERS):
        assert "nbutils" not in GRAPH[name], f"{name} imports the package facade: import from the module instead"


def test_no_import_circle():
    """Depth-first search over the module graph: a circle is a path back to a module on the stack."""
    state: dict[str, str] = {}
    circles = []

    def visit(name: str, stack: list[str]) -> None:
        state[name] = "open"
        for module in sorted(GRAPH.get(name, ())):
            if state.get(module) == "open":
                circles.append(" -> ".join(stack[stack.index(module):] + [name, module]))
            elif module not in state:
                visit(module, stack + [name])
        state[name] = "done"

    for name in sorted(GRAPH):
        if name not in state:
            visit(name, [])
    assert not circles, "import circles:\n" + "\n".join(circles)


def test_the_checks_see_a_circle_and_a_wrong_way_import():
    """The parser finds lazy and relative imports, so neither hides a circle or a wrong-way import."""
    source = "def f():\n    from nbutils.runs import plan\n    from . import losses\n"
    assert imported_modules("nbutils.methods.train", source) == {"nbutils.runs.plan", "nbutils.methods.losses"}
    assert layer("nbutils.runs.plan") > layer("nbutils.methods.train")


def test_the_names_users_call_are_where_the_readme_says():
    import nbutils
    from nbutils.data import DATASETS, make_task
    from nbutils.methods import ENCODERS, LOSSES, METHODS, SAMPLERS, run_method

    assert (nbutils.DATASETS, nbutils.make_task, nbutils.run_method) == (DATASETS, make_task, run_method)
    assert (nbutils.LOSSES, nbutils.SAMPLERS, nbutils.ENCODERS, nbutils.METHODS) == (LOSSES, SAMPLERS, ENCODERS, METHODS)
    assert callable(nbutils.start)
    with pytest.raises(AttributeError, match="no attribute 'methodz'"):
        nbutils.methodz


@pytest.mark.parametrize("command", ["nbutils.run", "nbutils.report", "nbutils.publish"])
def test_the_commands_run_as_modules(command):
    import subprocess
    import sys

    done = subprocess.run([sys.executable, "-m", command, "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith(f"usage: python -m {command}"), done.stdout + done.stderr
