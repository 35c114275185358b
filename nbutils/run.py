"""Run the notebooks a parameter file lists, with papermill, into ``runs/NAME/<run-id>/``.

    python -m nbutils.run params/demo.yaml [key=value ...] [--run-id ID]

A parameter file has ``name``, shared ``parameters`` (each notebook receives those its
``parameters`` cell declares) and ``notebooks`` (``path`` and notebook-only ``parameters``).
``key=value`` words override parameters by name (``epochs=1``, ``tasks.tshirt.train_size=500``).
Every key and the type of every value are checked against the notebooks' parameters cells
before anything runs. Each notebook writes its figures (PNG) and metrics (JSON, CSV) into the
run folder beside its executed copy; a failing notebook gives a non-zero exit that names it and
its failing cell. ``--run-id`` of an earlier run resumes it: finished trainings are loaded and
interrupted ones continue from their checkpoints.
"""
from __future__ import annotations

import argparse
import ast
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import nbformat
import yaml

from nbutils.config import parse_override, set_nested

REPO = Path(__file__).resolve().parent.parent
TOP_KEYS = {"name", "description", "parameters", "notebooks"}
PATH_PARAMETERS = ("data_root",)  # relative paths are taken from where the runner is started
TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict,
         "None": type(None)}


class ParameterError(ValueError):
    """A parameter file or override that does not fit the notebooks' parameters cells."""


@dataclass
class NotebookJob:
    path: Path
    parameters: dict[str, Any]
    source: str  # the path as the parameter file gives it


def notebook_path(text: str) -> Path:
    """A notebook path from a parameter file: relative paths are relative to the repository."""
    return REPO / text if not Path(text).is_absolute() else Path(text)


