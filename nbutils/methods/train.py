"""The one training loop every method uses.

The training images stay on the device as uint8; each batch is converted to float and, where
asked, augmented there (random horizontal flip and small rotation) — no per-sample Python.
Epoch order and augmentation are drawn from generators seeded by (seed, epoch), so a run resumed
from its per-epoch checkpoint ends exactly where an uninterrupted run ends.
With ``TrainConfig.tensorboard`` every finished epoch's history row (loss, learning rate, validation
BA, macro AP and AP per class, callbacks' columns) is also written as TensorBoard scalars.
Mixed precision (``TrainConfig.amp``, default "auto"): float16 with a gradient scaler on CUDA,
bfloat16 on CPUs with native bf16 (about twice as fast there, bench/amp.py), else float32.
"""
from __future__ import annotations

import math
import os
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
import torch.nn as nn
import torch.nn.functional as F

from nbutils.core.metrics import balanced_accuracy, macro_ap, per_class_ap
from nbutils.core.runtime import (
    autocast,
    autocast_dtype,
    channels_last,
    grad_scaler,
    pick_device,
    progress,
    to_float,
    write_atomically,
)
from nbutils.data.imagesets import ImageSet, TrainingSet
# TrainConfig and its choices live in the light train_config (no torch), for the runner's check of a
# parameter file, and stay importable from here
from nbutils.methods.train_config import AMP_CHOICES, OPTIMIZERS, SCHEDULES, TrainConfig  # noqa: F401

# Where fit writes TensorBoard logs when it has no checkpoint path (relative to the working folder).
TENSORBOARD_DEFAULT_ROOT = Path("runs") / "tensorboard"
# Settings that do not shape the trained model: a checkpoint written with other values still resumes.
UNSHAPING_SETTINGS = ("tensorboard",)


@dataclass
class TrainState:
    """What hooks see: the loss object's and callbacks' ``on_epoch_start(state)`` and
    callbacks' ``on_epoch_end(state) -> dict | None`` (extra history columns)."""

    epoch: int
    model: nn.Module
    loss_fn: nn.Module
    optimizer: torch.optim.Optimizer
    device: torch.device
    data: TrainingSet
    to_class_scores: Callable[[torch.Tensor], torch.Tensor]
    history: list[dict[str, Any]] = field(default_factory=list)


def softmax_scores(logits: torch.Tensor) -> torch.Tensor:
    """(N, K) logits -> (N, K) class probabilities: the default map from outputs to class scores."""
    return logits.float().softmax(dim=1)


def as_input(batch: torch.Tensor) -> torch.Tensor:
    """uint8 images -> floats in [0, 1]; float inputs (embeddings) pass unchanged."""
    return to_float(batch) if batch.dtype == torch.uint8 else batch


def in_channels_last(model: nn.Module) -> bool:
    """Whether the model's convolution weights are in channels-last memory (as fit leaves them)."""
    return any(p.dim() == 4 and not p.is_contiguous() and p.is_contiguous(memory_format=torch.channels_last)
               for p in model.parameters())


def model_input(batch: torch.Tensor, to_channels_last: bool) -> torch.Tensor:
    """A batch as a model takes it: floats (see :func:`as_input`), images in channels-last memory
    when the model is."""
    x = as_input(batch)
    return channels_last(x) if to_channels_last else x


def augment_batch(x: torch.Tensor, generator: torch.Generator, hflip: bool = True,
                  max_rotation: float = 10.0) -> torch.Tensor:
    """Random horizontal flip (p=0.5) and rotation in [-max_rotation, max_rotation] degrees,
    drawn per sample, on x's device. x: (B, C, H, W) float -> same shape."""
    b = x.shape[0]
    if hflip:
        flip = torch.rand(b, device=x.device, generator=generator) < 0.5
        x = torch.where(flip.view(-1, 1, 1, 1), x.flip(-1), x)
    if max_rotation > 0:
        angle = (torch.rand(b, device=x.device, generator=generator) * 2 - 1) * math.radians(max_rotation)
        cos, sin, zero = angle.cos(), angle.sin(), torch.zeros_like(angle)
        theta = torch.stack([torch.stack([cos, -sin, zero], 1), torch.stack([sin, cos, zero], 1)], 1)
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        x = F.grid_sample(x, grid, align_corners=False, padding_mode="zeros")
    return x


