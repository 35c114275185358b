"""Run the notebooks a parameter file lists, with papermill, into ``runs/NAME/<run-id>/``.

    python -m nbutils.run params/demo.yaml [key=value ...] [--run-id ID] [--dry-run] [--list-params]
                                           [--only NOTEBOOK] [--keep-going]
                                           [--executor ray [--address ADDRESS] [--train-only] ...]

A parameter file has ``name``, shared ``parameters`` (each notebook receives those its
``parameters`` cell declares) and ``notebooks`` (``path`` and notebook-only ``parameters``).
``key=value`` words override parameters by name (``epochs=1``, ``tasks.tshirt.train_size=500``,
``train.weight_decay=1e-4``), in any order with the options. Before any notebook starts, every
key and the type of every value are checked against the notebooks' parameters cells, and what
the values name — tasks and their data files, methods and their options, encoders, projection,
CAM methods, the papers' data set — is checked as the notebooks will use it; an error names the
parameter and the valid choices. ``--dry-run`` stops there and prints the plan; ``--list-params``
prints every parameter with its type, default and help; ``--only 03`` runs just the notebooks
whose name contains '03'. Each notebook writes its figures (PNG) and metrics (JSON, CSV) into the
run folder beside its executed copy; a failing notebook gives a non-zero exit that names it and
its failing cell, and the notebooks after it are not run (``--keep-going`` runs them).
``--run-id`` of an earlier run resumes it: finished trainings are loaded and interrupted ones
continue from their checkpoints. ``summary.json`` holds each notebook's status and time and the run's provenance
(nbutils.provenance); ``report.html`` shows the run (nbutils.html_report). Ctrl-C writes both,
marking the run interrupted with the command that resumes it, and exits with 130.

``--executor ray`` (default ``local``: each notebook trains what it needs as it runs) first plans
every training the notebooks will ask for (nbutils.plan), trains them as Ray tasks on the cluster
at ``--address`` or on a local one (nbutils.ray_executor), and then runs the notebooks, which load
every result instead of training. ``summary.json`` then also says what the sweep did
(``trainings``). A training that fails for good is named with its error; the notebooks are then
not run (``--keep-going`` runs them, and they train what is missing themselves) and the exit is
non-zero. ``--train-only`` stops after the trainings.
"""
from __future__ import annotations

import argparse
import ast
import copy
import json
import logging
import os
import shlex
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

import yaml

from nbutils import provenance
from nbutils.config import load_yaml, parse_override, set_nested

REPO = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = REPO / "runs"
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
    first. Raises ParameterError naming the notebook, the parameter and the valid choices."""
    effective = [job.effective_parameters() for job in jobs]
    for key, check in VALUE_CHECKS.items():
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
    from nbutils.data import check_task_spec
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


def check_settings(_: Any, p: dict[str, Any], folder: Path) -> None:
    """The train/model/regroup settings the notebook passes to every method, checked as the plain
    method 'ce' takes them (every method checks the shared settings the same way); for notebooks
    that list no method."""
    from nbutils.methods import check_method, settings_from_parameters
    check_method("ce", **settings_from_parameters(p))


def check_methods(entries: list, p: dict[str, Any], folder: Path) -> None:
    """Each method entry with the notebook's shared settings, as run_method checks it."""
    from nbutils.methods import check_method, settings_from_parameters
    settings = settings_from_parameters(p)
    for entry in entries:
        check_method(entry, **settings)


def check_encoders(names: list, p: dict[str, Any], folder: Path) -> None:
    from nbutils.encoders import ENCODERS
    unknown = [n for n in names if n not in ENCODERS]
    if unknown:
        raise ValueError(f"unknown encoder(s) {unknown}; valid: {', '.join(ENCODERS)}")


def check_projection(name: str, p: dict[str, Any], folder: Path) -> None:
    from nbutils.plots import PROJECTIONS
    if name not in PROJECTIONS:
        raise ValueError(f"unknown projection {name!r}; valid: {', '.join(PROJECTIONS)}")


def check_cam_methods(names: list, p: dict[str, Any], folder: Path) -> None:
    from nbutils.cam import CAM_METHODS
    unknown = [n for n in names if n not in CAM_METHODS]
    if unknown:
        raise ValueError(f"unknown CAM method(s) {unknown}; valid: {', '.join(CAM_METHODS)}")


def check_paper_dataset(name: str, p: dict[str, Any], folder: Path) -> None:
    """A name of the papers' published tables, as notebook 03 reads it."""
    from nbutils.report import check_paper_dataset as check
    check(name)


