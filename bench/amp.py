"""Reduced precision against float32, side by side: images/s of the training loop and of its
ceiling for every model of bench/loop_vs_ceiling.py, once in float32 (``amp=False``) and once in
the reduced precision ``amp=True`` gives on this device (bfloat16 on a CPU, float16 on CUDA).

    python bench/amp.py [--quick] [--seconds S] [--repeats N] [--px 28 64] [--threads N] [--results PATH]

Four sides alternate in every round (float32 loop, reduced loop, float32 ceiling, reduced ceiling)
after a warm-up round, so a speed-up is the median of per-round ratios taken under the same load.
The table also names what ``amp='auto'`` picks here: reduced precision only where the CPU has
native bf16 (``runtime.cpu_has_native_bf16``). To see a CPU without it, cap this one:
``ATEN_CPU_CAPABILITY=avx2 ONEDNN_MAX_CPU_ISA=AVX2 python bench/amp.py`` — there 'auto' trains in
float32, the code path of ``amp=False``, so it cannot be slower than float32.
Target: reduced / float32 >= 1.5 for the small CNN at 28 px on a CPU with native bf16.
"""
from __future__ import annotations

import statistics
import time

import torch

# harness first: it imports nbutils before torch, so nbutils' OMP_WAIT_POLICY default reaches torch
from harness import interleave, load_average, median_ratio, parse_args, progress_line, report, timed
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

from nbutils.core.runtime import channels_last, cpu_has_native_bf16, pick_device

# (arch, width, image px, batch size): loop_vs_ceiling.py's models; resnet18 at 28 px only (at 64 px
# one step takes seconds on a CPU)
FULL = [("cnn", 16, 28, 128), ("cnn", 32, 28, 128), ("cnn", 16, 64, 128), ("cnn", 32, 64, 128),
        ("resnet18", 0, 28, 32)]
QUICK = [("cnn", 8, 28, 32)]


def measure(arch: str, width: int, size: int, batch_size: int, seconds: float, repeats: int, clock) -> dict:
    """One row: images/s of loop and ceiling in float32 and in reduced precision, the speed-ups
    (median per-round ratios) and each precision's loop / ceiling."""
    device = pick_device()
    configs = {"fp32": train_config(batch_size, amp=False), "reduced": train_config(batch_size, amp=True)}
    models = {name: model_for(arch, width, size).to(device, memory_format=torch.channels_last) for name in configs}
    x, y = one_batch(batch_size, size, device)
    x = channels_last(x)
    steps = steps_for(seconds, models["fp32"], x, y, configs["fp32"])
    n = steps * batch_size
    data = resampled(fashion_images(n, size), n)
    sides = {}
    for name, cfg in configs.items():
        sides[f"{name} loop"] = lambda m=models[name], c=cfg: timed(lambda: fit_epoch(m, data, c), clock)
    for name, cfg in configs.items():
        sides[f"{name} ceiling"] = lambda m=models[name], c=cfg: timed(lambda: ceiling_steps(m, x, y, steps, c), clock)
    t = interleave(sides, repeats)
    reduced = precision_label(device, True)
    return progress_line({
        "arch": arch_label(arch, width), "px": size, "batch": batch_size, "steps": steps,
        "fp32 loop img/s": n / statistics.median(t["fp32 loop"]),
        f"{reduced} loop img/s": n / statistics.median(t["reduced loop"]),
        "loop speed-up": median_ratio(t["fp32 loop"], t["reduced loop"]),
        "ceiling speed-up": median_ratio(t["fp32 ceiling"], t["reduced ceiling"]),
        "fp32 loop / ceiling": median_ratio(t["fp32 ceiling"], t["fp32 loop"]),
        f"{reduced} loop / ceiling": median_ratio(t["reduced ceiling"], t["reduced loop"]),
        "auto picks": precision_label(device, "auto")})


def options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None,
                        help="float32 ceiling time per epoch, sets the step count (default 2; quick 0.1)")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per row (default 3; quick 1)")
    parser.add_argument("--px", type=int, nargs="+", default=[28, 64], help="image sizes to run (28, 64)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    seconds = args.seconds or (0.1 if args.quick else 2.0)
    repeats = args.repeats or (1 if args.quick else 3)
    rows = [measure(arch, width, size, batch, seconds, repeats, time.perf_counter)
            for arch, width, size, batch in (QUICK if args.quick else FULL) if size in args.px]
    report(args.results, "Mixed precision vs float32 (bench/amp.py)", rows, device=pick_device(), load_before=load,
           notes=(f"Native bf16 on this CPU (runtime.cpu_has_native_bf16): {cpu_has_native_bf16()}. "
                  f"Wall time; {repeats} measured rounds after a warm-up round, four sides alternating; img/s "
                  "are medians, speed-ups and loop / ceiling are medians of per-round ratios. 'auto picks' is "
                  "the precision fit trains in by default on this machine. Target: loop speed-up >= 1.5 for "
                  "the small CNN at 28 px on a CPU with native bf16."))


if __name__ == "__main__":
    main()
