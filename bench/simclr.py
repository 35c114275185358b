"""Self-supervised encoder: how long SimCLR (``encode(images, "simclr")``, nbutils.methods.ssl) takes to train
on a task's training images, and what a cache hit costs after it.

    python bench/simclr.py [--quick] [--n N] [--epochs E] [--widths W ...] [--results PATH]

Each row trains the encoder from an empty cache folder on the first N Fashion-MNIST training images
at 28 px (and 32 px, bilinear-resized) with the encoder's defaults except ``epochs`` and ``width``,
then encodes them again (a hit of the embedding cache). 'train img/s' counts images per second of
training (N x epochs / seconds; each image is two augmented views, forward and backward), 'seconds'
is the whole miss: training, encoding the N images and saving. NBUTILS_CACHE points at a temporary
folder, so the user's cache is neither used nor touched. One round per row: a training of a minute
is long enough to time once; the load average is recorded.
"""
from __future__ import annotations

import os
import tempfile

from harness import load_average, parse_args, progress_line, report, timed
from workloads import fashion_images

from nbutils.core.runtime import autocast_dtype, pick_device
from nbutils.methods.encoders import encode


def measure(n: int, size: int, width: int, epochs: int, cache_root: str) -> dict:
    """One table row: seconds and images/s of training on n images at ``size`` px, and the hit."""
    images = fashion_images(n, size).images
    os.environ["NBUTILS_CACHE"] = tempfile.mkdtemp(dir=cache_root)
    miss = timed(lambda: encode(images, "simclr", epochs=epochs, width=width))
    hit = timed(lambda: encode(images, "simclr", epochs=epochs, width=width))
    return {"px": size, "width": width, "N": n, "epochs": epochs, "seconds": miss,
            "train img/s": n * epochs / miss, "cache hit s": hit}


def options(parser) -> None:
    parser.add_argument("--n", type=int, default=None, help="training images (default 1500; quick 64)")
    parser.add_argument("--epochs", type=int, default=None, help="SimCLR epochs (default 30, the encoder's; quick 1)")
    parser.add_argument("--widths", type=int, nargs="+", default=None, help="backbone widths (default 16 32; quick 4)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    n = args.n or (64 if args.quick else 1500)
    epochs = args.epochs or (1 if args.quick else 30)
    widths = args.widths or ([4] if args.quick else [16, 32])
    sizes = [28] if args.quick else [28, 32]
    with tempfile.TemporaryDirectory(prefix="bench-ssl-") as cache_root:
        rows = [progress_line(measure(n, size, width, epochs, cache_root)) for width in widths for size in sizes]
    device = pick_device()
    report(args.results, "Self-supervised encoder: SimCLR training time (bench/simclr.py)", rows, device=device,
           load_before=load, notes=(
               f"One round per row. Fashion-MNIST training images; SimCLR with the encoder's defaults (batch 256, "
               f"Adam 1e-3, temperature 0.5) but epochs and width; training precision "
               f"{autocast_dtype(device) or 'float32'} (runtime.autocast_dtype). 'seconds': a cache miss (train, "
               "encode the N images, save); 'train img/s' = N x epochs / seconds; 'cache hit s': the same call again."))


if __name__ == "__main__":
    main()
