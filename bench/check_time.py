"""How long the runner takes to answer a wrong name: ``python -m nbutils.run PARAMS OVERRIDE`` that
fails its up-front check (exit 2), in CPU seconds of the runner's process, and which imports
the time goes to (``python -X importtime``'s largest cumulative entries).

Each round runs, in turn, the failing check and a bare ``python -c pass`` (the interpreter's own
start-up), both in a fresh subprocess; CPU time is the children's user + system time
(``resource.getrusage``), so other processes on a shared machine do not count. The ratio check /
bare start is the figure to compare between machines. Also runs ``--list-params`` and ``--help``,
and says for each command whether torch, scikit-learn or scipy were imported.
"""
from __future__ import annotations

import argparse
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import harness

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("torch", "sklearn", "scipy")
# prints which of HEAVY the command imported, after running it as `python -m nbutils.run ...` would
PROBE = ("import runpy, sys\nsys.argv = ['nbutils.run', *sys.argv[1:]]\n"
         "try:\n    runpy.run_module('nbutils.run', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         f"print('heavy imports:', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n")


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params", default="params/ci.yaml", help="parameter file (default params/ci.yaml)")
    parser.add_argument("--override", default="methods=[ce, rgg]", help="the wrong name (default 'methods=[ce, rgg]')")
    parser.add_argument("--repeats", type=int, default=5, help="measured rounds after a warm-up round (default 5)")
    parser.add_argument("--top", type=int, default=8, help="importtime entries listed (default 8)")


def cpu_seconds(command: list[str]) -> float:
    """CPU seconds (user + system) of ``command`` run to its end in a subprocess, from the repository."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def heavy_imports(args: list[str]) -> str:
    """Which of torch, sklearn and scipy ``python -m nbutils.run ARGS`` imported ('none' for none)."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=REPO, capture_output=True, text=True)
    found = re.search(r"heavy imports: \[(.*)\]", done.stderr)
    return (found.group(1).replace("'", "") or "none") if found else f"? (exit {done.returncode})"


def importtime_top(args: list[str], top: int) -> list[tuple[str, float]]:
    """The ``top`` imports with the largest cumulative time (seconds) under ``python -X importtime``,
    counting each module once at its outermost place (its parents' entries include it)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "nbutils.run", *args], cwd=REPO,
                          capture_output=True, text=True)
    entries = []
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+\d+ \|\s+(\d+) \|( *)(\S+)", line)
        if match:
            entries.append((match.group(3), int(match.group(1)) / 1e6, len(match.group(2))))
    outer = [(name, seconds) for name, seconds, depth in entries if depth <= 1]
    return sorted(outer, key=lambda e: -e[1])[:top]


def main() -> None:
    args = harness.parse_args(__doc__, options)
    repeats = 1 if args.quick else args.repeats
    load_before = harness.load_average()
    with tempfile.TemporaryDirectory() as runs:
        check = [args.params, args.override, "--runs", runs]
        sides = {"check": lambda: cpu_seconds([sys.executable, "-m", "nbutils.run", *check]),
                 "bare": lambda: cpu_seconds([sys.executable, "-c", "pass"])}
        measured = harness.interleave(sides, repeats)
        commands = {f"wrong name ({args.override})": check, "--list-params": [args.params, "--list-params"],
                    "--help": ["--help"]}
        heavy = {what: heavy_imports(words) for what, words in commands.items()}
        top = importtime_top(check, args.top)
    rows = [{"command": f"`python -m nbutils.run {args.params} '{args.override}'`",
             "CPU s": statistics.median(measured["check"]), "bare python CPU s": statistics.median(measured["bare"]),
             "check / bare": harness.median_ratio(measured["check"], measured["bare"]),
             "per-round range": harness.ratio_range(measured["check"], measured["bare"]),
             "torch, sklearn, scipy imported": heavy[f"wrong name ({args.override})"]}]
    notes = (f"CPU time (user + system) of the runner's process, medians of {repeats} rounds after a warm-up round, "
             "check and a bare `python -c pass` in turn. Imported by `--list-params`: "
             f"{heavy['--list-params']}; by `--help`: {heavy['--help']}.\n\n"
             "Largest imports of the check (`python -X importtime`, cumulative, outermost): "
             + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in top) + ".")
    harness.report(args.results, "A wrong name: the runner's up-front check", rows, device="cpu",
                   load_before=load_before, notes=notes)


if __name__ == "__main__":
    main()
