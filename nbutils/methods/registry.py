"""Every method of the benchmark, selectable by name, each trained from a fresh model.

A method is a :class:`Recipe`: which labels to train on (the task's, pseudo-classes from
regrouping, or the hidden fine labels), how to rebalance the training set, which loss and head,
and how to map the model's outputs back to the task's classes. :func:`run_method` trains one
method for one seed through the one training loop and returns a result row; :func:`run_benchmark`
does every method x seed x task, skipping the runs a run folder already holds (resume).

Per-method options come from the parameter file as ``{name: focal, gamma: 2}``. They go, by
name, to the training settings (``epochs``, ``lr``...), to regrouping (``encoder``,
``encoder_options``, ``n_clusters``, ``threshold``, ``clustering``, ``aggregate``, ``normalize``)
where the method uses them, and the rest to the loss or the sampler. :func:`check_method` checks all of it
(names, types, choices; an option the method would ignore is an error) without loading data or
training, and :func:`run_method` goes through the same checks.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd
import torch
from filelock import FileLock

from nbutils.core.config import build
from nbutils.core.metrics import evaluate
from nbutils.core.runtime import pick_device, seed_everything, torch_threads, training_threads, write_atomically
from nbutils.data.imagesets import ImageSet, Task, TrainingSet
from nbutils.methods.losses import check_loss_options, loss_options, make_loss
from nbutils.methods.models import check_model_options, make_model
from nbutils.methods.recipes import METHODS, Recipe, method_spec
from nbutils.methods.regroup import Regrouper, aggregate, cluster_diagnostics
from nbutils.methods.sampling import PositiveEveryBatchSampler, check_sampler_options, resample, sampler_options
from nbutils.methods.settings import SECTIONS, ModelOptions, RegroupOptions, RunSettings
from nbutils.methods.train import TrainConfig, fit, predict_logits, predict_scores, softmax_scores

logger = logging.getLogger(__name__)
RESULT_FORMAT = 3  # bump when what a result folder holds changes (2: model.pt is a state dict + its build
# options; 3: select="best" by validation minority AP, pool_scores.npy and last_scores.npy beside test_scores.npy)


@dataclass
class MethodPlan:
    """Everything :func:`run_method` needs from a method entry and the run's settings, all checked."""

    name: str
    options: dict[str, Any]
    recipe: Recipe
    train: TrainConfig
    regroup: RegroupOptions
    model: ModelOptions
    loss_options: dict[str, Any]
    sampler_options: dict[str, Any]


@dataclass
class Result:
    """One trained method: its result row, per-epoch history, test scores (N, C) and model, with the
    ``make_model`` arguments that rebuild the model (``model_spec``, saved beside its state dict)."""

    row: dict[str, Any]
    history: pd.DataFrame
    test_scores: np.ndarray
    model: torch.nn.Module | None = None
    pseudo_labels: np.ndarray | None = None
    mapping: np.ndarray | None = None
    model_spec: dict[str, Any] | None = None
    pool_scores: np.ndarray | None = None  # (N_pool, C) on the task's extra evaluation pool
    last_scores: np.ndarray | None = None  # (N_test + N_pool, C) of the last epoch, when another was selected

    def held_out_scores(self) -> np.ndarray:
        """(N_test + N_pool, C) scores of the kept model on ``Task.held_out`` (the test split, then the pool)."""
        return self.test_scores if self.pool_scores is None else np.concatenate([self.test_scores, self.pool_scores])

    def output_for_class(self, inputs: torch.Tensor, target_class: int) -> list[int]:
        """For each input, the model output that stands for ``target_class``: the class itself,
        or, for a model over pseudo-classes, the highest-scoring pseudo-class of that class."""
        if self.mapping is None:
            return [target_class] * len(inputs)
        members = np.flatnonzero(self.mapping == target_class)
        logits = predict_logits(self.model, inputs)[:, torch.from_numpy(members)]
        return members[logits.argmax(1).numpy()].tolist()


