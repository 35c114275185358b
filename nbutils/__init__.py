"""nbutils: the helpers behind the notebooks — data, encoders, regrouping, losses, samplers,
models, the training loop, metrics, class activation maps, plots and the papermill runner."""
import os

# torch and scikit-learn each load their own OpenMP runtime. With both in one process (t-SNE,
# k-means and training in one notebook), threads that spin after a parallel region starve the
# other runtime's threads: on 2 cores t-SNE ran 6x and training up to 5x slower (bench/). The
# setting only takes effect when nbutils is imported before torch, or set in the environment
# (the Makefile and the runner do).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

__version__ = "0.1.0"
