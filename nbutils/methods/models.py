"""Classifiers: torchvision ResNets (with a small-image stem) and EfficientNetV2-S, a small CNN for
CPU runs, an MLP for frozen embeddings, and the cosine-normalised head LDAM is meant for.

Every model is a :class:`Classifier`: ``features(x)`` gives the penultimate representation
(N, D), ``head`` maps it to logits (N, K), and ``target_layer`` is the last convolutional block
(for class activation maps). Image models take float images (N, C, H, W) in [0, 1] and
normalise them inside, so the training loop only converts uint8 to float.
:func:`check_model_options` validates a parameter file's ``arch``, ``width`` and ``pretrained``
without building anything; :func:`make_model` calls it too.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

# torchvision is imported where used: its import takes a second that the runner's up-front check need not wait

# ImageNet weights of the torchvision image models. resnet50 and efficientnetv2_s carry the weights
# the LMF authors load (Adnan-Sadi/LMFLOSS, dl_models.py: ResNet50_Weights.IMAGENET1K_V2 and
# EfficientNet_V2_S_Weights.IMAGENET1K_V1); timm has the first (resnet50.tv2_in1k) but not the second,
# so both come from torchvision, like ResNet-18/34.
IMAGENET_WEIGHTS = {
    "resnet18": "ResNet18_Weights.IMAGENET1K_V1",
    "resnet34": "ResNet34_Weights.IMAGENET1K_V1",
    "resnet50": "ResNet50_Weights.IMAGENET1K_V2",
    "efficientnetv2_s": "EfficientNet_V2_S_Weights.IMAGENET1K_V1",
}
IMAGE_ARCHS = (*IMAGENET_WEIGHTS, "cnn")  # the choices of a parameter file's ``arch``
ARCHS = (*IMAGE_ARCHS, "mlp")  # mlp: the probe on frozen embeddings that ``mlp-probe`` builds
HEADS = ("linear", "cosine")
IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)


def weights_file(arch: str) -> Path:
    """Where torchvision keeps the ImageNet weights of ``arch`` once downloaded (torch hub cache)."""
    import torchvision
    url = torchvision.models.get_weight(IMAGENET_WEIGHTS[arch]).url
    return Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(url)


def _weights_unavailable(arch: str, reason: str) -> FileNotFoundError:
    """The error for ImageNet weights that are neither cached nor fetchable, saying how to fix it."""
    import torchvision
    path = weights_file(arch)
    url = torchvision.models.get_weight(IMAGENET_WEIGHTS[arch]).url
    return FileNotFoundError(
        f"pretrained=true: the ImageNet weights of {arch} could not be fetched ({reason}) and are not "
        f"in the cache ({path}). Fix: run once online to fill the cache; or download {url} on a machine "
        f"with internet and copy it to {path}; or set pretrained=false (train from scratch).")


def check_model_options(arch: str, *, width: int, pretrained: bool) -> None:
    """Check a parameter file's model settings without building the model or downloading anything.

    arch: one of ``IMAGE_ARCHS``; width: an int >= 1 (the small CNN's channels); pretrained: a
    bool, true only for an arch with ImageNet weights (``IMAGENET_WEIGHTS``), whose weights must be
    in the torch hub cache or fetchable: offline (``nbutils.data.readers.online()`` false) without them is
    an error that says how to get them. Raises ValueError, TypeError or FileNotFoundError (weights).
    """
    from nbutils.data.readers import online

    if arch == "mlp":
        raise ValueError("arch 'mlp' takes embeddings (N, D), not images; the method mlp-probe trains it "
                         f"on an encoder's embeddings by itself. For images choose one of {', '.join(IMAGE_ARCHS)}")
    if arch not in IMAGE_ARCHS:
        raise ValueError(f"unknown arch {arch!r}; valid: {', '.join(IMAGE_ARCHS)}")
    if isinstance(width, bool) or not isinstance(width, int):
        raise TypeError(f"width must be an int (channels of the small CNN), got {width!r}")
    if width < 1:
        raise ValueError(f"width must be >= 1 (channels of the small CNN's first layers), got {width}")
    if not isinstance(pretrained, bool):
        raise TypeError(f"pretrained must be true or false, got {pretrained!r}")
    if pretrained and arch not in IMAGENET_WEIGHTS:
        raise ValueError(f"arch {arch!r} has no ImageNet weights: set pretrained=false, or choose one of "
                         f"{', '.join(IMAGENET_WEIGHTS)}")
    if pretrained and not weights_file(arch).is_file() and not online():
        raise _weights_unavailable(arch, "offline: HF_HUB_OFFLINE or NBUTILS_OFFLINE is set")


class CosineClassifier(nn.Module):
    """Cosine-normalised linear head: logits = <x/|x|, w_k/|w_k|> in [-1, 1], shape (N, K).

    Meant for LDAM (and its DRW schedule), which multiplies logits by a scale s (30). weight:
    (K, D), one class vector a row, initialised as the LDAM authors' ``NormedLinear`` does
    (``uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)`` on their (D, K) weight): uniform in
    [-1, 1], then each class vector scaled to norm 1. The forward pass does not see the norm,
    but the gradient step does: a gradient g on w_k turns its direction by about |g| / |w_k|,
    so a larger start (uniform without rescaling gives sqrt(D / 3), 6.5 for D = 128) slows the
    angular learning of the head by that factor.
    """

    def __init__(self, in_features: int, num_classes: int):
        super().__init__()
        self.weight = nn.Parameter(F.normalize(torch.empty(num_classes, in_features).uniform_(-1, 1), dim=1))

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


def imagenet_network(arch: str, pretrained: bool) -> nn.Module:
    """The torchvision network of ``arch`` (a key of ``IMAGENET_WEIGHTS``), with its ImageNet weights
    when ``pretrained``; a failed download becomes an error that says how to get the weights."""
    import torchvision
    weights = torchvision.models.get_weight(IMAGENET_WEIGHTS[arch]) if pretrained else None
    build = getattr(torchvision.models, arch.replace("efficientnetv2_s", "efficientnet_v2_s"))
    try:
        return build(weights=weights)
    except OSError as error:  # urllib's URLError and socket errors are OSErrors
        raise _weights_unavailable(arch, f"download failed: {error}") from error


def stem_for_channels(conv: nn.Conv2d, in_channels: int, pretrained: bool) -> nn.Conv2d:
    """``conv`` (an RGB stem) for ``in_channels`` inputs, same kernel, stride and padding. With
    ImageNet weights the stem is kept: a grey image is R = G = B, so the colour weights are summed
    (and shared out over ``in_channels``)."""
    if in_channels == conv.in_channels:
        return conv
    new = nn.Conv2d(in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding,
                    bias=conv.bias is not None)
    if pretrained:
        rgb = conv.weight.detach()
        new.weight.data.copy_(rgb.sum(1, keepdim=True).expand(-1, in_channels, -1, -1) / in_channels)
        if conv.bias is not None:
            new.bias.data.copy_(conv.bias.detach())
    return new


def resnet(arch: str, num_classes: int, in_channels: int, image_size: int, head: str,
           pretrained: bool) -> Classifier:
    """torchvision ResNet-18/34/50; inputs of 64 px or less get a 3x3 stride-1 stem (randomly
    initialised) and no max-pool."""
    net = imagenet_network(arch, pretrained)
    if image_size <= 64:
        net.conv1 = nn.Conv2d(in_channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    else:
        net.conv1 = stem_for_channels(net.conv1, in_channels, pretrained)
    feature_dim = net.fc.in_features
    net.fc = nn.Identity()
    return Classifier(net, feature_dim, num_classes, head, net.layer4, *_channel_stats(in_channels))


def efficientnet_v2(num_classes: int, in_channels: int, head: str, pretrained: bool) -> Classifier:
    """torchvision EfficientNetV2-S (1280-d features); the head follows the same dropout (p=0.2)
    as torchvision's classifier, which the LMF authors keep when they replace its linear layer.
    The stem keeps its stride at every image size (a 32-px input ends in a 1x1 map)."""
    net = imagenet_network("efficientnetv2_s", pretrained)
    stem = net.features[0]
    stem[0] = stem_for_channels(stem[0], in_channels, pretrained)
    dropout, linear = net.classifier
    body = nn.Sequential(net.features, net.avgpool, nn.Flatten(1), nn.Dropout(dropout.p))
    return Classifier(body, linear.in_features, num_classes, head, net.features[-1], *_channel_stats(in_channels))


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


class EmbeddingMLP(nn.Sequential):
    """nn.Sequential that takes embeddings (N, D) only, with a clear error for images."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 2:
            raise ValueError(f"arch 'mlp' takes embeddings (N, D), got a tensor of shape {tuple(x.shape)}; "
                             f"for images choose one of {', '.join(IMAGE_ARCHS)}")
        return super().forward(x)


