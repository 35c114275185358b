"""Losses for imbalanced classification, built by name: ``make_loss(name, class_counts, **options)``.

Every loss is an ``nn.Module`` called as ``loss(logits, targets) -> scalar`` with logits (B, C)
and targets (B,) int64. A loss with ``needs_indices = True`` (only ``ap``) is called as
``loss(logits, targets, indices)``, indices (B,) int64 = positions of the samples in the training
set. ``ldam-drw`` has ``on_epoch_start(state)``, which the training loop calls at the start of every
epoch with ``state.epoch`` (0-based). ``ap`` is SOAP (Qi et al. 2021, LibAUC), not Chen et al.'s
AP-loss. Formulas: each loss's docstring names the paper it comes from.
"""
from __future__ import annotations

import inspect
import numbers
from typing import Any, Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from nbutils.core.config import check_keyword_options, keyword_defaults, registered

# ----------------------------------------------------------------------------- per-class constants

def _counts(class_counts: Sequence[int]) -> torch.Tensor:
    """class_counts (C,) -> float64 tensor, checked: at least 2 classes, every count > 0."""
    counts = torch.as_tensor(class_counts, dtype=torch.float64)
    if counts.ndim != 1 or len(counts) < 2 or bool((counts <= 0).any()):
        raise ValueError(
            f"class_counts must list a positive training count for each of >= 2 classes; got "
            f"{counts.tolist()}. Drop or merge classes that have no training sample.")
    return counts


def inverse_frequency_weights(class_counts: Sequence[int]) -> torch.Tensor:
    """WCE weights (C,) float32: w_c proportional to 1 / n_c, normalised to mean 1."""
    weights = 1.0 / _counts(class_counts)
    return (weights / weights.mean()).float()


def drw_weights(class_counts: Sequence[int], beta: float = 0.9999) -> torch.Tensor:
    """Class-balanced (DRW) weights (C,) float32: (1 - beta) / (1 - beta^n_c), normalised to sum to C."""
    if not 0.0 < beta < 1.0:
        raise ValueError(f"beta must be in (0, 1) (the LDAM authors use 0.9999); got {beta}")
    counts = _counts(class_counts)
    weights = (1.0 - beta) / (1.0 - beta ** counts)
    return (weights * len(counts) / weights.sum()).float()


def ldam_margins(class_counts: Sequence[int], max_m: float = 0.5) -> torch.Tensor:
    """LDAM margins (C,) float32: m_c proportional to n_c^(-1/4), rescaled so the largest is max_m."""
    margins = _counts(class_counts) ** -0.25
    return (margins * max_m / margins.max()).float()


def log_prior(class_counts: Sequence[int]) -> torch.Tensor:
    """log of the training class prior, log(n_c / sum n), shape (C,) float32."""
    counts = _counts(class_counts)
    return (counts / counts.sum()).log().float()


def posthoc_logit_adjust(logits: torch.Tensor, class_counts: Sequence[int], tau: float = 1.0) -> torch.Tensor:
    """Post-hoc logit adjustment (Menon et al.): logits (N, C) -> logits - tau * log(prior), (N, C).

    Take the argmax (or softmax) of the result for balanced predictions from any trained model.
    """
    _check_width(logits, len(class_counts))
    return logits - tau * log_prior(class_counts).to(logits.device, logits.dtype)


def _check_width(logits: torch.Tensor, n_classes: int) -> None:
    if logits.ndim != 2 or logits.shape[1] != n_classes:
        raise ValueError(
            f"logits must have shape (B, {n_classes}) to match the {n_classes} class_counts; got "
            f"{tuple(logits.shape)}. With regrouping, pass the counts of the pseudo-classes.")


def _per_class(values: Sequence[float] | None, n_classes: int, option: str) -> torch.Tensor | None:
    """Optional per-class option (e.g. focal ``alpha``) -> float32 tensor (C,), or None."""
    if values is None:
        return None
    tensor = torch.as_tensor(values, dtype=torch.float32)
    if tensor.shape != (n_classes,) or bool((tensor < 0).any()):
        raise ValueError(f"{option} must be {n_classes} non-negative per-class weights; got {values}")
    return tensor


