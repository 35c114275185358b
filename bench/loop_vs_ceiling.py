"""Training loop against its ceiling: images/s of one epoch of ``nbutils.methods.train.fit`` against
forward + backward + SGD step on ONE batch already in memory as float.

    python bench/loop_vs_ceiling.py [--quick] [--seconds S] [--repeats N] [--px 28 64] [--threads N]
                                    [--clock cpu] [--results PATH]

The loop side is a full epoch of fit: uint8 images gathered by resampled indices (drawn with
replacement, as random oversampling gives), converted and augmented per batch (flip, rotation),
CE loss, SGD with momentum, cosine schedule, history without validation. The ceiling side runs
the same number of steps with the same model, batch size, loss and optimiser, without data
handling (model and batch in channels-last memory, as in fit). The epoch's step count is chosen
so the ceiling takes about ``--seconds``. The sides alternate (loop, ceiling, loop, ...) after a
warm-up round; the ratio is the median of the per-round ratios. ``--clock cpu`` times both sides
in process CPU time instead of wall time: on a busy machine, with ``--threads 1``, that leaves
out the time the process waits for a core. Each row trains in the precision ``amp='auto'`` picks
on this machine (the precision column; both sides alike); bench/amp.py sets float32 and
reduced precision side by side.
Target: loop >= 0.9 x ceiling on CPU at 28 px.
"""
from __future__ import annotations

import statistics
import time

import torch

# harness first: it imports nbutils before torch, so nbutils' OMP_WAIT_POLICY default reaches torch
from harness import interleave, load_average, median_ratio, parse_args, progress_line, ratio_range, report, timed
from workloads import (
    arch_label,
    ceiling_steps,
    fashion_images,
    fit_epoch,
    model_for,
    one_batch,
    precision_label,
    resampled,
    steps_for,
    train_config,
)

from nbutils.core.runtime import channels_last, pick_device

# (arch, width, image px, batch size); resnet18 ignores width and takes a smaller batch: it is
# slow on a CPU (one 128-image step at 64 px takes about 20 s on one core)
FULL = [("cnn", 16, 28, 128), ("cnn", 32, 28, 128), ("cnn", 16, 64, 128), ("cnn", 32, 64, 128),
        ("resnet18", 0, 28, 32), ("resnet18", 0, 64, 32)]
QUICK = [("cnn", 8, 28, 32), ("cnn", 8, 64, 32)]


def measure(arch: str, width: int, size: int, batch_size: int, seconds: float, repeats: int, clock,
            amp: bool | str = "auto") -> dict:
    """One table row: median images/s of both sides and the median of their per-round ratios."""
    cfg = train_config(batch_size, amp)
    device = pick_device(cfg.device)
    model = model_for(arch, width, size).to(device, memory_format=torch.channels_last)  # as fit has it
    x, y = one_batch(batch_size, size, device)
    x = channels_last(x)
    steps = steps_for(seconds, model, x, y, cfg)
    n = steps * batch_size
    data = resampled(fashion_images(n, size), n)
    times = interleave({"loop": lambda: timed(lambda: fit_epoch(model, data, cfg), clock),
                        "ceiling": lambda: timed(lambda: ceiling_steps(model, x, y, steps, cfg), clock)}, repeats)
    return progress_line({
        "arch": arch_label(arch, width), "px": size, "batch": batch_size,
        "precision": precision_label(device, cfg.amp), "steps": steps, "loop img/s": n / statistics.median(times["loop"]),
        "ceiling img/s": n / statistics.median(times["ceiling"]),
        "loop / ceiling": median_ratio(times["ceiling"], times["loop"]),
        "per-round range": ratio_range(times["ceiling"], times["loop"])})


def options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None,
                        help="ceiling time per epoch, sets the step count (default 3; quick 0.1)")
    parser.add_argument("--repeats", type=int, default=None,
                        help="measured rounds per row (default 5, resnet18 2; quick 1)")
    parser.add_argument("--px", type=int, nargs="+", default=[28, 64], help="image sizes to run (28, 64)")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="wall time, or process CPU time (steadier on a busy machine with --threads 1)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    seconds = args.seconds or (0.1 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 5)
    clock = time.process_time if args.clock == "cpu" else time.perf_counter
    rows = [measure(arch, width, size, batch, seconds, repeats if arch == "cnn" else min(2, repeats), clock)
            for arch, width, size, batch in (QUICK if args.quick else FULL) if size in args.px]
    report(args.results, "Training loop vs ceiling (bench/loop_vs_ceiling.py)", rows,
           device=pick_device(), load_before=load, notes=(
               f"Clock: {args.clock} time. {repeats} measured rounds per row (resnet18: {min(2, repeats)}) "
               "after a warm-up round, "
               "sides alternating; img/s are medians, the ratio is the median of the per-round ratios. "
               f"Epoch = steps x batch positions drawn with replacement from Fashion-MNIST training images "
               f"(bilinear-resized for 64 px); steps chosen for about {seconds:g} s at the ceiling. "
               "Target: loop / ceiling >= 0.9 at 28 px on CPU."))


if __name__ == "__main__":
    main()