def mlp(num_classes: int, in_features: int, head: str, hidden: int = 512,
        dropout: float = 0.2) -> Classifier:
    """MLP for frozen embeddings (N, D): the papers' 'CLIP + MLP' probe."""
    body = EmbeddingMLP(nn.Linear(in_features, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout))
    return Classifier(body, hidden, num_classes, head)


def make_model(arch: str, num_classes: int, in_channels: int = 3, image_size: int = 224,
               head: str = "linear", pretrained: bool = False, width: int = 32) -> Classifier:
    """Build a classifier by name.

    arch: ``resnet18`` | ``resnet34`` | ``resnet50`` | ``efficientnetv2_s`` (torchvision; ImageNet
    weights when ``pretrained``: from the torch hub cache, else downloaded), ``cnn`` (small CNN of
    ``width``), or ``mlp``: the probe on embeddings (N, D), ``in_channels`` then being D; it has
    no pre-trained weights (its encoder is the pre-trained part) and ignores ``pretrained`` and
    ``width``, and it refuses images with a clear error. Image archs are checked by
    :func:`check_model_options` first. head: ``linear`` or ``cosine``.
    """
    if arch == "mlp":
        return mlp(num_classes, in_channels, head)
    check_model_options(arch, width=width, pretrained=pretrained)
    if arch.startswith("resnet"):
        return resnet(arch, num_classes, in_channels, image_size, head, pretrained)
    if arch == "efficientnetv2_s":
        return efficientnet_v2(num_classes, in_channels, head, pretrained)
    return small_cnn(num_classes, in_channels, head, width)