# ----------------------------------------------------------------------------- loss modules

class Loss(nn.Module):
    """Base of every loss here: ``forward(logits (B, C), targets (B,)) -> scalar``.

    ``needs_indices`` is True when forward also takes the training-set positions (B,) of the samples.
    """

    needs_indices: bool = False

    def __init__(self, n_classes: int):
        super().__init__()
        self.n_classes = n_classes


class CrossEntropy(Loss):
    """CE, optionally with per-class weights (C,) (torch's weighted mean: sum w_y CE_i / sum w_y)."""

    def __init__(self, n_classes: int, weight: torch.Tensor | None = None):
        super().__init__(n_classes)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_width(logits, self.n_classes)
        return F.cross_entropy(logits, targets, weight=self.weight)


class FocalLoss(Loss):
    """Focal loss, mean over the batch of (1 - p_t)^gamma * alpha_y * CE_i.

    p_t is the softmax probability of the true class, taken before the optional per-class alpha (C,)
    is applied; the reduction is a plain mean (as in the LDAM authors' code), so at gamma=0 and
    without alpha this is exactly CE.
    """

    def __init__(self, n_classes: int, gamma: float, alpha: torch.Tensor | None = None):
        super().__init__(n_classes)
        if gamma < 0:
            raise ValueError(f"focal gamma must be >= 0; got {gamma}")
        self.gamma = gamma
        self.register_buffer("alpha", alpha)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_width(logits, self.n_classes)
        log_probs = F.log_softmax(logits.float(), dim=1)
        log_pt = log_probs.gather(1, targets[:, None]).squeeze(1)
        ce = F.nll_loss(log_probs, targets, weight=self.alpha, reduction="none")
        return ((1.0 - log_pt.exp()) ** self.gamma * ce).mean()


class LDAMLoss(Loss):
    """LDAM (Cao et al. 2019): CE(s * (logits - m_y on the true-class logit only)), optional weights (C,).

    Meant for a cosine-normalised head (logits in [-1, 1]); s=30 on a plain linear head blows up.
    """

    def __init__(self, n_classes: int, margins: torch.Tensor, s: float, weight: torch.Tensor | None = None):
        super().__init__(n_classes)
        if s <= 0:
            raise ValueError(f"LDAM scale s must be > 0 (authors: 30); got {s}")
        self.s = s
        self.register_buffer("margins", margins)
        self.register_buffer("weight", weight)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_width(logits, self.n_classes)
        adjusted = logits - self.margins * F.one_hot(targets, self.n_classes)
        return F.cross_entropy(self.s * adjusted, targets, weight=self.weight)


class LDAMDRWLoss(LDAMLoss):
    """LDAM with deferred re-weighting: CE weights are all ones before epoch ``drw_epoch``, then the
    class-balanced ``deferred_weight`` (C,). The switch happens in ``on_epoch_start``."""

    def __init__(self, n_classes: int, margins: torch.Tensor, s: float, drw_epoch: int,
                 deferred_weight: torch.Tensor):
        super().__init__(n_classes, margins, s, weight=torch.ones_like(deferred_weight))
        self.drw_epoch = drw_epoch
        self.register_buffer("deferred_weight", deferred_weight)

    def on_epoch_start(self, state) -> None:
        """Set the CE weights for epoch ``state.epoch`` (0-based)."""
        reweight = state.epoch >= self.drw_epoch
        self.weight.copy_(self.deferred_weight if reweight else torch.ones_like(self.weight))


class LogitAdjustedLoss(Loss):
    """Logit-adjusted CE (Menon et al. 2021): CE(logits + tau * log(prior)); tau=1 is Balanced Softmax."""

    def __init__(self, n_classes: int, log_prior: torch.Tensor, tau: float):
        super().__init__(n_classes)
        self.tau = tau
        self.register_buffer("log_prior", log_prior)

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        _check_width(logits, self.n_classes)
        return F.cross_entropy(logits + self.tau * self.log_prior, targets)


