"""torch.compile: does it pay for the loop's models? Time of the first compiled training step
(compilation included), images/s of later steps against eager mode, and the number of steps
after which compiling has paid for itself.

    python bench/compile.py [--quick] [--backend NAME] [--seconds S] [--repeats N] [--threads N]
                            [--results PATH]

Each row trains a fresh seeded model in channels-last memory (as ``nbutils.methods.train.fit`` has it)
with forward + backward + SGD step on one Fashion-MNIST batch in memory (the ceiling of
bench/loop_vs_ceiling.py): eager against ``torch.compile(model)`` with the default inductor
backend (``--quick`` uses ``aot_eager``: the same tracing without the C++ compilation, a smoke
run of the script). The first compiled step is timed alone (compilation); later steps alternate
eager and compiled rounds after a warm-up round, and the ratio is the median of per-round ratios
(> 1: compiled is faster). Break-even = compile seconds / seconds saved per step; the demo trains each
model for about 30 steps (3 epochs of 1,275 images at batch 128).
"""
from __future__ import annotations

import copy
import statistics

import torch

# harness first: it imports nbutils before torch, so nbutils' OMP_WAIT_POLICY default reaches torch
from harness import interleave, load_average, median_ratio, parse_args, progress_line, report, timed
from workloads import arch_label, ceiling_steps, model_for, one_batch, steps_for, train_config

from nbutils.core.runtime import channels_last, pick_device

# (arch, width, image px, batch size)
FULL = [("cnn", 16, 28, 128), ("cnn", 32, 28, 128), ("cnn", 16, 64, 128)]
QUICK = [("cnn", 8, 28, 32)]


def measure(arch: str, width: int, size: int, batch_size: int, seconds: float, repeats: int, backend: str) -> dict:
    """One row: compile time, eager and compiled images/s, their ratio and the break-even steps."""
    cfg = train_config(batch_size)
    device = pick_device(cfg.device)
    x, y = one_batch(batch_size, size, device)
    x = channels_last(x)
    eager = model_for(arch, width, size).to(device, memory_format=torch.channels_last)
    compiled = torch.compile(copy.deepcopy(eager), backend=backend)
    first = timed(lambda: ceiling_steps(compiled, x, y, 1, cfg))
    steps = steps_for(seconds, eager, x, y, cfg)
    times = interleave({"eager": lambda: timed(lambda: ceiling_steps(eager, x, y, steps, cfg)),
                        "compiled": lambda: timed(lambda: ceiling_steps(compiled, x, y, steps, cfg))}, repeats)
    eager_step, compiled_step = (statistics.median(times[k]) / steps for k in ("eager", "compiled"))
    saved = eager_step - compiled_step
    return progress_line({
        "arch": arch_label(arch, width), "px": size, "batch": batch_size, "backend": backend,
        "first compiled step s": first, "eager img/s": batch_size / eager_step,
        "compiled img/s": batch_size / compiled_step,
        "compiled / eager": median_ratio(times["eager"], times["compiled"]),
        "break-even steps": round((first - compiled_step) / saved) if saved > 0 else "never"})


def options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None,
                        help="eager time per round, sets the step count (default 3; quick 0.1)")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per row (default 3; quick 1)")
    parser.add_argument("--backend", default=None, help="torch.compile backend (default inductor; quick aot_eager)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    seconds = args.seconds or (0.1 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 3)
    backend = args.backend or ("aot_eager" if args.quick else "inductor")
    rows = [measure(arch, width, size, batch, seconds, repeats, backend)
            for arch, width, size, batch in (QUICK if args.quick else FULL)]
    report(args.results, "torch.compile against eager mode (bench/compile.py)", rows, device=pick_device(),
           load_before=load, notes=(
               f"{repeats} measured rounds per row after a warm-up round, sides alternating; img/s are medians, "
               "the ratio is the median of per-round ratios (> 1: compiled is faster). 'first compiled step s': "
               "the first step of the compiled model, compilation included. Break-even: steps after which the "
               "compilation has paid for itself ('never' when compiled steps are not faster)."))


if __name__ == "__main__":
    main()
