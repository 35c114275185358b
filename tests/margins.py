"""Print the quantities tests/test_behaviour.py checks, to measure their margins under a
perturbation (tests/README.md), e.g.:

    ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 .venv/bin/python tests/margins.py [seed]

The tests train with seed 0; another seed shows how far a change of initialisation and epoch
order (as a code change brings) moves the same quantities.

    .venv/bin/python tests/margins.py unit

prints instead the trained or clustered quantities that unit tests compare with a threshold
(tests/README.md, "Floats"), each named "file.quantity(threshold)". NBUTILS_TEST_FLOAT32=1 (read
by tests/conftest.py, imported here) forces float32 training on a CPU with native bf16.
"""
import json
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import conftest  # noqa: E402,F401  (the suite's settings, and NBUTILS_TEST_FLOAT32)
from test_behaviour import SETTINGS, SPEC, fine_label_agreement  # noqa: E402

from nbutils.data.tasks import make_task  # noqa: E402
from nbutils.methods.registry import run_method  # noqa: E402


def main(seed: int) -> None:
    task = make_task("tshirt-1-in-20", SPEC, seed=0)
    results = {m: run_method(task, m, seed=seed, **SETTINGS) for m in ("ce", "ros", "wce", "la", "rg-oracle", "rg", "rg-random")}
    measured = {f"ba/{m}": r.row["ba"] for m, r in results.items()}
    measured["macro_ap/ce"] = results["ce"].row["macro_ap"]
    measured.update({f"agreement/{m}": fine_label_agreement(results[m], task) for m in ("rg-oracle", "ce")})
    measured.update({f"final_train_loss/{m}": float(results[m].history.train_loss.iloc[-1]) for m in ("rg", "rg-random")})
    print(json.dumps(measured, indent=1))


def unit() -> None:
    import numpy as np
    import test_methods_checks
    import test_train
    import torch
    from sklearn.metrics import average_precision_score, normalized_mutual_info_score

    from nbutils.core.runtime import autocast_dtype
    from nbutils.data.imagesets import TrainingSet
    from nbutils.methods import regroup
    from nbutils.methods.losses import make_loss
    from nbutils.methods.models import make_model
    from nbutils.methods.train import TrainConfig, fit, predict_scores

    measured = {"precision": str(autocast_dtype(torch.device("cpu"), "auto")), "torch_threads": torch.get_num_threads()}
    digits = make_task("digits", {"dataset": "digits"}, seed=0)
    model, history = test_train.train_digits(digits, TrainConfig(epochs=3, batch_size=64, lr=0.05))
    measured["test_train.loss_ratio(<0.6)"] = float(history.train_loss.iloc[-1] / history.train_loss.iloc[0])
    measured["test_train.val_macro_ap(>0.9)"] = float(history.val_macro_ap.iloc[-1])
    accuracy = (predict_scores(model, digits.test.images).argmax(1) == digits.test.labels).mean()
    measured["test_train.test_accuracy(>0.8)"] = float(accuracy)
    _, eager = test_train.train_digits(digits, TrainConfig(epochs=1, batch_size=64))
    _, compiled = test_train.train_digits(digits, TrainConfig(epochs=1, batch_size=64, compile="aot_eager"))
    measured["test_train.compiled_loss_rel_diff(<1e-3)"] = float(abs(compiled.train_loss.iloc[0] / eager.train_loss.iloc[0] - 1))
    x = torch.randn(200, 5)  # as test_embeddings_train_an_mlp_without_augmentation (unseeded there)
    y = (x[:, 0] > 0).long().numpy()
    mlp = fit(make_model("mlp", 2, in_channels=5), TrainingSet(x, y), make_loss("ce", np.bincount(y)),
              TrainConfig(epochs=5, batch_size=32, optimizer="adam", lr=1e-2))
    measured["test_train.mlp_loss_ratio(<1)"] = float(mlp.train_loss.iloc[-1] / mlp.train_loss.iloc[0])
    task = make_task("digits-0", test_methods_checks.SPEC, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fine = run_method(task, {"name": "ce", "epochs": 2}, seed=0, **test_methods_checks.FAST)
    measured["test_methods_checks.fine_ba(>0.8)"] = fine.row["ba"]
    # test_losses.py::test_ap_loss_raises_average_precision_on_a_separable_toy_problem
    targets = torch.tensor([1] * 8 + [0] * 56)
    features = torch.randn(64, 2, generator=torch.Generator().manual_seed(0)) + 4.0 * targets[:, None]
    linear = torch.nn.Linear(2, 2)
    with torch.no_grad():
        linear.weight.copy_(torch.tensor([[0.2, 0.2], [-0.2, -0.2]]))
        linear.bias.zero_()
    loss = make_loss("ap", [56, 8], n_samples=64)

    def average_precision():
        return float(average_precision_score(targets, linear(features).softmax(1)[:, 1].detach()))

    measured["test_losses.ap_before(<0.2)"] = average_precision()
    for _ in range(20):
        linear.zero_grad()
        loss(linear(features), targets, torch.arange(64)).backward()
        with torch.no_grad():
            for parameter in linear.parameters():
                parameter -= parameter.grad
    measured["test_losses.ap_after(>0.95)"] = average_precision()
    # test_regroup.py::test_kmeans_keeps_the_best_of_several_starts
    rng = np.random.default_rng(0)
    centres = np.array([(a, b) for a in range(4) for b in range(4)], dtype=float)
    X = np.concatenate([c + rng.normal(size=(25, 2)) * 0.15 for c in centres])
    fine_labels = np.repeat(np.arange(16), 25)
    nmis = [normalized_mutual_info_score(fine_labels, regroup.cluster(X, 16, "kmeans", s)) for s in range(20)]
    measured["test_regroup.kmeans_min_nmi(>0.98)"] = min(nmis)
    measured["test_regroup.kmeans_nmi_values"] = sorted({round(v, 4) for v in nmis})
    print(json.dumps(measured, indent=1))


if __name__ == "__main__":
    if sys.argv[1:] == ["unit"]:
        unit()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
