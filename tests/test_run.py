"""The papermill runner: parameters reach the notebook, bad input fails before anything runs,
and a failing notebook is named with its cell."""
import ast
import json
import os
import subprocess
import sys
import textwrap
import time

import nbformat
import pytest

from nbutils.run import main
from nbutils.runs.parameters import REPO, ParameterError, plan


def write_notebook(path, parameters, body):
    nb = nbformat.v4.new_notebook()
    params = nbformat.v4.new_code_cell(parameters)
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell("# test"), params, nbformat.v4.new_code_cell(body)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)
    return path


@pytest.fixture
def echo(tmp_path):
    nb = write_notebook(tmp_path / "echo.ipynb", textwrap.dedent('''\
        run_dir: str = "."
        epochs: int = 3
        lr: float = 0.1
        tasks: dict = {"a": {"dataset": "digits", "train_size": 100}}
        train: dict = {"momentum": 0.9}
        name: str | None = None'''),
        'import json, pathlib\npathlib.Path(run_dir, "seen.json").write_text('
        'json.dumps({"epochs": epochs, "lr": lr, "tasks": tasks, "name": name, "train": train}))')
    return nb


def write_params(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_parameters_and_overrides_reach_the_notebook(tmp_path, echo, caplog, capfd):
    params = write_params(tmp_path, f"""\
        name: t
        parameters: {{epochs: 5, tasks: {{a: {{dataset: digits, train_size: 200}}}}}}
        notebooks:
          - path: {echo}
            parameters: {{lr: 0.5}}
        """)
    # options before, between and after the overrides (argparse's intermixed parsing)
    code = main([str(params), "--runs", str(tmp_path / "runs"), "epochs=7", "tasks.a.train_size=50",
                 "--run-id", "r1", "name=x", "train.weight_decay=1e-4"])
    assert code == 0
    run = tmp_path / "runs" / "t" / "r1"
    assert json.loads((run / "seen.json").read_text()) == {
        "epochs": 7, "lr": 0.5, "tasks": {"a": {"dataset": "digits", "train_size": 50}}, "name": "x",
        "train": {"momentum": 0.9, "weight_decay": 1e-4}}  # a section only the notebook's default declares
    assert (run / "echo.ipynb").is_file() and json.loads((run / "summary.json").read_text())["notebooks"][0]["status"] == "ok"
    # papermill reads `name: str | None` as no parameter; the runner has checked it, so no warning
    assert not [r for r in caplog.records if "Passed unknown parameter" in r.getMessage()]
    assert "without encryption" not in capfd.readouterr().err  # the kernel's start-up warning


def test_the_up_front_check_does_not_import_torchvision():
    """torchvision's import (with torch._dynamo) was a third of the check's 5 s budget; it loads
    where an image model or encoder is built."""
    code = ("import sys; from nbutils.runs.parameters import REPO, plan; "
            "plan(REPO / 'params' / 'ci.yaml', []); print('torchvision' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.stdout.strip() == "False", done.stderr


def test_a_relative_data_root_is_taken_from_where_the_runner_starts(tmp_path, monkeypatch):
    nb = write_notebook(tmp_path / "d.ipynb", "run_dir: str = '.'\ndata_root: str | None = None", "pass")
    params = write_params(tmp_path, f"name: t\nnotebooks:\n  - path: {nb}\n")
    monkeypatch.chdir(tmp_path)
    _, jobs = plan(params, ["data_root=data/ham"])
    assert jobs[0].parameters["data_root"] == str(tmp_path / "data" / "ham")


def test_a_failing_notebook_is_named_with_its_cell(tmp_path, capsys):
    bad = write_notebook(tmp_path / "bad.ipynb", "run_dir: str = '.'", "raise RuntimeError('boom')")
    params = write_params(tmp_path, f"name: t\nnotebooks:\n  - path: {bad}\n")
    assert main([str(params), "--runs", str(tmp_path / "runs")]) == 1
    err = capsys.readouterr().err
    assert "bad.ipynb failed at cell 3" in err and "raise RuntimeError('boom')" in err and "RuntimeError: boom" in err


@pytest.mark.parametrize("override, message", [
    ("epoch=1", "no notebook takes 'epoch'"),
    ("epochs=many", "epochs='many' is a str, but the notebook declares epochs: int"),
    ("lr=true", "lr=True is a bool"),
    ("tasks.b.n=1", "tasks.b is not a section"),
    ("tasks.a.trainsize=1", r"tasks: task 'a': unknown key\(s\) \['trainsize'\]; valid: .*'train_size'"),
    ("tasks.a.train_size=many", "train_size='many' is not an int >= 1"),
    ("train.warmup_epochs=5", "warmup_epochs=5 with epochs=3"),
    ("epochs", "must look like key=value"),
])
def test_bad_overrides_fail_before_anything_runs(tmp_path, echo, override, message):
    params = write_params(tmp_path, f"name: t\nnotebooks:\n  - path: {echo}\n")
    with pytest.raises((ParameterError, ValueError, TypeError), match=message):
        plan(params, [override])


@pytest.mark.parametrize("text", ["train={weight_decay: 1e-4}", "train.weight_decay=1e-4"])
def test_nested_numbers_are_typed_like_top_level_ones(tmp_path, echo, text):
    """YAML 1.1 reads 1e-4 as a string at every depth; parameter files and overrides read it as a number."""
    params = write_params(tmp_path, f"name: t\nparameters: {{lr: 1e-1, train: {{step_gamma: 5e-1}}}}\nnotebooks: [{{path: {echo}}}]\n")
    parameters = plan(params, [text])[1][0].parameters
    assert parameters["lr"] == 0.1 and parameters["train"]["weight_decay"] == 1e-4
    assert parameters["train"].get("step_gamma", 0.5) == 0.5  # the file's nested value, unless replaced
    assert plan(params, ['name="2e3"'])[1][0].parameters["name"] == "2e3"  # quoted stays a string


def test_bad_parameter_files_fail_with_a_clear_message(tmp_path, echo, capsys):
    assert main([str(tmp_path / "missing.yaml")]) == 2
    assert "parameter file" in capsys.readouterr().err
    cases = {
        "name: t\nnotebooks: [{path: %s, parameters: {epochs: three}}]\n": "epochs='three' is a str",
        "name: t\nnotebooks: [{path: %s, parameters: {epoch: 3}}]\n": "has no parameter\\(s\\) \\['epoch'\\]",
        "name: t\nparameters: {lrate: 1}\nnotebooks: [{path: %s}]\n": "taken by no notebook",
        "name: t\nnotebook: [{path: %s}]\n": "unknown top-level key",
        "name: t\nnotebooks: [{path: %s}\n": "not valid YAML",
    }
    for text, message in cases.items():
        with pytest.raises(ParameterError, match=message):
            plan(write_params(tmp_path, text % echo), [])


def test_ctrl_c_leaves_a_summary_that_says_interrupted_and_how_to_resume(tmp_path, echo, monkeypatch, capsys):
    second = write_notebook(tmp_path / "second.ipynb", "run_dir: str = '.'", "pass")
    third = write_notebook(tmp_path / "third.ipynb", "run_dir: str = '.'", "pass")
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {echo}}}, {{path: {second}}}, {{path: {third}}}]\n")
    import nbutils.runs.notebooks
    real_execute = nbutils.runs.notebooks.execute

    def interrupt_second(job, run_dir):
        if job.path == second:
            raise KeyboardInterrupt
        return real_execute(job, run_dir)

    monkeypatch.setattr(nbutils.runs.notebooks, "execute", interrupt_second)
    runs = tmp_path / "my runs"
    assert main([str(params), "epochs=1", "--runs", str(runs), "--run-id", "r7"]) == 130
    summary = json.loads((runs / "t" / "r7" / "summary.json").read_text())["notebooks"]
    assert [r["status"] for r in summary] == ["ok", "interrupted", "not run"]
    resume = f"python -m nbutils.run {params} epochs=1 --run-id r7 --runs '{runs}'"
    assert summary[1]["resume"] == resume and summary[2]["resume"] == resume
    err = capsys.readouterr().err
    assert "interrupted" in err and resume in err
    assert (runs / "t" / "r7" / "report.html").is_file()  # the report too, showing the interrupted run


