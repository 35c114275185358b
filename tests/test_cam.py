import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nbutils.analysis.cam import CAM_METHODS, class_activation_maps
from nbutils.methods.models import make_model


@pytest.fixture
def model():
    torch.manual_seed(0)
    return make_model("cnn", 3, in_channels=1, image_size=16, width=8)


@pytest.fixture
def images():
    return torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))


def hooks_left(model: torch.nn.Module) -> int:
    return sum(len(m._forward_hooks) + len(m._backward_hooks) + len(m._forward_pre_hooks) for m in model.modules())


@pytest.mark.parametrize("method", list(CAM_METHODS))
def test_maps_are_normalised_image_sized_and_leave_the_model_as_it_was(model, images, method):
    bn = model.target_layer[1]
    running_mean = bn.running_mean.clone()
    model.train()
    maps = class_activation_maps(model, images, method)
    assert maps.shape == (4, 16, 16) and maps.dtype == np.float32
    assert maps.min() >= 0 and maps.max() <= 1
    assert maps.max() > 0.5  # min-max normalised per image, not all zero
    assert model.training  # flag restored
    torch.testing.assert_close(bn.running_mean, running_mean)  # computed in eval mode: BN statistics untouched
    assert hooks_left(model) == 0
    assert all(p.grad is None for p in model.parameters())  # no gradients left on the weights


def test_gradcam_equals_the_formula_computed_by_hand(model, images):
    model.eval()
    stored = {}
    handle = model.target_layer.register_forward_hook(lambda m, i, out: stored.update(a=out))
    logits = model(images.float() / 255)
    handle.remove()
    classes = [0, 1, 2, 0]
    grads = torch.autograd.grad(logits[range(4), classes].sum(), stored["a"])[0]  # (4, 32, 4, 4)
    cam = F.relu((grads.mean(dim=(2, 3), keepdim=True) * stored["a"]).sum(dim=1))  # (4, 4, 4)
    cam = cam - cam.amin(dim=(1, 2), keepdim=True)
    cam = cam / (cam.amax(dim=(1, 2), keepdim=True) + 1e-8)
    expected = F.interpolate(cam[:, None], size=(16, 16), mode="bilinear", align_corners=False)[:, 0]
    maps = class_activation_maps(model, images, "gradcam", class_idx=classes)
    np.testing.assert_allclose(maps, expected.detach().numpy(), atol=1e-5)


def test_class_idx_per_image_default_prediction_and_batching(model, images):
    predicted = model.eval()(images.float() / 255).argmax(1).tolist()
    default = class_activation_maps(model, images, "layercam")
    np.testing.assert_allclose(default, class_activation_maps(model, images, "layercam", class_idx=predicted))
    per_image = class_activation_maps(model, images, "layercam", class_idx=np.array([2, 1, 0, 2]), batch_size=3)
    for i, c in enumerate([2, 1, 0, 2]):
        alone = class_activation_maps(model, images[i:i + 1], "layercam", class_idx=c)[0]
        np.testing.assert_allclose(per_image[i], alone, atol=1e-6)
    other = class_activation_maps(model, images, "layercam", class_idx=[(c + 1) % 3 for c in predicted])
    assert not np.allclose(default, other)  # the class matters


def test_to_class_indexes_the_mapped_scores(model, images):
    reversed_classes = lambda logits: logits.flip(1)  # noqa: E731  class c of the scores is output 2 - c
    np.testing.assert_allclose(class_activation_maps(model, images, "gradcam", class_idx=0, to_class=reversed_classes),
                               class_activation_maps(model, images, "gradcam", class_idx=2), atol=1e-6)
    assert hooks_left(model) == 0


def test_works_inside_no_grad_and_with_frozen_weights(model, images):
    expected = class_activation_maps(model, images, "gradcam")
    model.requires_grad_(False)
    with torch.no_grad():
        np.testing.assert_allclose(class_activation_maps(model, images, "gradcam"), expected, atol=1e-6)


def test_bad_input_gets_a_clear_error(model, images):
    with pytest.raises(ValueError, match="gradcam"):
        class_activation_maps(model, images, "gradcam2")
    with pytest.raises(TypeError, match="uint8"):
        class_activation_maps(model, images.float())
    with pytest.raises(ValueError, match="out of range"):
        class_activation_maps(model, images, class_idx=3)
    with pytest.raises(ValueError, match="one per image"):
        class_activation_maps(model, images, class_idx=[0, 1])
    with pytest.raises(ValueError, match="target_layer"):
        class_activation_maps(make_model("mlp", 3, in_channels=8), images)
    assert hooks_left(model) == 0  # the out-of-range error came after hooking: hooks removed anyway


def test_smooth_gradcampp_is_repeatable_and_leaves_the_global_generator_alone():
    from nbutils.analysis.cam import class_activation_maps
    from nbutils.methods.models import make_model
    torch.manual_seed(0)
    model = make_model("cnn", 3, in_channels=1, image_size=16, width=8)
    images = torch.randint(0, 256, (4, 1, 16, 16), dtype=torch.uint8)
    state = torch.get_rng_state()
    a = class_activation_maps(model, images, "smoothgradcampp")
    assert torch.equal(torch.get_rng_state(), state)
    torch.rand(10)  # move the global generator: the maps must not change
    assert np.array_equal(a, class_activation_maps(model, images, "smoothgradcampp"))


def test_a_model_that_has_not_learnt_gives_empty_maps_with_no_centre_mass(model, images):
    """Zero output weights: no gradient reaches the last block, every Grad-CAM map is all zero,
    and its centre mass is NaN (once reported as 0.0, 'all mass outside the centre')."""
    from nbutils.analysis.diagnostics import centre_mass, empty_maps
    last = [m for m in model.modules() if isinstance(m, torch.nn.Linear)][-1]
    with torch.no_grad():
        last.weight.zero_()
    maps = class_activation_maps(model, images, "gradcam", class_idx=0)
    assert empty_maps(maps).all()
    assert np.isnan(centre_mass(maps))
