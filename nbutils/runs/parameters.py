"""A parameter file read and checked before anything runs: the notebooks it lists, the parameters
each receives, every ``key=value`` override applied.

Each notebook receives the shared ``parameters`` its ``parameters`` cell declares and its own. Every
key and the type of every value are checked against the notebooks' parameters cells, and what the
values name (tasks and their data files, methods and their options, encoders, projection, CAM
methods, the papers' data set) is checked as the notebooks will use it; an error
(:class:`ParameterError`) names the parameter and the valid choices. :func:`plan` returns the
checked :class:`NotebookJob` list that ``python -m nbutils.run`` executes.
"""
from __future__ import annotations

import ast
import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from nbutils.core.config import load_yaml, parse_override, set_nested

REPO = Path(__file__).resolve().parents[2]


NOT_SET = object()
TOP_KEYS = {"name", "description", "parameters", "notebooks"}
PATH_PARAMETERS = ("data_root",)  # relative paths are taken from where the runner is started
# The notebook parameters that make the shared training/model/regrouping settings
# (methods.settings_from_parameters), and those that list methods trained with them.
SETTINGS_PARAMETERS = ("epochs", "batch_size", "lr", "optimizer", "train", "arch", "width", "pretrained", "regroup")
METHOD_LISTS = ("methods", "label_methods", "cam_training_methods")
TYPES = {"int": int, "float": (int, float), "str": str, "bool": bool, "list": list, "dict": dict,
         "None": type(None)}


class ParameterError(ValueError):
    """A parameter file or override that does not fit the notebooks' parameters cells."""


@dataclass
class NotebookJob:
    path: Path
    parameters: dict[str, Any]
    source: str  # the path as the parameter file gives it
    defaults: dict[str, Any] = field(default_factory=dict)  # the notebook's parameters cell (literal values)

    def effective_parameters(self) -> dict[str, Any]:
        """The parameters the notebook runs with: its defaults, then those it is given."""
        return {**self.defaults, **self.parameters}


def notebook_path(text: str) -> Path:
    """A notebook path from a parameter file: relative paths are relative to the repository."""
    return REPO / text if not Path(text).is_absolute() else Path(text)