# Parameter name -> its check(value, all the notebook's parameters, the notebook's folder).
VALUE_CHECKS: dict[str, Callable[[Any, dict[str, Any], Path], None]] = {
    "tasks": check_tasks, "task_name": check_task_name, "seeds": check_seeds,
    **{key: check_methods for key in METHOD_LISTS},
    "settings": check_settings,  # see applies()
    "nmi_encoders": check_encoders, "projection": check_projection, "cam_methods": check_cam_methods,
    "paper_dataset": check_paper_dataset,
}


def failing_cell(error: Exception, source: Path) -> str:
    """'cell 7 (`first line`): ValueError: ...', numbered as the source notebook shows it (from 1)."""
    ename, evalue = getattr(error, "ename", type(error).__name__), getattr(error, "evalue", str(error))
    code = getattr(error, "source", None)
    sources = [cell["source"] for cell in read_cells(source)]
    if code not in sources:
        return f"a cell: {ename}: {evalue}"
    first_line = next((line for line in code.splitlines() if line.strip()), "")
    return f"cell {sources.index(code) + 1} (`{first_line[:80]}`): {ename}: {evalue}"


# The kernel's own log (not the cells' warnings, which stay in the outputs) at ERROR: ipykernel
# warns at every start that a local kernel talks over TCP without encryption.
KERNEL_ARGUMENTS = ["--IPKernelApp.log_level=ERROR"]


class CheckedParameters(logging.Filter):
    """Drops papermill's "Passed unknown parameter" warning for parameters the runner has already
    checked against the notebook's parameters cell: papermill's own reading of that cell skips
    annotations such as ``str | None`` and calls those parameters unknown."""

    def __init__(self, names: set[str]):
        super().__init__()
        self.messages = {f"Passed unknown parameter: {name}" for name in names}

    def filter(self, record: logging.LogRecord) -> bool:
        return record.getMessage() not in self.messages


def execute(job: NotebookJob, run_dir: Path) -> dict[str, Any]:
    """Run one notebook into ``run_dir``; return its status record."""
    import papermill
    output = run_dir / job.path.name
    start = time.perf_counter()
    record = {"notebook": job.path.name, "output": str(output)}
    checked = CheckedParameters({*job.parameters, "run_dir"})
    logging.getLogger("papermill").addFilter(checked)
    try:
        papermill.execute_notebook(str(job.path), str(output), parameters={**job.parameters, "run_dir": str(run_dir)},
                                   cwd=str(job.path.parent), kernel_name="python3",
                                   progress_bar=not os.environ.get("CI"), log_output=False,
                                   extra_arguments=KERNEL_ARGUMENTS)
        record["status"] = "ok"
    except Exception as error:  # papermill's PapermillExecutionError and kernel failures
        record.update(status="failed", error=f"{job.path.name} failed at {failing_cell(error, job.path)}")
    finally:
        logging.getLogger("papermill").removeFilter(checked)
    record["seconds"] = round(time.perf_counter() - start, 1)
    return record


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


def print_plan(name: str, jobs: list[NotebookJob], run_dir: Path, trainings: list | None = None) -> None:
    """The notebooks a run would execute, in order, with the parameters each receives; with the Ray
    executor, also the trainings it would farm out (nbutils.plan.Training), each with its result folder."""
    print(f"plan of run {name!r} (run folder {run_dir}); every check passed, nothing was run:")
    for job in jobs:
        print(f"  {job.source}")
        text = yaml.safe_dump(job.parameters, sort_keys=False, default_flow_style=None, width=100)
        print("\n".join(f"      {line}" for line in text.splitlines()) if job.parameters else "      (its defaults)")
    if trainings is not None:
        print(f"trainings for Ray, before the notebooks ({len(trainings)}):")
        for training in trainings:
            print(f"  {training.name}  ->  {training.key}  (first needed by {training.notebook})")


