"""A self-supervised encoder trained on a task's own training images: SimCLR.

SimCLR (Chen et al. 2020, "A Simple Framework for Contrastive Learning of Visual
Representations"): two random augmentations of every image go through a backbone and a small
projection head; the NT-Xent loss pulls the two views of an image together and pushes the other
2B - 2 views of the batch away. The backbone's pooled features (the paper's h, before the head)
are the embeddings that regrouping clusters.

Why SimCLR, not BYOL or SimSiam: all three fit in CPU minutes at 28-32 px, but BYOL and SimSiam
avoid collapse through a predictor and a stop-gradient (plus BYOL's moving-average target), whose
success depends on schedules tuned for hundreds of epochs; SimCLR's negatives make it stable from
the first steps, and the batch of 256 that a CPU step affords already gives 510 negatives per
view (the paper's Fig. 9 shows batch 256 working, with gains from larger batches that a GPU run
can take with ``batch_size``). NT-Xent is ten lines here, so no library (e.g. lightly) is added
for it. ``nbutils.methods.encoders`` registers it as ``encode(images, "simclr", fit_images=...)``.

The training images only: :func:`fit_simclr_cached` takes ``fit_images`` and nothing else, and the
callers pass a task's training split (``nbutils.methods.registry.regroup_task`` encodes ``task.train``;
the MLP probe encodes validation and test images with the encoder fitted on ``task.train``).
Trained backbones are cached on disk under ``cache_dir("ssl")``, keyed by a content hash of the
fit images and every setting, so encoding other images with the same fitted encoder retrains
nothing.
"""
from __future__ import annotations

import hashlib
import json
import math

import torch
import torch.nn.functional as F
from torch import nn

from nbutils.core.runtime import (
    autocast,
    autocast_dtype,
    cache_dir,
    check_uint8_images,
    grad_scaler,
    images_hash,
    pick_device,
    progress,
    seed_everything,
    to_float,
    write_atomically,
)

CACHE_VERSION = 1  # bump when training or the network changes, so old cached backbones are not reused
LARGE_IMAGE = 64  # images above this side get ResNet's ImageNet stem (7x7 stride 2 + max pool)


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False), nn.BatchNorm2d(c_out))


class BasicBlock(nn.Module):
    """ResNet's basic block: (N, c_in, s, s) -> (N, c_out, ceil(s/stride), ceil(s/stride))."""

    def __init__(self, c_in: int, c_out: int, stride: int):
        super().__init__()
        self.body = nn.Sequential(_conv_bn(c_in, c_out, stride), nn.ReLU(inplace=True), _conv_bn(c_out, c_out))
        self.shortcut = (nn.Identity() if stride == 1 and c_in == c_out else
                         nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.shortcut(x))


