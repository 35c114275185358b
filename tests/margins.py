"""Print the quantities tests/test_behaviour.py checks, to measure their margins under a
perturbation (tests/README.md), e.g.:

    ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 .venv/bin/python tests/margins.py [seed]

The tests train with seed 0; another seed shows how far a change of initialisation and epoch
order (as a code change brings) moves the same quantities.
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbutils.data import make_task  # noqa: E402
from nbutils.methods import run_method  # noqa: E402
from test_behaviour import SETTINGS, SPEC, fine_label_agreement  # noqa: E402


def main(seed: int) -> None:
    task = make_task("tshirt-1-in-20", SPEC, seed=0)
    results = {m: run_method(task, m, seed=seed, **SETTINGS) for m in ("ce", "ros", "wce", "la", "rg-oracle", "rg", "rg-random")}
    measured = {f"ba/{m}": r.row["ba"] for m, r in results.items()}
    measured["macro_ap/ce"] = results["ce"].row["macro_ap"]
    measured.update({f"agreement/{m}": fine_label_agreement(results[m], task) for m in ("rg-oracle", "ce")})
    measured.update({f"final_train_loss/{m}": float(results[m].history.train_loss.iloc[-1]) for m in ("rg", "rg-random")})
    print(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
