"""What every benchmark shares: command line, machine description, interleaved repeats, and a
markdown section appended to ``bench/RESULTS.md``.

The machine is shared with other work, so absolute numbers are noisy: a benchmark compares two
sides measured in turn (A, B, A, B, ...) and reports medians, and each section records the
load average before and after.
"""
from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

# OpenMP reads OMP_WAIT_POLICY when torch loads it: nbutils' default only counts if torch comes later
TORCH_LOADED_FIRST = "torch" in sys.modules and "OMP_WAIT_POLICY" not in os.environ
import nbutils  # noqa: E402,F401
import torch  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "RESULTS.md"
SPEED_VARIABLES = ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")  # environment named in the machine line


def parse_args(doc: str, add_options: Callable[[argparse.ArgumentParser], None] | None = None) -> argparse.Namespace:
    """``--quick`` (a smoke run of a few seconds), ``--results PATH``, ``--threads N`` and the
    script's own options."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="tiny sizes, for the smoke test (< 30 s)")
    parser.add_argument("--results", type=Path, default=RESULTS, help=f"markdown file to append to ({RESULTS})")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch intra-op threads (default: torch's choice; 1 is steadier on a busy machine)")
    if add_options:
        add_options(parser)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    return args


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def load_average() -> str:
    """'1.23 / 1.10 / 0.98' (1, 5, 15 minutes), or 'n/a' where the OS has none."""
    try:
        return " / ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "n/a"


def machine(device: torch.device | str) -> str:
    """One markdown line naming the CPU, cores, torch version and threads, device and the OpenMP
    environment."""
    env = "".join(f", {v}={os.environ[v]}" for v in SPEED_VARIABLES if v in os.environ)
    if TORCH_LOADED_FIRST:
        env += " (set after torch was loaded: OpenMP waits actively)"
    return (f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), Python {platform.python_version()}, device {device}{env}")


def interleave(sides: dict[str, Callable[[], float]], repeats: int) -> dict[str, list[float]]:
    """Call each side once per round, in turn (A, B, A, B, ...), ``repeats`` rounds after one
    unmeasured warm-up round; returns each side's ``repeats`` results in call order."""
    for run in sides.values():
        run()
    results: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(repeats):
        for name, run in sides.items():
            results[name].append(run())
    return results


def timed(fn: Callable[[], Any], clock: Callable[[], float] = time.perf_counter) -> float:
    """Seconds ``fn()`` takes on ``clock`` (wall clock; ``time.process_time`` for CPU time)."""
    start = clock()
    fn()
    return clock() - start


def median_ratio(numerators: list[float], denominators: list[float]) -> float:
    """Median of the per-round ratios a_i / b_i: pairs measured side by side share the load."""
    return statistics.median(a / b for a, b in zip(numerators, denominators))


def ratio_range(numerators: list[float], denominators: list[float]) -> str:
    """'lowest-highest' of the per-round ratios a_i / b_i: how much the load moved them."""
    ratios = [a / b for a, b in zip(numerators, denominators)]
    return f"{min(ratios):.2f}-{max(ratios):.2f}"


def fmt(value: Any) -> str:
    """Numbers to 3 significant figures (ints as they are), the rest as str."""
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"
    return str(value)


def progress_line(row: dict[str, Any]) -> dict[str, Any]:
    """Print a finished table row to stderr (long benchmarks show progress); return it."""
    print("  " + ", ".join(f"{k}: {fmt(v)}" for k, v in row.items()), file=sys.stderr, flush=True)
    return row


def markdown_table(rows: list[dict[str, Any]]) -> str:
    """Rows (dicts with the same keys) -> a GitHub markdown table."""
    columns = list(rows[0])
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(row[c]) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def report(path: Path, title: str, rows: list[dict[str, Any]], *, device: torch.device | str,
           load_before: str, notes: str = "") -> str:
    """Print the table and append a section (title, date, command, machine, load, table, notes)
    to ``path``; returns the section."""
    command = " ".join(["python", os.path.relpath(sys.argv[0])] + sys.argv[1:])
    section = "\n".join([
        f"## {title}", "",
        f"- date: {datetime.now().isoformat(timespec='seconds')}",
        f"- command: `{command}`",
        f"- machine: {machine(device)}",
        f"- load average (1/5/15 min): {load_before} before, {load_average()} after",
        "", markdown_table(rows), ""] + ([notes.strip(), ""] if notes.strip() else []))
    print(section)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as f:
        f.write(("\n" if path.is_file() and path.stat().st_size else "") + section)
    return section