def test_notebooks_run_by_the_runner_keep_no_progress_bars(tmp_path, monkeypatch):
    """The runner sets nbutils.core.runtime.quiet() for its kernels, so tqdm bars stay out of the outputs."""
    probe = write_notebook(tmp_path / "quiet.ipynb", "run_dir: str = '.'",
                           "import pathlib\nfrom nbutils.core.runtime import quiet\n"
                           "pathlib.Path(run_dir, 'quiet.txt').write_text(str(quiet()))")
    for switch in ("NBUTILS_QUIET", "CI"):
        monkeypatch.delenv(switch, raising=False)
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {probe}}}]\n")
    assert main([str(params), "--runs", str(tmp_path / "runs"), "--run-id", "q"]) == 0
    assert (tmp_path / "runs" / "t" / "q" / "quiet.txt").read_text() == "True"


def test_dry_run_prints_the_plan_and_runs_nothing(tmp_path, echo, capsys):
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {echo}, parameters: {{lr: 0.5}}}}]\n")
    assert main([str(params), "--dry-run", "epochs=2", "--runs", str(tmp_path / "runs")]) == 0
    out = capsys.readouterr().out
    assert str(echo) in out and "epochs: 2" in out and "lr: 0.5" in out and "nothing was run" in out
    assert not (tmp_path / "runs").exists()


