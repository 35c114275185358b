import urllib.error

import pytest
import torch
import torchvision

from nbutils.methods import models
from nbutils.methods.models import (
    IMAGE_ARCHS,
    IMAGENET_WEIGHTS,
    CosineClassifier,
    check_model_options,
    make_model,
    weights_file,
)


@pytest.fixture
def empty_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, offline (as the tests run: conftest sets HF_HUB_OFFLINE=1)."""
    monkeypatch.setattr(torch.hub, "_hub_dir", str(tmp_path / "hub"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    return tmp_path / "hub" / "checkpoints"


# ---- architectures ------------------------------------------------------------------------------

@pytest.mark.parametrize("arch, feature_dim", [("resnet18", 512), ("resnet50", 2048), ("efficientnetv2_s", 1280),
                                               ("cnn", 16)])
@pytest.mark.parametrize("channels, size", [(1, 32), (3, 72)])
def test_image_archs_give_features_and_logits(arch, feature_dim, channels, size):
    model = make_model(arch, 3, in_channels=channels, image_size=size, width=4).eval()
    x = torch.rand(2, channels, size, size)
    with torch.no_grad():
        assert model.features(x).shape == (2, feature_dim)
        assert model(x).shape == (2, 3)
    assert isinstance(model.target_layer, torch.nn.Module)


def test_grey_stem_of_pretrained_weights_sums_the_colours():
    conv = torch.nn.Conv2d(3, 4, 3, 2, 1, bias=False)
    grey = models.stem_for_channels(conv, 1, pretrained=True)
    x = torch.rand(1, 1, 8, 8)
    torch.testing.assert_close(grey(x), conv(x.expand(-1, 3, -1, -1)))  # R = G = B
    assert models.stem_for_channels(conv, 3, pretrained=True) is conv


# ---- cosine head ------------------------------------------------------------------------------

def test_cosine_head_starts_with_unit_class_vectors():
    """LDAM-DRW's NormedLinear: uniform(-1, 1), each class vector renormed to 1 (the old head
    started at norm sqrt(D / 3), about 6.5 for D = 128)."""
    torch.manual_seed(0)
    head = CosineClassifier(128, 10)
    assert head.weight.shape == (10, 128)
    torch.testing.assert_close(head.weight.norm(dim=1), torch.ones(10))
    reference = torch.empty(128, 10).uniform_(-1, 1).renorm_(2, 1, 1e-5).mul_(1e5)  # the authors' (D, K) weight
    torch.testing.assert_close(reference.norm(dim=0), torch.ones(10))
    assert head.weight.abs().max() <= 1.0  # a rescaled uniform(-1, 1) vector, as theirs
    x = torch.randn(4, 128)
    expected = torch.nn.functional.normalize(x, dim=1) @ torch.nn.functional.normalize(head.weight, dim=1).T
    torch.testing.assert_close(head(x), expected)
    assert make_model("cnn", 5, in_channels=1, image_size=8, head="cosine", width=4).head.weight.norm(dim=1).allclose(
        torch.ones(5))


# ---- up-front checks --------------------------------------------------------------------------

@pytest.mark.parametrize("arch, width, pretrained, error, message", [
    ("resnet101", 32, False, ValueError, "unknown arch 'resnet101'; valid: resnet18, resnet34, resnet50, "
                                         "efficientnetv2_s, cnn"),
    ("mlp", 32, False, ValueError, "arch 'mlp' takes embeddings.*mlp-probe.*cnn"),
    ("cnn", 0, False, ValueError, "width must be >= 1"),
    ("cnn", 16.0, False, TypeError, "width must be an int"),
    ("cnn", True, False, TypeError, "width must be an int"),
    ("resnet18", 32, "yes", TypeError, "pretrained must be true or false"),
    ("cnn", 32, True, ValueError, "arch 'cnn' has no ImageNet weights.*pretrained=false"),
])
def test_check_model_options_rejects_bad_settings(arch, width, pretrained, error, message):
    with pytest.raises(error, match=message):
        check_model_options(arch, width=width, pretrained=pretrained)
    if arch == "mlp":  # make_model builds the probe's MLP (on embeddings), see test_mlp_on_images...
        return
    with pytest.raises(error, match=message.split(".*")[0]):  # make_model applies the same check
        make_model(arch, 2, in_channels=1, image_size=8, width=width, pretrained=pretrained)


def test_valid_settings_pass():
    for arch in IMAGE_ARCHS:
        check_model_options(arch, width=8, pretrained=False)


@pytest.mark.parametrize("arch", list(IMAGENET_WEIGHTS))
def test_pretrained_offline_without_weights_fails_without_the_network_and_says_how(arch, empty_hub, monkeypatch):
    import socket

    monkeypatch.setattr(socket.socket, "connect", lambda *a, **k: pytest.fail("tried to connect to the network"))
    with pytest.raises(FileNotFoundError, match=f"ImageNet weights of {arch} could not be fetched.*offline.*"
                                           f"{weights_file(arch).name}.*pretrained=false"):
        check_model_options(arch, width=32, pretrained=True)


def test_pretrained_loads_cached_weights_offline(empty_hub):
    empty_hub.mkdir(parents=True)
    torch.manual_seed(1)
    saved = torchvision.models.resnet18().state_dict()
    torch.save(saved, weights_file("resnet18"))
    check_model_options("resnet18", width=32, pretrained=True)
    model = make_model("resnet18", 2, in_channels=3, image_size=96, pretrained=True)
    torch.testing.assert_close(model.backbone.layer1[0].conv1.weight, saved["layer1.0.conv1.weight"])
    torch.testing.assert_close(model.backbone.conv1.weight, saved["conv1.weight"])


def test_failed_download_is_a_clear_error(empty_hub, monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE")
    monkeypatch.delenv("NBUTILS_OFFLINE", raising=False)

    def no_network(*args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torch.hub, "download_url_to_file", no_network)
    check_model_options("resnet50", width=32, pretrained=True)  # online: the download is tried later
    with pytest.raises(FileNotFoundError, match="ImageNet weights of resnet50 could not be fetched .download failed.*"
                                           "name resolution.*copy it to"):
        make_model("resnet50", 2, pretrained=True)


def test_mlp_on_images_is_a_clear_error():
    model = make_model("mlp", 3, in_channels=8)
    assert model(torch.rand(4, 8)).shape == (4, 3)
    with pytest.raises(ValueError, match=r"arch 'mlp' takes embeddings \(N, D\), got a tensor of shape \(4, 1, 8, 8\)"):
        model(torch.rand(4, 1, 8, 8))
