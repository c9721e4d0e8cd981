"""Shared fixtures for the ``utils`` unit tests: headless plots and restored global state."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # headless: figures are drawn but never shown

import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

# Tiny tensors gain nothing from a second thread, and on a busy machine every parallel region
# waits for the other thread to be scheduled; the tests run single-threaded, as the lessons do.
torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _restore_global_state():
    """Undo what ``setup`` and the plot helpers change, so tests do not leak into each other."""
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    np_print = np.get_printoptions()
    with matplotlib.rc_context():  # restores rcParams (setup applies the book style)
        yield
    plt.close("all")
    torch.set_num_threads(threads)
    torch.set_default_dtype(dtype)
    torch.set_printoptions(profile="default")
    np.set_printoptions(**np_print)
