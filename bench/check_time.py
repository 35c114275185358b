"""How long the runner takes to answer what its up-front check finds: ``python -m nbutils.run PARAMS
OVERRIDE`` that fails the check (exit 2) for a wrong method name, a wrong data set name, an unknown
task key and a missing data folder, and a ``--dry-run`` that passes it, in CPU seconds of the
runner's process, and which imports the time goes to (``python -X importtime``'s largest
cumulative entries).

Each round runs, in turn, every case and a bare ``python -c pass`` (the interpreter's own
start-up), each in a fresh subprocess; CPU time is the children's user + system time
(``resource.getrusage``), so other processes on a shared machine do not count. The ratio case /
bare start is the figure to compare between machines. Also runs ``--list-params`` and ``--help``,
and says for each command whether torch, scikit-learn or scipy were imported. ``--repo`` measures
another checkout (e.g. ``git archive`` of an earlier commit) with this script.
"""
from __future__ import annotations

import argparse
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


# (what, the runner's arguments): the cases measured by default
CASES = [
    ("wrong method name", ["params/ci.yaml", "methods=[ce, rgg]"]),
    ("wrong data set name", ["params/ci.yaml", "tasks.tshirt-vs-rest.dataset=fashion"]),
    ("unknown task key", ["params/ci.yaml", "tasks.tshirt-vs-rest.trainsize=300"]),
    ("missing data folder", ["params/demo.yaml", "data_root=/nonexistent"]),
    ("dry run", ["params/ci.yaml", "--dry-run"]),
]


def options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--cases", nargs="+", choices=[what for what, _ in CASES], default=None,
                        help="which cases to measure (default all; with --quick the first)")
    parser.add_argument("--repo", type=Path, default=None,
                        help="the checkout whose runner is measured (default this repository)")
    parser.add_argument("--repeats", type=int, default=5, help="measured rounds after a warm-up round (default 5)")
    parser.add_argument("--top", type=int, default=8, help="importtime entries listed (default 8)")


def cpu_seconds(command: list[str], repo: Path = REPO) -> float:
    """CPU seconds (user + system) of ``command`` run to its end in a subprocess, from ``repo``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    subprocess.run(command, cwd=repo, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def heavy_imports(args: list[str], repo: Path = REPO) -> str:
    """Which of torch, sklearn and scipy ``python -m nbutils.run ARGS`` imported ('none' for none)."""
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=repo, capture_output=True, text=True)
    found = re.search(r"heavy imports: \[(.*)\]", done.stderr)
    return (found.group(1).replace("'", "") or "none") if found else f"? (exit {done.returncode})"


def importtime_top(args: list[str], top: int, repo: Path = REPO) -> list[tuple[str, float]]:
    """The ``top`` imports with the largest cumulative time (seconds) under ``python -X importtime``,
    counting each module once at its outermost place (its parents' entries include it)."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-m", "nbutils.run", *args], cwd=repo,
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
    repo = (args.repo or REPO).resolve()
    chosen = args.cases or [what for what, _ in CASES[:1 if args.quick else None]]
    cases = [(what, words) for what, words in CASES if what in chosen]
    load_before = harness.load_average()
    with tempfile.TemporaryDirectory() as runs:
        commands = {what: [*words, "--runs", runs] for what, words in cases}
        sides = {what: (lambda words=words: cpu_seconds([sys.executable, "-m", "nbutils.run", *words], repo))
                 for what, words in commands.items()}
        sides["bare"] = lambda: cpu_seconds([sys.executable, "-c", "pass"], repo)
        measured = harness.interleave(sides, repeats)
        heavy = {what: heavy_imports(words, repo) for what, words in commands.items()}
        listing = {what: heavy_imports(words, repo) for what, words in
                   {"--list-params": ["params/ci.yaml", "--list-params"], "--help": ["--help"]}.items()}
        top = {what: importtime_top(words, args.top, repo) for what, words in commands.items()}
    rows = [{"command": f"{what}: `python -m nbutils.run {' '.join(repr(w) if ' ' in w else w for w in words)}`",
             "CPU s": statistics.median(measured[what]), "bare python CPU s": statistics.median(measured["bare"]),
             "check / bare": harness.median_ratio(measured[what], measured["bare"]),
             "per-round range": harness.ratio_range(measured[what], measured["bare"]),
             "torch, sklearn, scipy imported": heavy[what]} for what, words in cases]
    commit = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True).stdout.strip() or "?"
    notes = (f"Runner of the checkout at commit {commit}. CPU time (user + system) of the runner's process, medians of {repeats} rounds after a "
             "warm-up round, every case and a bare `python -c pass` in turn. Imported by `--list-params`: "
             f"{listing['--list-params']}; by `--help`: {listing['--help']}.\n\n"
             "Largest imports of each case (`python -X importtime`, cumulative, outermost): "
             + "; ".join(f"{what}: " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in entries)
                         for what, entries in top.items()) + ".")
    harness.report(args.results, "A wrong name: the runner's up-front check", rows,
                   device="cpu", load_before=load_before, notes=notes)


if __name__ == "__main__":
    main()