def epoch_generator(device: torch.device, seed: int, epoch: int) -> torch.Generator:
    """A generator on ``device`` seeded by (seed, epoch)."""
    return torch.Generator(device=device).manual_seed(seed * 100_003 + epoch)


def epoch_order(data: TrainingSet, epoch: int, seed: int, sampler: Any | None) -> torch.Tensor:
    """Positions into ``data.images`` for one epoch (M,)."""
    if sampler is not None:
        return torch.as_tensor(sampler.epoch_indices(epoch), dtype=torch.long)
    positions = torch.as_tensor(data.indices if data.indices is not None else np.arange(len(data.labels)))
    perm = torch.randperm(len(positions), generator=epoch_generator(torch.device("cpu"), seed, epoch))
    return positions[perm].long()


def make_optimizer(model: nn.Module, loss_fn: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    params = list(model.parameters()) + [p for p in loss_fn.parameters() if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


def make_schedule(optimizer: torch.optim.Optimizer, cfg: TrainConfig, steps_per_epoch: int):
    """Per-step LR factor: linear warm-up for ``warmup_epochs``, then cosine to 0, constant, or
    step: times ``step_gamma`` at each of ``step_milestones`` (fractions of all steps)."""
    warm, total = cfg.warmup_epochs * steps_per_epoch, cfg.epochs * steps_per_epoch

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        if cfg.schedule == "constant":
            return 1.0
        if cfg.schedule == "step":
            return cfg.step_gamma ** sum(step >= m * total for m in cfg.step_milestones)
        return 0.5 * (1 + math.cos(math.pi * (step - warm) / max(1, total - warm)))
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@torch.no_grad()
def predict_logits(model: nn.Module, inputs: torch.Tensor, batch_size: int = 512,
                   device: torch.device | None = None) -> torch.Tensor:
    """Model outputs (N, K) as float32 on the CPU, in eval mode; inputs uint8 images or floats.

    Autocast (float16) on CUDA only: on a CPU the scores stay float32 even where training uses bf16,
    because bf16's 8-bit mantissa ties close scores and so moves AP, and one forward pass over the
    held-out images is a small share of a training's time."""
    device = device or next(model.parameters()).device
    was_training = model.training
    model.eval()
    out, last = [], in_channels_last(model)
    with torch.autocast(device.type, enabled=device.type == "cuda"):
        for i in range(0, len(inputs), batch_size):
            out.append(model(model_input(inputs[i:i + batch_size].to(device), last)).float().cpu())
    model.train(was_training)
    return torch.cat(out)


def predict_scores(model: nn.Module, inputs: torch.Tensor,
                   to_class_scores: Callable[[torch.Tensor], torch.Tensor] = softmax_scores,
                   batch_size: int = 512) -> np.ndarray:
    """Class scores (N, C) as numpy: ``to_class_scores`` of the model's logits."""
    return to_class_scores(predict_logits(model, inputs, batch_size)).numpy()


@torch.no_grad()
def extract_features(model: nn.Module, inputs: torch.Tensor, batch_size: int = 512) -> np.ndarray:
    """Penultimate features (N, D) of a :class:`nbutils.methods.models.Classifier`, in eval mode."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    last = in_channels_last(model)
    out = [model.features(model_input(inputs[i:i + batch_size].to(device), last)).float().cpu()
           for i in range(0, len(inputs), batch_size)]
    model.train(was_training)
    return torch.cat(out).numpy()


def minority_indices(counts: np.ndarray) -> np.ndarray:
    """The classes whose count is below the mean count (a binary task's minority class; every class
    when all counts are equal): those whose AP the epoch selection weighs."""
    counts = np.asarray(counts)
    below = np.flatnonzero(counts < counts.mean())
    return below if len(below) else np.arange(len(counts))


def evaluation_row(model: nn.Module, held_out: ImageSet, to_class_scores: Callable,
                   prefix: str = "val") -> dict[str, float]:
    """BA, macro AP, per-class AP and minority AP (the mean AP of the classes below the mean count,
    :func:`minority_indices`) of a held-out set as history columns (``val_ba``, ``val_macro_ap``,
    ``val_ap/<class>``, ``val_minority_ap`` for prefix 'val')."""
    scores = predict_scores(model, held_out.images, to_class_scores)
    ap = per_class_ap(held_out.labels, scores)
    row = {f"{prefix}_ba": balanced_accuracy(held_out.labels, scores.argmax(1)),
           f"{prefix}_macro_ap": macro_ap(held_out.labels, scores),
           f"{prefix}_minority_ap": float(np.mean(ap[minority_indices(held_out.class_counts())]))}
    row.update({f"{prefix}_ap/{c}": float(a) for c, a in zip(held_out.classes, ap)})
    return row


def save_checkpoint(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically (:func:`nbutils.core.runtime.write_atomically`): a crash mid-write never leaves a
    broken checkpoint, and two processes saving into one run folder never collide."""
    write_atomically(path, lambda f: torch.save(payload, f))


def shaping_settings(config: dict[str, Any]) -> dict[str, Any]:
    """A TrainConfig's fields (as a dict) without those that leave the trained model unchanged."""
    return {k: v for k, v in config.items() if k not in UNSHAPING_SETTINGS}


class TensorBoardLog:
    """A training-loop callback that writes each finished history row as TensorBoard scalars: tag =
    column (``train_loss``, ``lr``, ``val_ba``, ``val_macro_ap``, ``val_ap/<class>``, callbacks'
    columns), step = epoch. Its ``on_epoch_logged(state)`` runs after the row is complete and
    checkpointed, so a resumed run logs each epoch once; ``start_epoch`` > 0 drops events an
    interrupted run left at that epoch or later. TensorBoard is imported only here."""

    def __init__(self, log_dir: str | os.PathLike, start_epoch: int = 0):
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        self.writer = SummaryWriter(str(self.log_dir), purge_step=start_epoch or None)

    def on_epoch_logged(self, state: TrainState) -> None:
        row = state.history[-1]
        for column, value in row.items():
            if column != "epoch" and isinstance(value, (int, float)) and not isinstance(value, bool):
                self.writer.add_scalar(column, value, global_step=row["epoch"])
        self.writer.flush()  # on disk each epoch: watchable live, kept if training stops

    def close(self) -> None:
        self.writer.close()


def tensorboard_dir(checkpoint: Path | None) -> Path:
    """``tensorboard/`` beside the checkpoint (a run's result folder), else a new folder
    ``runs/tensorboard/<date-time>-<random>`` under the working folder."""
    if checkpoint is not None:
        return checkpoint.parent / "tensorboard"
    TENSORBOARD_DEFAULT_ROOT.mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=time.strftime("%Y%m%d-%H%M%S-"), dir=TENSORBOARD_DEFAULT_ROOT))


