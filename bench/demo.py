"""Notebook runs: wall time and peak memory of ``python -m nbutils.run PARAMS``, by notebook.

    python bench/demo.py [PARAMS] [key=value ...] [--quick] [--interval S] [--results PATH]

Runs the runner (default ``params/ci.yaml``) in a fresh run folder and an empty NBUTILS_CACHE
(a cold run: nothing is loaded from earlier runs), both temporary. While it runs, the resident
memory (RSS) of its whole process tree — the runner, each notebook's kernel and anything they
start — is summed every ``--interval`` seconds; each notebook's peak is the largest sum while the
runner says it is running that notebook. The largest RSS any single process reached, as the
kernel counts it (getrusage of the waited-for children), checks the sampling. Seconds per
notebook come from the run's ``summary.json``. ``--quick`` runs a one-cell notebook instead: the
runner's own cost (papermill, a kernel start). Target: ``make demo`` peak RSS <= 4 GiB.
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil
import yaml
from harness import load_average, parse_args, report

from nbutils.runs.folder import read_summary

REPO = Path(__file__).resolve().parent.parent
GIB = 2**30
TIME = Path("/usr/bin/time")  # GNU time: %M is the largest RSS of the process and its waited-for descendants


def tree_rss(root: psutil.Process) -> int:
    """Bytes of resident memory of ``root`` and all its descendants (shared pages counted in each)."""
    total = 0
    for process in [root, *root.children(recursive=True)]:
        try:
            total += process.memory_info().rss
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            pass
    return total


def watch(command: list[str], env: dict[str, str], interval: float) -> tuple[int, float, list, list]:
    """Run ``command``, echoing its output; returns (exit code, seconds, [(time, output line)],
    [(time, tree RSS bytes)])."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env=env, cwd=REPO)
    lines: list[tuple[float, str]] = []

    def read() -> None:
        for line in process.stdout:
            lines.append((time.perf_counter(), line))
            print(line, end="", flush=True)

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    root, samples = psutil.Process(process.pid), []
    while process.poll() is None:
        samples.append((time.perf_counter(), tree_rss(root)))
        time.sleep(interval)
    reader.join()
    return process.returncode, time.perf_counter() - start, lines, samples


def peaks_by_notebook(lines: list[tuple[float, str]], samples: list[tuple[float, int]]) -> dict[str, int]:
    """Largest tree RSS while each notebook ran (from the runner's 'running NAME ...' lines)."""
    starts = [(t, m.group(1)) for t, line in lines if (m := re.match(r"running (.+) \.\.\.$", line.strip()))]
    ends = [t for t, _ in starts[1:]] + [float("inf")]
    return {name: max((rss for t, rss in samples if begin <= t < end), default=0)
            for (begin, name), end in zip(starts, ends)}


def quick_params(folder: Path) -> Path:
    """A parameter file running one small notebook (a parameters cell and one cell of NumPy)."""
    import nbformat
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell('run_dir: str = ""', metadata={"tags": ["parameters"]}),
                      nbformat.v4.new_code_cell("import numpy as np\nprint(np.ones((1000, 1000)).sum())")]
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(notebook, folder / "quick.ipynb")
    params = folder / "quick.yaml"
    params.write_text(yaml.safe_dump({"name": "bench-quick", "notebooks": [{"path": str(folder / "quick.ipynb")}]}))
    return params


def options(parser) -> None:
    parser.add_argument("params", nargs="?", type=Path, default=REPO / "params" / "ci.yaml",
                        help="parameter file (default params/ci.yaml)")
    parser.add_argument("overrides", nargs="*", help="key=value overrides passed to the runner")
    parser.add_argument("--interval", type=float, default=0.2, help="seconds between memory samples")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    with tempfile.TemporaryDirectory(prefix="bench-demo-") as tmp:
        tmp = Path(tmp)
        params = quick_params(tmp) if args.quick else args.params.resolve()
        if not params.is_file():
            sys.exit(f"error: parameter file {params} not found; pass one (e.g. params/demo.yaml) or use --quick")
        env = {"HF_HUB_OFFLINE": "1", "OMP_WAIT_POLICY": "PASSIVE",  # as the Makefile sets them
               **os.environ, "NBUTILS_CACHE": str(tmp / "cache"), "NBUTILS_QUIET": "1"}
        command = [sys.executable, "-m", "nbutils.run", str(params), *args.overrides,
                   "--runs", str(tmp / "runs"), "--run-id", "bench"]
        if TIME.is_file():
            command = [str(TIME), "-o", str(tmp / "maxrss"), "-f", "%M"] + command
        code, seconds, lines, samples = watch(command, env, args.interval)
        summaries = list((tmp / "runs").glob("*/bench/summary.json"))
        records = read_summary(summaries[0].parent)[0] if summaries else []
        largest = (f"{int((tmp / 'maxrss').read_text().split()[-1]) * 1024 / GIB:.2f} GiB"
                   if (tmp / "maxrss").is_file() else "n/a (no /usr/bin/time)")
    peaks = peaks_by_notebook(lines, samples)
    rows = [{"notebook": r["notebook"], "status": r["status"], "seconds": r["seconds"],
             "peak tree RSS GiB": peaks.get(r["notebook"], 0) / GIB} for r in records]
    rows.append({"notebook": f"whole run ({params.name})", "status": f"exit {code}", "seconds": round(seconds, 1),
                 "peak tree RSS GiB": max((rss for _, rss in samples), default=0) / GIB})
    report(args.results, "Notebook runs: time and memory (bench/demo.py)", rows, device="cpu",
           load_before=load, notes=(
               f"Cold run (empty run folder and NBUTILS_CACHE). Seconds per notebook from the runner's "
               f"summary.json; peak tree RSS = largest sum of RSS over the runner's process tree, sampled "
               f"every {args.interval:g} s (pages shared by processes counted in each: an upper bound). "
               f"Largest single process (/usr/bin/time %M): {largest}. Target: peak RSS <= 4 GiB."))
    sys.exit(code)


if __name__ == "__main__":
    main()
