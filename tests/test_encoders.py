import functools

import numpy as np
import pytest
import torch

from nbutils.core import runtime
from nbutils.methods import encoders
from nbutils.methods.encoders import ENCODERS, encode


@pytest.fixture(autouse=True)
def tmp_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("NBUTILS_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "embeddings"


def grey_images(n: int = 6, size: int = 8, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, 1, size, size), dtype=torch.uint8, generator=generator)


def count_builds(monkeypatch, name: str) -> list:
    """Replace ENCODERS[name] by a wrapper that records each build (same signature)."""
    builds = []
    original = ENCODERS[name]

    @functools.wraps(original)
    def counted(*args, **kwargs):
        builds.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setitem(ENCODERS, name, counted)
    return builds


# ---- raw and pca --------------------------------------------------------------------------------

def test_raw_is_flattened_pixels_over_255():
    images = torch.tensor([[[[0, 255], [51, 102]]]], dtype=torch.uint8)  # (1, 1, 2, 2)
    out = encode(images, "raw", cache=False)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 1.0, 0.2, 0.4]], atol=1e-7)


def test_pca_dimensions_and_fit_images():
    images = grey_images(12)
    own = encode(images, "pca", n_components=3, cache=False)
    assert own.shape == (12, 3) and own.dtype == np.float32
    np.testing.assert_allclose(own.mean(0), 0, atol=1e-5)  # fitted on these images: centred
    other = encode(images, "pca", n_components=3, fit_images=grey_images(12, seed=1), cache=False)
    assert np.abs(other.mean(0)).max() > 1e-3


# ---- cache --------------------------------------------------------------------------------------

def test_second_call_loads_from_cache(monkeypatch, tmp_cache):
    builds = count_builds(monkeypatch, "pca")
    images = grey_images()
    first = encode(images, "pca", n_components=2)
    second = encode(images, "pca", n_components=2)
    assert len(builds) == 1
    np.testing.assert_array_equal(first, second)
    assert len(list(tmp_cache.glob("pca-*.npy"))) == 1
    assert not list(tmp_cache.glob("*.tmp"))
    encode(images, "pca", n_components=3)  # other options
    encode(grey_images(seed=1), "pca", n_components=2)  # other images
    encode(images, "pca", n_components=2, fit_images=grey_images(seed=2))  # other fit images
    encode(images, "pca", n_components=2, cache=False)  # cache off
    assert len(builds) == 5
    encode(images, "pca", n_components=2, fit_images=images)  # same as the default fit
    assert len(builds) == 5



def test_the_cache_keeps_bf16_and_fp32_embeddings_apart(monkeypatch, tmp_cache):
    from nbutils.methods import encoders

    builds = count_builds(monkeypatch, "pca")
    images = grey_images()
    for precision in (None, torch.bfloat16, None, torch.bfloat16):
        monkeypatch.setattr(encoders, "autocast_dtype", lambda device, amp="auto", p=precision: p)
        encode(images, "pca", n_components=2)
    assert len(builds) == 2

def test_images_hash_depends_on_bytes_and_shape():
    images = grey_images()
    assert runtime.images_hash(images) == runtime.images_hash(images.clone())
    assert runtime.images_hash(images) != runtime.images_hash(images.reshape(3, 2, 8, 8))
    changed = images.clone()
    changed[0, 0, 0, 0] ^= 1
    assert runtime.images_hash(images) != runtime.images_hash(changed)


# ---- bad input ----------------------------------------------------------------------------------

def test_bad_encoder_options_and_images():
    images = grey_images()
    with pytest.raises(ValueError, match="clip, effnet-lite0, autoencoder, raw, pca"):
        encode(images, "dino")
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['n_component'\].*n_components"):
        encode(images, "pca", n_component=3)
    with pytest.raises(ValueError, match="unknown option"):
        encode(images, "raw", fit_images=images)
    with pytest.raises(TypeError, match="uint8"):
        encode(images.float(), "raw")
    with pytest.raises(TypeError, match="fit_images"):
        encode(images, "pca", fit_images=images[0])
    with pytest.raises(ValueError, match="1 or 3 channels"):
        encode(torch.zeros(2, 2, 8, 8, dtype=torch.uint8), "effnet-lite0", cache=False)


# ---- pretrained encoders ------------------------------------------------------------------------

def test_effnet_lite0_is_pretrained_deterministic_and_1280_d():
    images = grey_images(3)
    a = encode(images, "effnet-lite0", image_size=32, cache=False)
    b = encode(images, "effnet-lite0", image_size=32, cache=False)
    assert a.shape == (3, 1280) and a.dtype == np.float32
    # two separate builds agree only if both loaded the packaged weights (random init differs)
    np.testing.assert_array_equal(a, b)


def test_clip_loads_a_local_checkpoint(tmp_path):
    open_clip = pytest.importorskip("open_clip")
    from PIL import Image

    torch.manual_seed(0)
    model, _, preprocess = open_clip.create_model_and_transforms("ViT-S-32-alt")  # random weights
    checkpoint = tmp_path / "clip.pt"
    torch.save(model.state_dict(), checkpoint)
    images = torch.linspace(0, 255, 28).round().to(torch.uint8).expand(2, 1, 28, 28).clone()
    images[1] = images[1].transpose(1, 2).clone()
    out = encode(images, "clip", model="ViT-S-32-alt", pretrained=str(checkpoint), cache=False)
    assert out.shape == (2, 256) and out.dtype == np.float32
    # open_clip's own PIL preprocessing and model give the same features
    with torch.no_grad():
        pil = [preprocess(Image.fromarray(im[0].numpy()).convert("RGB")) for im in images]
        expected = model.eval().encode_image(torch.stack(pil)).numpy()
    cosine = (out * expected).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.999


