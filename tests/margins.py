"""Print the quantities tests/test_behaviour.py checks, to measure their margins under a
perturbation (tests/README.md), e.g.:

    ATEN_CPU_CAPABILITY=default OMP_NUM_THREADS=1 .venv/bin/python tests/margins.py
"""
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from nbutils.data import make_task  # noqa: E402
from nbutils.methods import run_method  # noqa: E402
from test_behaviour import SETTINGS, SPEC, fine_label_agreement  # noqa: E402


def main() -> None:
    task = make_task("tshirt-1-in-20", SPEC, seed=0)
    results = {m: run_method(task, m, seed=0, **SETTINGS) for m in ("ce", "ros", "wce", "la", "rg-oracle", "rg", "rg-random")}
    measured = {f"ba/{m}": r.row["ba"] for m, r in results.items()}
    measured["macro_ap/ce"] = results["ce"].row["macro_ap"]
    measured.update({f"agreement/{m}": fine_label_agreement(results[m], task) for m in ("rg-oracle", "ce")})
    measured.update({f"final_train_loss/{m}": float(results[m].history.train_loss.iloc[-1]) for m in ("rg", "rg-random")})
    print(json.dumps(measured, indent=1))


if __name__ == "__main__":
    main()