class SmallResNet(nn.Module):
    """A three-stage ResNet (one basic block per stage, widths w, 2w, 4w; the last two halve the
    side): float images (N, C, H, W) in [0, 1] -> pooled features (N, 4w).

    The stem follows the SimCLR paper's CIFAR-10 variant (appendix B.9): a 3x3 stride-1
    convolution without max pooling for small images (side <= ``LARGE_IMAGE``), ResNet's 7x7
    stride-2 convolution and max pooling for large ones (224 px on a GPU).
    """

    def __init__(self, in_channels: int, image_size: int, width: int = 32):
        super().__init__()
        stem = (nn.Sequential(nn.Conv2d(in_channels, width, 3, padding=1, bias=False), nn.BatchNorm2d(width),
                              nn.ReLU(inplace=True)) if image_size <= LARGE_IMAGE else
                nn.Sequential(nn.Conv2d(in_channels, width, 7, stride=2, padding=3, bias=False),
                              nn.BatchNorm2d(width), nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1)))
        self.features = nn.Sequential(stem, BasicBlock(width, width, 1), BasicBlock(width, 2 * width, 2),
                                      BasicBlock(2 * width, 4 * width, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.out_features = 4 * width
        self.build = {"in_channels": in_channels, "image_size": image_size, "width": width}  # rebuilds it

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)


def projection_head(in_features: int, out_features: int = 128) -> nn.Sequential:
    """SimCLR's g: one hidden layer with ReLU, (N, in_features) -> (N, out_features=128)."""
    return nn.Sequential(nn.Linear(in_features, in_features), nn.ReLU(inplace=True),
                         nn.Linear(in_features, out_features))


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """NT-Xent of two views' projections (B, d) each (SimCLR eq. 1, averaged over all 2B anchors):
    cosine similarities / temperature, each view's positive is the other view of its image, the
    other 2B - 2 views are its negatives."""
    z = F.normalize(torch.cat([z1, z2]).float(), dim=1)
    logits = (z @ z.T / temperature).fill_diagonal_(float("-inf"))  # a view is not its own negative
    n = len(z1)
    positives = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(z.device)
    return F.cross_entropy(logits, positives)


def random_views(x: torch.Tensor, generator: torch.Generator, *, min_scale: float = 0.2,
                 jitter: float = 0.4, grey_probability: float = 0.2) -> torch.Tensor:
    """One random augmentation per image of float images (B, C, H, W) in [0, 1], same shape.

    SimCLR's augmentations, batched on the images' device: a random resized crop (area
    ``min_scale``..1 of the image, aspect ratio 3/4..4/3, resized back by bilinear sampling),
    a horizontal flip with probability 1/2, brightness and contrast jitter by factors in
    1 +- ``jitter``, and for colour images greyscale with probability ``grey_probability``.
    Choices where the paper leaves room: min_scale 0.2 instead of ImageNet's 0.08, because a 28-px
    crop of 8% of the image is 8x8 px of mostly background; no saturation/hue jitter (the data sets
    here are mostly grey) and no blur (the paper drops it for CIFAR-10's 32-px images).
    Parameters are drawn on the CPU from ``generator``, so views are reproducible on any device.
    """
    b = len(x)
    rand = lambda *shape: torch.rand(*shape, generator=generator).to(x.device)  # noqa: E731
    area = min_scale + (1 - min_scale) * rand(b)
    ratio = torch.exp((rand(b) * 2 - 1) * math.log(4 / 3))
    w, h = (area * ratio).sqrt().clamp(max=1), (area / ratio).sqrt().clamp(max=1)
    flip = torch.where(rand(b) < 0.5, -1.0, 1.0).to(x.device)
    theta = torch.zeros(b, 2, 3, device=x.device)
    theta[:, 0, 0], theta[:, 1, 1] = w * flip, h
    theta[:, 0, 2], theta[:, 1, 2] = (rand(b) * 2 - 1) * (1 - w), (rand(b) * 2 - 1) * (1 - h)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    out = F.grid_sample(x, grid.to(x.dtype), mode="bilinear", padding_mode="reflection", align_corners=False)
    out = out * (1 + jitter * (rand(b, 1, 1, 1) * 2 - 1))  # brightness
    mean = out.mean(dim=(1, 2, 3), keepdim=True)
    out = (out - mean) * (1 + jitter * (rand(b, 1, 1, 1) * 2 - 1)) + mean  # contrast
    if x.shape[1] == 3:
        grey = out.mean(1, keepdim=True).expand_as(out)
        out = torch.where(rand(b, 1, 1, 1) < grey_probability, grey, out)
    return out.clamp(0, 1)


def train_simclr(images: torch.Tensor, *, epochs: int = 30, batch_size: int = 256, width: int = 16,
                 temperature: float = 0.5, lr: float = 1e-3, min_scale: float = 0.2, seed: int = 0,
                 device: str = "auto") -> SmallResNet:
    """Train a :class:`SmallResNet` with SimCLR on uint8 images (N, C, H, W); return the backbone
    (eval mode, on ``device``) without its projection head.

    Adam at ``lr`` (SimCLR uses LARS for batches of 4096; at batch 256 Adam is the usual choice),
    temperature 0.5 (the paper's CIFAR-10 setting), batches of ``batch_size`` images (2 x
    batch_size views) drawn without replacement, the last incomplete batch dropped so batch-norm
    never sees a tiny batch (all N images in one batch when N < batch_size). The uint8 images stay
    on the device; mixed precision as ``runtime.autocast_dtype`` picks it (fp16 on CUDA, bf16 on
    CPUs with native bf16). Deterministic by ``seed`` on the CPU.
    """
    check_uint8_images(images)
    if len(images) < 2:
        raise ValueError(f"SimCLR needs at least 2 training images (each batch contrasts them), got {len(images)}")
    if temperature <= 0 or lr <= 0:
        raise ValueError(f"temperature and lr must be > 0, got temperature={temperature}, lr={lr}")
    device = pick_device(device)
    generator = seed_everything(seed)
    backbone = SmallResNet(images.shape[1], images.shape[-1], width).to(device)
    head = projection_head(backbone.out_features).to(device)
    params = [*backbone.parameters(), *head.parameters()]
    optimizer = torch.optim.Adam(params, lr=lr, weight_decay=1e-6)
    precision = autocast_dtype(device)
    scaler = grad_scaler(device, precision)
    on_device = images.to(device)
    per_batch = min(batch_size, len(images))
    backbone.train(), head.train()
    for _ in progress(range(epochs), desc="simclr"):
        order = torch.randperm(len(images), generator=generator)
        for batch in order[: len(order) - len(order) % per_batch].split(per_batch):
            x = to_float(on_device[batch.to(device)])
            with autocast(device, precision):
                z1, z2 = (head(backbone(random_views(x, generator, min_scale=min_scale))) for _ in range(2))
                loss = nt_xent(z1, z2, temperature)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
    return backbone.eval()


def fit_simclr_cached(fit_images: torch.Tensor, *, device: str = "auto", **settings) -> SmallResNet:
    """:func:`train_simclr` on ``fit_images`` (N, C, H, W) with ``settings``, or the backbone a
    previous call with the same images (content hash), settings and training precision saved under
    ``cache_dir("ssl")``; returned in eval mode on ``device``."""
    target = pick_device(device)
    key = json.dumps({"version": CACHE_VERSION, "images": images_hash(fit_images),
                      "precision": str(autocast_dtype(target)), **settings}, sort_keys=True)
    path = cache_dir("ssl") / f"simclr-{hashlib.sha1(key.encode()).hexdigest()[:24]}.pt"
    if path.is_file():
        saved = torch.load(path, map_location="cpu", weights_only=True)
        backbone = SmallResNet(**saved["build"])
        backbone.load_state_dict(saved["state_dict"])
        return backbone.to(target).eval()
    backbone = train_simclr(fit_images, device=str(target), **settings)
    saved = {"build": backbone.build, "state_dict": {k: v.cpu() for k, v in backbone.state_dict().items()}}
    write_atomically(path, lambda f: torch.save(saved, f))
    return backbone
