"""Losses: values worked out by hand on tiny tensors, the DRW switch, AP loss behaviour, errors."""
import math
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from sklearn.metrics import average_precision_score

from nbutils.methods.losses import (
    LOSSES,
    check_loss_options,
    drw_weights,
    inverse_frequency_weights,
    ldam_margins,
    make_loss,
    posthoc_logit_adjust,
)


def close(a, b):
    """a == b within 1e-6, compared in float64."""
    a, b = (torch.as_tensor(x, dtype=torch.float64) for x in (a, b))
    return torch.allclose(a, b, atol=1e-6)


# ----------------------------------------------------------------------------- ce / wce

def test_wce_weights_are_inverse_counts_with_mean_one():
    # 1/n = [1/10, 1/30, 1/60], mean 1/20 -> [2, 2/3, 1/3]
    assert close(inverse_frequency_weights([10, 30, 60]), [2.0, 2 / 3, 1 / 3])
    # binary: each class weighted by the other's count, [10, 90] / 50
    assert close(inverse_frequency_weights([90, 10]), [0.2, 1.8])


def test_wce_value_is_the_weighted_mean_of_per_sample_ce():
    loss = make_loss("wce", [10, 30, 60])
    logits = torch.tensor([[math.log(2), 0.0, 0.0], [0.0, 0.0, 0.0]])
    targets = torch.tensor([0, 2])
    # sample 0: p = 2/4 -> CE log 2, weight 2; sample 1: p = 1/3 -> CE log 3, weight 1/3
    expected = (2 * math.log(2) + math.log(3) / 3) / (2 + 1 / 3)
    assert close(loss(logits, targets), expected)
    assert close(make_loss("ce", [10, 30, 60])(logits, targets), (math.log(2) + math.log(3)) / 2)


# ----------------------------------------------------------------------------- focal

def test_focal_at_gamma_zero_is_ce():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2, 2, 1, 0])
    assert close(make_loss("focal", [5, 5, 5], gamma=0.0)(logits, targets), F.cross_entropy(logits, targets))


def test_focal_hand_example_and_alpha_applied_after_p_t():
    logits = torch.tensor([[math.log(3), 0.0], [0.0, 0.0]])
    targets = torch.tensor([0, 1])
    # sample 0: p_t = 3/4, CE log(4/3), (1/4)^2 = 1/16; sample 1: p_t = 1/2, CE log 2, (1/2)^2 = 1/4
    focal = make_loss("focal", [3, 1], gamma=2.0)
    assert close(focal(logits, targets), (math.log(4 / 3) / 16 + math.log(2) / 4) / 2)
    # alpha scales CE_i but p_t is still the unweighted softmax probability
    weighted = make_loss("focal", [3, 1], gamma=2.0, alpha=[0.25, 0.75])
    assert close(weighted(logits, targets), (0.25 * math.log(4 / 3) / 16 + 0.75 * math.log(2) / 4) / 2)


# ----------------------------------------------------------------------------- ldam

def test_ldam_margins_scale_with_n_to_minus_quarter():
    # n^(-1/4) = [1, 1/2, 1/3], largest -> 0.5
    assert close(ldam_margins([1, 16, 81]), [0.5, 0.25, 1 / 6])
    assert close(ldam_margins([16, 1], max_m=1.0), [0.5, 1.0])
    # n^(-1/4) = [1/2, 1/3, 1/4] -> divided by the largest, 1/2, then times 0.5
    assert close(ldam_margins([16, 81, 256]), [0.5, 1 / 3, 0.25])


def test_ldam_subtracts_the_true_class_margin_then_scales():
    # 3 classes, margins [0.5, 0.25, 1/6]; zero logits, target 1, s=30 -> s*z' = [0, -7.5, 0]
    loss = make_loss("ldam", [1, 16, 81])
    expected = 7.5 + math.log(2 + math.exp(-7.5))
    assert close(loss(torch.zeros(1, 3), torch.tensor([1])), expected)
    # 2 classes, margins [0.25, 0.5]; logits [0.5, 0.5], target 1, s=2 -> [1, 0]; CE = log(1 + e)
    loss = make_loss("ldam", [16, 1], s=2.0)
    assert close(loss(torch.tensor([[0.5, 0.5]]), torch.tensor([1])), math.log(1 + math.e))
    # the same logits with target 0 shift only logit 0 by 0.25 -> [0.5, 1]; CE = log(1 + e^0.5)
    assert close(loss(torch.tensor([[0.5, 0.5]]), torch.tensor([0])), math.log(1 + math.exp(0.5)))


