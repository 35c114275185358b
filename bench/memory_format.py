"""Memory layout: images/s of a training step and of encoder inference with the model and batch in
PyTorch's default (contiguous, NCHW) layout against channels-last (NHWC) memory, which
``nbutils.methods.train.fit`` and the effnet-lite0 encoder use.

    python bench/memory_format.py [--quick] [--seconds S] [--repeats N] [--threads N] [--results PATH]

Training rows: forward + backward + SGD step on one Fashion-MNIST batch already in memory (the
ceiling of bench/loop_vs_ceiling.py), two copies of the same seeded model, one per layout.
Encoder row: EfficientNet-Lite0 (ImageNet weights, 1280-d pooled features) on a batch resized to
96 px, as ``nbutils.methods.encoders.encode('effnet-lite0')`` runs it, in eval mode without gradients.
The sides alternate after a warm-up round; the ratio is the median of per-round ratios
(> 1: channels-last is faster).
"""
from __future__ import annotations

import copy
import statistics

import torch

# harness first: it imports nbutils before torch, so nbutils' OMP_WAIT_POLICY default reaches torch
from harness import interleave, load_average, median_ratio, parse_args, progress_line, ratio_range, report, timed
from workloads import arch_label, ceiling_steps, fashion_images, model_for, one_batch, steps_for, train_config

from nbutils.core.runtime import channels_last, pick_device
from nbutils.methods.encoders import effnet_lite0_network, prepare_images

# (arch, width, image px, batch size), as in bench/loop_vs_ceiling.py
FULL = [("cnn", 16, 28, 128), ("cnn", 32, 28, 128), ("cnn", 16, 64, 128), ("cnn", 32, 64, 128),
        ("resnet18", 0, 28, 32)]
QUICK = [("cnn", 8, 28, 32)]


def row(workload: str, size: int, batch_size: int, images: int, times: dict[str, list[float]]) -> dict:
    """A table row from both layouts' times for ``images`` images a round."""
    return progress_line({
        "workload": workload, "px": size, "batch": batch_size,
        "contiguous img/s": images / statistics.median(times["contiguous"]),
        "channels-last img/s": images / statistics.median(times["channels-last"]),
        "channels-last / contiguous": median_ratio(times["contiguous"], times["channels-last"]),
        "per-round range": ratio_range(times["contiguous"], times["channels-last"])})


def training_step(arch: str, width: int, size: int, batch_size: int, seconds: float, repeats: int) -> dict:
    """One row: steps on one batch, each layout with its own copy of the model."""
    cfg = train_config(batch_size)
    device = pick_device(cfg.device)
    x, y = one_batch(batch_size, size, device)
    model = model_for(arch, width, size).to(device)
    last = copy.deepcopy(model).to(memory_format=torch.channels_last)
    steps = steps_for(seconds, model, x, y, cfg)
    times = interleave({"contiguous": lambda: timed(lambda: ceiling_steps(model, x, y, steps, cfg)),
                        "channels-last": lambda: timed(lambda: ceiling_steps(last, channels_last(x), y, steps, cfg))},
                       repeats)
    return row(f"train step, {arch_label(arch, width)}", size, batch_size, steps * batch_size, times)


def encoder_inference(batch_size: int, repeats: int) -> dict:
    """One row: effnet-lite0 features of one batch of 28-px images, resized to 96 px as encode does."""
    device = pick_device()
    net = effnet_lite0_network().to(device)
    last = copy.deepcopy(net).to(memory_format=torch.channels_last)
    x = prepare_images(fashion_images(batch_size, 28).images.to(device), 96, net.pretrained_cfg["mean"],
                       net.pretrained_cfg["std"])

    def features(model: torch.nn.Module, batch: torch.Tensor) -> float:
        with torch.no_grad():
            return timed(lambda: model(batch).sum().item())
    times = interleave({"contiguous": lambda: features(net, x), "channels-last": lambda: features(last, channels_last(x))},
                       repeats)
    return row("effnet-lite0 inference (96 px)", 28, batch_size, batch_size, times)


def options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None,
                        help="time per training side, sets the step count (default 3; quick 0.1)")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per row (default 5; quick 1)")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    seconds = args.seconds or (0.1 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 5)
    rows = [training_step(arch, width, size, batch, seconds, repeats if arch == "cnn" else min(2, repeats))
            for arch, width, size, batch in (QUICK if args.quick else FULL)]
    rows.append(encoder_inference(16 if args.quick else 256, repeats))
    report(args.results, "Memory layout: contiguous vs channels-last (bench/memory_format.py)", rows,
           device=pick_device(), load_before=load, notes=(
               f"{repeats} measured rounds per row (resnet18: {min(2, repeats)}) after a warm-up round, sides "
               "alternating; img/s are medians, the ratio is the median of the per-round ratios (> 1: "
               "channels-last is faster). Training: forward + backward + SGD step on one batch in memory, "
               "two copies of the same seeded model. Encoder: EfficientNet-Lite0 at 96 px, eval mode, no "
               "gradients."))


if __name__ == "__main__":
    main()
