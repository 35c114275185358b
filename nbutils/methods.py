"""Every method of the benchmark, selectable by name, each trained from a fresh model.

A method is a :class:`Recipe`: which labels to train on (the task's, pseudo-classes from
regrouping, or the hidden fine labels), how to rebalance the training set, which loss and head,
and how to map the model's outputs back to the task's classes. :func:`run_method` trains one
method for one seed through the one training loop and returns a result row; :func:`run_benchmark`
does every method x seed x task, skipping the runs a run folder already holds (resume).

Per-method options come from the parameter file as ``{name: focal, gamma: 2}``. They go, by
name, to the training settings (``epochs``, ``lr``...), to regrouping (``encoder``,
``n_clusters``, ``clustering``, ``aggregate``, ``threshold``, ``encoder_options``), and the rest
to the loss or the sampler, which reject what they do not know.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pandas as pd
import torch

from nbutils.config import build
from nbutils.data import ImageSet, Task, TrainingSet
from nbutils.encoders import encode
from nbutils.losses import make_loss
from nbutils.metrics import evaluate
from nbutils.models import make_model
from nbutils.regroup import Regrouper, aggregate, cluster_diagnostics
from nbutils.runtime import seed_everything
from nbutils.sampling import PositiveEveryBatchSampler, resample
from nbutils.train import TrainConfig, fit, predict_logits, predict_scores, softmax_scores


@dataclass(frozen=True)
class Recipe:
    """How a method trains. labels: 'task' | 'regroup' | 'fine'; resample: a sampling name."""

    loss: str = "ce"
    head: str = "linear"
    resample: str = "none"
    labels: str = "task"
    clustering: str | None = None
    batch_sampler: bool = False
    probe: bool = False
    train: dict[str, Any] = field(default_factory=dict)


METHODS: dict[str, Recipe] = {
    "ce": Recipe(),
    "wce": Recipe(loss="wce"),
    "focal": Recipe(loss="focal"),
    "ldam": Recipe(loss="ldam", head="cosine"),
    "ldam-drw": Recipe(loss="ldam-drw", head="cosine"),
    "la": Recipe(loss="la"),
    "lmf": Recipe(loss="lmf", head="cosine"),
    "ap": Recipe(loss="ap", batch_sampler=True),
    "ros": Recipe(resample="ros"),
    "rus": Recipe(resample="rus"),
    "rusc": Recipe(resample="rusc"),
    "augment": Recipe(resample="augment", train={"augment": False}),
    "smote": Recipe(resample="smote"),
    "borderline-smote": Recipe(resample="borderline-smote"),
    "deepsmote": Recipe(resample="deepsmote"),
    "rg": Recipe(labels="regroup"),
    "rg-wce": Recipe(loss="wce", labels="regroup"),
    "rg-random": Recipe(labels="regroup", clustering="random"),
    "rg-oracle": Recipe(labels="fine"),
    "mlp-probe": Recipe(probe=True, train={"optimizer": "adam", "lr": 1e-3, "weight_decay": 0.0,
                                           "batch_size": 256}),
}


@dataclass
class RegroupOptions:
    """Options of the regrouping methods (and the encoder of ``mlp-probe``)."""

    encoder: str = "effnet-lite0"
    encoder_options: dict = field(default_factory=dict)
    n_clusters: Any = "threshold"
    threshold: Any = None
    clustering: str = "kmeans"
    aggregate: str = "max"

    def embed(self, images: torch.Tensor) -> np.ndarray:
        """uint8 images (N, C, H, W) -> this encoder's embeddings (N, D), cached on disk."""
        return encode(images, encoder=self.encoder, **self.encoder_options)


@dataclass
class ModelOptions:
    arch: str = "cnn"
    width: int = 32
    pretrained: bool = False


@dataclass
class Result:
    """One trained method: its result row, per-epoch history, test scores (N, C) and model."""

    row: dict[str, Any]
    history: pd.DataFrame
    test_scores: np.ndarray
    model: torch.nn.Module | None = None
    pseudo_labels: np.ndarray | None = None
    mapping: np.ndarray | None = None

    def output_for_class(self, inputs: torch.Tensor, target_class: int) -> list[int]:
        """For each input, the model output that stands for ``target_class``: the class itself,
        or, for a model over pseudo-classes, the highest-scoring pseudo-class of that class."""
        if self.mapping is None:
            return [target_class] * len(inputs)
        members = np.flatnonzero(self.mapping == target_class)
        logits = predict_logits(self.model, inputs)[:, torch.from_numpy(members)]
        return members[logits.argmax(1).numpy()].tolist()