def parameters_cell(notebook: Path) -> str:
    """Source of the cell tagged ``parameters``."""
    for cell in nbformat.read(notebook, as_version=4).cells:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell.source
    raise ParameterError(f"{notebook} has no cell tagged 'parameters'")


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters cell of ``notebook``: name -> {'type': 'int | None', 'default': source}.

    Parameters are annotated assignments (``epochs: int = 3``); an unannotated one has type ''."""
    declared = {}
    for node in ast.parse(parameters_cell(notebook)).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared[node.target.id] = {"type": ast.unparse(node.annotation),
                                        "default": ast.unparse(node.value) if node.value else None}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    declared[target.id] = {"type": "", "default": ast.unparse(node.value)}
    return declared


def check_value(where: str, key: str, value: Any, type_text: str) -> None:
    """Raise ParameterError unless ``value`` fits the annotation ``type_text`` ('int | None')."""
    names = [t.strip().split("[")[0] for t in type_text.split("|")]
    if not type_text or not all(n in TYPES for n in names):
        return  # an annotation this check does not know: the notebook validates it
    allowed = tuple(t for n in names for t in (TYPES[n] if isinstance(TYPES[n], tuple) else (TYPES[n],)))
    if isinstance(value, bool) and bool not in allowed or not isinstance(value, allowed):
        raise ParameterError(f"{where}: {key}={value!r} is a {type(value).__name__}, "
                             f"but the notebook declares {key}: {type_text}")


def load_params(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParameterError(f"parameter file {path} not found; the files are in {REPO / 'params'}")
    try:
        params = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path} is not valid YAML: {error}") from None
    unknown = set(params) - TOP_KEYS
    if unknown:
        raise ParameterError(f"{path}: unknown top-level key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    if not params.get("notebooks"):
        raise ParameterError(f"{path} lists no notebooks (add a 'notebooks:' list with 'path' entries)")
    return params


def apply_overrides(params: dict[str, Any], words: list[str], declared: dict[str, set[str]], where: str) -> None:
    """Set each ``key=value``: on the shared parameters, or on every notebook that declares it."""
    shared = params.setdefault("parameters", {}) or {}
    params["parameters"] = shared
    for word in words:
        path, value = parse_override(word)
        users = [nb for nb in params["notebooks"] if path[0] in declared[nb["path"]]]
        if path[0] in shared:
            set_nested(shared, path, value, where)
        elif users:
            for nb in users:
                set_nested(nb.setdefault("parameters", {}), path, value, where)
        else:
            valid = sorted(set(shared) | set().union(*declared.values()))
            raise ParameterError(f"{where}: override {word!r}: no notebook takes {path[0]!r}; valid keys: {valid}")


def plan(params_path: Path, overrides: list[str]) -> tuple[str, list[NotebookJob]]:
    """Check the parameter file and overrides against the notebooks; return (name, jobs)."""
    params = load_params(params_path)
    declared: dict[str, dict[str, dict]] = {}
    for nb in params["notebooks"]:
        path = notebook_path(nb["path"])
        if not path.is_file():
            raise ParameterError(f"{params_path}: notebook {nb['path']} not found")
        declared[nb["path"]] = declared_parameters(path)
    apply_overrides(params, overrides, {k: set(v) for k, v in declared.items()}, str(params_path))
    shared = params.get("parameters") or {}
    unused = set(shared) - set().union(*map(set, declared.values()))
    if unused:
        raise ParameterError(f"{params_path}: shared parameter(s) {sorted(unused)} are taken by no notebook")
    jobs = []
    for nb in params["notebooks"]:
        decl = declared[nb["path"]]
        own = nb.get("parameters") or {}
        unknown = set(own) - set(decl)
        if unknown:
            raise ParameterError(f"{params_path}: {nb['path']} has no parameter(s) {sorted(unknown)}; "
                                 f"it takes: {sorted(decl)}")
        values = {**{k: v for k, v in shared.items() if k in decl}, **own}
        values.update({k: str(Path(values[k]).resolve()) for k in PATH_PARAMETERS if values.get(k)})
        for key, value in values.items():
            check_value(f"{params_path}: {nb['path']}", key, value, decl[key]["type"])
        jobs.append(NotebookJob(notebook_path(nb["path"]), values, nb["path"]))
    return params.get("name") or params_path.stem, jobs


def failing_cell(error: Exception, source: Path) -> str:
    """'cell 7 (`first line`): ValueError: ...', numbered as the source notebook shows it (from 1)."""
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    code = getattr(error, "source", None)
    sources = [c.source for c in nbformat.read(source, as_version=4).cells]
    if code not in sources:
        return f"a cell: {ename}: {evalue}"
    first_line = next((line for line in code.splitlines() if line.strip()), "")
    return f"cell {sources.index(code) + 1} (`{first_line[:80]}`): {ename}: {evalue}"


def execute(job: NotebookJob, run_dir: Path) -> dict[str, Any]:
    """Run one notebook into ``run_dir``; return its status record."""
    import papermill
    output = run_dir / job.path.name
    start = time.perf_counter()
    record = {"notebook": job.path.name, "output": str(output)}
    try:
        papermill.execute_notebook(str(job.path), str(output), parameters={**job.parameters, "run_dir": str(run_dir)},
                                   cwd=str(job.path.parent), kernel_name="python3",
                                   progress_bar=not os.environ.get("CI"), log_output=False)
        record["status"] = "ok"
    except Exception as error:  # papermill's PapermillExecutionError and kernel failures
        record.update(status="failed", error=f"{job.path.name} failed at {failing_cell(error, job.path)}")
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("params", type=Path, help="parameter file, e.g. params/demo.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (values read as YAML)")
    parser.add_argument("--run-id", help="run folder name under runs/NAME/ (reuse one to resume it)")
    parser.add_argument("--runs", type=Path, default=REPO / "runs", help="where run folders go")
    args = parser.parse_args(argv)
    try:
        name, jobs = plan(args.params, args.overrides)
    except (ParameterError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run_dir = args.runs / name / (args.run_id or datetime.now().strftime("%Y%m%d-%H%M%S"))
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump(
        {"source": str(args.params), "overrides": args.overrides,
         "notebooks": [{"path": j.source, "parameters": j.parameters} for j in jobs]},
        sort_keys=False))
    print(f"run folder: {run_dir}")
    records = []
    for job in jobs:
        print(f"running {job.path.name} ...", flush=True)
        records.append(execute(job, run_dir))
        print(f"  {records[-1]['status']} in {records[-1]['seconds']} s"
              + (f"\n  {records[-1]['error']}" if records[-1]["status"] != "ok" else ""), flush=True)
    (run_dir / "summary.json").write_text(json.dumps(records, indent=2))
    failed = [r for r in records if r["status"] != "ok"]
    for r in failed:
        print(f"error: {r['error']} (executed copy: {r['output']})", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
