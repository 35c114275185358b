"""The training workload the loop benchmarks share: Fashion-MNIST images, resampled indices, a
model, and one epoch of ``nbutils.train.fit``."""
from __future__ import annotations

import os

import numpy as np
import torch

from nbutils.data import ImageSet, TrainingSet, load_dataset, resize
from nbutils.losses import CrossEntropy
from nbutils.models import make_model
from nbutils.train import TrainConfig, fit

os.environ.setdefault("NBUTILS_QUIET", "1")  # no progress bars in the tables' output
NUM_CLASSES = 10


def fashion_images(n: int, size: int) -> ImageSet:
    """The first ``n`` Fashion-MNIST training images, resized to ``size`` px: (n, 1, size, size) uint8."""
    return resize(load_dataset("fashion-mnist", split="train").subset(np.arange(n)), size)


def resampled(images: ImageSet, epoch_size: int, seed: int = 0) -> TrainingSet:
    """A training set whose epoch is ``epoch_size`` positions drawn with replacement, as random
    oversampling gives (duplicates, gathered from the images by index)."""
    indices = np.random.default_rng(seed).integers(0, len(images), epoch_size)
    return TrainingSet(images.images, images.labels, indices=indices)


def model_for(arch: str, width: int, size: int) -> torch.nn.Module:
    """A fresh 10-class grey-image model, seeded."""
    torch.manual_seed(0)
    return make_model(arch, NUM_CLASSES, in_channels=1, image_size=size, width=width)


def train_config(batch_size: int) -> TrainConfig:
    """One epoch of SGD with the loop's default augmentation (flip, rotation up to 10 degrees)."""
    return TrainConfig(epochs=1, batch_size=batch_size, optimizer="sgd", augment=True)


def loss() -> torch.nn.Module:
    return CrossEntropy(NUM_CLASSES)


def fit_epoch(model: torch.nn.Module, data: TrainingSet, cfg: TrainConfig) -> None:
    """One epoch of the project's loop, without validation."""
    fit(model, data, loss(), cfg)
