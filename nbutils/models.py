"""Classifiers: torchvision ResNets (with a small-image stem), a small CNN for CPU runs, an MLP
for frozen embeddings, and the cosine-normalised head LDAM is meant for.

Every model is a :class:`Classifier`: ``features(x)`` gives the penultimate representation
(N, D), ``head`` maps it to logits (N, K), and ``target_layer`` is the last convolutional block
(for class activation maps). Image models take float images (N, C, H, W) in [0, 1] and
normalise them inside, so the training loop only converts uint8 to float.
"""
from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
import torchvision

ARCHS = ("resnet18", "resnet34", "cnn", "mlp")
HEADS = ("linear", "cosine")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


class CosineClassifier(nn.Module):
    """Cosine-normalised linear head: logits = <x/|x|, w_k/|w_k|> in [-1, 1], shape (N, K).

    Meant for LDAM and LMF, which multiply logits by a scale s (30)."""

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(torch.empty(num_classes, in_features).uniform_(-1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.linear(F.normalize(x, dim=1), F.normalize(self.weight, dim=1))


class Classifier(nn.Module):
    """backbone (inputs -> (N, D) features) + head ((N, D) -> (N, K) logits)."""

    def __init__(self, backbone: nn.Module, feature_dim: int, num_classes: int, head: str = "linear",
                 target_layer: nn.Module | None = None, mean: tuple[float, ...] | None = None,
                 std: tuple[float, ...] | None = None):
        super().__init__()
        if head not in HEADS:
            raise ValueError(f"unknown head {head!r}; valid: {', '.join(HEADS)}")
        self.backbone = backbone
        self.head = nn.Linear(feature_dim, num_classes) if head == "linear" else CosineClassifier(
            feature_dim, num_classes)
        self.target_layer = target_layer
        normalise = mean is not None
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1) if normalise else None)
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1) if normalise else None)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) floats in [0, 1] (or (N, D) embeddings) -> (N, D) penultimate features."""
        if self.mean is not None:
            x = (x - self.mean) / self.std
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _channel_stats(in_channels: int) -> tuple[tuple[float, ...], tuple[float, ...]]:
    if in_channels == 3:
        return IMAGENET_MEAN, IMAGENET_STD
    return (0.449,) * in_channels, (0.226,) * in_channels  # ImageNet statistics averaged over colours


def resnet(depth: int, num_classes: int, in_channels: int, image_size: int, head: str,
           pretrained: bool) -> Classifier:
    """torchvision ResNet-18/34; inputs of 64 px or less get a 3x3 stride-1 stem and no max-pool."""
    weights = {18: "ResNet18_Weights", 34: "ResNet34_Weights"}[depth]
    net = getattr(torchvision.models, f"resnet{depth}")(
        weights=getattr(torchvision.models, weights).DEFAULT if pretrained else None)
    if image_size <= 64:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    elif in_channels != 3:
        rgb = net.conv1.weight.detach()
        net.conv1 = nn.Conv2d(in_channels, 64, 7, 2, 3, bias=False)
        if pretrained:  # keep the ImageNet stem: a grey image is R = G = B, so sum over colours
            net.conv1.weight.data.copy_(rgb.sum(1, keepdim=True).expand(-1, in_channels, -1, -1) / in_channels)
    feature_dim = net.fc.in_features
    net.fc = nn.Identity()
    return Classifier(net, feature_dim, num_classes, head, net.layer4, *_channel_stats(in_channels))


def conv_block(c_in: int, c_out: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out),
                         nn.ReLU(inplace=True))


def small_cnn(num_classes: int, in_channels: int, head: str, width: int = 32) -> Classifier:
    """A 6-layer CNN (width, 2*width, 4*width channels; two max-pools; global average pool).

    For CPU-sized runs on 28-32 px images, where a ResNet takes minutes an epoch."""
    last = conv_block(4 * width, 4 * width)
    body = nn.Sequential(
        conv_block(in_channels, width), conv_block(width, width), nn.MaxPool2d(2),
        conv_block(width, 2 * width), conv_block(2 * width, 2 * width), nn.MaxPool2d(2),
        conv_block(2 * width, 4 * width), last, nn.AdaptiveAvgPool2d(1), nn.Flatten())
    return Classifier(body, 4 * width, num_classes, head, last, *_channel_stats(in_channels))


def mlp(num_classes: int, in_features: int, head: str, hidden: int = 512,
        dropout: float = 0.2) -> Classifier:
    """MLP for frozen embeddings (N, D): the papers' 'CLIP + MLP' probe."""
    body = nn.Sequential(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout))
    return Classifier(body, hidden, num_classes, head)


def make_model(arch: str, num_classes: int, in_channels: int = 3, image_size: int = 224,
               head: str = "linear", pretrained: bool = False, width: int = 32) -> Classifier:
    """Build a classifier by name.

    arch: ``resnet18`` | ``resnet34`` (torchvision; ImageNet weights when ``pretrained`` and
    online), ``cnn`` (small CNN of ``width``), ``mlp`` (``in_channels`` is then the embedding
    size). head: ``linear`` or ``cosine``.
    """
    if arch in ("resnet18", "resnet34"):
        return resnet(int(arch[6:]), num_classes, in_channels, image_size, head, pretrained)
    if arch == "cnn":
        return small_cnn(num_classes, in_channels, head, width)
    if arch == "mlp":
        return mlp(num_classes, in_channels, head)
    raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(ARCHS)}")