# ------------------------------------------------------------------ the repository's own files
CI = REPO / "params" / "ci.yaml"


@pytest.mark.parametrize("override, message", [
    ("tasks.tshirt-vs-rest.trainsize=300", r"tasks: task 'tshirt-vs-rest': unknown key\(s\) \['trainsize'\]"),
    ("tasks.tshirt-vs-rest.positive=T-shirt", "unknown positive class 'T-shirt'.*'T-shirt/top'"),
    ("image_size=-5", "image_size=-5 is not pixels >= 1"),
    ("seeds=[0, one]", "seeds must be a non-empty list of ints"),
    ("data_root=/nonexistent", "train-images-idx3-ubyte.*not found in /nonexistent \\(no such folder\\)"),
    ("task_name=tshirt", "task_name: unknown task 'tshirt'; valid: tshirt-vs-rest, fmnist-ham10000"),
    ("methods=[ce, rgg]", "03_benchmark.ipynb: methods: unknown method 'rgg'; valid: ce, wce"),
    ("methods=[{name: rg, aggregate: mean}]", "methods: .*aggregate 'mean'.*max"),
    ("methods=[{name: focal, gamma: two}]", "methods: .*gamma='two'"),
    ("methods=[{name: rg-random, clustering: gmm}]", "methods: .*'rg-random'.*clustering"),
    ("label_methods=[ce, rgg]", "01_motivation.ipynb: label_methods: unknown method 'rgg'"),
    ("cam_training_methods=[smoth]", "cam_training_methods: unknown method 'smoth'"),
    ("regroup.clustering=gmmm", "unknown clustering 'gmmm'; valid: .*kmeans"),
    ("train.warmup_epochs=3", "warmup_epochs=3 with epochs=2"),
    ("nmi_encoders=[raw, pcaa]", r"nmi_encoders: unknown encoder\(s\) \['pcaa'\]; valid: .*pca"),
    ("projection=pca", "projection: unknown projection 'pca'; valid: tsne, umap"),
    ("cam_methods=[gradcan]", r"cam_methods: unknown CAM method\(s\) \['gradcan'\]; valid: gradcam"),
    ("paper_dataset=HAM1000", "paper_dataset: .*'HAM1000'.*valid"),
])
def test_everything_the_ci_file_can_name_is_checked_before_any_notebook(override, message):
    with pytest.raises(ParameterError, match=message):
        plan(CI, [override])


def test_a_nested_override_goes_to_the_notebooks_that_have_its_sections():
    """params/ci.yaml: notebook 05 has its own task, so tshirt-vs-rest's size is set in 01-04 only."""
    _, jobs = plan(CI, ["tasks.tshirt-vs-rest.train_size=500"])
    sizes = {job.path.stem: {name: spec["train_size"] for name, spec in job.parameters["tasks"].items()} for job in jobs}
    assert all(sizes[stem]["tshirt-vs-rest"] == 500 for stem in sizes if not stem.startswith("05"))
    assert sizes["05_ablations"] == {"tshirt-50to1": 600}
    with pytest.raises(ValueError, match="tasks.nope is not a section"):
        plan(CI, ["tasks.nope.train_size=500"])


def test_the_ci_file_with_short_overrides_passes_the_checks():
    name, jobs = plan(CI, ["epochs=1", "seeds=[0]", "train.weight_decay=1e-4", "methods=[ce, {name: rg, encoder: raw}]"])
    assert name == "ci" and all(job.parameters["train"] == {"weight_decay": 1e-4} for job in jobs)