# ----------------------------------------------------------------------------- ldam-drw

def test_drw_weights_hand_example():
    # beta 0.5, n = [1, 2]: (1 - b) / (1 - b^n) = [1, 2/3], sum 5/3 -> sum 2: [1.2, 0.8]
    assert close(drw_weights([1, 2], beta=0.5), [1.2, 0.8])
    weights = drw_weights([10, 1000, 100])
    assert close(weights.sum(), 3.0)
    assert weights[0] > weights[2] > weights[1]


def test_drw_switches_weights_at_drw_epoch():
    counts = [200, 20]
    loss = make_loss("ldam-drw", counts, drw_epoch=2, s=5.0)
    plain = make_loss("ldam", counts, s=5.0)
    reweighted = make_loss("ldam", counts, s=5.0, weight=drw_weights(counts).tolist())
    logits = torch.tensor([[0.3, -0.2], [0.1, 0.4], [-0.5, 0.2]])
    targets = torch.tensor([0, 0, 1])
    assert not close(plain(logits, targets), reweighted(logits, targets))
    for epoch, expected in [(0, plain), (1, plain), (2, reweighted), (3, reweighted)]:
        loss.on_epoch_start(SimpleNamespace(epoch=epoch))
        assert close(loss(logits, targets), expected(logits, targets)), epoch
    loss.on_epoch_start(SimpleNamespace(epoch=0))  # a new run from epoch 0 restores the ones
    assert close(loss.weight, [1.0, 1.0])


def test_drw_epoch_is_required():
    with pytest.raises(ValueError, match="drw_epoch"):
        make_loss("ldam-drw", [10, 2])


# ----------------------------------------------------------------------------- la

def test_logit_adjustment_offsets():
    # prior [1/4, 3/4]: logits - log prior = [log 4, log(4/3)]
    assert close(posthoc_logit_adjust(torch.zeros(1, 2), [1, 3]), [[math.log(4), math.log(4 / 3)]])
    assert close(posthoc_logit_adjust(torch.tensor([[1.0, 2.0]]), [1, 3], tau=2.0),
                 [[1 + 2 * math.log(4), 2 + 2 * math.log(4 / 3)]])
    # loss form on zero logits: softmax(log prior) = prior -> CE = -log(1/4)
    assert close(make_loss("la", [1, 3])(torch.zeros(1, 2), torch.tensor([0])), math.log(4))
    # tau 2: softmax(2 log prior) = prior^2 / sum prior^2 = (1/16) / (10/16) -> CE = log 10
    assert close(make_loss("la", [1, 3], tau=2.0)(torch.zeros(1, 2), torch.tensor([0])), math.log(10))


# ----------------------------------------------------------------------------- lmf

def test_lmf_is_alpha_ldam_plus_beta_focal_on_raw_logits():
    counts = [50, 10, 3]
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(1)) * 0.5
    targets = torch.tensor([0, 1, 2, 0, 2])
    lmf = make_loss("lmf", counts, alpha=0.7, beta=0.3, gamma=1.5, max_m=0.4, s=10.0)
    ldam = make_loss("ldam", counts, max_m=0.4, s=10.0)
    focal = make_loss("focal", counts, gamma=1.5)
    assert close(lmf(logits, targets), 0.7 * ldam(logits, targets) + 0.3 * focal(logits, targets))