def add_executor_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of ``--executor ray`` (nbutils.ray_executor)."""
    parser.add_argument("--executor", choices=("local", "ray"), default="local",
                        help="local: each notebook trains what it needs as it runs; ray: every training of the "
                             "run first, as Ray tasks, then the notebooks load them")
    parser.add_argument("--address", help="Ray cluster to use, e.g. 10.0.0.1:6379 or 'auto' after `ray start "
                                          "--head` (default: a local Ray cluster in this process)")
    parser.add_argument("--local-cpus", type=int, help="CPUs of the local Ray cluster (default: every core)")
    parser.add_argument("--cpus-per-training", type=float, default=1,
                        help="CPUs Ray reserves for each training, also its torch threads (default 1)")
    parser.add_argument("--gpus-per-training", type=float,
                        help="GPUs for each training, fractional to share one (default: 1 when the cluster has GPUs, else 0)")
    parser.add_argument("--max-retries", type=int, default=3,
                        help="how often Ray reruns a training whose worker died; it resumes from its checkpoint (default 3)")
    parser.add_argument("--train-only", action="store_true",
                        help="with --executor ray: stop after the trainings (rerun with the same --run-id for the notebooks)")


def check_executor_arguments(args: argparse.Namespace) -> None:
    """ParameterError for Ray options without ``--executor ray`` or out of range."""
    ray_only = {"--address": args.address, "--local-cpus": args.local_cpus, "--gpus-per-training": args.gpus_per_training,
                "--train-only": args.train_only or None}
    given = [option for option, value in ray_only.items() if value is not None]
    if args.executor != "ray" and given:
        raise ParameterError(f"{', '.join(given)} only apply with --executor ray")
    if args.address and args.local_cpus:
        raise ParameterError("--local-cpus sizes a local Ray cluster; with --address the cluster has its own")
    if args.cpus_per_training <= 0 or (args.gpus_per_training or 0) < 0 or args.max_retries < 0 \
            or (args.local_cpus is not None and args.local_cpus < 1):
        raise ParameterError("--cpus-per-training must be > 0, --gpus-per-training and --max-retries >= 0, "
                             "--local-cpus >= 1")


def planned_trainings(jobs: list[NotebookJob], run_dir: Path) -> list:
    """Every training the jobs' notebooks will ask for (nbutils.plan.plan_trainings), once each;
    a notebook with no plan is named (it trains inside itself, as with the local executor)."""
    from nbutils.plan import plan_trainings
    trainings, unplanned = plan_trainings([(job.path.stem, job.effective_parameters(), job.path.parent)
                                           for job in jobs], run_dir.resolve())
    if unplanned:
        print(f"note: {', '.join(unplanned)} declare(s) no plan in nbutils.plan.NOTEBOOK_PLANS: "
              f"their trainings run inside the notebook", file=sys.stderr)
    return trainings


def run_sweep(trainings: list, run_dir: Path, args: argparse.Namespace):
    """Train ``trainings`` on Ray (nbutils.ray_executor.run_trainings) and print what happened."""
    from nbutils.ray_executor import run_trainings
    print(f"{len(trainings)} trainings planned; training the unfinished ones on Ray ...", flush=True)
    sweep = run_trainings(trainings, run_dir.resolve(), address=args.address, local_cpus=args.local_cpus,
                          cpus_per_training=args.cpus_per_training, gpus_per_training=args.gpus_per_training,
                          max_retries=args.max_retries)
    print(f"trainings: {len(sweep.finished)} finished, {sweep.already_done} already done, {len(sweep.failed)} failed, "
          f"in {sweep.seconds:.1f} s", flush=True)
    return sweep


def resume_command(args: argparse.Namespace, run_id: str) -> str:
    """The command that resumes this run: the same file and overrides with its --run-id."""
    words = ["python", "-m", "nbutils.run", str(args.params), *args.overrides, "--run-id", run_id]
    if args.runs != DEFAULT_RUNS:
        words += ["--runs", str(args.runs)]
    return shlex.join(words)


def write_report(run_dir: Path) -> None:
    """Write the run's report.html and print its path; a failure is reported, not raised, since
    the run's results stand without the page (``python -m nbutils.report RUN_FOLDER`` retries)."""
    from nbutils.html_report import write_html_report
    try:
        print(f"report: {write_html_report(run_dir)}", flush=True)
    except Exception as error:  # nbconvert or a table the page cannot read
        print(f"warning: report.html not written ({type(error).__name__}: {error}); "
              f"retry with: python -m nbutils.report {run_dir}", file=sys.stderr)


