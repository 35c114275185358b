"""Regrouping: seconds of ``Regrouper(n_clusters="ratio", clustering=...).fit(embeddings, labels)``
for each clustering option against the number N and width D of the embeddings.

    python bench/regrouping.py [--quick] [--cap SECONDS] [--repeats N] [--results PATH]

The embeddings are random, not encoded images: a Gaussian mixture (float32) whose majority
class (90 %) is drawn from 9 unit-variance components around centres spread with standard
deviation 3, and whose minority class (10 %) is one more component, so the paper's binary rule
(n_clusters="ratio") splits the majority into 9 clusters. Each (N, D) runs in a child process
(spawned) that makes the data once and fits every clustering in turn; a fit that takes longer
than the cap is stopped and reported as "> cap". Two options are not run where they cannot
finish: Ward agglomerative clustering from N = 60k on (it keeps the n_j^2 / 2 pairwise distances
of a class in memory, 11.7 GB for the 54k majority of N = 60k, 130 GB at 200k, and its time grows
as n_j^2: 30x the 10k time at 60k) and spectral clustering at 200k (its brute-force
nearest-neighbour graph alone is 180k^2 distances).
Target: 60k x 1280 in <= 30 s on 2 cores.
"""
from __future__ import annotations

import multiprocessing as mp
import statistics

import numpy as np
from harness import load_average, parse_args, report, timed

from nbutils.methods.regroup import CLUSTERINGS, Regrouper

FULL_SIZES, FULL_DIMS = (10_000, 60_000, 200_000), (512, 1280)
QUICK_SIZES, QUICK_DIMS = (200,), (8,)
NOT_RUN_FROM = {"agglomerative": 60_000, "spectral": 200_000}  # N from which the option is infeasible
MINORITY_SHARE, MAJORITY_COMPONENTS = 0.1, 9


def gaussian_mixture(n: int, d: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Embeddings (n, d) float32 and binary labels (n,): see the module docstring."""
    rng = np.random.default_rng(seed)
    labels = (np.arange(n) < round(MINORITY_SHARE * n)).astype(np.int64)
    component = np.where(labels == 1, MAJORITY_COMPONENTS, rng.integers(0, MAJORITY_COMPONENTS, n))
    centres = rng.normal(0.0, 3.0, (MAJORITY_COMPONENTS + 1, d)).astype(np.float32)
    embeddings = rng.standard_normal((n, d), dtype=np.float32)
    embeddings += centres[component]
    return embeddings, labels


def fit_all(n: int, d: int, schedule: list[str], conn) -> None:
    """Child process: make the data, send 'ready', then fit each clustering of ``schedule`` in
    order and send the seconds of each fit."""
    embeddings, labels = gaussian_mixture(n, d)
    conn.send("ready")
    for name in schedule:
        regrouper = Regrouper(n_clusters="ratio", clustering=name, random_state=0)
        conn.send(timed(lambda: regrouper.fit(embeddings, labels)))


def time_clusterings(n: int, d: int, clusterings: list[str], repeats: int, cap: float) -> dict[str, list | str]:
    """Seconds of each fit, ``repeats`` rounds of the clusterings in turn: {clustering: [seconds, ...]},
    or a string saying why there are none: '> cap s' when a fit passed the cap (the child is
    stopped and the rest of the schedule goes on in a new one), or 'failed' when the child died."""
    context = mp.get_context("spawn")
    results: dict[str, list | str] = {c: [] for c in clusterings}
    schedule = [c for _ in range(repeats) for c in clusterings]
    while schedule:
        receiver, sender = context.Pipe(duplex=False)
        child = context.Process(target=fit_all, args=(n, d, schedule, sender), daemon=True)
        child.start()
        sender.close()
        done = 0
        try:
            receiver.recv()  # the data is ready; making it is not timed
            for name in schedule:
                if not receiver.poll(cap):
                    results[name] = f"> {cap:g} s"
                    break
                results[name].append(receiver.recv())
                done += 1
        except EOFError:  # the child died, e.g. killed for lack of memory
            child.join(10)
            results[schedule[done]] = f"failed (exit code {child.exitcode})"
        child.kill()
        child.join()
        schedule = [c for c in schedule[done:] if isinstance(results[c], list)]
    return results


def cell(result: list | str) -> str:
    return result if isinstance(result, str) else f"{statistics.median(result):.2f}"


def options(parser) -> None:
    parser.add_argument("--cap", type=float, default=None, help="seconds allowed per fit (default 60; quick 20)")
    parser.add_argument("--repeats", type=int, default=1, help="fits per cell; the table shows the median")
    parser.add_argument("--sizes", type=int, nargs="+", default=None, help=f"N values (default {FULL_SIZES})")
    parser.add_argument("--dims", type=int, nargs="+", default=None, help=f"D values (default {FULL_DIMS})")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    cap = args.cap or (20.0 if args.quick else 60.0)
    sizes = args.sizes or (QUICK_SIZES if args.quick else FULL_SIZES)
    dims = args.dims or (QUICK_DIMS if args.quick else FULL_DIMS)
    rows = []
    for d in dims:
        for n in sizes:
            run = [c for c in CLUSTERINGS if n < NOT_RUN_FROM.get(c, n + 1)]
            results = time_clusterings(n, d, run, args.repeats, cap)
            rows.append({"N": n, "D": d, **{c: cell(results[c]) if c in results else "not run (infeasible)"
                                           for c in CLUSTERINGS}})
    report(args.results, "Regrouping: clustering time (bench/regrouping.py)", rows, device="cpu",
           load_before=load, notes=(
               f"Seconds per Regrouper.fit (n_clusters='ratio': 9 clusters for the 90 % majority), median of "
               f"{args.repeats} fit(s); cap {cap:g} s per fit. Random Gaussian-mixture embeddings, "
               "not encoded images (see the script's docstring). 'not run (infeasible)': Ward keeps "
               "n^2/2 distances (11.7 GB for the 54k majority at N = 60k) and takes n^2 time (30x its 10k "
               "time at 60k); spectral's brute-force neighbour graph at 200k is 180k^2 distances. Target: 60k x 1280 in <= 30 s on 2 cores."))


if __name__ == "__main__":
    main()
