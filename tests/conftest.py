"""Test settings: offline hub, headless plots, quiet progress bars, a private cache folder; and,
when NBUTILS_MUTATION names a fault of tests/mutations.py, that fault put into nbutils before
any test module is imported (tests/test_mutations.py runs the suite's named tests that way);
and ``ci_run``, the session's one run of params/ci.yaml.

NBUTILS_TEST_FLOAT32=1 runs the suite as on a CPU without native bf16: ``amp='auto'`` then
trains (and encodes) in float32, as ``runtime.autocast_dtype`` does there. ``runtime.cpu_has_native_bf16``,
the one place the choice is made, reads it and answers False; it changes no kernel (unlike
ATEN_CPU_CAPABILITY=default or ONEDNN_MAX_CPU_ISA=AVX2, which also read as such a CPU). Being an
environment variable it holds in this process and in every subprocess: test_mutations.py's pytest
runs, the runner's notebook kernels (test_run.py checks one) and a local Ray cluster's workers."""
import importlib.util
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # see nbutils/__init__.py
os.environ["MPLBACKEND"] = "Agg"
os.environ["NBUTILS_QUIET"] = "1"
os.environ.setdefault("NBUTILS_CACHE", tempfile.mkdtemp(prefix="nbutils-test-cache-"))

if os.environ.get("NBUTILS_MUTATION"):
    import mutations

    mutations.apply(os.environ["NBUTILS_MUTATION"])


# ----------------------------------------------------------------------------- params/ci.yaml, run once
ROOT = Path(__file__).resolve().parent.parent
# An IPython startup file for the run's notebook kernels: it records every run_cached call (its
# result folder, and whether the result was already there) for test_ray.py's plan test.
RUN_CACHED_RECORDER = '''
def _record_run_cached():  # names kept out of the notebook's namespace (it has a parameter 'methods')
    import json, os
    import nbutils.methods.registry as module
    real = module.run_cached
    def run_cached(task, task_spec, entry, seed, run_dir, **settings):
        folder = module.result_folder(task, task_spec, entry, seed, run_dir, **settings)
        with open(os.environ["RUN_CACHED_RECORD"], "a") as f:
            f.write(json.dumps({"key": folder.relative_to(run_dir).as_posix(),
                                "finished_before": (folder / "row.json").is_file()}) + "\\n")
        return real(task, task_spec, entry, seed, run_dir, **settings)
    module.run_cached = run_cached
_record_run_cached()
del _record_run_cached
'''


@pytest.fixture(scope="session")
def ci_run(tmp_path_factory) -> SimpleNamespace:
    """params/ci.yaml run once for the whole session (the suite's longest step), read by
    test_regression.py (the notebooks' outputs, and the plan against what the kernels loaded): one
    file, so that ``make test``'s ``--dist loadfile`` runs it in one worker, once. With Ray
    installed it runs with ``--executor ray`` (the trainings first, on a local 2-CPU cluster, then
    every notebook through papermill) and its kernels record their run_cached calls; without Ray, with the local executor. Returns ``dir`` (the run folder), ``executor`` and
    ``record`` (the run_cached record, None without Ray)."""
    root = tmp_path_factory.mktemp("ci-run")
    env = {**os.environ, "CI": "1"}
    command = [sys.executable, "-m", "nbutils.run", "params/ci.yaml", "--runs", str(root / "runs"), "--run-id", "ci"]
    record = None
    if importlib.util.find_spec("ray") is not None:
        startup = root / "ipython" / "profile_default" / "startup"
        startup.mkdir(parents=True)
        (startup / "record.py").write_text(RUN_CACHED_RECORDER)
        record = root / "run_cached.jsonl"
        env.update(IPYTHONDIR=str(root / "ipython"), RUN_CACHED_RECORD=str(record))
        command += ["--executor", "ray"]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return SimpleNamespace(dir=root / "runs" / "ci" / "ci", executor="ray" if record else "local", record=record)