class LMFLoss(Loss):
    """LMF (Sadi et al.): alpha * LDAM(logits) + beta * Focal(logits).

    Both terms see the same raw logits: the focal term gets neither the LDAM margins nor the scale s,
    as in the paper's Eq. 3 (two losses of the same model output f(x)) and the authors' code
    (Adnan-Sadi/LMFLOSS), which trains it on a plain linear head (``METHODS["lmf"]`` does too).
    Measured at s=30, alpha=beta=1 (random logits and 30 steps of a small CNN, median): the focal term
    carries 1-3% of the gradient norm on the logits with a cosine or a linear head (0.5-1% with
    margin_weights) — a property of the published loss (tests/test_losses.py pins it below 5%).
    """

    def __init__(self, n_classes: int, ldam: LDAMLoss, focal: FocalLoss, alpha: float, beta: float):
        super().__init__(n_classes)
        self.ldam, self.focal = ldam, focal
        self.alpha, self.beta = alpha, beta

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        return self.alpha * self.ldam(logits, targets) + self.beta * self.focal(logits, targets)


class APLoss(Loss):
    """SOAP (Qi et al. 2021; LibAUC's ``AveragePrecisionLoss``), one-vs-rest per class.

    This is SOAP, the stochastic AP surrogate of LibAUC (checked against LibAUC 2.0.1: the same
    values, gradients and moving-average buffers), not Chen et al.'s (2019) AP-loss, the
    ranking-based detection loss whose numbers stand in the regrouping papers' "AP" row; tables
    call ours "ap (SOAP)" and theirs "AP-loss (Chen et al. 2019)", in rows of their own
    (``report.METHOD_LABELS``, ``report.PAPER_METHODS``). SOAP is Qi, Luo, Xu, Ji and Yang,
    "Stochastic optimization of areas under precision-recall curves with provable convergence",
    NeurIPS 2021; the long regrouping paper's text cites it as "Du et al., 2021", but its own
    reference list gives it as Qi et al. (Du et al. 2021 is a parameter-free loss).

    The score of class c is softmax(logits)[:, c]; for C=2 that is sigmoid(z_1 - z_0), LibAUC's
    sigmoid score. Binary tasks (C=2) optimise the AP of class 1 (the positive/minority class) only,
    like LibAUC; class 0 is just the negatives. With C > 2 every class is scored against the rest and
    the loss is the mean over the classes that have >= 1 positive in the batch.

    Per scored class k and positive sample i, buffers u_all[k, i] and u_pos[k, i] hold moving
    averages (rate gamma) of the squared-hinge surrogate l(f_i, f_s) = max(margin - (f_i - f_s), 0)^2
    over all samples s of the batch and over its positives; weights
    p = (u_pos - u_all * 1[y_s = c]) / u_all^2 are detached; the loss is mean(p * l).
    The value itself is not meaningful (0 on a first visit); its gradient raises AP.
    """

    needs_indices = True

    def __init__(self, n_classes: int, n_samples: int, gamma: float = 0.9, margin: float = 1.0):
        super().__init__(n_classes)
        if not isinstance(n_samples, numbers.Integral) or n_samples < 1:
            raise ValueError(f"ap n_samples must be the training-set size (int >= 1); got {n_samples!r}")
        if not 0.0 < gamma <= 1.0:
            raise ValueError(f"ap gamma (moving-average rate) must be in (0, 1]; got {gamma}")
        if margin <= 0:
            raise ValueError(f"ap margin must be > 0 (LibAUC: 1.0); got {margin}")
        self.gamma, self.margin = gamma, margin
        self.scored_classes = [1] if n_classes == 2 else list(range(n_classes))
        self.register_buffer("u_all", torch.zeros(len(self.scored_classes), int(n_samples)))
        self.register_buffer("u_pos", torch.zeros(len(self.scored_classes), int(n_samples)))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
        _check_width(logits, self.n_classes)
        indices = self._checked_indices(indices, len(targets))
        scores = logits.float().softmax(dim=1)
        losses = [self._class_loss(k, scores[:, c], targets == c, indices)
                  for k, c in enumerate(self.scored_classes) if bool((targets == c).any())]
        if not losses:
            raise ValueError(
                "ap loss got a batch with no positive sample (class 1); build the training batches with "
                "nbutils.methods.sampling.PositiveEveryBatchSampler so every batch holds a positive.")
        return torch.stack(losses).mean()

    def _checked_indices(self, indices: torch.Tensor, batch_size: int) -> torch.Tensor:
        """indices (B,) -> int64 on the buffers' device, checked to lie in 0..n_samples-1."""
        n_samples = self.u_all.shape[1]
        indices = torch.as_tensor(indices, device=self.u_all.device).long()
        if indices.shape != (batch_size,) or bool((indices < 0).any() | (indices >= n_samples).any()):
            raise ValueError(
                f"ap loss needs indices of shape ({batch_size},) with training-set positions in "
                f"0..{n_samples - 1} (n_samples={n_samples}); got shape {tuple(indices.shape)}. "
                "Set n_samples to the number of training images and pass the batch's positions.")
        return indices

    def _class_loss(self, k: int, scores: torch.Tensor, positive: torch.Tensor,
                    indices: torch.Tensor) -> torch.Tensor:
        """scores (B,) of one class, positive (B,) bool, indices (B,) -> scalar; updates row k of u_*."""
        surrogate = (self.margin - (scores[positive, None] - scores[None, :])).clamp(min=0) ** 2  # (P, B)
        rows = indices[positive]
        g = self.gamma
        self.u_all[k, rows] = (1 - g) * self.u_all[k, rows] + g * surrogate.detach().mean(1)
        self.u_pos[k, rows] = (1 - g) * self.u_pos[k, rows] + g * (surrogate.detach() * positive).mean(1)
        u_all, u_pos = self.u_all[k, rows, None], self.u_pos[k, rows, None]
        weights = (u_pos - u_all * positive) / u_all ** 2
        return (weights * surrogate).mean()


