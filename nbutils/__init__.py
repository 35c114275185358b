"""nbutils: the helpers behind the notebooks — data, encoders, regrouping, losses, samplers,
models, the training loop, metrics, class activation maps, plots and the papermill runner."""
from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any, Mapping

if TYPE_CHECKING:
    from nbutils.data import Task
    from nbutils.report import RunFolder
    from nbutils.settings import RunSettings

# torch and scikit-learn each load their own OpenMP runtime. With both in one process (t-SNE,
# k-means and training in one notebook), threads that spin after a parallel region starve the
# other runtime's threads: on 2 cores t-SNE ran 6x and training up to 5x slower (bench/). The
# setting only takes effect when nbutils is imported before torch, or set in the environment
# (the Makefile and the runner do).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"


def start(parameters: Mapping[str, Any]) -> tuple[RunFolder, dict[str, Task], RunSettings]:
    """A notebook's setup cell: ``out, task_data, settings = nbutils.start(globals())`` — the run
    folder, the tasks and the checked settings (see :func:`nbutils.settings.start`). Imported on
    call, so ``import nbutils`` stays light (the runner and the Colab helper import it)."""
    from nbutils.settings import start as start_run

    return start_run(parameters)