def load_checkpoint(path: Path, cfg: TrainConfig) -> dict[str, Any] | None:
    if not path.is_file():
        return None
    payload = torch.load(path, map_location="cpu", weights_only=False)
    if shaping_settings(payload["config"]) != shaping_settings(asdict(cfg)):
        raise ValueError(f"checkpoint {path} was written with other settings "
                         f"({payload['config']}); delete it or use another run folder")
    return payload


def fit(model: nn.Module, data: TrainingSet, loss_fn: nn.Module, cfg: TrainConfig, *,
        val: ImageSet | None = None,
        to_class_scores: Callable[[torch.Tensor], torch.Tensor] = softmax_scores,
        sampler: Any | None = None, callbacks: Sequence[Any] = (),
        checkpoint: str | os.PathLike | None = None,
        before_select: Callable[[nn.Module], None] | None = None) -> pd.DataFrame:
    """Train ``model`` in place and return its per-epoch history (one row an epoch).

    data: images (N', C, H, W) uint8 (or (N', D) float embeddings) with targets; see TrainingSet.
    loss_fn: called ``loss_fn(logits, targets)``, or with the batch's positions when it has
        ``needs_indices``; its ``on_epoch_start(state)``, if any, runs before every epoch.
    val: validation set scored each epoch (``val_ba``, ``val_macro_ap``, ``val_ap/<class>``)
        through ``to_class_scores`` (logits (N, K) -> class scores (N, C)).
    sampler: object with ``epoch_indices(epoch)`` giving each epoch's order (e.g. AP loss).
    callbacks: objects with ``on_epoch_start(state)`` and/or ``on_epoch_end(state) -> dict``.
    checkpoint: file written after every epoch; an existing one with the same settings resumes.
    before_select: with ``cfg.select == "best"``, called with the last epoch's model before another
        epoch's weights are loaded (to score the last epoch beside the selected one).

    Epoch selection (``cfg.select``): "last" keeps the last epoch; "best" keeps the epoch with the
    highest validation minority AP (``val_minority_ap``: a binary task's positive class, a multiclass
    task's mean AP over the classes below the mean count), the first of ties; every method is
    selected by the same rule, and the history's ``selected`` column marks the kept epoch.

    With ``cfg.tensorboard`` a :class:`TensorBoardLog` writes each epoch's history row to
    ``tensorboard/`` beside ``checkpoint`` (in a run: ``runs/NAME/<run-id>/results/<task>/<method>/
    <key>/tensorboard``, so ``tensorboard --logdir runs/NAME/<run-id>/results`` shows every
    training), or, without a checkpoint, to a new folder under ``runs/tensorboard/`` of the
    working folder.

    With ``cfg.channels_last`` (the default) image models are moved to channels-last memory and
    fed channels-last batches, in training and prediction. On a CPU that makes the small CNN's
    steps 1.1-1.4x faster but ResNet-18's 0.9x (bench/memory_format.py): set
    ``channels_last=False`` for ResNets on a CPU. Values are unchanged up to float rounding.
    ``cfg.compile`` names a torch.compile backend for the training steps; compiling the small CNN
    took 18-31 s on a CPU and paid after 150-4,100 steps (bench/compile.py), so it is off by
    default.
    """
    device = pick_device(cfg.device)
    layout = torch.channels_last if cfg.channels_last and data.images.dim() == 4 else torch.preserve_format
    model.to(device, memory_format=layout)
    loss_fn.to(device)
    images = data.images.to(device)
    targets = torch.as_tensor(data.labels, dtype=torch.long, device=device)
    steps = math.ceil(len(epoch_order(data, 0, cfg.seed, sampler)) / cfg.batch_size)
    optimizer = make_optimizer(model, loss_fn, cfg)
    schedule = make_schedule(optimizer, cfg, steps)
    precision = autocast_dtype(device, cfg.amp)
    scaler = grad_scaler(device, precision)
    state = TrainState(0, model, loss_fn, optimizer, device, data, to_class_scores)
    forward = torch.compile(model, backend=cfg.compile) if cfg.compile else model
    best: tuple[float, dict] | None = None
    path = Path(checkpoint) if checkpoint else None
    resumed = load_checkpoint(path, cfg) if path else None
    if resumed:
        model.load_state_dict(resumed["model"])
        loss_fn.load_state_dict(resumed["loss"])
        optimizer.load_state_dict(resumed["optimizer"])
        schedule.load_state_dict(resumed["schedule"])
        scaler.load_state_dict(resumed["scaler"])
        state.history, best = resumed["history"], resumed["best"]
    logs = [TensorBoardLog(tensorboard_dir(path), len(state.history))] if cfg.tensorboard else []
    for epoch in progress(range(len(state.history), cfg.epochs), desc="epochs"):
        state.epoch = epoch
        for hook in (loss_fn, *callbacks):
            if hasattr(hook, "on_epoch_start"):
                hook.on_epoch_start(state)
        row = {"epoch": epoch, "train_loss": train_one_epoch(state, forward, images, targets, cfg, schedule,
                                                             precision, scaler, sampler),
               "lr": optimizer.param_groups[0]["lr"]}
        if val is not None:
            row.update(evaluation_row(model, val, to_class_scores))
        for hook in callbacks:
            if hasattr(hook, "on_epoch_end"):
                row.update(hook.on_epoch_end(state) or {})
        state.history.append(row)
        if cfg.select == "best" and val is not None and (best is None or row["val_minority_ap"] > best[0]):
            best = (row["val_minority_ap"], {k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                    epoch)
        if path:
            save_checkpoint(path, {"config": asdict(cfg), "model": model.state_dict(),
                                   "loss": loss_fn.state_dict(), "optimizer": optimizer.state_dict(),
                                   "schedule": schedule.state_dict(), "scaler": scaler.state_dict(),
                                   "history": state.history, "best": best})
        for log in logs:
            log.on_epoch_logged(state)
    for log in logs:
        log.close()
    history = pd.DataFrame(state.history)
    if best is not None:
        if before_select is not None and best[2] != len(state.history) - 1:
            before_select(model)
        model.load_state_dict(best[1])
    if len(history):
        history["selected"] = history["epoch"] == (best[2] if best is not None else history["epoch"].max())
    model.eval()
    return history


def train_one_epoch(state: TrainState, forward: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                    targets: torch.Tensor, cfg: TrainConfig, schedule, precision: torch.dtype | None,
                    scaler: torch.amp.GradScaler, sampler: Any | None) -> float:
    """One pass over the epoch's order; returns the mean training loss (one host sync an epoch).
    forward: the model, or its torch.compile wrapper (same parameters); precision: the autocast
    dtype (None = float32); the loss is always computed in float32 on the float32 logits."""
    model, loss_fn, optimizer, device = state.model, state.loss_fn, state.optimizer, state.device
    order = epoch_order(state.data, state.epoch, cfg.seed, sampler).to(device)
    generator = epoch_generator(device, cfg.seed, state.epoch)
    torch.manual_seed(cfg.seed * 100_003 + state.epoch)  # dropout and any other global randomness
    needs_indices = getattr(loss_fn, "needs_indices", False)
    model.train()
    total = torch.zeros((), device=device)
    seen = 0
    for start in range(0, len(order), cfg.batch_size):
        idx = order[start:start + cfg.batch_size]
        if len(idx) < 2:  # BatchNorm cannot train on one sample
            break
        x = as_input(images[idx])
        if x.dim() == 4:
            if cfg.augment:
                x = augment_batch(x, generator, cfg.hflip, cfg.max_rotation)
            if cfg.channels_last:
                x = channels_last(x)
        y = targets[idx]
        with autocast(device, precision):
            logits = forward(x)
            loss = loss_fn(logits.float(), y, idx) if needs_indices else loss_fn(logits.float(), y)
        optimizer.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        schedule.step()
        total += loss.detach() * len(idx)
        seen += len(idx)
    mean = (total / max(seen, 1)).item()
    if not math.isfinite(mean):
        raise FloatingPointError(
            f"training loss became {mean} in epoch {state.epoch}: lower the learning rate "
            f"(lr={cfg.lr}), check the loss options, or use fewer AMP-unsafe operations")
    return mean