def split_options(recipe: Recipe, options: dict[str, Any]) -> tuple[dict, dict, dict]:
    """Route a method's options to (training settings, regrouping/encoder, loss or sampler)."""
    train_keys = {f.name for f in dataclasses.fields(TrainConfig)}
    train = {k: v for k, v in options.items() if k in train_keys}
    regroup = {k: v for k, v in options.items() if k in recipe.regroup_options()}
    rest = {k: v for k, v in options.items() if k not in train and k not in regroup}
    return train, regroup, rest


def method_regroup(shared: dict[str, Any], own: dict[str, Any]) -> dict[str, Any]:
    """The regrouping options of one method: the run's shared ones, then the method's own. A method
    that names another encoder than the shared one gets that encoder's defaults, not the shared
    encoder's ``encoder_options`` (unless it gives its own)."""
    merged = {**shared, **own}
    if "encoder" in own and own["encoder"] != shared.get("encoder", RegroupOptions.encoder) \
            and "encoder_options" not in own:
        merged.pop("encoder_options", None)
    return merged


def _ignored_options(name: str, recipe: Recipe, options: dict[str, Any]) -> None:
    """ValueError for options the method would ignore: regrouping options it does not use (unless its
    loss or sampler takes an option of that name, as rusc takes n_clusters), ``seed``."""
    regroup_keys = {f.name for f in dataclasses.fields(RegroupOptions)}
    own = sampler_options(recipe.resample) if recipe.resample != "none" else loss_options(recipe.loss)
    ignored = sorted(k for k in options if k in regroup_keys and k not in recipe.regroup_options() and k not in own)
    if ignored:
        uses = ", ".join(recipe.regroup_options()) or "none"
        why = " (it assigns pseudo-classes at random)" if recipe.clustering == "random" else ""
        raise ValueError(f"method {name!r} does not use option(s) {ignored}{why}; the regrouping options "
                         f"it uses: {uses}")
    if "seed" in options:
        raise ValueError(f"method {name!r}: seed is not a method option; the run's seeds list sets it")


def plan_method(entry: str | dict[str, Any], *, train: dict[str, Any] | None = None,
                model: dict[str, Any] | None = None, regroup: dict[str, Any] | None = None,
                seed: int = 0) -> MethodPlan:
    """Check method ``entry`` with the run's shared train/model/regroup settings and resolve what it
    trains with, without loading data or training. Errors name the method, the option and the valid
    choices: an unknown method or option, a value of the wrong type, an unknown encoder, clustering or
    aggregation, encoder options of another encoder, an option the method would ignore."""
    name, options = method_spec(entry)
    recipe = METHODS[name]
    where = f"method {name!r}"
    _ignored_options(name, recipe, options)
    train_opts, regroup_opts, rest = split_options(recipe, options)
    cfg = build(TrainConfig, {**(train or {}), **recipe.train, **train_opts, "seed": seed},
                where=f"{where}: training settings")
    regroup_cfg = build(RegroupOptions, method_regroup(regroup or {}, regroup_opts), where=f"{where}: regroup")
    model_cfg = build(ModelOptions, model, where="model")
    if not recipe.probe:  # the probe trains an MLP on embeddings, whatever the run's model
        check_model_options(model_cfg.arch, width=model_cfg.width, pretrained=model_cfg.pretrained)
    resampled = recipe.resample != "none"
    losses = {} if resampled else check_loss_options(recipe.loss, rest, where=where)
    sampler = check_sampler_options(recipe.resample, rest, where=where) if resampled else {}
    if recipe.resample == "augment":  # its copies get the run's flip and rotation (hflip, max_rotation)
        sampler = {"hflip": cfg.hflip, "max_rotation": cfg.max_rotation, **sampler}
    return MethodPlan(name, options, recipe, cfg, regroup_cfg, model_cfg, losses, sampler)


def check_method(entry: str | dict[str, Any], *, train: dict[str, Any] | None = None,
                 model: dict[str, Any] | None = None, regroup: dict[str, Any] | None = None) -> tuple[str, dict]:
    """(name, options) of method ``entry`` after every check :func:`run_method` makes before it
    trains (see :func:`plan_method`); fast: no data, no encoder, no training."""
    plan = plan_method(entry, train=train, model=model, regroup=regroup)
    return plan.name, plan.options


