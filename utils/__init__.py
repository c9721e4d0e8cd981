"""Shared, tested helpers for the *Tuning Neural Networks* lessons.

Every lesson starts with ``from utils import setup`` and ``setup(seed=...)``.
The package exports its core API here; the sub-modules are small and each is
taught somewhere in the book:

- :mod:`utils.repro` -- seeding, thread count, default dtype, print options.
- :mod:`utils.style` -- the figure style and the book's colour palette.
- :mod:`utils.data` -- offline data sets, standardization, splits, loaders.
- :mod:`utils.models` -- an MLP builder with named activations and initializers.
- :mod:`utils.train` -- a small training loop that returns a history.
- :mod:`utils.diagnostics` -- removable hooks for per-layer statistics.
- :mod:`utils.experiments` -- repeat a run over seeds, report mean ± std.
- :mod:`utils.optim` -- optimizers and schedules by name, update rules checked
  against ``torch.optim``, the learning-rate range test (Chapter 5).
- :mod:`utils.metrics` -- calibration: expected calibration error and its bins.
- :mod:`utils.plotting` -- plot helpers that take ``ax=`` and return it.
- :mod:`utils.regularization` -- weight-decay parameter groups (no decay for biases and norms).
- :mod:`utils.augment` -- per-batch augmentations of 1-D signals for ``TensorLoader``.
- :mod:`utils.search` -- the Optuna study of Chapter 7 as a worker:
  ``python -m utils.search --storage URL`` (not imported here: it needs Optuna).
- :mod:`utils.doctor` -- ``diagnose``, the debugging recipe of lesson 7.5 run on any
  classifier (``from utils.doctor import diagnose``: a tool, not the core API).
- :mod:`utils.checks` -- auto-checkers for the exercises, one module per chapter
  (``from utils.checks.initialization import check_xavier_uniform``).
"""

from utils.data import (
    TensorLoader,
    flip_labels,
    imbalanced_subset,
    load_digits,
    make_blobs,
    make_circles,
    make_mnist1d,
    make_moons,
    make_regression_1d,
    make_spirals,
    split,
    standardize,
)
from utils.diagnostics import LayerMonitor
from utils.experiments import SeedStats, run_seeds
from utils.models import (
    ACTIVATIONS,
    INITIALIZERS,
    count_parameters,
    init_weights,
    make_activation,
    make_mlp,
)
from utils.repro import setup
from utils.train import History, evaluate, train

__all__ = [
    "ACTIVATIONS",
    "INITIALIZERS",
    "History",
    "LayerMonitor",
    "SeedStats",
    "TensorLoader",
    "count_parameters",
    "evaluate",
    "flip_labels",
    "imbalanced_subset",
    "init_weights",
    "load_digits",
    "make_activation",
    "make_blobs",
    "make_circles",
    "make_mlp",
    "make_mnist1d",
    "make_moons",
    "make_regression_1d",
    "make_spirals",
    "run_seeds",
    "setup",
    "split",
    "standardize",
    "train",
]