def run_notebooks(jobs: list[NotebookJob], run_dir: Path, keep_going: bool,
                  resume: str) -> tuple[list[dict[str, Any]], bool]:
    """Execute the jobs in order into ``run_dir``: (a status record per job, whether Ctrl-C
    interrupted them). After a failing notebook the rest are 'not run' unless ``keep_going``;
    after Ctrl-C the notebook it stopped is 'interrupted' and the rest 'not run', each record
    carrying the command that resumes the run."""
    records = []
    try:
        for job in jobs:
            print(f"running {job.path.name} ...", flush=True)
            records.append(execute(job, run_dir))
            print(f"  {records[-1]['status']} in {records[-1]['seconds']} s"
                  + (f"\n  {records[-1]['error']}" if records[-1]["status"] != "ok" else ""), flush=True)
            if records[-1]["status"] != "ok" and not keep_going:
                return records + [{"notebook": later.path.name, "status": "not run",
                                   "error": f"not run: {job.path.name} failed before it (--keep-going runs the rest)"}
                                  for later in jobs[len(records):]], False
    except KeyboardInterrupt:
        return records + [{"notebook": job.path.name, "output": str(run_dir / job.path.name),
                           "status": "not run" if i else "interrupted", "resume": resume}
                          for i, job in enumerate(jobs[len(records):])], True
    return records, False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbutils.run", description=__doc__.split("\n\n")[0])
    parser.add_argument("params", type=Path, help="parameter file, e.g. params/demo.yaml")
    parser.add_argument("overrides", nargs="*", help="key=value overrides (values read as YAML)")
    parser.add_argument("--run-id", help="run folder name under runs/NAME/ (reuse one to resume it)")
    parser.add_argument("--runs", type=Path, default=DEFAULT_RUNS, help="where run folders go")
    parser.add_argument("--dry-run", action="store_true",
                        help="check everything, print the notebooks and their parameters, run nothing")
    parser.add_argument("--list-params", action="store_true",
                        help="print every parameter the file's notebooks take (type, default, help), run nothing")
    parser.add_argument("--only", action="append", metavar="NOTEBOOK",
                        help="run only the notebooks whose file name contains this (e.g. 03); repeatable")
    parser.add_argument("--keep-going", action="store_true",
                        help="run the remaining notebooks after one fails (default: stop at the first failure)")
    add_executor_arguments(parser)
    args = parser.parse_intermixed_args(argv)  # options may come before, between or after overrides
    try:
        check_executor_arguments(args)
        if args.list_params:
            print_parameters(args.params)
            return 0
        name, jobs = plan(args.params, args.overrides, args.only)
    except (ParameterError, TypeError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    run_id = args.run_id or datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = args.runs.resolve() / name / run_id  # absolute: the notebooks run in their own folder
    trainings = planned_trainings(jobs, run_dir) if args.executor == "ray" else None
    if args.dry_run:
        print_plan(name, jobs, run_dir, trainings)
        return 0
    started = provenance.collect(["python", "-m", "nbutils.run", *(sys.argv[1:] if argv is None else argv)])
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "params.yaml").write_text(yaml.safe_dump(
        {"source": str(args.params), "overrides": args.overrides,
         "notebooks": [{"path": j.source, "parameters": j.parameters} for j in jobs]},
        sort_keys=False))
    os.environ.setdefault("NBUTILS_QUIET", "1")  # the kernels inherit it: no progress bars kept in outputs
    print(f"run folder: {run_dir}")
    resume = resume_command(args, run_id)
    summary: dict[str, Any] = {}
    try:
        sweep = run_sweep(trainings, run_dir, args) if trainings is not None else None
    except KeyboardInterrupt:
        sweep = None
        records, interrupted = [{"notebook": job.path.name, "status": "not run", "resume": resume} for job in jobs], True
    except (ImportError, ValueError) as error:  # Ray missing, or no node fits one training
        print(f"error: {error}", file=sys.stderr)
        return 2
    else:
        if sweep is not None:
            summary["trainings"] = sweep.as_dict()
        if sweep is not None and (args.train_only or sweep.failed and not args.keep_going):
            why = "--train-only" if args.train_only else f"{len(sweep.failed)} training(s) failed (--keep-going runs them)"
            records, interrupted = [{"notebook": job.path.name, "status": "not run", "error": f"not run: {why}"}
                                    for job in jobs], False
        else:
            records, interrupted = run_notebooks(jobs, run_dir, args.keep_going, resume)
    (run_dir / "summary.json").write_text(json.dumps({"notebooks": records, **summary,
                                                      "provenance": provenance.finish(started)}, indent=2))
    if not args.train_only:
        write_report(run_dir)
    if interrupted:
        print(f"interrupted; finished trainings are kept in {run_dir}. Resume with:\n  {resume}", file=sys.stderr)
        return 130
    failed = [r for r in records if r["status"] == "failed"]
    for r in failed:
        print(f"error: {r['error']} (executed copy: {r['output']})", file=sys.stderr)
    for t in sweep.failed if sweep else []:
        print(f"error: training {t['name']} failed: {t['error']} (log: {t['log']})", file=sys.stderr)
    skipped = [r["notebook"] for r in records if r["status"] == "not run" and not args.train_only]
    if skipped:
        print(f"not run after the failure: {', '.join(skipped)} (--keep-going runs them)", file=sys.stderr)
    return 1 if failed or sweep and sweep.failed else 0


if __name__ == "__main__":
    sys.exit(main())
