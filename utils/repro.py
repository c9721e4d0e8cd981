"""Reproducibility: one ``setup(seed)`` call at the top of every lesson."""

from __future__ import annotations

import os
import random

import matplotlib as mpl
import numpy as np
import torch

from utils._validate import positive_int

#: Environment variable that overrides the thread count (used by CI to check
#: that the stored outputs do not depend on it).
THREADS_ENV = "TNN_NUM_THREADS"


def setup(seed: int = 0, num_threads: int | None = None) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, fix threads, print options and figure style.

    Args:
        seed: the seed for ``random``, ``numpy.random`` and ``torch``.
        num_threads: torch intra-op threads; defaults to ``$TNN_NUM_THREADS`` or 1.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for explicit sampling.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if num_threads is None:
        num_threads = int(os.environ.get(THREADS_ENV, "1"))
    positive_int("num_threads", num_threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(num_threads)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
    apply_figure_style()
    return torch.Generator().manual_seed(seed)


def apply_figure_style() -> None:
    """Apply the book's matplotlib style and make notebooks emit PNG figures."""
    from utils.plotting import STYLE  # local import: plotting imports matplotlib.pyplot

    mpl.rcParams.update(STYLE)
    try:  # inside IPython/Jupyter: PNG only (nbval compares SVG text)
        from IPython import get_ipython
        from matplotlib_inline.backend_inline import set_matplotlib_formats

        if get_ipython() is not None:
            set_matplotlib_formats("png")
    except ImportError:  # plain Python: nothing to configure
        pass