def regroup_task(task: Task, regroup: dict[str, Any] | RegroupOptions, seed: int = 0,
                 clustering: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Encode the training images and cluster each large class: (pseudo_labels (N,), mapping (K,))."""
    opts = regroup if isinstance(regroup, RegroupOptions) else build(RegroupOptions, regroup, where="regroup")
    embeddings = opts.embed(task.train.images)
    regrouper = Regrouper(n_clusters=opts.n_clusters, threshold=opts.threshold,
                          clustering=clustering or opts.clustering, random_state=seed, normalize=opts.normalize)
    regrouper.fit(embeddings, task.train.labels)
    return regrouper.pseudo_labels_, np.asarray(regrouper.mapping_)


def encoder_cluster_quality(task: Task, encoders: list[str], regroup: dict[str, Any], seed: int = 0) -> pd.DataFrame:
    """NMI and purity of each encoder's pseudo-classes against the hidden fine labels, one row an encoder."""
    if task.train.fine_labels is None:
        raise ValueError(f"task {task.name!r} has no hidden fine labels to judge clusters against")
    rows = []
    for encoder in encoders:
        pseudo, mapping = regroup_task(task, method_regroup(regroup, {"encoder": encoder}), seed)
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
    """(training set after any resampling, validation set, held-out inputs: the test split followed
    by the task's extra evaluation pool, ``Task.held_out``); for the probe, the images are replaced by
    their frozen embeddings (N, D), a fitted encoder (pca, autoencoder) fitted on the training images only."""
    if recipe.probe:
        def embed(s: ImageSet) -> torch.Tensor:
            return torch.from_numpy(regroup.embed(s.images, fit_images=task.train.images))
        return (TrainingSet(embed(task.train), targets), dataclasses.replace(task.val, images=embed(task.val)),
                embed(task.held_out))
    if recipe.resample == "none":
        return TrainingSet(task.train.images, targets), task.val, task.held_out.images
    data = resample(recipe.resample, task.train.images, targets, seed=seed, **sampler_options)
    return data, task.val, task.held_out.images


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


def nan_metrics(task: Task) -> dict[str, Any]:
    """The metric keys of :func:`nbutils.core.metrics.evaluate` for ``task``, every value NaN (no scores)."""
    uniform = np.full((len(task.test), len(task.classes)), 1.0 / len(task.classes))
    return {k: float("nan") if isinstance(v, float) else None
            for k, v in evaluate(task.test.labels, uniform, task.classes).items()}


def training_warning(scores: np.ndarray) -> str:
    """'' for a usable model, else what went wrong, read from its test scores (N, C)."""
    if not np.isfinite(scores).all():
        return "diverged: non-finite loss or scores"
    if len(np.unique(scores.argmax(1))) == 1:
        return "collapsed: predicts one class for every test image"
    return ""


def run_method(task: Task, entry: str | dict[str, Any], seed: int, *, train: dict[str, Any] | None = None,
               model: dict[str, Any] | None = None, regroup: dict[str, Any] | None = None,
               callbacks: tuple = (), run_dir: str | Path | None = None, keep_model: bool = True) -> Result:
    """Train method ``entry`` on ``task`` from a fresh model seeded by ``seed``; evaluate on test.

    train/model/regroup: the run's shared training settings, model options and regrouping
    options (encoder, clustering...); a method's own options win (checked by :func:`plan_method`).
    callbacks: extra per-epoch measurements (see nbutils.analysis.diagnostics), recorded in the history.
    run_dir: the folder of this run's per-epoch checkpoint (resume).
    The row's ``warning`` is '' or says the training diverged (non-finite loss: the metrics are
    NaN) or collapsed (one class predicted for every test image); it is also issued as a warning.
    """
    plan = plan_method(entry, train=train, model=model, regroup=regroup, seed=seed)
    with torch_threads(training_threads(pick_device(plan.train.device))):
        return _train_and_evaluate(task, plan, seed, callbacks, run_dir, keep_model)


def _train_and_evaluate(task: Task, plan: MethodPlan, seed: int, callbacks: tuple, run_dir: str | Path | None,
                        keep_model: bool) -> Result:
    """The body of :func:`run_method`, run under its thread count."""
    name, recipe, cfg = plan.name, plan.recipe, plan.train
    start = time.perf_counter()
    targets, mapping, info = target_labels(task, recipe, plan.regroup, seed)
    data, val, held_out_inputs = training_inputs(task, recipe, plan.regroup, targets, plan.sampler_options, seed)
    n_outputs = len(mapping) if mapping is not None else len(task.classes)
    counts = epoch_class_counts(data, n_outputs)
    loss = make_loss(recipe.loss, counts, **{**default_loss_options(recipe.loss, cfg, data), **plan.loss_options})
    seed_everything(seed)  # the same initialisation for every method of one seed
    spec = {"arch": "mlp" if recipe.probe else plan.model.arch, "num_classes": n_outputs,
            "in_channels": int(data.images.shape[1]), "image_size": int(task.train.images.shape[-1]),
            "head": recipe.head, "width": plan.model.width}
    net = make_model(**spec, pretrained=plan.model.pretrained and not recipe.probe)
    sampler = PositiveEveryBatchSampler(data.labels, cfg.batch_size, seed=seed) if recipe.batch_sampler else None
    to_scores = class_scores_fn(mapping, plan.regroup.aggregate)
    last: dict[str, np.ndarray] = {}
    try:
        history = fit(net, data, loss, cfg, val=val, to_class_scores=to_scores, sampler=sampler,
                      callbacks=callbacks, checkpoint=Path(run_dir) / "checkpoint.pt" if run_dir else None,
                      before_select=lambda m: last.update(scores=predict_scores(m, held_out_inputs, to_scores)))
        held_out_scores = predict_scores(net, held_out_inputs, to_scores)
    except FloatingPointError:  # fit stops on a non-finite training loss
        history = pd.DataFrame({"epoch": [], "train_loss": []})
        held_out_scores = np.full((len(held_out_inputs), len(task.classes)), np.nan)
    scores, pool_scores = held_out_scores[:len(task.test)], held_out_scores[len(task.test):]
    warning = training_warning(scores)
    if warning:
        warnings.warn(f"{name} on {task.name}, seed {seed}: {warning}", stacklevel=3)
    metrics = nan_metrics(task) if warning.startswith("diverged") else evaluate(task.test.labels, scores, task.classes)
    selected = history.loc[history["selected"], "epoch"] if "selected" in history else ()
    row = {"task": task.name, "method": name, "options": json.dumps(plan.options, sort_keys=True), "seed": seed,
           "wall_time": time.perf_counter() - start, "n_train": int(counts.sum()),
           "n_synthetic": data.n_synthetic, "epochs_trained": len(history),
           "selected_epoch": int(selected.iloc[0]) + 1 if len(selected) else None, **info, **metrics,
           "warning": warning}
    return Result(row, history, scores, net if keep_model else None,
                  targets if mapping is not None else None, mapping, spec,
                  pool_scores if task.pool is not None else None, last.get("scores"))


def key_inputs(task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int,
               settings: dict[str, Any]) -> dict[str, Any]:
    """Everything that shapes a result, as JSON-ready data: the task's spec (with its resolved image
    size, data root and seed), the method, its options and recipe, the seed, the run's settings and
    the result format. ``settings``: :func:`run_cached`'s keyword arguments; its ``train``/``model``/
    ``regroup`` are taken whole, as a :class:`RunSettings` with every default filled in (so
    partial and complete dicts of the same settings agree, and a changed default is a changed
    setting), the rest as given. ``callbacks`` are left out: they measure, they do not change the
    training (tests/test_diagnostics.py), so notebook 03 loads what notebook 02 trained with them."""
    name, options = method_spec(entry)
    shared = RunSettings.from_options(**{k: settings.get(k) for k in SECTIONS})
    extra = {k: v for k, v in settings.items() if k not in (*SECTIONS, "callbacks")}
    blob = {"task": task_spec, "method": name, "options": options, "recipe": dataclasses.asdict(METHODS[name]),
            "seed": seed, "settings": shared.to_dict(), "extra": extra, "result_format": RESULT_FORMAT}
    return json.loads(json.dumps(blob, sort_keys=True, default=str))


def run_key(task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int, settings: dict[str, Any]) -> str:
    """A folder name that changes whenever anything that shapes the result changes: the hash of
    :func:`key_inputs`."""
    blob = json.dumps(key_inputs(task_spec, entry, seed, settings), sort_keys=True)
    return f"{method_spec(entry)[0]}/{hashlib.sha1(blob.encode()).hexdigest()[:10]}-seed{seed}"


def save_result(folder: Path, result: Result) -> None:
    """Write a result to ``folder``: row, history, test scores, pseudo-labels, and the model as its
    state dict with the ``make_model`` arguments that rebuild it (no pickled module)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.history.to_csv(folder / "history.csv", index=False)
    np.save(folder / "test_scores.npy", result.test_scores)
    for name in ("pool_scores", "last_scores"):
        if getattr(result, name) is not None:
            np.save(folder / f"{name}.npy", getattr(result, name))
    if result.pseudo_labels is not None:
        np.save(folder / "pseudo_labels.npy", result.pseudo_labels)
        np.save(folder / "mapping.npy", result.mapping)
    if result.model is not None:
        if result.model_spec is None:
            raise ValueError("a result with a model needs its model_spec (the make_model arguments) to be saved")
        torch.save({"model_spec": result.model_spec, "state_dict": result.model.state_dict()}, folder / "model.pt")
    row = json.dumps(result.row, default=float).encode()  # written last and whole: marks done
    write_atomically(folder / "row.json", lambda f: f.write(row))


def load_model(path: Path) -> tuple[torch.nn.Module, dict[str, Any]]:
    """Rebuild a saved model (CPU, eval mode) from its state dict and ``make_model`` arguments."""
    saved = torch.load(path, map_location="cpu", weights_only=True)
    net = make_model(**saved["model_spec"], pretrained=False)  # the weights come from the state dict
    net.load_state_dict(saved["state_dict"])
    return net.eval(), saved["model_spec"]


def load_result(folder: Path) -> Result | None:
    """A finished run's result, or None when the folder holds no finished run."""
    if not (folder / "row.json").is_file():
        return None
    model, spec = load_model(folder / "model.pt") if (folder / "model.pt").is_file() else (None, None)
    optional = lambda name: np.load(folder / name) if (folder / name).is_file() else None  # noqa: E731
    return Result(json.loads((folder / "row.json").read_text()), pd.read_csv(folder / "history.csv"),
                  np.load(folder / "test_scores.npy"), model, optional("pseudo_labels.npy"), optional("mapping.npy"),
                  spec, optional("pool_scores.npy"), optional("last_scores.npy"))


def result_folder(task: Task, task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int,
                  run_dir: str | Path, **settings: Any) -> Path:
    """Where :func:`run_cached`, given the same arguments, keeps its result:
    ``run_dir/results/<task>/<run_key>`` (the Ray executor's plan names its trainings by it)."""
    spec = getattr(task, "spec", None) or task_spec
    return Path(run_dir) / "results" / task.name / run_key(spec, entry, seed, settings)


def callback_reprs(callbacks: Sequence[Any]) -> tuple[str, ...]:
    """What identifies per-epoch callbacks in a result folder (``callbacks.json``): their sorted reprs,
    which change whenever the columns' meaning does."""
    return tuple(sorted(repr(c) for c in callbacks))


def recorded_callbacks(folder: Path) -> set[str]:
    """The reprs of the per-epoch callbacks a finished result was trained with (its history holds
    their columns)."""
    path = folder / "callbacks.json"
    return set(json.loads(path.read_text())) if path.is_file() else set()


def cached_result(folder: Path, callbacks: tuple) -> Result | None:
    """The finished result in ``folder`` if it holds every column ``callbacks`` measure, else None."""
    result = load_result(folder)
    if result is not None and not set(callback_reprs(callbacks)) <= recorded_callbacks(folder):
        logger.info("%s lacks the columns of %s: training it again with them", folder, callbacks)
        return None
    return result


def run_cached(task: Task, task_spec: dict[str, Any], entry: str | dict[str, Any], seed: int,
               run_dir: str | Path, **settings: Any) -> Result:
    """:func:`run_method` (``settings``: its train/model/regroup), but a run the folder already
    finished is loaded instead of retrained, and an interrupted one resumes from its checkpoint.
    The key hashes ``task.spec`` (the spec with resolved image size, data root and seed; ``task_spec``
    for a task without one) with the settings (see :func:`key_inputs`), which the result folder keeps
    as ``settings.json``, and the thread count it trained with as ``threads.json``. Per-epoch
    ``callbacks`` are not in the key; a result is trained again when it lacks their columns, and
    ``callbacks.json`` lists those it holds. Training and saving hold a lock file beside the folder
    (``<folder>.lock``; the OS frees it when its process dies) and the cache is checked again once it
    is held, so processes sharing a run folder (two sweeps, Ray workers) never train one result twice
    nor write it at once; the log says which of the two happened."""
    spec = getattr(task, "spec", None) or task_spec
    callbacks = tuple(settings.get("callbacks", ()))
    folder = result_folder(task, task_spec, entry, seed, run_dir, **settings)
    result = cached_result(folder, callbacks)
    if result is None:
        folder.parent.mkdir(parents=True, exist_ok=True)
        with FileLock(folder.with_name(folder.name + ".lock")):
            result = cached_result(folder, callbacks)
            if result is None:
                logger.info("training %s", folder)
                (folder / "row.json").unlink(missing_ok=True)  # a result without the callbacks' columns
                folder.mkdir(parents=True, exist_ok=True)  # settings.json: what the key hashes, beside checkpoint and result
                (folder / "settings.json").write_text(json.dumps(key_inputs(spec, entry, seed, settings), indent=1))
                threads = training_threads(pick_device((settings.get("train") or {}).get("device", "auto")))
                (folder / "threads.json").write_text(json.dumps({"torch_threads": threads or torch.get_num_threads()}))
                result = run_method(task, entry, seed, run_dir=folder, **settings)
                (folder / "callbacks.json").write_text(json.dumps(list(callback_reprs(callbacks))))
                save_result(folder, result)
                (folder / "checkpoint.pt").unlink(missing_ok=True)
                return result
    logger.info("loaded %s", folder)
    return result


def not_applicable(name: str, task: Task) -> str | None:
    """Why method ``name`` cannot run on ``task`` (None when it can)."""
    if METHODS[name].labels == "fine" and task.train.fine_labels is None:
        return f"{name} needs hidden fine labels, which task {task.name!r} does not have"
    return None


def method_seeds(methods: list, seeds: list[int], more_seeds: dict[str, list[int]] | None) -> dict[str, list[int]]:
    """{method name: its seeds}: ``seeds`` for every method, followed by the seeds ``more_seeds`` adds to
    some of them (a study adds seeds where a claim needs them, not everywhere). Raises on a name of
    ``more_seeds`` that is not among ``methods``."""
    names = [method_spec(entry)[0] for entry in methods]
    unknown = sorted(set(more_seeds or {}) - set(names))
    if unknown:
        raise ValueError(f"more_seeds names {unknown}, which are not among the methods {names}")
    return {name: list(dict.fromkeys([*seeds, *(more_seeds or {}).get(name, [])])) for name in names}


def run_benchmark(tasks: dict[str, Task], task_specs: dict[str, dict], methods: list, seeds: list[int],
                  run_dir: str | Path, on_result: Callable[[Result], None] | None = None,
                  more_seeds: dict[str, list[int]] | None = None, **settings: Any) -> pd.DataFrame:
    """Every method x seed x task (methods checked by :func:`check_method` before anything trains);
    one row each. ``more_seeds`` ({method: [seeds]}) adds seeds to some methods (:func:`method_seeds`).
    A method a task cannot run (rg-oracle without fine labels) is skipped with a warning.
    ``settings``: train/model/regroup options shared by every run (see :func:`run_method`)."""
    for entry in methods:
        check_method(entry, **settings)
    seeds_of = method_seeds(methods, seeds, more_seeds)
    rows = []
    for task_name, task in tasks.items():
        for entry in methods:
            reason = not_applicable(method_spec(entry)[0], task)
            if reason:
                warnings.warn(f"skipped: {reason}", stacklevel=2)
                continue
            for seed in seeds_of[method_spec(entry)[0]]:
                result = run_cached(task, task_specs[task_name], entry, seed, run_dir, **settings)
                rows.append(result.row)
                if on_result:
                    on_result(result)
    return pd.DataFrame(rows)