def authors_lmf(logits, targets, counts, alpha, beta, gamma, class_weights):
    """The LMF authors' loss written out from the LMF paper's Eq. 3: alpha * LDAM + beta * focal on the same logits,
    m_c = 0.5 * n_c^(-1/4) / max; with class_weights, LDAM's CE is weighted by m (weighted mean) and
    the focal CE by m (plain mean over the batch, as their focal-loss package does)."""
    m = torch.tensor(counts, dtype=torch.float64) ** -0.25
    m = 0.5 * m / m.max()
    z = logits.double()
    y = targets
    rows = torch.arange(len(y))
    shifted = z.clone()
    shifted[rows, y] -= m[y]
    ldam_ce = -torch.log_softmax(30 * shifted, 1)[rows, y]
    log_p = torch.log_softmax(z, 1)[rows, y]
    w = m[y] if class_weights else torch.ones(len(y), dtype=torch.float64)
    ldam = (w * ldam_ce).sum() / w.sum()
    focal = ((1 - log_p.exp()) ** gamma * w * -log_p).mean()
    return alpha * ldam + beta * focal


@pytest.mark.parametrize("margin_weights", [False, True])
def test_lmf_equals_the_authors_formula(margin_weights):
    counts = [300, 40, 7]
    logits = torch.randn(9, 3, generator=torch.Generator().manual_seed(3))
    targets = torch.tensor([0, 1, 2, 0, 2, 1, 0, 0, 2])
    lmf = make_loss("lmf", counts, alpha=1.5, beta=1.0, gamma=1.5, margin_weights=margin_weights)
    assert close(lmf(logits, targets), authors_lmf(logits, targets, counts, 1.5, 1.0, 1.5, margin_weights))
    other = authors_lmf(logits, targets, counts, 1.5, 1.0, 1.5, not margin_weights)
    assert not close(lmf(logits, targets), other)  # the option changes the value


@pytest.mark.parametrize("margin_weights", [False, True])
def test_lmf_without_its_focal_term_is_ldam(margin_weights):
    counts = [300, 40, 7]
    logits = torch.rand(8, 3, generator=torch.Generator().manual_seed(4)) * 2 - 1
    targets = torch.tensor([0, 1, 2, 0, 2, 1, 0, 0])
    lmf = make_loss("lmf", counts, beta=0.0, margin_weights=margin_weights)
    ldam = make_loss("ldam", counts, margin_weights=margin_weights)
    assert close(lmf(logits, targets), ldam(logits, targets))


def test_margin_weights_are_the_ldam_margins_and_exclude_explicit_weights():
    counts = [300, 40, 7]
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(5))
    targets = torch.tensor([0, 1, 2, 1, 2])
    m = ldam_margins(counts).tolist()
    assert close(make_loss("focal", counts, gamma=1.5, margin_weights=True)(logits, targets),
                 make_loss("focal", counts, gamma=1.5, alpha=m)(logits, targets))
    assert close(make_loss("ldam", counts, margin_weights=True)(logits, targets),
                 make_loss("ldam", counts, weight=m)(logits, targets))
    with pytest.raises(ValueError, match="either margin_weights=true or alpha"):
        make_loss("focal", counts, alpha=m, margin_weights=True)


def test_focal_default_gamma_is_lin_et_al_and_lmf_keeps_the_lmf_papers():
    logits = torch.tensor([[math.log(3), 0.0]])
    # p_t = 3/4: gamma 2 -> (1/4)^2 * log(4/3)
    assert close(make_loss("focal", [3, 1])(logits, torch.tensor([0])), math.log(4 / 3) / 16)
    assert make_loss("lmf", [3, 1]).focal.gamma == 1.5


def focal_share(loss, logits, targets):
    """||grad of beta * focal|| / (||grad of alpha * LDAM|| + ||grad of beta * focal||), on the logits."""
    z = logits.detach().requires_grad_()
    g_ldam, = torch.autograd.grad(loss.alpha * loss.ldam(z, targets), z)
    g_focal, = torch.autograd.grad(loss.beta * loss.focal(z, targets), z)
    return float(g_focal.norm() / (g_ldam.norm() + g_focal.norm()))


