"""The training workload the loop benchmarks share: Fashion-MNIST images, resampled indices, a
model, one epoch of ``nbutils.methods.train.fit``, and the ceiling (steps on one in-memory batch)."""
from __future__ import annotations

import functools
import os

import numpy as np
import torch
from harness import timed

from nbutils.core.runtime import autocast, autocast_dtype, grad_scaler
from nbutils.data.datasets import load_dataset
from nbutils.data.imagesets import ImageSet, TrainingSet, resize
from nbutils.methods.losses import CrossEntropy
from nbutils.methods.models import make_model
from nbutils.methods.train import (
    TrainConfig,
    as_input,
    augment_batch,
    epoch_generator,
    epoch_order,
    fit,
    make_optimizer,
)

os.environ.setdefault("NBUTILS_QUIET", "1")  # no progress bars in the tables' output
NUM_CLASSES = 10


@functools.cache
def fashion_train() -> ImageSet:
    return load_dataset("fashion-mnist", split="train")


def fashion_images(n: int, size: int) -> ImageSet:
    """The first ``n`` (at most 60,000) Fashion-MNIST training images, resized to ``size`` px:
    (n, 1, size, size) uint8."""
    train = fashion_train()
    return resize(train.subset(np.arange(min(n, len(train)))), size)


def resampled(images: ImageSet, epoch_size: int, seed: int = 0) -> TrainingSet:
    """A training set whose epoch is ``epoch_size`` positions drawn with replacement, as random
    oversampling gives (duplicates, gathered from the images by index)."""
    indices = np.random.default_rng(seed).integers(0, len(images), epoch_size)
    return TrainingSet(images.images, images.labels, indices=indices)


def one_batch(batch_size: int, size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """The first ``batch_size`` Fashion-MNIST training images at ``size`` px on ``device``: floats
    x (B, 1, size, size) in [0, 1] (default layout) and labels y (B,)."""
    batch = fashion_images(batch_size, size)
    return as_input(batch.images.to(device)), torch.as_tensor(batch.labels, device=device)


def arch_label(arch: str, width: int) -> str:
    """How a table names a model: 'cnn (width 16)', 'resnet18'."""
    return f"cnn (width {width})" if arch == "cnn" else arch


def model_for(arch: str, width: int, size: int) -> torch.nn.Module:
    """A fresh 10-class grey-image model, seeded."""
    torch.manual_seed(0)
    return make_model(arch, NUM_CLASSES, in_channels=1, image_size=size, **({"width": width} if arch == "cnn" else {}))


def train_config(batch_size: int, amp: bool | str = "auto") -> TrainConfig:
    """One epoch of SGD with the loop's default augmentation (flip, rotation up to 10 degrees);
    ``amp``: mixed precision as fit takes it ('auto', True, False; see runtime.autocast_dtype)."""
    return TrainConfig(epochs=1, batch_size=batch_size, optimizer="sgd", augment=True, amp=amp)


def precision_label(device: torch.device, amp: bool | str) -> str:
    """How a table names the precision ``amp`` trains in on ``device``: 'float32', 'bfloat16', 'float16'."""
    return str(autocast_dtype(device, amp) or torch.float32).removeprefix("torch.")


def loss() -> torch.nn.Module:
    return CrossEntropy(NUM_CLASSES)


def fit_epoch(model: torch.nn.Module, data: TrainingSet, cfg: TrainConfig) -> None:
    """One epoch of the project's loop, without validation."""
    fit(model, data, loss(), cfg)


def loop_data_epoch(data: TrainingSet, cfg: TrainConfig, device: torch.device) -> None:
    """The loop's data handling alone, for one epoch: gather each batch's uint8 images by index,
    convert to float and augment (nbutils.methods.train's own functions), without the model."""
    images = data.images.to(device)
    order = epoch_order(data, 0, cfg.seed, None).to(device)
    generator = epoch_generator(device, cfg.seed, 0)
    for start in range(0, len(order), cfg.batch_size):
        x = augment_batch(as_input(images[order[start:start + cfg.batch_size]]), generator, cfg.hflip,
                          cfg.max_rotation)
    x.sum().item()  # wait for the device


def ceiling_steps(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, steps: int, cfg: TrainConfig) -> None:
    """``steps`` forward/backward/step on one batch x (B, C, H, W) float, y (B,), on the model's
    device, with the loop's loss, optimiser and mixed precision (``cfg.amp``): the most any loop can do."""
    loss_fn = loss().to(x.device)
    optimizer = make_optimizer(model, loss_fn, cfg)
    precision = autocast_dtype(x.device, cfg.amp)
    scaler = grad_scaler(x.device, precision)
    model.train()
    for _ in range(steps):
        with autocast(x.device, precision):
            value = loss_fn(model(x).float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(value).backward()
        scaler.step(optimizer)
        scaler.update()
    value.item()  # wait for the device


def steps_for(seconds: float, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, cfg: TrainConfig,
              min_steps: int = 2) -> int:
    """Steps that take about ``seconds`` at the ceiling (timed on 2 steps after a warm-up step)."""
    ceiling_steps(model, x, y, 1, cfg)
    step = timed(lambda: ceiling_steps(model, x, y, 2, cfg)) / 2
    return max(min_steps, round(seconds / step))
