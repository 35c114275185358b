"""Class activation maps (torchcam) on a classifier's last convolutional block.

Which image regions drive a prediction: ``class_activation_maps(model, images)`` gives one map
(N, H, W) in [0, 1] per image, upsampled to the image size. Methods (``CAM_METHODS``):

- ``gradcam``: Grad-CAM, gradients averaged over space weight the channels; one backward pass.
- ``gradcampp``: Grad-CAM++, per-pixel gradient weights; one backward pass.
- ``smoothgradcampp``: Grad-CAM++ averaged over 4 noisy copies of the input (noise std 0.3);
  the CAMs of the "balancing act" paper; 4 forward and backward passes; the noise comes from
  torch's global generator (``runtime.seed_everything`` first for repeatable maps).
- ``layercam``: LayerCAM, per-pixel positive gradients times activations; one backward pass.
- ``scorecam``: Score-CAM, gradient-free; one forward pass per channel of the target layer
  per image (128 for the small CNN, 512 for a ResNet). Slow on a CPU: on 2 busy cores, about
  1 s per 32-px image with the small CNN and 20 s with a ResNet-18 (Grad-CAM: 0.1-0.2 s).
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from torchcam.methods import GradCAM, GradCAMpp, LayerCAM, ScoreCAM, SmoothGradCAMpp

from nbutils.core.runtime import to_float

CAM_METHODS = {"gradcam": GradCAM, "gradcampp": GradCAMpp, "smoothgradcampp": SmoothGradCAMpp,
               "layercam": LayerCAM, "scorecam": ScoreCAM}


class ClassScores(nn.Module):
    """``model`` followed by ``to_class`` (logits (N, K) -> class scores (N, C)), so that a CAM
    explains a task class of a model trained on pseudo-classes."""

    def __init__(self, model: nn.Module, to_class: Callable[[torch.Tensor], torch.Tensor]):
        super().__init__()
        self.model, self.to_class = model, to_class

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.to_class(self.model(x))


def check_class_idx(class_idx: int | Sequence[int] | np.ndarray | None, n_images: int) -> int | list[int] | None:
    """None, one index for every image, or a list of one index per image (Python ints, as torchcam wants)."""
    if class_idx is None or isinstance(class_idx, (int, np.integer)):
        return None if class_idx is None else int(class_idx)
    indices = [int(i) for i in np.asarray(class_idx).reshape(-1)]
    if len(indices) != n_images:
        raise ValueError(f"class_idx has {len(indices)} entries for {n_images} images; give one per image or one int")
    return indices


def explain_batch(extractor: Callable[..., list[torch.Tensor]], net: nn.Module, images: torch.Tensor,
                  class_idx: int | list[int] | None) -> np.ndarray:
    """CAMs (B, H, W) in [0, 1] of a batch of uint8 images (B, C, H, W) already on the model's device."""
    x = to_float(images).requires_grad_(True)  # keeps the target layer in the graph even if the model is frozen
    scores = net(x)
    targets = scores.argmax(dim=1).tolist() if class_idx is None else class_idx
    n_outputs = scores.shape[1]
    if min(np.atleast_1d(targets)) < 0 or max(np.atleast_1d(targets)) >= n_outputs:
        raise ValueError(f"class_idx {class_idx} out of range: the scores have {n_outputs} columns "
                         f"(0..{n_outputs - 1})")
    cams = extractor(targets, scores)[0]  # (B, h, w) at the target layer's resolution
    cams = F.interpolate(cams.unsqueeze(1).float(), size=images.shape[-2:], mode="bilinear", align_corners=False)
    return cams.squeeze(1).clamp_(0, 1).detach().cpu().numpy()


def class_activation_maps(model: nn.Module, images: torch.Tensor, method: str = "gradcam",
                          class_idx: int | Sequence[int] | np.ndarray | None = None,
                          to_class: Callable[[torch.Tensor], torch.Tensor] | None = None,
                          batch_size: int = 32, seed: int = 0) -> np.ndarray:
    """Class activation maps (N, H, W) float32 in [0, 1] of uint8 images (N, C, H, W).

    model: a :class:`nbutils.methods.models.Classifier` with a ``target_layer`` (its last conv block);
        run in eval mode, its training flag restored afterwards. Hooks are removed on return.
    method: a name of ``CAM_METHODS``.
    class_idx: the output to explain, one int for every image or one per image (a regrouping
        model's pseudo-class, e.g. the argmax pseudo-class within the true class); default the
        predicted (argmax) output.
    to_class: a differentiable map logits (N, K) -> class scores (N, C), e.g. the regrouping
        aggregation ``methods.class_scores_fn``; class_idx then indexes the C task classes and
        the map explains the class score.
    seed: seeds the noise of Smooth Grad-CAM++ (drawn from torch's generator, forked so the
        caller's random state is left as it was): the same call gives the same maps.
    Each map is min-max normalised per image; an all-zero map means no positive evidence.
    """
    if method not in CAM_METHODS:
        raise ValueError(f"unknown CAM method {method!r}; valid: {', '.join(CAM_METHODS)}")
    if not isinstance(images, torch.Tensor) or images.dtype != torch.uint8:
        raise TypeError("images must be a uint8 torch tensor (N, C, H, W), got "
                        f"{getattr(images, 'dtype', type(images))}")
    if images.ndim != 4 or len(images) == 0:
        raise ValueError(f"images must be a non-empty (N, C, H, W) batch, got shape {tuple(images.shape)}")
    if getattr(model, "target_layer", None) is None:
        raise ValueError(f"{type(model).__name__} has no target_layer: CAMs need a convolutional Classifier "
                         "from nbutils.methods.models.make_model (not an MLP on embeddings)")
    class_idx = check_class_idx(class_idx, len(images))
    device = next(model.parameters()).device
    net = model if to_class is None else ClassScores(model, to_class)
    was_training = model.training
    model.eval()
    try:
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []), torch.enable_grad(), \
                CAM_METHODS[method](net, model.target_layer) as extractor:
            torch.manual_seed(seed)
            maps = [explain_batch(extractor, net, images[i:i + batch_size].to(device),
                                  class_idx[i:i + batch_size] if isinstance(class_idx, list) else class_idx)
                    for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    return np.concatenate(maps).astype(np.float32)
