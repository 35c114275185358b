"""Training loop against its ceiling: images/s of one epoch of ``nbutils.train.fit`` against
forward + backward + SGD step on ONE batch already in memory as float.

    python bench/loop_vs_ceiling.py [--quick] [--repeats N] [--results PATH]

The loop side is a full epoch of fit: uint8 images gathered by resampled indices (drawn with
replacement, as random oversampling gives), converted and augmented per batch (flip, rotation),
CE loss, SGD with momentum, cosine schedule, history without validation. The ceiling side runs
the same number of steps with the same model, batch size, loss and optimiser, without data
handling. The two sides alternate (loop, ceiling, loop, ...); the ratio is the median of the
per-round ratios. Target (issue 7): loop >= 0.9 x ceiling on CPU at 28 px.
"""
from __future__ import annotations

import statistics

import torch

from harness import interleave, load_average, median_ratio, parse_args, report, timed
from nbutils.runtime import pick_device
from nbutils.train import as_input, make_optimizer
from workloads import fashion_images, fit_epoch, loss, model_for, resampled, train_config

# (arch, width, image px, steps per epoch); resnet18 ignores width and is slow on a CPU
FULL = [("cnn", 16, 28, 40), ("cnn", 32, 28, 40), ("cnn", 16, 64, 12), ("cnn", 32, 64, 12),
        ("resnet18", 0, 28, 3), ("resnet18", 0, 64, 2)]
QUICK = [("cnn", 8, 28, 3), ("cnn", 8, 64, 3)]


def ceiling_epoch(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, cfg) -> None:
    """``steps`` forward/backward/step on the batch x (B, C, H, W) float, y (B,) on the model's device."""
    loss_fn = loss().to(x.device)
    optimizer = make_optimizer(model, loss_fn, cfg)
    model.train()
    for _ in range(steps):
        value = loss_fn(model(x), y)
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    value.item()  # wait for the device


def measure(arch: str, width: int, size: int, steps: int, batch_size: int, repeats: int) -> dict:
    """One table row: median images/s of both sides and the median of their per-round ratios."""
    n = steps * batch_size
    images = fashion_images(n, size)
    data = resampled(images, n)
    cfg = train_config(batch_size)
    device = pick_device(cfg.device)
    model = model_for(arch, width, size).to(device)
    x = as_input(images.images[:batch_size].to(device))
    y = torch.as_tensor(images.labels[:batch_size], device=device)
    seconds = interleave({"loop": lambda: timed(lambda: fit_epoch(model, data, cfg)),
                          "ceiling": lambda: timed(lambda: ceiling_epoch(model, x, y, steps, cfg))}, repeats)
    return {"arch": arch if arch != "cnn" else f"cnn (width {width})", "px": size, "batch": batch_size,
            "steps": steps, "loop img/s": n / statistics.median(seconds["loop"]),
            "ceiling img/s": n / statistics.median(seconds["ceiling"]),
            "loop / ceiling": median_ratio(seconds["ceiling"], seconds["loop"])}


def options(parser) -> None:
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per row (default 5; quick 2)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128; quick 32")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    repeats = args.repeats or (2 if args.quick else 5)
    batch_size = args.batch_size or (32 if args.quick else 128)
    rows = [measure(arch, width, size, steps, batch_size, repeats if arch == "cnn" else max(1, repeats // 2))
            for arch, width, size, steps in (QUICK if args.quick else FULL)]
    report(args.results, "Training loop vs ceiling (bench/loop_vs_ceiling.py)", rows,
           device=pick_device(), load_before=load, notes=(
               f"{repeats} measured rounds per row after a warm-up round (resnet18: {max(1, repeats // 2)}), "
               "sides alternating; img/s are medians, the ratio is the median of per-round ratios. "
               "Fashion-MNIST training images (bilinear-resized for 64 px), epoch = steps x batch "
               "positions drawn with replacement. Target: loop / ceiling >= 0.9 at 28 px on CPU."))


if __name__ == "__main__":
    main()
