"""Training loop against the conventional pipeline: images/s of one epoch of
``nbutils.methods.train.fit`` against a torch DataLoader over a Dataset of PIL images with torchvision
transforms per sample (RandomHorizontalFlip, RandomRotation(10), ToTensor, Normalize).

    python bench/loop_vs_conventional.py [--quick] [--seconds S] [--repeats N] [--workers 0 2]
                                         [--threads N] [--results PATH]

Both sides train the same model (two copies of it) with the same loss (CE), optimiser (SGD with
momentum) and batch size on the same epoch; the loop's copy is in channels-last memory, as fit
puts it, the conventional one in PyTorch's default layout, as the usual recipe leaves it. The
epoch: positions drawn with replacement from Fashion-MNIST training images (resized beforehand
for 64 px, so neither side pays for resizing). The conventional epoch is
``for x, y in loader: step``, with a fresh DataLoader each epoch (its default, non-persistent
workers: worker start-up is part of the epoch). The data handling alone is timed too, on the
same epoch without the model: the loop's gather, conversion and augmentation of each batch
against iterating the DataLoader. The epoch's step count is chosen so that
forward/backward/step alone would take about ``--seconds``. The sides alternate after a warm-up
round; ratios are medians of per-round ratios. Target: the loop faster than the conventional pipeline at both sizes.
"""
from __future__ import annotations

import copy
import statistics

import torch

# harness first: it imports nbutils before torch, so nbutils' OMP_WAIT_POLICY default reaches torch
from harness import interleave, load_average, median_ratio, parse_args, progress_line, ratio_range, report, timed
from PIL import Image
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms
from workloads import (
    arch_label,
    fashion_images,
    fit_epoch,
    loop_data_epoch,
    loss,
    model_for,
    one_batch,
    resampled,
    steps_for,
    train_config,
)

from nbutils.core.runtime import pick_device
from nbutils.data.imagesets import TrainingSet
from nbutils.methods.train import make_optimizer

# (arch, width, image px)
FULL = [("cnn", 16, 28), ("cnn", 32, 28), ("cnn", 16, 64), ("cnn", 32, 64)]
QUICK = [("cnn", 8, 28), ("cnn", 8, 64)]


class PILImages(Dataset):
    """The conventional dataset: item i is (transform(PIL image of position indices[i]), label)."""

    def __init__(self, data: TrainingSet, transform):
        self.images = data.images.numpy()
        self.labels = data.labels
        self.indices = data.indices
        self.transform = transform

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        j = self.indices[i]
        return self.transform(Image.fromarray(self.images[j, 0])), int(self.labels[j])


def conventional_transform() -> transforms.Compose:
    return transforms.Compose([transforms.RandomHorizontalFlip(), transforms.RandomRotation(10),
                               transforms.ToTensor(), transforms.Normalize((0.5,), (0.25,))])


def conventional_epoch(model: torch.nn.Module, dataset: PILImages, cfg, workers: int, device: torch.device) -> None:
    """One epoch of the usual PyTorch recipe: shuffled DataLoader, per-sample transforms."""
    loader = DataLoader(dataset, batch_size=cfg.batch_size, shuffle=True, num_workers=workers,
                        pin_memory=device.type == "cuda")
    loss_fn = loss().to(device)
    optimizer = make_optimizer(model, loss_fn, cfg)
    model.train()
    for x, y in loader:
        value = loss_fn(model(x.to(device, non_blocking=True)), y.to(device, non_blocking=True))
        optimizer.zero_grad(set_to_none=True)
        value.backward()
        optimizer.step()
    value.item()  # wait for the device


def conventional_data_epoch(dataset: PILImages, batch_size: int, workers: int) -> None:
    """The DataLoader's side alone: one epoch of batches, no model."""
    for _ in DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=workers):
        pass


def measure(arch: str, width: int, size: int, batch_size: int, workers: list[int], seconds: float,
            repeats: int) -> list[dict]:
    """Rows (one per worker count): median images/s of each side, with and without the model, and
    the medians of the per-round ratios."""
    cfg = train_config(batch_size)
    device = pick_device(cfg.device)
    model = model_for(arch, width, size).to(device)  # the conventional side keeps the default layout
    steps = steps_for(seconds, model, *one_batch(batch_size, size, device), cfg)
    n = steps * batch_size
    data = resampled(fashion_images(n, size), n)
    dataset = PILImages(data, conventional_transform())
    loop_model = copy.deepcopy(model)  # fit moves it to channels-last memory
    sides = {"loop": lambda: timed(lambda: fit_epoch(loop_model, data, cfg)),
             "loop data": lambda: timed(lambda: loop_data_epoch(data, cfg, device))}
    for w in workers:
        sides[w] = lambda w=w: timed(lambda: conventional_epoch(model, dataset, cfg, w, device))
        sides[f"{w} data"] = lambda w=w: timed(lambda: conventional_data_epoch(dataset, batch_size, w))
    times = interleave(sides, repeats)
    name = arch_label(arch, width)
    rate = lambda side: n / statistics.median(times[side])  # noqa: E731
    return [progress_line({
        "arch": name, "px": size, "batch": batch_size, "steps": steps, "workers": w,
        "loop img/s": rate("loop"), "conventional img/s": rate(w),
        "loop / conventional": median_ratio(times[w], times["loop"]),
        "per-round range": ratio_range(times[w], times["loop"]),
        "data only: loop img/s": rate("loop data"), "data only: conventional img/s": rate(f"{w} data"),
        "data only: loop / conventional": median_ratio(times[f"{w} data"], times["loop data"])}) for w in workers]


def options(parser) -> None:
    parser.add_argument("--seconds", type=float, default=None,
                        help="ceiling time per epoch, sets the step count (default 3; quick 0.1)")
    parser.add_argument("--repeats", type=int, default=None, help="measured rounds per case (default 3; quick 1)")
    parser.add_argument("--batch-size", type=int, default=None, help="default 128; quick 32")
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2], help="DataLoader num_workers to try")


def main() -> None:
    args = parse_args(__doc__, options)
    load = load_average()
    seconds = args.seconds or (0.1 if args.quick else 3.0)
    repeats = args.repeats or (1 if args.quick else 3)
    batch_size = args.batch_size or (32 if args.quick else 128)
    rows = [row for arch, width, size in (QUICK if args.quick else FULL)
            for row in measure(arch, width, size, batch_size, args.workers, seconds, repeats)]
    report(args.results, "Training loop vs conventional DataLoader (bench/loop_vs_conventional.py)", rows,
           device=pick_device(), load_before=load, notes=(
               f"{repeats} measured rounds per case after a warm-up round, sides alternating (loop, then "
               "the DataLoader with each worker count); img/s are medians, the ratio is the median of "
               f"per-round ratios (> 1: the loop is faster); steps chosen for about {seconds:g} s of "
               "forward/backward/step. 'data only': the same epoch without the model (the loop's gather, "
               "conversion and augmentation; iterating the DataLoader). Conventional: PIL image per sample, "
               "RandomHorizontalFlip, RandomRotation(10), ToTensor, Normalize; a fresh DataLoader "
               "(non-persistent workers) each epoch. Target: loop / conventional > 1 at 28 and 64 px."))


if __name__ == "__main__":
    main()