HEAVY = ("torch", "sklearn", "scipy")
# runs the runner in a fresh interpreter, then prints its exit code and which of HEAVY it imported
RUNNER_AND_ITS_IMPORTS = ("import sys\nfrom nbutils.run import main\ntry:\n    code = main(sys.argv[1:])\n"
                          "except SystemExit as exit:\n    code = exit.code\n"
                          f"print('exit', code, 'imported', [m for m in {HEAVY!r} if m in sys.modules])\n")


def run_counting_imports(args: list[str]) -> tuple[subprocess.CompletedProcess, int, list[str]]:
    """``python -m nbutils.run ARGS`` in a fresh interpreter: (the process, the runner's exit code,
    which of torch, sklearn and scipy it had imported when it returned)."""
    done = subprocess.run([sys.executable, "-c", RUNNER_AND_ITS_IMPORTS, *args], capture_output=True, text=True,
                          cwd=REPO, env={**os.environ, "OMP_NUM_THREADS": "1"})
    last = done.stdout.strip().splitlines()[-1] if done.stdout.strip() else ""
    assert last.startswith("exit "), done.stdout + done.stderr
    code, imported = last.removeprefix("exit ").split(" imported ")
    return done, int(code), ast.literal_eval(imported)


@pytest.mark.parametrize("args, names", [
    (["params/ci.yaml", "methods=[ce, rgg]"], ["'rgg'", "valid: ce, wce, focal"]),
    (["params/ci.yaml", "tasks.tshirt-vs-rest.dataset=fashion"], ["unknown or missing dataset 'fashion'", "fashion-mnist"]),
    (["params/ci.yaml", "tasks.tshirt-vs-rest.trainsize=300"], ["unknown key(s) ['trainsize']", "'train_size'"]),
    (["params/demo.yaml", "data_root=/nonexistent"], ["/nonexistent", "train-images-idx3-ubyte"]),
])
def test_a_wrong_name_fails_before_any_notebook_starts_and_before_torch_loads(tmp_path, args, names):
    """A wrong method name, data set name or task key, or a missing data folder, is answered before
    torch, scikit-learn or scipy are imported: the names are checked first (``parameters.NAME_CHECKS``,
    ``nbutils.methods.recipes``), the tasks with the light ``nbutils.data.task_specs``, the data
    sets' registry ``nbutils.data.datasets`` and their file checks ``nbutils.data.locations``
    (bench/check_time.py measures the time). No run folder is written, so no notebook started."""
    done, code, imported = run_counting_imports([*args, "--runs", str(tmp_path)])
    assert code == 2 and all(name in done.stderr for name in names), done.stderr
    assert not any(tmp_path.iterdir())  # no run folder: no notebook started
    assert imported == [], f"the check imported {imported}"


@pytest.mark.xfail(strict=True, reason="the method checks run registry.plan_method, which lives in the "
                   "torch-importing nbutils/methods/registry.py (to move into a light module)")
def test_a_dry_run_checks_everything_before_torch_loads(tmp_path):
    done, code, imported = run_counting_imports(["params/ci.yaml", "--dry-run", "--runs", str(tmp_path)])
    assert code == 0 and "nothing was run" in done.stdout, done.stdout + done.stderr
    assert imported == [], f"the dry run imported {imported}"


def test_the_light_data_set_registry_gives_each_reader_its_own_options():
    """datasets.DATASETS names its readers by dotted path and gives their options as light
    signatures (no torch): each must have the reader's option names, annotations and defaults."""
    import typing

    from nbutils.core.config import keyword_defaults
    from nbutils.data.datasets import DATASETS

    for name, dataset in DATASETS.items():
        reader = dataset.reader()
        assert callable(reader) and dataset.option_signature() is dataset.options, name
        assert keyword_defaults(dataset.options) == keyword_defaults(reader), name
        hints = typing.get_type_hints(reader)
        assert {k: hints[k] for k in keyword_defaults(reader)} == \
            {k: v for k, v in typing.get_type_hints(dataset.options).items() if k != "return"}, name


def test_the_light_training_settings_agree_with_the_training_loop():
    """train_config.AMP_CHOICES repeats core.runtime's (which imports torch); TrainConfig is one class."""
    from nbutils.core import runtime
    from nbutils.methods import train, train_config

    assert train_config.AMP_CHOICES == runtime.AMP_CHOICES
    assert train.TrainConfig is train_config.TrainConfig and train.OPTIMIZERS is train_config.OPTIMIZERS


@pytest.mark.parametrize("args", [["params/ci.yaml", "--list-params"], ["--help"]])
def test_help_and_the_parameter_list_import_neither_torch_nor_scikit_learn(args):
    done, code, imported = run_counting_imports(args)
    assert code == 0 and done.stdout.startswith("usage: " if "--help" in args else "parameters of"), done.stdout
    assert imported == []


