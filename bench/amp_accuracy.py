"""Does bf16 training change the results? Two finished runs of one parameter file, one with
``train.amp=false`` (float32) and one with the default ``amp='auto'`` (bf16 on a CPU with native
bf16), compared method by method on the same seeds:

    python bench/amp_accuracy.py RUN_FP32 RUN_BF16 [--results PATH]

For each task and method: BA and the smallest class's AP in each precision (mean over seeds), the
paired difference bf16 - fp32 with its 95% t-interval over seeds, and the float32 runs' own
standard deviation over seeds, the spread a change of precision should stay within. Also the
two runs' summed training time (each row's ``wall_time``: a result loaded from the cache keeps
the time it took to train, so the sum does not depend on what was cached).
"""
from __future__ import annotations

from pathlib import Path

import pandas as pd
from harness import load_average, parse_args, report

from nbutils.core.metrics import t_half_width


def paired(fp32: pd.DataFrame, bf16: pd.DataFrame) -> tuple[list[dict], int, int]:
    """(one row per (task, method): means, the paired bf16 - fp32 difference and its interval, in
    points; how many of the differences' intervals include zero; how many differences)."""
    rows, zero, cells = [], 0, 0
    for (task, method), a in fp32.groupby(["task", "method"], sort=False):
        b = bf16[(bf16["task"] == task) & (bf16["method"] == method)]
        both = a.merge(b, on="seed", suffixes=("_fp32", "_bf16"))
        if both.empty:
            continue
        smallest = [c for c in a.columns if c.startswith("ap/") and a[c].notna().any()][-1]
        row = {"task": task, "method": method, "seeds": len(both), "smallest class": smallest.removeprefix("ap/")}
        for metric, label in (("ba", "BA"), (smallest, "its AP")):
            diff = 100 * (both[f"{metric}_bf16"] - both[f"{metric}_fp32"])
            half = float(t_half_width(diff.std(), len(diff)))
            row[f"{label} fp32"] = 100 * both[f"{metric}_fp32"].mean()
            row[f"{label} bf16 - fp32"] = f"{diff.mean():+.1f} [{diff.mean() - half:+.1f}, {diff.mean() + half:+.1f}]"
            row[f"{label} fp32 seed std"] = 100 * both[f"{metric}_fp32"].std()
            zero += bool(diff.mean() - half <= 0 <= diff.mean() + half)
            cells += 1
        rows.append(row)
    return rows, zero, cells


def options(parser) -> None:
    parser.add_argument("fp32_run", type=Path, help="run folder trained with train.amp=false")
    parser.add_argument("bf16_run", type=Path, help="run folder trained with amp='auto' (bf16)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    read = lambda run: pd.read_csv(run / "tables" / "benchmark_rows.csv")  # noqa: E731
    fp32, bf16 = read(args.fp32_run), read(args.bf16_run)
    table, zero, cells = paired(fp32, bf16)
    walls = {"fp32": fp32["wall_time"].sum(), "bf16": bf16["wall_time"].sum()}
    report(args.results, "bf16 against float32: the same runs' results (bench/amp_accuracy.py)", table,
           device="cpu", load_before=load,
           notes=(f"Runs: `{args.fp32_run}` (train.amp=false) and `{args.bf16_run}` (amp='auto': bf16). Summed training "
                  f"time: fp32 {walls['fp32']:.0f} s, bf16 {walls['bf16']:.0f} s (ratio {walls['fp32'] / walls['bf16']:.2f}). "
                  "Differences in points, bf16 - fp32 paired by seed, [95% t-interval over seeds]; 'seed std' is the "
                  "float32 runs' standard deviation over seeds.\n\n"
                  f"{zero} of {cells} paired differences (BA and smallest-class AP, every task and method) have a "
                  "95% interval that includes zero."))


if __name__ == "__main__":
    main()
