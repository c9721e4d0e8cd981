"""Tests for utils.repro: setup() seeds every RNG, fixes threads, print options and figure style."""

from __future__ import annotations

import random

import matplotlib as mpl
import numpy as np
import pytest
import torch

from utils.repro import THREADS_ENV, apply_figure_style, setup
from utils.style import STYLE


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.rand()), torch.rand(()).item()


def test_setup_seeds_python_numpy_and_torch(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    setup(7)
    first = _draws()
    setup(7)
    assert _draws() == first
    setup(8)
    assert all(a != b for a, b in zip(_draws(), first, strict=True))


def test_setup_matches_the_libraries_own_seeding(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    random.seed(3)
    np.random.seed(3)
    torch.manual_seed(3)
    expected = _draws()
    setup(3)
    assert _draws() == expected


def test_setup_returns_a_generator_seeded_with_seed(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    gen = setup(11)
    assert isinstance(gen, torch.Generator)
    expected = torch.randn(5, generator=torch.Generator().manual_seed(11))
    torch.testing.assert_close(torch.randn(5, generator=gen), expected, rtol=0, atol=0)


def test_setup_sets_thread_count():
    setup(0, num_threads=2)
    assert torch.get_num_threads() == 2
    setup(0, num_threads=1)
    assert torch.get_num_threads() == 1


def test_setup_defaults_to_one_thread(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    torch.set_num_threads(2)
    setup(0)
    assert torch.get_num_threads() == 1


def test_setup_reads_thread_count_from_environment(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "2")
    setup(0)
    assert torch.get_num_threads() == 2
    setup(0, num_threads=1)  # an explicit argument wins over the environment
    assert torch.get_num_threads() == 1


def test_setup_sets_print_options(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    setup(0)
    assert str(torch.tensor([1 / 3, 1e-6])) == "tensor([0.3333, 0.0000])"
    assert np.get_printoptions()["precision"] == 4
    assert np.get_printoptions()["suppress"] is True


def test_setup_applies_figure_style(monkeypatch):
    monkeypatch.delenv(THREADS_ENV, raising=False)
    mpl.rcParams["axes.grid"] = False
    setup(0)
    assert mpl.rcParams["axes.grid"] is True


def test_apply_figure_style_sets_every_style_key():
    mpl.rcdefaults()
    apply_figure_style()
    for key, value in STYLE.items():
        got = mpl.rcParams[key]
        assert (list(got) if isinstance(got, (list, tuple)) else got) == (
            list(value) if isinstance(value, tuple) else value
        ), key


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_setup_rejects_bad_seed(seed):
    with pytest.raises(ValueError, match=r"seed must be a non-negative integer"):
        setup(seed)


@pytest.mark.parametrize("num_threads", [0, -2, 1.5])
def test_setup_rejects_bad_num_threads(num_threads):
    with pytest.raises(ValueError, match=r"num_threads must be an integer >= 1"):
        setup(0, num_threads=num_threads)


def test_setup_rejects_bad_thread_count_in_environment(monkeypatch):
    monkeypatch.setenv(THREADS_ENV, "0")
    with pytest.raises(ValueError, match=r"num_threads must be an integer >= 1"):
        setup(0)


def test_dtype_sets_the_default_for_layers_tensors_and_data():
    from utils.data import make_mnist1d, make_moons

    before = torch.get_default_dtype()
    try:
        setup(0, dtype="float64")
        assert torch.get_default_dtype() == torch.float64
        assert torch.nn.Linear(2, 3).weight.dtype == torch.float64
        X, y = make_moons(n=10)
        assert X.dtype == torch.float64 and y.dtype == torch.long
        X64, _ = make_mnist1d(n=20)
        setup(0, dtype=torch.float32)  # a torch dtype works too
        X32, _ = make_mnist1d(n=20)
        assert X32.dtype == torch.float32 and X64.dtype == torch.float64
        torch.testing.assert_close(X64.float(), X32)  # the same data, rounded once
        setup(1)  # dtype=None leaves the default alone
        assert torch.get_default_dtype() == torch.float32
    finally:
        torch.set_default_dtype(before)


@pytest.mark.parametrize("bad", ["float16", "double", torch.int64, 64])
def test_unknown_dtype_lists_the_choices(bad):
    with pytest.raises(ValueError, match=r"dtype=.* is not valid; choose one of: float32, float64"):
        setup(0, dtype=bad)