def method_spec(entry: str | dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """'focal' or {'name': 'focal', 'gamma': 2} -> ('focal', {'gamma': 2}), checked against METHODS."""
    if isinstance(entry, str):
        name, options = entry, {}
    elif isinstance(entry, dict) and "name" in entry:
        options = dict(entry)
        name = options.pop("name")
    else:
        raise TypeError(f"a method is a name or a dict with a 'name' key, got {entry!r}")
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid: {', '.join(METHODS)}")
    return name, options


def split_options(recipe: Recipe, options: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Route a method's options to (training settings, regrouping/encoder, loss or sampler)."""
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    regroup_keys = {f.name for f in dataclasses.fields(RegroupOptions)}
    uses_encoder = recipe.labels == "regroup" or recipe.probe
    train = {k: v for k, v in options.items() if k in train_keys}
    regroup = {k: v for k, v in options.items() if k in regroup_keys and uses_encoder}
    rest = {k: v for k, v in options.items() if k not in train and k not in regroup}
    return train, regroup, rest


def regroup_task(task: Task, regroup: dict[str, Any] | RegroupOptions, seed: int = 0,
                 clustering: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode the training images and cluster each large class: (pseudo_labels (N,), mapping (K,))."""
    opts = regroup if isinstance(regroup, RegroupOptions) else build(RegroupOptions, regroup, where="regroup")
    embeddings = opts.embed(task.train.images)
    regrouper = Regrouper(n_clusters=opts.n_clusters, threshold=opts.threshold,
                          clustering=clustering or opts.clustering, random_state=seed)
    regrouper.fit(embeddings, task.train.labels)
    return regrouper.pseudo_labels_, np.asarray(regrouper.mapping_)


def encoder_cluster_quality(task: Task, encoders: list[str], regroup: dict[str, Any], seed: int = 0) -> pd.DataFrame:
    """NMI and purity of each encoder's pseudo-classes against the hidden fine labels, one row an encoder."""
    if task.train.fine_labels is None:
        raise ValueError(f"task {task.name!r} has no hidden fine labels to judge clusters against")
    rows = []
    for encoder in encoders:
        options = regroup.get("encoder_options", {}) if encoder == regroup.get("encoder") else {}
        pseudo, mapping = regroup_task(task, {**regroup, "encoder": encoder, "encoder_options": options}, seed)
        diag = cluster_diagnostics(pseudo, mapping, task.train.fine_labels)
        rows.append({"task": task.name, "encoder": encoder, "n_pseudo_classes": len(mapping),
                     **{k: float(v) for k, v in diag.items() if np.isscalar(v)}})
    return pd.DataFrame(rows)


def target_labels(task: Task, recipe: Recipe, regroup: RegroupOptions, seed: int) -> tuple[np.ndarray, np.ndarray | None, dict]:
    """Training targets (N,), the pseudo-class -> class mapping (K,) or None, and diagnostics."""
    train = task.train
    if recipe.labels == "task":
        return train.labels, None, {}
    if recipe.labels == "fine":
        if train.fine_labels is None:
            raise ValueError(f"rg-oracle needs a task with hidden fine labels (a one-vs-rest task); "
                             f"task {task.name!r} has none")
        pairs, pseudo = np.unique(np.stack([train.labels, train.fine_labels], 1), axis=0, return_inverse=True)
        return pseudo.reshape(-1), pairs[:, 0], {"n_pseudo_classes": len(pairs)}
    pseudo, mapping = regroup_task(task, regroup, seed, clustering=recipe.clustering)
    info = {"n_pseudo_classes": len(mapping)}
    if train.fine_labels is not None:
        diag = cluster_diagnostics(pseudo, mapping, train.fine_labels)
        info.update({f"cluster_{k}": float(v) for k, v in diag.items() if np.isscalar(v)})
    return pseudo, mapping, info


def class_scores_fn(mapping: np.ndarray | None, how: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """logits (N, K) -> task-class scores (N, C): softmax, then aggregation of pseudo-classes."""
    if mapping is None:
        return softmax_scores
    return lambda logits: aggregate(softmax_scores(logits), mapping, how=how)


def training_inputs(task: Task, recipe: Recipe, regroup: RegroupOptions, targets: np.ndarray,
                    sampler_options: dict[str, Any], seed: int) -> tuple[TrainingSet, ImageSet, torch.Tensor]:
    """(training set after any resampling, validation set, test inputs); for the probe, the
    images are replaced by their frozen embeddings (N, D)."""
    if recipe.probe:
        def embed(s: ImageSet) -> torch.Tensor:
            return torch.from_numpy(regroup.embed(s.images))
        return TrainingSet(embed(task.train), targets), dataclasses.replace(task.val, images=embed(task.val)), embed(task.test)
    if recipe.resample == "none":
        return TrainingSet(task.train.images, targets), task.val, task.test.images
    data = resample(recipe.resample, task.train.images, targets, seed=seed, **sampler_options)
    return data, task.val, task.test.images


def epoch_class_counts(data: TrainingSet, n_outputs: int) -> np.ndarray:
    """(K,) how often each target occurs in one epoch of ``data`` (after resampling)."""
    drawn = data.labels if data.indices is None else data.labels[data.indices]
    return np.bincount(drawn, minlength=n_outputs)


def default_loss_options(loss: str, cfg: TrainConfig, data: TrainingSet) -> dict[str, Any]:
    """Options a loss needs that follow from the run: DRW switches at 80% of training (the LDAM
    authors' epoch 160 of 200); the AP loss keeps a buffer entry per training image."""
    if loss == "ldam-drw":
        return {"drw_epoch": int(0.8 * cfg.epochs)}
    if loss == "ap":
        return {"n_samples": len(data.labels)}
    return {}


def run_method(task: Task, entry: str | dict[str, Any], seed: int, *, train: dict[str, Any] | None = None,
               model: dict[str, Any] | None = None, regroup: dict[str, Any] | None = None,
               callbacks: tuple = (), run_dir: str | Path | None = None, keep_model: bool = True) -> Result:
    """Train method ``entry`` on ``task`` from a fresh model seeded by ``seed``; evaluate on test.

    train/model/regroup: the run's shared training settings, model options and regrouping
    options (encoder, clustering...); a method's own options win.
    callbacks: extra per-epoch measurements (see nbutils.diagnostics), recorded in the history.
    run_dir: the folder of this run's per-epoch checkpoint (resume).
    """
    name, options = method_spec(entry)
    recipe = METHODS[name]
    train_opts, regroup_opts, rest = split_options(recipe, options)
    cfg = build(TrainConfig, {**(train or {}), **recipe.train, **train_opts, "seed": seed},
                where=f"method {name}: training settings")
    regroup_cfg = build(RegroupOptions, {**(regroup or {}), **regroup_opts}, where=f"method {name}")
    model_cfg = build(ModelOptions, model, where="model")
    start = time.perf_counter()
    targets, mapping, info = target_labels(task, recipe, regroup_cfg, seed)
    resampled = recipe.resample != "none"
    data, val, test_inputs = training_inputs(task, recipe, regroup_cfg, targets, rest if resampled else {}, seed)
    n_outputs = len(mapping) if mapping is not None else len(task.classes)
    counts = epoch_class_counts(data, n_outputs)
    loss_options = {**default_loss_options(recipe.loss, cfg, data), **({} if resampled else rest)}
    loss = make_loss(recipe.loss, counts, **loss_options)
    seed_everything(seed)  # the same initialisation for every method of one seed
    net = make_model("mlp" if recipe.probe else model_cfg.arch, n_outputs,
                     in_channels=data.images.shape[1], image_size=int(task.train.images.shape[-1]),
                     head=recipe.head, pretrained=model_cfg.pretrained, width=model_cfg.width)
    sampler = PositiveEveryBatchSampler(data.labels, cfg.batch_size, seed=seed) if recipe.batch_sampler else None
    to_scores = class_scores_fn(mapping, regroup_cfg.aggregate)
    history = fit(net, data, loss, cfg, val=val, to_class_scores=to_scores, sampler=sampler, callbacks=callbacks,
                  checkpoint=Path(run_dir) / "checkpoint.pt" if run_dir else None)
    scores = predict_scores(net, test_inputs, to_scores)
    row = {"task": task.name, "method": name, "options": json.dumps(options, sort_keys=True), "seed": seed,
           "wall_time": time.perf_counter() - start, "n_train": int(counts.sum()),
           "n_synthetic": data.n_synthetic, **info, **evaluate(task.test.labels, scores, task.classes)}
    return Result(row, history, scores, net if keep_model else None,
                  targets if mapping is not None else None, mapping)


def run_key(task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int, settings: dict[str, Any]) -> str:
    """A folder name that changes whenever anything that shapes the result changes."""
    name, options = method_spec(entry)
    blob = json.dumps([task_spec, name, options, settings], sort_keys=True, default=str)
    return f"{name}/{hashlib.sha1(blob.encode()).hexdigest()[:10]}-seed{seed}"


def save_result(folder: Path, result: Result) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    result.history.to_csv(folder / "history.csv", index=False)
    np.save(folder / "test_scores.npy", result.test_scores)
    if result.pseudo_labels is not None:
        np.save(folder / "pseudo_labels.npy", result.pseudo_labels)
        np.save(folder / "mapping.npy", result.mapping)
    if result.model is not None:
        torch.save(result.model, folder / "model.pt")
    (folder / "row.json").write_text(json.dumps(result.row, default=float))  # written last: marks done


def load_result(folder: Path) -> Result | None:
    """A finished run's result, or None when the folder holds no finished run."""
    if not (folder / "row.json").is_file():
        return None
    model = torch.load(folder / "model.pt", weights_only=False) if (folder / "model.pt").is_file() else None
    regrouped = (folder / "pseudo_labels.npy").is_file()
    return Result(json.loads((folder / "row.json").read_text()), pd.read_csv(folder / "history.csv"),
                  np.load(folder / "test_scores.npy"), model,
                  np.load(folder / "pseudo_labels.npy") if regrouped else None,
                  np.load(folder / "mapping.npy") if regrouped else None)


def run_cached(task: Task, task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int,
               run_dir: str | Path, **settings: Any) -> Result:
    """:func:`run_method` (``settings``: its train/model/regroup), but a run the folder already
    finished is loaded instead of retrained, and an interrupted one resumes from its checkpoint."""
    folder = Path(run_dir) / "results" / task.name / run_key(task_spec, entry, seed, settings)
    result = load_result(folder)
    if result is None:
        result = run_method(task, entry, seed, run_dir=folder, **settings)
        save_result(folder, result)
        (folder / "checkpoint.pt").unlink(missing_ok=True)
    return result


def not_applicable(name: str, task: Task) -> str | None:
    """Why method ``name`` cannot run on ``task`` (None when it can)."""
    if METHODS[name].labels == "fine" and task.train.fine_labels is None:
        return f"{name} needs hidden fine labels, which task {task.name!r} does not have"
    return None


def run_benchmark(tasks: dict[str, Task], task_specs: dict[str, dict], methods: list, seeds: list[int],
                  run_dir: str | Path, on_result: Callable[[Result], None] | None = None,
                  **settings: Any) -> pd.DataFrame:
    """Every method x seed x task (methods checked by name before anything trains); one row each.
    A method a task cannot run (rg-oracle without fine labels) is skipped with a warning.
    ``settings``: train/model/regroup options shared by every run (see :func:`run_method`)."""
    for entry in methods:
        method_spec(entry)
    rows = []
    for task_name, task in tasks.items():
        for entry in methods:
            reason = not_applicable(method_spec(entry)[0], task)
            if reason:
                warnings.warn(f"skipped: {reason}", stacklevel=2)
                continue
            for seed in seeds:
                result = run_cached(task, task_specs[task_name], entry, seed, run_dir, **settings)
                rows.append(result.row)
                if on_result:
                    on_result(result)
    return pd.DataFrame(rows)