@pytest.mark.parametrize("counts", [[900, 100], [6705, 1113, 1099, 514, 327, 142, 115]])
def test_lmf_focal_term_carries_a_few_percent_of_the_gradient_at_s30(counts):
    gen = torch.Generator().manual_seed(0)
    targets = torch.randint(0, len(counts), (256,), generator=gen)
    features, classes = torch.randn(256, 64, generator=gen), torch.randn(len(counts), 64, generator=gen)
    cosine = F.normalize(features, dim=1) @ F.normalize(classes, dim=1).T  # a cosine head's logits
    linear = torch.randn(256, len(counts), generator=gen)  # a linear head's logits at initialisation
    lmf = make_loss("lmf", counts)
    for logits in (cosine, linear):
        assert 0.003 < focal_share(lmf, logits, targets) < 0.05  # measured 0.012-0.027


# ----------------------------------------------------------------------------- options and their types

def test_option_types_are_checked_and_yaml_number_strings_read_as_numbers():
    # YAML 1.1 reads 5e-1 as the string '5e-1'; config.read_value reads such strings as numbers
    assert check_loss_options("la", {"tau": "5e-1"}) == {"tau": 0.5}
    assert check_loss_options("focal", {"gamma": 2}) == {"gamma": 2.0}
    assert make_loss("la", [3, 1], tau="5e-1").tau == 0.5
    assert make_loss("focal", [3, 1], gamma="2").gamma == 2.0
    assert check_loss_options("ldam-drw", {"drw_epoch": 160.0}) == {"drw_epoch": 160}
    with pytest.raises(TypeError, match=r"loss 'focal': gamma='two' is a str, but gamma takes a number"):
        make_loss("focal", [3, 1], gamma="two")
    with pytest.raises(TypeError, match=r"method 'lmf': loss 'lmf': margin_weights='yes' is a str, but "
                                        r"margin_weights takes true or false"):
        check_loss_options("lmf", {"margin_weights": "yes"}, where="method 'lmf'")
    with pytest.raises(TypeError, match="drw_epoch=2.5 is a float, but drw_epoch takes an int"):
        check_loss_options("ldam-drw", {"drw_epoch": 2.5})
    with pytest.raises(TypeError, match="alpha takes a list of per-class numbers"):
        check_loss_options("focal", {"alpha": 0.25})
    with pytest.raises(TypeError, match="gamma takes a number"):
        check_loss_options("focal", {"gamma": True})


# ----------------------------------------------------------------------------- ap

def test_ap_moving_averages_by_hand():
    loss = make_loss("ap", [6, 2], n_samples=10)
    # positive (index 7) score softmax[1] = 1/2; negative (index 3) score 1/4
    logits = torch.tensor([[0.0, 0.0], [0.0, -math.log(3)]], requires_grad=True)
    value = loss(logits, torch.tensor([1, 0]), torch.tensor([7, 3]))
    # surrogate row of the positive: [(1 - 0)^2, (1 - 1/4)^2] = [1, 0.5625]
    # u_all = 0.9 * mean(1, 0.5625) = 0.703125, u_pos = 0.9 * mean(1, 0) = 0.45
    assert close(loss.u_all[0, 7], 0.703125) and close(loss.u_pos[0, 7], 0.45)
    assert loss.u_all[0].count_nonzero() == 1 and loss.u_pos[0].count_nonzero() == 1
    value.backward()
    assert logits.grad[0, 1] < 0 < logits.grad[1, 1]  # raise the positive's score, lower the negative's
    # second visit of index 7 with a negative scoring 1/2: row [1, 1]
    loss(torch.zeros(2, 2), torch.tensor([1, 0]), torch.tensor([7, 4]))
    assert close(loss.u_all[0, 7], 0.1 * 0.703125 + 0.9 * 1.0)
    assert close(loss.u_pos[0, 7], 0.1 * 0.45 + 0.9 * 0.5)