def test_one_notebook_may_be_listed_twice_with_its_own_parameters(tmp_path, echo):
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {echo}, parameters: {{lr: 0.5}}}}, "
                                    f"{{path: {echo}, parameters: {{lr: 0.2}}}}]\n")
    assert [job.parameters["lr"] for job in plan(params, ["epochs=1"])[1]] == [0.5, 0.2]


def test_a_real_ctrl_c_in_a_running_notebook_exits_130_with_the_summary(tmp_path):
    """SIGINT to the runner's process group, as a terminal's Ctrl-C sends it, while a cell runs."""
    import signal
    slow = write_notebook(tmp_path / "slow.ipynb", "run_dir: str = '.'",
                          "import pathlib, time\npathlib.Path(run_dir, 'started').write_text('')\ntime.sleep(120)")
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {slow}}}]\n")
    run = tmp_path / "runs" / "t" / "c"
    # A shell's background job (and so a CI runner started with '&') inherits SIGINT ignored, and an
    # ignored signal stays ignored across exec: give the runner the terminal's default, as a user has.
    runner = subprocess.Popen([sys.executable, "-m", "nbutils.run", str(params), "--runs", str(tmp_path / "runs"),
                               "--run-id", "c"], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, start_new_session=True,
                              preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while not (run / "started").exists() and time.time() < deadline and runner.poll() is None:
        time.sleep(0.2)
    os.killpg(runner.pid, signal.SIGINT)
    _, err = runner.communicate(timeout=60)
    assert runner.returncode == 130, err
    summary = json.loads((run / "summary.json").read_text())["notebooks"]
    assert summary[0]["status"] == "interrupted" and "--run-id c" in summary[0]["resume"]


def test_the_first_failing_notebook_stops_the_run_unless_keep_going(tmp_path, capsys):
    bad = write_notebook(tmp_path / "bad.ipynb", "run_dir: str = '.'", "raise RuntimeError('boom')")
    after = write_notebook(tmp_path / "after.ipynb", "run_dir: str = '.'",
                           "import pathlib\npathlib.Path(run_dir, 'after.txt').write_text('ran')")
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {bad}}}, {{path: {after}}}]\n")
    assert main([str(params), "--runs", str(tmp_path / "runs"), "--run-id", "stop"]) == 1
    stop = tmp_path / "runs" / "t" / "stop"
    assert [r["status"] for r in json.loads((stop / "summary.json").read_text())["notebooks"]] == ["failed", "not run"]
    assert not (stop / "after.txt").exists() and "not run after the failure: after.ipynb" in capsys.readouterr().err
    assert main([str(params), "--runs", str(tmp_path / "runs"), "--run-id", "go", "--keep-going"]) == 1
    assert (tmp_path / "runs" / "t" / "go" / "after.txt").read_text() == "ran"


def test_only_runs_the_named_notebooks(tmp_path, echo):
    other = write_notebook(tmp_path / "other.ipynb", "run_dir: str = '.'\nn_images: int = 8", "pass")
    params = write_params(tmp_path, f"name: t\nparameters: {{n_images: 2}}\nnotebooks: [{{path: {echo}}}, {{path: {other}}}]\n")
    assert [job.source for job in plan(params, [], only=["oth"])[1]] == [str(other)]
    with pytest.raises(ParameterError, match=r"--only 'o3' matches none of the notebooks \['echo.ipynb', 'other.ipynb'\]"):
        plan(params, [], only=["o3"])
    with pytest.raises(ParameterError, match="no notebook takes 'epochs'"):  # only echo.ipynb takes it
        plan(params, ["epochs=1"], only=["other"])


def test_list_params_prints_each_parameter_with_type_default_help_and_value(tmp_path, echo, capsys):
    params = write_params(tmp_path, f"name: t\nparameters: {{epochs: 5}}\nnotebooks: [{{path: {echo}}}]\n")
    assert main([str(params), "--list-params"]) == 0
    out = capsys.readouterr().out
    assert "  epochs: int = 3\n      set to 5 in echo\n" in out and "  lr: float = 0.1\n      not set in echo\n" in out
    listed = main([str(REPO / "params" / "ci.yaml"), "--list-params"]) == 0 and capsys.readouterr().out
    assert "\n  seeds: list = " in listed and "\n      set to [0] in 01_motivation, 02_synchronous" in listed