def read_cells(notebook: Path) -> list[dict[str, Any]]:
    """The cells of an .ipynb file, each source as one string. Read as plain JSON: importing
    nbformat's schema validation takes seconds, and papermill validates the notebook when it runs."""
    try:
        cells = json.loads(notebook.read_text())["cells"]
    except (ValueError, KeyError) as error:
        raise ParameterError(f"{notebook} is not a notebook (.ipynb JSON with 'cells'): {error}") from None
    return [{**cell, "source": "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]}
            for cell in cells]


def parameters_cell(notebook: Path) -> str:
    """Source of the cell tagged ``parameters``."""
    for cell in read_cells(notebook):
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            return cell["source"]
    raise ParameterError(f"{notebook} has no cell tagged 'parameters'")


def declared_parameters(notebook: Path) -> dict[str, dict[str, Any]]:
    """The parameters cell of ``notebook``: name -> {'type': 'int | None', 'default': source,
    'help': the comment that ends the line, or ''}.

    Parameters are annotated assignments (``epochs: int = 3``); an unannotated one has type ''."""
    source = parameters_cell(notebook)
    lines = source.splitlines()
    declared = {}
    for node in ast.parse(source).body:
        tail = lines[node.end_lineno - 1][node.end_col_offset:].strip()
        help_text = tail[1:].strip() if tail.startswith("#") else ""
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            declared[node.target.id] = {"type": ast.unparse(node.annotation), "help": help_text,
                                        "default": ast.unparse(node.value) if node.value else None}
        elif isinstance(node, ast.Assign):
            for target in node.targets:
                if isinstance(target, ast.Name):
                    declared[target.id] = {"type": "", "default": ast.unparse(node.value), "help": help_text}
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


def default_value(declaration: dict[str, Any]) -> Any:
    """The default a parameters cell gives (a Python literal), or None when it gives none or an
    expression this check cannot evaluate."""
    try:
        return ast.literal_eval(declaration["default"]) if declaration["default"] else None
    except (ValueError, SyntaxError):
        return None


def load_params(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ParameterError(f"parameter file {path} not found; the files are in {REPO / 'params'}")
    try:
        params = load_yaml(path.read_text()) or {}
    except yaml.YAMLError as error:
        raise ParameterError(f"{path} is not valid YAML: {error}") from None
    unknown = set(params) - TOP_KEYS
    if unknown:
        raise ParameterError(f"{path}: unknown top-level key(s) {sorted(unknown)}; valid: {sorted(TOP_KEYS)}")
    if not params.get("notebooks"):
        raise ParameterError(f"{path} lists no notebooks (add a 'notebooks:' list with 'path' entries)")
    return params


def apply_overrides(values: list[dict[str, Any]], declared: list[dict[str, dict]], words: list[str],
                    where: str) -> None:
    """Set each ``key=value`` in the parameters ``values[i]`` of every notebook i whose parameters
    cell ``declared[i]`` has the key (an override beats the file). A nested key
    (``train.weight_decay=1e-4``) starts from the notebook's default when the file does not set it,
    and goes to the notebooks that have its sections (``tasks.tshirt-vs-rest.train_size=500`` to
    those with that task); it is an error only when none has them."""
    for word in words:
        path, value = parse_override(word)
        users = [i for i, decl in enumerate(declared) if path[0] in decl]
        if not users:
            valid = sorted(set().union(*declared))
            raise ParameterError(f"{where}: override {word!r}: no notebook takes {path[0]!r}; valid keys: {valid}")
        errors = []
        for i in users:
            trial = copy.deepcopy(values[i])
            if len(path) > 1 and path[0] not in trial:
                trial[path[0]] = copy.deepcopy(default_value(declared[i][path[0]]))
            try:
                set_nested(trial, path, value, where)
            except ValueError as error:
                errors.append(error)
                continue
            values[i] = trial
        if len(errors) == len(users):
            raise errors[0]


def plan(params_path: Path, overrides: list[str], only: list[str] | None = None) -> tuple[str, list[NotebookJob]]:
    """Check the parameter file and overrides against the notebooks — names, types, and what every
    value names (see :func:`check_jobs`) — and return (name, jobs), before any notebook starts.
    ``only``: just the notebooks whose file name contains one of these words (e.g. '03')."""
    params = load_params(params_path)
    notebooks, declared = params["notebooks"], []
    for nb in notebooks:
        path = notebook_path(nb["path"])
        if not path.is_file():
            raise ParameterError(f"{params_path}: notebook {nb['path']} not found")
        declared.append(declared_parameters(path))
    shared = params.get("parameters") or {}
    unused = set(shared) - set().union(*declared)
    if unused:
        raise ParameterError(f"{params_path}: shared parameter(s) {sorted(unused)} are taken by no notebook")
    if only:
        keep = selected(notebooks, only)
        notebooks, declared = [notebooks[i] for i in keep], [declared[i] for i in keep]
    values = []
    for nb, decl in zip(notebooks, declared):
        own = nb.get("parameters") or {}
        unknown = set(own) - set(decl)
        if unknown:
            raise ParameterError(f"{params_path}: {nb['path']} has no parameter(s) {sorted(unknown)}; "
                                 f"it takes: {sorted(decl)}")
        values.append(copy.deepcopy({**{k: v for k, v in shared.items() if k in decl}, **own}))
    apply_overrides(values, declared, overrides, str(params_path))
    jobs = []
    for nb, decl, given in zip(notebooks, declared, values):
        given.update({k: str(Path(given[k]).resolve()) for k in PATH_PARAMETERS if given.get(k)})
        for key, value in given.items():
            check_value(f"{params_path}: {nb['path']}", key, value, decl[key]["type"])
        jobs.append(NotebookJob(notebook_path(nb["path"]), given, nb["path"],
                                {k: default_value(d) for k, d in decl.items()}))
    check_jobs(jobs, str(params_path))
    return params.get("name") or params_path.stem, jobs


def selected(notebooks: list[dict], only: list[str]) -> list[int]:
    """Positions of the notebook entries whose file name contains a word of ``only``."""
    names = [Path(nb["path"]).name for nb in notebooks]
    unmatched = [word for word in only if not any(word in name for name in names)]
    if unmatched:
        raise ParameterError(f"--only {unmatched[0]!r} matches none of the notebooks {names}")
    return [i for i, name in enumerate(names) if any(word in name for word in only)]


def check_jobs(jobs: list[NotebookJob], where: str) -> None:
    """Check what each notebook's parameters name, as the notebook would use them (its defaults
    filled in), without loading data or training: tasks and their data files, ``task_name``, every
    method list with the shared training/model/regrouping settings, encoders, projection, CAM
    methods and ``paper_dataset``. One kind of check at a time over all notebooks, the cheap kinds
    first: ``NAME_CHECKS``, which import neither torch nor scikit-learn, then ``VALUE_CHECKS``.
    Raises ParameterError naming the notebook, the parameter and the valid choices."""
    effective = [job.effective_parameters() for job in jobs]
    for key, check in [*NAME_CHECKS.items(), *VALUE_CHECKS.items()]:
        for job, p in zip(jobs, effective):
            if applies(key, p):
                try:
                    check(p.get(key), p, job.path.parent)
                except (ValueError, TypeError, FileNotFoundError) as error:
                    raise ParameterError(f"{where}: {job.source}: {key}: {error}") from None


def applies(key: str, p: dict[str, Any]) -> bool:
    """Whether check ``key`` concerns a notebook with parameters ``p``: the shared settings are
    checked on their own only where no method list checks them."""
    if key == "settings":
        return bool(set(SETTINGS_PARAMETERS) & set(p)) and not set(METHOD_LISTS) & set(p)
    return key in p


def check_tasks(tasks: dict[str, Any], p: dict[str, Any], folder: Path) -> None:
    """Every task spec as make_tasks builds it: data_root wins over a spec's root (a relative spec
    root is taken from the notebook's folder, where it runs), image_size over the spec's."""
    from nbutils.data.task_specs import check_task_spec
    if not tasks:
        raise ValueError("no task given; a task is name: {dataset: ..., ...}")
    for name, spec in tasks.items():
        if isinstance(spec, dict) and p.get("image_size"):
            spec = {**spec, "image_size": p["image_size"]}
        own_root = spec.get("root") if isinstance(spec, dict) else None
        check_task_spec(name, spec, p.get("data_root") or (str(folder / own_root) if own_root else None))


def check_seeds(seeds: list, p: dict[str, Any], folder: Path) -> None:
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds):
        raise ValueError(f"seeds must be a non-empty list of ints >= 0, e.g. [0, 1]; got {seeds!r}")


def check_task_name(name: str, p: dict[str, Any], folder: Path) -> None:
    if name not in (p.get("tasks") or {}):
        raise ValueError(f"unknown task {name!r}; valid: {', '.join(p.get('tasks') or {}) or 'none (tasks is empty)'}")


def check_method_names(entries: list, p: dict[str, Any], folder: Path) -> None:
    """Each method entry's form and name (``recipes.method_spec``), before :func:`check_methods`
    imports what trains to check its options."""
    from nbutils.methods.recipes import method_spec
    for entry in entries:
        method_spec(entry)


def check_settings(_: Any, p: dict[str, Any], folder: Path) -> None:
    """The train/model/regroup settings the notebook passes to every method, checked as the plain
    method 'ce' takes them (every method checks the shared settings the same way); for notebooks
    that list no method."""
    from nbutils.methods.registry import check_method
    from nbutils.methods.settings import settings_from_parameters
    check_method("ce", **settings_from_parameters(p))


def check_methods(entries: list, p: dict[str, Any], folder: Path) -> None:
    """Each method entry with the notebook's shared settings, as run_method checks it."""
    from nbutils.methods.registry import check_method
    from nbutils.methods.settings import settings_from_parameters
    settings = settings_from_parameters(p)
    for entry in entries:
        check_method(entry, **settings)


def check_encoders(names: list, p: dict[str, Any], folder: Path) -> None:
    from nbutils.methods.encoders import ENCODERS
    unknown = [n for n in names if n not in ENCODERS]
    if unknown:
        raise ValueError(f"unknown encoder(s) {unknown}; valid: {', '.join(ENCODERS)}")


def check_projection(name: str, p: dict[str, Any], folder: Path) -> None:
    from nbutils.analysis.plots import PROJECTIONS
    if name not in PROJECTIONS:
        raise ValueError(f"unknown projection {name!r}; valid: {', '.join(PROJECTIONS)}")


def check_cam_methods(names: list, p: dict[str, Any], folder: Path) -> None:
    from nbutils.analysis.cam import CAM_METHODS
    unknown = [n for n in names if n not in CAM_METHODS]
    if unknown:
        raise ValueError(f"unknown CAM method(s) {unknown}; valid: {', '.join(CAM_METHODS)}")


def check_paper_dataset(name: str, p: dict[str, Any], folder: Path) -> None:
    """A name of the papers' published tables, as notebook 03 reads it."""
    from nbutils.analysis.papers import check_paper_dataset as check
    check(name)


# Parameter name -> its check(value, all the notebook's parameters, the notebook's folder). The
# NAME_CHECKS import neither torch nor scikit-learn and run first, over every notebook, so a wrong
# method name is answered before the VALUE_CHECKS load them (tests/test_run.py, bench/check_time.py).
NAME_CHECKS: dict[str, Callable[[Any, dict[str, Any], Path], None]] = {
    "task_name": check_task_name, "seeds": check_seeds, **{key: check_method_names for key in METHOD_LISTS},
}
VALUE_CHECKS: dict[str, Callable[[Any, dict[str, Any], Path], None]] = {
    "tasks": check_tasks, **{key: check_methods for key in METHOD_LISTS},
    "settings": check_settings,  # see applies()
    "nmi_encoders": check_encoders, "projection": check_projection, "cam_methods": check_cam_methods,
    "paper_dataset": check_paper_dataset,
}


def print_parameters(params_path: Path) -> None:
    """Every parameter of the file's notebooks: type, notebook default, help, the notebooks that
    take it and the value the file sets for each (shared or its own)."""
    params = load_params(params_path)
    shared = params.get("parameters") or {}
    taken: dict[str, list[tuple[str, dict, str]]] = {}
    for nb in params["notebooks"]:
        own = nb.get("parameters") or {}
        for key, decl in declared_parameters(notebook_path(nb["path"])).items():
            given = own.get(key, shared.get(key, NOT_SET))
            taken.setdefault(key, []).append((Path(nb["path"]).stem, decl, "not set" if given is NOT_SET
                                              else f"set to {json.dumps(given, default=str)}"))
    print(f"parameters of the notebooks of {params_path} (key: type = notebook default  # help):")
    for key, uses in taken.items():
        decl = uses[0][1]
        print(f"  {key}: {decl['type'] or '?'} = {decl['default']}" + (f"  # {decl['help']}" if decl["help"] else ""))
        for setting in dict.fromkeys(given for _, _, given in uses):
            print(f"      {setting} in {', '.join(nb for nb, _, given in uses if given == setting)}")
