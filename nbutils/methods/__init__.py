"""What trains: every method of the benchmark by name (``registry.METHODS``, each a ``Recipe``;
``run_method`` trains one from a fresh model, ``run_cached`` and ``run_benchmark`` keep results in a
run folder), and its parts: the losses (``losses``), rebalancing samplers and synthesis
(``sampling``, ``autoencoder``), pre-trained and fitted encoders (``encoders``, ``ssl``), regrouping
into pseudo-classes (``regroup``), the architectures (``models``), the one training loop (``train``)
and the settings a run's methods share (``settings``).

May import ``nbutils.core`` and ``nbutils.data``.
"""
from nbutils.methods.encoders import ENCODERS
from nbutils.methods.losses import LOSSES
from nbutils.methods.registry import METHODS, Recipe, run_benchmark, run_cached, run_method
from nbutils.methods.sampling import SAMPLERS

__all__ = ["ENCODERS", "LOSSES", "METHODS", "Recipe", "SAMPLERS", "run_benchmark", "run_cached", "run_method"]