def test_a_run_leaves_its_provenance_and_a_report(tmp_path, echo, capsys):
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {echo}}}]\n")
    assert main([str(params), "epochs=2", "--runs", str(tmp_path / "runs"), "--run-id", "p"]) == 0
    run = tmp_path / "runs" / "t" / "p"
    recorded = json.loads((run / "summary.json").read_text())["provenance"]
    assert recorded["command"].endswith(f"nbutils.run {params} epochs=2 --runs {tmp_path / 'runs'} --run-id p")
    assert recorded["git"]["commit"] and recorded["wall_seconds"] >= 0
    assert (run / "report.html").is_file() and f"report: {run / 'report.html'}" in capsys.readouterr().out


# ------------------------------------------------------------------ --executor ray (tests/test_ray.py runs it)
@pytest.mark.parametrize("options, message", [
    (["--address", "10.0.0.1:6379"], "--address only apply with --executor ray"),
    (["--train-only"], "--train-only only apply with --executor ray"),
    (["--executor", "ray", "--cpus-per-training", "0"], "--cpus-per-training must be > 0"),
    (["--executor", "ray", "--address", "auto", "--local-cpus", "2"], "--local-cpus sizes a local Ray cluster"),
])
def test_ray_options_are_checked_before_anything_runs(tmp_path, options, message, capsys):
    assert main([str(CI), "--runs", str(tmp_path), *options]) == 2
    assert message in capsys.readouterr().err and not tmp_path.joinpath("ci").exists()


def test_a_ray_dry_run_lists_every_training_once_with_its_result_folder(tmp_path, capsys):
    """params/ci.yaml, notebooks 01-04: 20 methods on the one-vs-rest task and 19 on the long tail (no
    rg-oracle without fine labels); notebook 01's four label methods and 04's ce, ros, smote, rg are
    among them (same key), notebook 02's four label methods are too (the callbacks are not in the key:
    02 trains them with its per-epoch callbacks and 03 loads them), and its score method rusc is the
    benchmark's. Notebook 05 (ablations) adds its own."""
    assert main([str(CI), "--runs", str(tmp_path), "--executor", "ray", "--dry-run"]) == 0
    listed = [line.strip().split("  ->  ") for line in capsys.readouterr().out.split("before the notebooks")[1].splitlines()[1:]]
    keys = [key.split("  (first needed by ")[0] for _, key in listed]
    assert len(keys) == len(set(keys)) and all(key.startswith("results/") for key in keys)
    first_needed = [key.split("  (first needed by ")[1] for _, key in listed]
    up_to_04 = [name for (name, _), notebook in zip(listed, first_needed) if not notebook.startswith("05")]
    assert len(up_to_04) == 39 and len(listed) > 39
    assert sum("(with sync callbacks)" in name for name in up_to_04) == 4
    assert sum(name.startswith("tshirt-vs-rest/") for name in up_to_04) == 20
    assert not tmp_path.joinpath("ci").exists()


def test_without_ray_installed_the_ray_executor_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    params = REPO / "tests" / "ray_params.yaml"
    assert main([str(params), "--runs", str(tmp_path), "--executor", "ray"]) == 2
    assert "pip install -e '.[ray]'" in capsys.readouterr().err


def test_nbutils_test_float32_reaches_the_notebook_kernels(tmp_path, monkeypatch):
    """NBUTILS_TEST_FLOAT32=1 (tests/conftest.py) is read by runtime.cpu_has_native_bf16 in whatever
    process asks: the runner's papermill kernel inherits the variable and answers False there too."""
    probe = write_notebook(tmp_path / "precision.ipynb", "run_dir: str = '.'", textwrap.dedent('''\
        import json, os, pathlib
        from nbutils.core import runtime
        pathlib.Path(run_dir, 'precision.json').write_text(json.dumps({
            'variable': os.environ.get('NBUTILS_TEST_FLOAT32'), 'native_bf16': runtime.cpu_has_native_bf16()}))
        '''))
    params = write_params(tmp_path, f"name: t\nnotebooks: [{{path: {probe}}}]\n")
    monkeypatch.setenv("NBUTILS_TEST_FLOAT32", "1")
    assert main([str(params), "--runs", str(tmp_path / "runs"), "--run-id", "f"]) == 0
    seen = json.loads((tmp_path / "runs" / "t" / "f" / "precision.json").read_text())
    assert seen == {"variable": "1", "native_bf16": False}
