import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits

from nbutils.core.runtime import to_uint8
from nbutils.methods.autoencoder import (
    ConvAutoencoder,
    decode_latents,
    encode_images,
    fit_autoencoder,
    shuffle_within_classes,
    stage_sizes,
)


@pytest.fixture(scope="module")
def digits():
    """300 digit images (N, 1, 8, 8) uint8 and their labels (N,)."""
    data = load_digits()
    images = torch.from_numpy(np.round(data.images[:300] * 255 / 16).astype(np.uint8)).unsqueeze(1)
    return images, data.target[:300].astype(np.int64)


def test_stage_sizes_halve_down_to_four_pixels():
    assert stage_sizes(8) == [8, 4]
    assert stage_sizes(28) == [28, 14, 7, 4]
    assert stage_sizes(224) == [224, 112, 56, 28, 14, 7, 4]


@pytest.mark.parametrize("channels, size", [(1, 8), (3, 13), (1, 28), (3, 224)])
def test_decoder_gives_back_the_input_shape(channels, size):
    model = ConvAutoencoder(channels, size, latent_dim=16).eval()
    z = model.encode(torch.rand(2, channels, size, size))
    assert z.shape == (2, 16)
    x = model.decode(z)
    assert x.shape == (2, channels, size, size) and x.min() >= 0 and x.max() <= 1


def test_images_smaller_than_8_pixels_are_refused():
    with pytest.raises(ValueError, match="at least 8 px"):
        ConvAutoencoder(1, 6)


def test_to_uint8_rounds_and_clips():
    x = torch.tensor([0.0, 0.5, 1.0, 1.2, -0.1, 0.1]).view(1, 1, 1, 6)
    assert to_uint8(x).flatten().tolist() == [0, 128, 255, 255, 0, 26]  # 127.5 -> 128, 25.5 -> 26
    assert to_uint8(x).dtype == torch.uint8


def reconstruction_error(model: ConvAutoencoder, images: torch.Tensor) -> float:
    """Mean squared error in [0, 1] units of the uint8 reconstructions."""
    restored = decode_latents(model, encode_images(model, images))
    return ((restored.float() - images.float()) / 255).pow(2).mean().item()


def test_reconstruction_error_falls_with_training(digits):
    images, _ = digits
    untrained = fit_autoencoder(images, epochs=0, latent_dim=16, device="cpu")
    trained = fit_autoencoder(images, epochs=8, latent_dim=16, batch_size=50, lr=3e-3, device="cpu")
    assert reconstruction_error(trained, images) < 0.3 * reconstruction_error(untrained, images)
    assert not trained.training


@pytest.mark.parametrize("permutation_loss", [False, True])
def test_fit_is_deterministic_by_seed(digits, permutation_loss):
    images, labels = digits

    def weights(seed):
        model = fit_autoencoder(images[:100], labels[:100], epochs=2, latent_dim=8, seed=seed,
                                device="cpu", permutation_loss=permutation_loss)
        return torch.cat([p.flatten() for p in model.state_dict().values() if p.is_floating_point()])

    assert torch.equal(weights(0), weights(0))
    assert not torch.equal(weights(0), weights(1))


def test_permutation_loss_changes_training(digits):
    images, labels = digits
    plain = fit_autoencoder(images[:100], labels[:100], epochs=2, latent_dim=8, device="cpu")
    deep = fit_autoencoder(images[:100], labels[:100], epochs=2, latent_dim=8, device="cpu", permutation_loss=True)
    assert not torch.equal(plain.decoder[0].weight, deep.decoder[0].weight)


def test_permutation_loss_needs_labels(digits):
    with pytest.raises(ValueError, match="needs labels"):
        fit_autoencoder(digits[0], permutation_loss=True)


def test_shuffle_within_classes_only_moves_samples_of_the_same_class():
    labels = torch.tensor([0, 1, 0, 1, 0, 2, 1, 0])
    perm = shuffle_within_classes(labels, torch.Generator().manual_seed(0))
    assert sorted(perm.tolist()) == list(range(8))
    assert torch.equal(labels[perm], labels)
    assert perm[5] == 5  # the only sample of class 2 stays
    perms = {tuple(shuffle_within_classes(labels, torch.Generator().manual_seed(s)).tolist()) for s in range(5)}
    assert len(perms) > 1


def test_encode_and_decode_work_on_uint8_in_batches(digits):
    images, _ = digits
    model = ConvAutoencoder(1, 8, latent_dim=4).eval()
    latents = encode_images(model, images[:10], batch_size=3)
    assert latents.shape == (10, 4) and latents.dtype == torch.float32
    with torch.no_grad():
        assert torch.allclose(latents, model.encode(images[:10].float() / 255), atol=1e-6)
    decoded = decode_latents(model, latents, batch_size=4)
    assert decoded.shape == (10, 1, 8, 8) and decoded.dtype == torch.uint8


def test_bad_images_are_refused():
    with pytest.raises(TypeError, match="uint8"):
        fit_autoencoder(torch.rand(4, 1, 8, 8))
    with pytest.raises(ValueError, match="square"):
        fit_autoencoder(torch.zeros(4, 1, 8, 10, dtype=torch.uint8))
