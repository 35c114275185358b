"""A small convolutional autoencoder and its training, with DeepSMOTE's permutation loss.

DeepSMOTE (Dablain et al. 2022) trains such an autoencoder, runs SMOTE on the latent
vectors and decodes the synthetic ones (see ``nbutils.methods.sampling``).
"""
from __future__ import annotations

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.core.runtime import (
    autocast,
    autocast_dtype,
    check_uint8_images,
    grad_scaler,
    pick_device,
    progress,
    seed_everything,
    to_float,
    to_uint8,
)

MIN_IMAGE_SIZE = 8


def stage_sizes(image_size: int) -> list[int]:
    """Side lengths through the encoder: halved (rounding up) until at most 4 px.

    8 -> [8, 4]; 28 -> [28, 14, 7, 4]; 224 -> [224, 112, 56, 28, 14, 7, 4].
    """
    sizes = [image_size]
    while sizes[-1] > 4:
        sizes.append((sizes[-1] + 1) // 2)
    return sizes


def _down(in_channels: int, out_channels: int) -> nn.Sequential:
    """Halve the side (rounding up): (N, in, s, s) -> (N, out, ceil(s/2), ceil(s/2))."""
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, 3, stride=2, padding=1, bias=False),
        nn.BatchNorm2d(out_channels),
        nn.LeakyReLU(0.2),
    )


def _up(in_channels: int, out_channels: int, size_in: int, size_out: int) -> nn.ConvTranspose2d:
    """Inverse of ``_down``'s convolution: (N, in, size_in, size_in) -> (N, out, size_out, size_out)."""
    return nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1,
                              output_padding=size_out - (2 * size_in - 1))


class ConvAutoencoder(nn.Module):
    """Stride-2 conv encoder -> latent vector -> transposed-conv decoder.

    One stage per halving of the side until it is at most 4 px (1 stage at 8 px, 3 at 28 px,
    6 at 224 px), with 32, 64, 128, then 256 channels.
    encode: (N, C, H, W) float in [0, 1] -> (N, latent_dim); decode: the inverse, sigmoid output.
    """

    def __init__(self, in_channels: int, image_size: int, latent_dim: int = 64):
        super().__init__()
        if image_size < MIN_IMAGE_SIZE:
            raise ValueError(f"image_size={image_size} is too small; the autoencoder needs "
                             f"images of at least {MIN_IMAGE_SIZE} px (resize them first)")
        sizes = stage_sizes(image_size)
        widths = [min(32 * 2**i, 256) for i in range(len(sizes) - 1)]
        bottleneck = (widths[-1], sizes[-1], sizes[-1])
        self.encoder = nn.Sequential(
            *[_down(c_in, c_out) for c_in, c_out in zip([in_channels, *widths], widths)],
            nn.Flatten(),
            nn.Linear(int(np.prod(bottleneck)), latent_dim),
        )
        ups = []
        for i in reversed(range(len(widths))):
            c_out = widths[i - 1] if i > 0 else in_channels
            ups.append(_up(widths[i], c_out, sizes[i + 1], sizes[i]))
            ups += [nn.BatchNorm2d(c_out), nn.ReLU()] if i > 0 else [nn.Sigmoid()]
        self.decoder = nn.Sequential(
            nn.Linear(latent_dim, int(np.prod(bottleneck))),
            nn.ReLU(),
            nn.Unflatten(1, bottleneck),
            *ups,
        )

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) float in [0, 1] -> (N, latent_dim)."""
        return self.encoder(x)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """(N, latent_dim) -> (N, C, H, W) float in [0, 1]."""
        return self.decoder(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction: (N, C, H, W) -> (N, C, H, W)."""
        return self.decode(self.encode(x))


def _check_images(images: torch.Tensor) -> None:
    check_uint8_images(images)
    if images.shape[2] != images.shape[3]:
        raise ValueError(f"the autoencoder needs square images, got {images.shape[2]}x{images.shape[3]}")


def shuffle_within_classes(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A permutation (B,) of 0..B-1 that only moves positions among samples of the same class."""
    perm = torch.arange(len(labels))
    for c in labels.unique():
        positions = torch.nonzero(labels == c).flatten()
        perm[positions] = positions[torch.randperm(len(positions), generator=generator)]
    return perm


def _loss(model: ConvAutoencoder, x: torch.Tensor, labels: torch.Tensor | None,
          generator: torch.Generator) -> torch.Tensor:
    """Reconstruction MSE, plus DeepSMOTE's permutation term when labels (B,) are given.

    The permutation term follows the authors' code (DeepSMOTE_MNIST.py): latents of one class,
    detached from the encoder, are reordered, decoded and compared with the images in the same
    order. Since both sides share the order, it is a second reconstruction term that trains the
    decoder only.
    """
    z = model.encode(x)
    loss = F.mse_loss(model.decode(z), x)
    if labels is not None:
        perm = shuffle_within_classes(labels, generator).to(x.device)
        loss = loss + F.mse_loss(model.decode(z.detach()[perm]), x[perm])
    return loss


def fit_autoencoder(images: torch.Tensor, labels: np.ndarray | None = None, *, latent_dim: int = 64,
                    epochs: int = 20, batch_size: int = 128, lr: float = 1e-3, seed: int = 0,
                    device: str = "auto", permutation_loss: bool = False) -> ConvAutoencoder:
    """Train a ``ConvAutoencoder`` on uint8 images (N, C, H, W) with Adam and MSE.

    labels: (N,) int classes, needed only for ``permutation_loss`` (DeepSMOTE's extra term).
    The images stay uint8 on the device and are scaled to [0, 1] per batch; mixed precision as
    ``runtime.autocast_dtype`` picks it (fp16 on CUDA, bf16 on CPUs with native bf16).
    Deterministic by seed on CPU (seeds Python, NumPy and torch through ``seed_everything``).
    Returns the model in eval mode, left on the device it was trained on.
    """
    _check_images(images)
    if permutation_loss and labels is None:
        raise ValueError("permutation_loss=True needs labels (N,): the loss shuffles latents within each class")
    if labels is not None and len(labels) != len(images):
        raise ValueError(f"labels has {len(labels)} entries but there are {len(images)} images")
    device = pick_device(device)
    generator = seed_everything(seed)
    model = ConvAutoencoder(images.shape[1], images.shape[2], latent_dim).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    precision = autocast_dtype(device)
    scaler = grad_scaler(device, precision)
    class_labels = torch.as_tensor(labels) if permutation_loss else None
    on_device = images.to(device)
    model.train()
    for _ in progress(range(epochs), desc="autoencoder"):
        for batch in torch.randperm(len(images), generator=generator).split(batch_size):
            x = to_float(on_device[batch.to(device)])
            with autocast(device, precision):
                loss = _loss(model, x, None if class_labels is None else class_labels[batch], generator)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
    return model.eval()


def _model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def encode_images(model: ConvAutoencoder, images: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """uint8 images (N, C, H, W) -> latent vectors (N, latent_dim) float32 on the CPU."""
    _check_images(images)
    device = _model_device(model)
    return torch.cat([model.encode(to_float(chunk.to(device))).float().cpu()
                      for chunk in images.split(batch_size)])


@torch.no_grad()
def decode_latents(model: ConvAutoencoder, latents: torch.Tensor, *, batch_size: int = 256) -> torch.Tensor:
    """Latent vectors (N, latent_dim) -> uint8 images (N, C, H, W) on the CPU."""
    device = _model_device(model)
    return torch.cat([to_uint8(model.decode(chunk.to(device, torch.float32)).cpu())
                      for chunk in latents.split(batch_size)])