# ----------------------------------------------------------------------------- factory
# The registry LOSSES: one builder per name, ``builder(class_counts, *, option=default, ...) -> Loss``
# with class_counts a list of C positive floats; its keyword-only parameters are the loss's options
# (no default = required), and their annotations the option types that check_loss_options enforces.
PerClass = list | None  # per-class weights (C,) or null


def _margin_weights(counts, max_m: float, margin_weights: bool, explicit: PerClass, option: str) -> PerClass:
    """The LDAM margins (C,) as class weights when ``margin_weights`` (the LMF authors' training),
    else the ``explicit`` per-class weights; both at once is an error."""
    if not margin_weights:
        return explicit
    if explicit is not None:
        raise ValueError(f"give either margin_weights=true or {option}, not both")
    return ldam_margins(counts, max_m).tolist()


def _ce(counts):
    return CrossEntropy(len(counts))


def _wce(counts):
    return CrossEntropy(len(counts), inverse_frequency_weights(counts))


def _focal(counts, *, gamma: float = 2.0, alpha: PerClass = None, margin_weights: bool = False):
    alpha = _margin_weights(counts, 0.5, margin_weights, alpha, "alpha")
    return FocalLoss(len(counts), gamma, _per_class(alpha, len(counts), "focal alpha"))


def _ldam(counts, *, max_m: float = 0.5, s: float = 30.0, weight: PerClass = None, margin_weights: bool = False):
    weight = _per_class(_margin_weights(counts, max_m, margin_weights, weight, "weight"), len(counts), "ldam weight")
    return LDAMLoss(len(counts), ldam_margins(counts, max_m), s, weight)


def _ldam_drw(counts, *, drw_epoch: int, max_m: float = 0.5, s: float = 30.0, beta: float = 0.9999):
    if drw_epoch < 0:
        raise ValueError(f"ldam-drw drw_epoch must be an int >= 0 (authors: 160 of 200); got {drw_epoch!r}")
    return LDAMDRWLoss(len(counts), ldam_margins(counts, max_m), s, drw_epoch, drw_weights(counts, beta))