def test_ap_loss_raises_average_precision_on_a_separable_toy_problem():
    generator = torch.Generator().manual_seed(0)
    targets = torch.tensor([1] * 8 + [0] * 56)
    features = torch.randn(64, 2, generator=generator) + 4.0 * targets[:, None]
    model = torch.nn.Linear(2, 2)
    with torch.no_grad():  # start from a model that ranks negatives above positives
        model.weight.copy_(torch.tensor([[0.2, 0.2], [-0.2, -0.2]]))
        model.bias.zero_()
    loss = make_loss("ap", [56, 8], n_samples=64)
    indices = torch.arange(64)

    def average_precision():
        return average_precision_score(targets, model(features).softmax(1)[:, 1].detach())

    before = average_precision()
    for _ in range(20):  # plain gradient descent, lr 1 (torch.optim's first import alone takes seconds)
        model.zero_grad()
        value = loss(model(features), targets, indices)
        assert torch.isfinite(value)
        value.backward()
        with torch.no_grad():
            for parameter in model.parameters():
                parameter -= parameter.grad
    assert before < 0.2 and average_precision() > 0.95


def test_ap_loss_multiclass_skips_classes_absent_from_the_batch():
    loss = make_loss("ap", [5, 5, 5], n_samples=8)
    value = loss(torch.randn(3, 3), torch.tensor([0, 1, 1]), torch.tensor([0, 1, 2]))
    assert torch.isfinite(value)
    assert loss.u_all[2].count_nonzero() == 0 and loss.u_all[:2].count_nonzero() == 3


def test_ap_loss_errors():
    loss = make_loss("ap", [6, 2], n_samples=4)
    with pytest.raises(ValueError, match="PositiveEveryBatchSampler"):
        loss(torch.randn(3, 2), torch.tensor([0, 0, 0]), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="n_samples=4"):
        loss(torch.randn(2, 2), torch.tensor([1, 0]), torch.tensor([1, 4]))
    with pytest.raises(ValueError, match="n_samples"):
        make_loss("ap", [6, 2])


def test_ap_buffers_are_registered_and_only_ap_needs_indices():
    loss = make_loss("ap", [6, 2], n_samples=4)
    assert {"u_all", "u_pos"} <= set(dict(loss.named_buffers()))
    assert [name for name in LOSSES if _build(name, [4, 3, 2]).needs_indices] == ["ap"]


# ----------------------------------------------------------------------------- all losses

def _build(name, counts):
    options = {"drw_epoch": 0} if name == "ldam-drw" else {"n_samples": 6} if name == "ap" else {}
    return make_loss(name, counts, **options)


@pytest.mark.parametrize("name", LOSSES)
def test_every_loss_gives_a_finite_scalar_and_finite_gradients(name):
    loss = _build(name, [4, 3, 2])
    if hasattr(loss, "on_epoch_start"):
        loss.on_epoch_start(SimpleNamespace(epoch=0))
    logits = (torch.rand(6, 3, generator=torch.Generator().manual_seed(2)) * 2 - 1).requires_grad_()
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    value = loss(logits, targets, torch.arange(6)) if loss.needs_indices else loss(logits, targets)
    value.backward()
    assert value.shape == () and torch.isfinite(value)
    assert torch.isfinite(logits.grad).all() and logits.grad.abs().sum() > 0


# ----------------------------------------------------------------------------- errors

def test_unknown_loss_lists_valid_names():
    with pytest.raises(ValueError, match=r"unknown loss 'fcal'; valid: ce, wce, focal, ldam, ldam-drw, la, lmf, ap"):
        make_loss("fcal", [3, 1])


def test_unknown_option_lists_valid_options():
    with pytest.raises(ValueError, match=r"unknown option\(s\) \['gama'\]; valid options: gamma, alpha"):
        make_loss("focal", [3, 1], gama=2.0)
    with pytest.raises(ValueError, match="valid options: none"):
        make_loss("ce", [3, 1], weight=[1, 2])


def test_bad_class_counts_and_logit_width():
    with pytest.raises(ValueError, match="positive training count"):
        make_loss("wce", [3, 0])
    with pytest.raises(ValueError, match=r"shape \(B, 2\)"):
        make_loss("ce", [3, 1])(torch.zeros(4, 3), torch.zeros(4, dtype=torch.long))
    with pytest.raises(ValueError, match="focal alpha"):
        make_loss("focal", [3, 1], alpha=[1.0, 1.0, 1.0])
