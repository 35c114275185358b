"""The papermill runner: parameters reach the notebook, bad input fails before anything runs,
and a failing notebook is named with its cell."""
import json
import textwrap

import nbformat
import pytest

from nbutils.config import build, parse_override
from nbutils.run import ParameterError, main, plan
from nbutils.train import TrainConfig


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
        tasks: dict = {"a": {"n": 1}}
        name: str | None = None'''),
        'import json, pathlib\npathlib.Path(run_dir, "seen.json").write_text('
        'json.dumps({"epochs": epochs, "lr": lr, "tasks": tasks, "name": name}))')
    return nb


def write_params(tmp_path, text):
    path = tmp_path / "p.yaml"
    path.write_text(textwrap.dedent(text))
    return path


def test_parameters_and_overrides_reach_the_notebook(tmp_path, echo):
    params = write_params(tmp_path, f"""\
        name: t
        parameters: {{epochs: 5, tasks: {{a: {{n: 2}}}}}}
        notebooks:
          - path: {echo}
            parameters: {{lr: 0.5}}
        """)
    code = main([str(params), "epochs=7", "tasks.a.n=9", "name=x", "--runs", str(tmp_path / "runs"),
                 "--run-id", "r1"])
    assert code == 0
    run = tmp_path / "runs" / "t" / "r1"
    assert json.loads((run / "seen.json").read_text()) == {"epochs": 7, "lr": 0.5, "tasks": {"a": {"n": 9}}, "name": "x"}
    assert (run / "echo.ipynb").is_file() and json.loads((run / "summary.json").read_text())[0]["status"] == "ok"


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
    ("epochs", "must look like key=value"),
])
def test_bad_overrides_fail_before_anything_runs(tmp_path, echo, override, message):
    params = write_params(tmp_path, f"name: t\nparameters: {{tasks: {{a: {{n: 1}}}}}}\nnotebooks:\n  - path: {echo}\n")
    with pytest.raises((ParameterError, ValueError, TypeError), match=message):
        plan(params, [override])


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


def test_config_build_checks_names_and_types():
    assert build(TrainConfig, {"epochs": 2, "lr": 1}, "t").lr == 1.0
    with pytest.raises(ValueError, match="unknown key.*'epoch'.*valid"):
        build(TrainConfig, {"epoch": 2}, "train")
    with pytest.raises(TypeError, match="train: epochs='2' is a str, but epochs takes a int"):
        build(TrainConfig, {"epochs": "2"}, "train")
    assert parse_override("train.lr=1e-3") == (["train", "lr"], 1e-3)
    assert parse_override("seeds=[0, 1]") == (["seeds"], [0, 1])