def test_clip_offline_without_checkpoint_fails_without_the_network_and_says_how(monkeypatch, tmp_path):
    import socket

    from huggingface_hub import constants

    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("tried to connect to the network"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "empty-hub-cache"))
    with pytest.raises(RuntimeError, match="offline.*pretrained='/path/to/ViT-B-32.pt'.*Colab"):
        encode(grey_images(2), "clip", cache=False)
    with pytest.raises(FileNotFoundError, match="openai"):
        encode(grey_images(2), "clip", pretrained="/no/such/checkpoint.pt", cache=False)


# ---- autoencoder --------------------------------------------------------------------------------

def test_autoencoder_latents_and_fit_images():
    images = grey_images(8)
    own = encode(images, "autoencoder", latent_dim=4, epochs=1, cache=False)
    again = encode(images, "autoencoder", latent_dim=4, epochs=1, cache=False)
    other = encode(images, "autoencoder", latent_dim=4, epochs=1, fit_images=grey_images(8, seed=1), cache=False)
    assert own.shape == (8, 4) and own.dtype == np.float32
    np.testing.assert_allclose(own, again, rtol=1e-5, atol=1e-6)  # seeded
    assert not np.allclose(own, other)


# ---- image size against encoder size ---------------------------------------------------------

def images_of(n: int, channels: int, size: int, seed: int = 0) -> torch.Tensor:
    generator = torch.Generator().manual_seed(seed)
    return torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=generator)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [16, 32, 48])  # smaller than, equal to, larger than the encoder's 32
def test_prepare_images_at_every_size_leaves_its_input_alone(size, channels):
    images = images_of(2, channels, size)
    before = images.clone()
    x = encoders.prepare_images(images, 32, (0.5, 0.5, 0.5), (0.25, 0.25, 0.25))
    assert x.shape == (2, 3, 32, 32) and x.dtype == torch.float32
    assert x.min() >= -2.0 and x.max() <= 2.0  # (clamped [0, 1] - 0.5) / 0.25
    torch.testing.assert_close(images, before, rtol=0, atol=0)
    if size == 32:  # already the encoder's size: only scaled and normalised
        expected = (images.float() / 255 - 0.5) / 0.25
        torch.testing.assert_close(x, expected.expand(-1, 3, -1, -1), rtol=0, atol=1e-6)


def test_prepare_images_grey_is_its_rgb_copy():
    grey = images_of(2, 1, 20)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    torch.testing.assert_close(encoders.prepare_images(grey, 32, mean, std),
                               encoders.prepare_images(grey.repeat(1, 3, 1, 1), 32, mean, std), rtol=0, atol=0)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("size", [16, 32, 48])
def test_effnet_lite0_at_every_image_size_batch_and_n(size, channels):
    """encode(..., image_size=32) on images smaller than, equal to and larger than 32 px, grey and
    colour, in batches of 2 that do not divide N=5, equals the images encoded one at a time (N=1)."""
    images = images_of(5, channels, size)
    batched = encode(images, "effnet-lite0", image_size=32, batch_size=2, cache=False)
    assert batched.shape == (5, 1280) and np.isfinite(batched).all()
    single = encode(images[:1], "effnet-lite0", image_size=32, batch_size=2, cache=False)
    assert single.shape == (1, 1280)
    np.testing.assert_allclose(single, batched[:1], rtol=1e-4, atol=1e-4)


# ---- up-front option check --------------------------------------------------------------------

def test_check_encoder_options_fills_defaults():
    assert encoders.check_encoder_options("effnet-lite0", {}) == {"image_size": 96}
    assert encoders.check_encoder_options("pca", {"n_components": 3}) == {"n_components": 3}
    assert encoders.check_encoder_options("autoencoder", {"epochs": 2}) == {"latent_dim": 64, "epochs": 2, "seed": 0}
    assert encoders.check_encoder_options("raw", {}) == {}


@pytest.mark.parametrize("encoder, options, error, message", [
    ("dino", {}, ValueError, "unknown encoder 'dino'; valid: clip, effnet-lite0, autoencoder, raw, pca"),
    ("raw", {"image_size": 32}, ValueError, r"unknown option\(s\) \['image_size'\] for encoder 'raw'"),
    ("effnet-lite0", {"image_size": "64"}, TypeError, "image_size='64' is a str.*int"),
    ("effnet-lite0", {"image_size": 64.0}, TypeError, "image_size=64.0 is a float"),
    ("effnet-lite0", {"image_size": True}, TypeError, "image_size=True is a bool"),
    ("effnet-lite0", {"image_size": 0}, ValueError, "image_size must be >= 1"),
    ("pca", {"n_components": -1}, ValueError, "n_components must be >= 1"),
    ("clip", {"pretrained": 1}, TypeError, "pretrained=1 is a int.*str"),
    ("autoencoder", {"epochs": 1e3}, TypeError, "epochs=1000.0 is a float"),
    ("effnet-lite0", [("image_size", 32)], TypeError, "must be a dict"),
])
def test_check_encoder_options_rejects_bad_names_and_types(encoder, options, error, message, monkeypatch):
    for network in ("_create_clip", "effnet_lite0_network"):  # nothing is built
        monkeypatch.setattr(encoders, network, lambda *a, **k: pytest.fail("the check built an encoder"))
    with pytest.raises(error, match=message):
        encoders.check_encoder_options(encoder, options)


def test_encode_uses_the_option_check():
    with pytest.raises(TypeError, match="image_size='32' is a str"):
        encode(grey_images(), "effnet-lite0", image_size="32", cache=False)
