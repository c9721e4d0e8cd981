"""Reproducibility: one ``setup(seed)`` call at the top of every lesson."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from utils._validate import choice, positive_int
from utils.style import apply_figure_style

#: Environment variable that overrides the thread count (used by CI to check
#: that the stored outputs do not depend on it).
THREADS_ENV = "TNN_NUM_THREADS"


#: Floating-point types ``setup(dtype=...)`` accepts, by name.
DTYPES = {"float32": torch.float32, "float64": torch.float64}


def setup(
    seed: int = 0, num_threads: int | None = None, dtype: str | torch.dtype | None = None
) -> torch.Generator:
    """Seed Python, NumPy and PyTorch, fix threads, print options and figure style.

    Args:
        seed: the seed for ``random``, ``numpy.random`` and ``torch``.
        num_threads: torch intra-op threads; defaults to ``$TNN_NUM_THREADS`` or 1.
        dtype: when given (``"float32"``, ``"float64"`` or the torch dtype), the
            default floating-point type of new tensors, layers and the data sets
            of :mod:`utils.data`. Lessons that train use ``"float64"`` so that
            rounding, which differs between CPUs and thread counts, stays far
            below the printed digits; ``None`` leaves the current default.

    Returns:
        A ``torch.Generator`` seeded with ``seed``, for explicit sampling.
    """
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    if num_threads is None:
        num_threads = int(os.environ.get(THREADS_ENV, "1"))
    positive_int("num_threads", num_threads)
    if dtype is not None:
        name = str(dtype).removeprefix("torch.")  # torch.float64 -> "float64"
        torch.set_default_dtype(DTYPES[choice("dtype", name, DTYPES)])
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.set_num_threads(num_threads)
    torch.set_printoptions(precision=4, sci_mode=False)
    np.set_printoptions(precision=4, suppress=True)
    apply_figure_style()
    return torch.Generator().manual_seed(seed)
