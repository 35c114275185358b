"""Encoders: images/s of ``nbutils.methods.encoders.encode`` for each encoder, and the speed-up of a cache
hit (the same call again) over encoding.

    python bench/encoders.py [--quick] [--n N] [--repeats N] [--results PATH]

Each round encodes Fashion-MNIST training images into an empty cache folder (a miss: the
encoder is built, fitted where it needs fitting — pca, autoencoder — and run, and the result
saved), then calls encode again (a hit: hashing the images and loading the .npy). NBUTILS_CACHE
points at a temporary folder, so the user's cache is neither used nor touched. The speed-up is
the median of the per-round miss/hit time ratios. Target: a hit >= 50x faster.
"""
from __future__ import annotations

import os
import statistics
import tempfile
from typing import Any

from harness import interleave, load_average, median_ratio, parse_args, progress_line, report, timed
from workloads import fashion_images

from nbutils.core.runtime import pick_device
from nbutils.methods.encoders import encode

# encoder -> options: each at its defaults (effnet-lite0 resizes to its default 96 px)
FULL: dict[str, dict[str, Any]] = {"effnet-lite0": {}, "raw": {}, "pca": {}, "autoencoder": {}}
QUICK: dict[str, dict[str, Any]] = {"effnet-lite0": {}, "raw": {}, "pca": {"n_components": 8},
                                    "autoencoder": {"epochs": 1}}


def measure(name: str, options: dict[str, Any], images, cache_root: str, repeats: int) -> dict:
    """One table row: median images/s of a miss and of a hit, and the median hit speed-up."""
    shapes: list[tuple[int, ...]] = []

    def miss() -> float:
        os.environ["NBUTILS_CACHE"] = tempfile.mkdtemp(dir=cache_root)
        return timed(lambda: shapes.append(encode(images, name, **options).shape))

    def hit() -> float:
        return timed(lambda: encode(images, name, **options))

    seconds = interleave({"miss": miss, "hit": hit}, repeats)
    n = len(images)
    return {"encoder": name, "options": ", ".join(f"{k}={v}" for k, v in options.items()) or "defaults",
            "N": n, "D": shapes[-1][1], "encode img/s": n / statistics.median(seconds["miss"]),
            "cache hit img/s": n / statistics.median(seconds["hit"]),
            "hit speed-up": median_ratio(seconds["miss"], seconds["hit"])}


def options(parser) -> None:
    parser.add_argument("--n", type=int, default=None, help="images to encode (default 1000; quick 64)")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per encoder (default 2; quick 1)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    n = args.n or (64 if args.quick else 1000)
    repeats = args.repeats or (1 if args.quick else 2)
    images = fashion_images(n, 28).images
    with tempfile.TemporaryDirectory(prefix="bench-encoders-") as cache_root:
        rows = [progress_line(measure(name, opts, images, cache_root, repeats))
                for name, opts in (QUICK if args.quick else FULL).items()]
    report(args.results, "Encoders and their cache (bench/encoders.py)", rows, device=pick_device(),
           load_before=load, notes=(
               f"{repeats} measured round(s) (miss, then hit) per encoder after a warm-up round; img/s are "
               "medians. Fashion-MNIST 28 px training images. A miss builds the encoder (loads weights; "
               "fits pca / trains the autoencoder on the same images), encodes and saves; a hit hashes "
               "the images and loads the .npy. Target: hit speed-up >= 50x."))


if __name__ == "__main__":
    main()