def _la(counts, *, tau: float = 1.0):
    return LogitAdjustedLoss(len(counts), log_prior(counts), tau)


def _lmf(counts, *, alpha: float = 1.0, beta: float = 1.0, gamma: float = 1.5, max_m: float = 0.5,
         s: float = 30.0, margin_weights: bool = False):
    weights = _margin_weights(counts, max_m, margin_weights, None, "")
    ldam = LDAMLoss(len(counts), ldam_margins(counts, max_m), s, _per_class(weights, len(counts), "ldam weight"))
    focal = FocalLoss(len(counts), gamma, _per_class(weights, len(counts), "focal alpha"))
    return LMFLoss(len(counts), ldam, focal, alpha, beta)


def _ap(counts, *, n_samples: int, gamma: float = 0.9, margin: float = 1.0):
    return APLoss(len(counts), n_samples, gamma, margin)


LOSSES: dict[str, Callable[..., Loss]] = {
    "ce": _ce, "wce": _wce, "focal": _focal, "ldam": _ldam, "ldam-drw": _ldam_drw,
    "la": _la, "lmf": _lmf, "ap": _ap,
}


def loss_options(name: str) -> dict[str, object]:
    """The options ``make_loss(name, ...)`` accepts, with their defaults (``inspect.Parameter.empty`` = required)."""
    return keyword_defaults(registered(LOSSES, name, "loss"))


def check_loss_options(name: str, options: dict[str, Any], where: str = "") -> dict[str, Any]:
    """Loss ``name``'s options checked for names and types, numbers converted: a new dict.

    Required options (``drw_epoch``, ``n_samples``, which the run fills in) may be absent here;
    ``make_loss`` requires them. ``where`` prefixes errors (e.g. "method 'la'").
    Raises ValueError for an unknown loss or option (valid ones listed), TypeError for a wrong type.
    """
    what = f"loss {name!r}"
    return check_keyword_options(registered(LOSSES, name, "loss"), options, f"{where}: {what}" if where else what)


def make_loss(name: str, class_counts: Sequence[int], **options) -> Loss:
    """Build loss ``name`` (one of ``LOSSES``) for training counts n_c (C,) of each class.

    Options and defaults (checked by :func:`check_loss_options`):
    - focal: gamma=2.0 (Lin et al.'s value, the paper the method names; the LDAM authors use 1, the
      LMF paper 1.5, which its parameter files set), alpha=None (per-class CE weights),
      margin_weights=False.
    - ldam: max_m=0.5, s=30, weight=None (per-class CE weights), margin_weights=False.
    - ldam-drw: drw_epoch (required: the first 0-based epoch with class-balanced weights; the
      authors use 160 of 200), max_m=0.5, s=30, beta=0.9999.
    - la: tau=1.0.
    - lmf: alpha=1.0 (LDAM weight), beta=1.0 (focal weight), gamma=1.5, max_m=0.5, s=30,
      margin_weights=False. alpha = beta = 1 follows the paper's text ("the same weight to both
      components"); the authors' config.ini uses alpha 1.5, beta 1, which the LMF paper's parameter
      files set.
    - ap: n_samples (required: training-set size), gamma=0.9 (moving-average rate), margin=1.0.
    - ce and wce take none.
    margin_weights=True uses the LDAM margins m_c (max_m 0.5 for focal) as class weights, as the
    LMF authors' training runs do for LMF, LDAM and focal (``weight=m_list``, ``alpha=m_list``). It
    is off by default because neither the LMF paper's equations nor the LDAM and focal papers
    weight classes so; the LMF paper's parameter files turn it on.
    """
    options = check_loss_options(name, options)
    required = [k for k, default in loss_options(name).items() if default is inspect.Parameter.empty]
    missing = sorted(set(required) - set(options))
    if missing:
        raise ValueError(f"loss {name!r}: missing required option(s) {missing}; valid options: "
                         f"{', '.join(loss_options(name))}")
    counts = _counts(class_counts).tolist()
    return LOSSES[name](counts, **options)
